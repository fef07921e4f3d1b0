#!/usr/bin/env bats
# fn-score: Dice/Jaccard per image then averaged, pooled AC/SE/SP, HD95; hand cases and a numpy check

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

# frames from a Python expression of (id, mask, pred) triples, numpy as np
mkframes() {
  py - "$1" "$2" <<'PY'
import sys, fnframes, numpy as np
triples = eval(sys.argv[2])
fnframes.write(sys.argv[1], [{"id": i, "mask": np.asarray(m, np.uint8)[None], "pred": np.asarray(p, np.float32)[None]}
                             for i, m, p in triples])
PY
}

@test "fn-score --help starts with the usage line and exits 0" {
  run fn-score --help
  assert_success
  assert_line --index 0 "usage: fn-score [options] [FILE]"
}

@test "fn-score --version" {
  run fn-score --version
  assert_success
  assert_output --regexp '^fn-score [0-9]+\.[0-9]+'
}

SQ='np.pad(np.ones((4, 4)), 2)'

@test "perfect prediction: every score is 1, HD95 0" {
  mkframes p.fns "[('p', $SQ, $SQ * 0.9)]"
  run fn-score --json --hd95 p.fns
  assert_success
  assert_output '{"frames":1,"dice":1.000000,"jaccard":1.000000,"accuracy":1.000000,"sensitivity":1.000000,"specificity":1.000000,"hd95":0.000000,"hd95_frames":1,"dice_median":1.000000,"dice_worst":1.000000,"dice_worst_id":"p","jaccard_median":1.000000,"jaccard_worst":1.000000,"jaccard_worst_id":"p"}'
}

@test "empty truth and empty prediction: Dice and Jaccard 1, sensitivity undefined (null)" {
  mkframes e.fns "[('e', np.zeros((6, 6)), np.zeros((6, 6)))]"
  run fn-score --json e.fns
  assert_output '{"frames":1,"dice":1.000000,"jaccard":1.000000,"accuracy":1.000000,"sensitivity":null,"specificity":1.000000,"dice_median":1.000000,"dice_worst":1.000000,"dice_worst_id":"e","jaccard_median":1.000000,"jaccard_worst":1.000000,"jaccard_worst_id":"e"}'
  run fn-score e.fns
  assert_line --index 4 "sensitivity  nan"
}

@test "disjoint: all zeros" {
  mkframes d.fns "[('d', np.hstack([np.ones((4, 2)), np.zeros((4, 2))]), np.hstack([np.zeros((4, 2)), np.ones((4, 2))]))]"
  run fn-score --json d.fns
  assert_output '{"frames":1,"dice":0.000000,"jaccard":0.000000,"accuracy":0.000000,"sensitivity":0.000000,"specificity":0.000000,"dice_median":0.000000,"dice_worst":0.000000,"dice_worst_id":"d","jaccard_median":0.000000,"jaccard_worst":0.000000,"jaccard_worst_id":"d"}'
}

@test "partial overlap (a 4x4 square shifted by one column): Dice 0.75, Jaccard 0.6; p = 0.5 is background" {
  mkframes o.fns "[('o', $SQ, np.roll($SQ, 1, axis=1) * 0.8)]"
  run fn-score --json o.fns
  # TP 12, FP 4, FN 4, TN 44 of 64
  assert_output '{"frames":1,"dice":0.750000,"jaccard":0.600000,"accuracy":0.875000,"sensitivity":0.750000,"specificity":0.916667,"dice_median":0.750000,"dice_worst":0.750000,"dice_worst_id":"o","jaccard_median":0.600000,"jaccard_worst":0.600000,"jaccard_worst_id":"o"}'
  mkframes h.fns "[('h', $SQ, $SQ * 0.5)]"
  run fn-score --json h.fns
  assert_output --partial '"dice":0.000000'
  run fn-score --json --threshold 0.4 h.fns
  assert_output --partial '"dice":1.000000'
}

@test "Dice and Jaccard are averaged per image; AC/SE/SP pooled; the table and --per-image TSV" {
  mkframes m.fns "[('a', $SQ, $SQ), ('b', $SQ, np.roll($SQ, 1, axis=1)), ('c', np.zeros((8, 8)), np.zeros((8, 8)))]"
  run fn-score --per-image per.tsv m.fns
  assert_success
  assert_line --index 0 "frames       3"
  assert_line --index 1 "dice         0.916667"
  assert_line --index 2 "jaccard      0.866667"
  # pooled: TP 28, FP 4, FN 4, TN 156 of 192
  assert_line --index 3 "accuracy     0.958333"
  assert_line --index 4 "sensitivity  0.875000"
  run cat per.tsv
  assert_line --index 0 "$(printf 'id\tdice\tjaccard\ttp\tfp\tfn\ttn')"
  assert_line --index 2 "$(printf 'b\t0.750000\t0.600000\t12\t4\t4\t44')"
  assert_equal "${#lines[@]}" 4
}

# independent computation in numpy: per-image Dice/Jaccard, pooled rates, and HD95 by brute force
numpy_check() {
  fn-score --json --hd95 --per-image per.tsv "$1" > got.json
  py - "$1" <<'PY'
import sys, json, fnframes, numpy as np
def border(a):
    p = np.pad(a, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return np.argwhere(a & ~inner)
def hd95(a, b):
    pa, pb = border(a), border(b)
    if len(pa) == 0 and len(pb) == 0: return 0.0
    if len(pa) == 0 or len(pb) == 0: return None
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return float(np.percentile(np.hstack([d.min(1), d.min(0)]), 95))
dice, jac, hds, tot = [], [], [], np.zeros(4)
for f in fnframes.read(sys.argv[1]):
    p, m = f["pred"][0] > 0.5, f["mask"][0] != 0
    tp, fp, fn = (p & m).sum(), (p & ~m).sum(), (~p & m).sum(); tn = p.size - tp - fp - fn
    tot += [tp, fp, fn, tn]
    dice.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    jac.append(tp / (tp + fp + fn) if tp + fp + fn else 1.0)
    h = hd95(p, m)
    if h is not None: hds.append(h)
tp, fp, fn, tn = tot
want = {"frames": len(dice), "dice": np.mean(dice), "jaccard": np.mean(jac), "accuracy": (tp + tn) / tot.sum(),
        "sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp), "hd95": np.mean(hds), "hd95_frames": len(hds)}
got = json.load(open("got.json"))
for k, v in want.items():
    assert abs(got[k] - v) < 2e-6, (k, got[k], v)
rows = [l.split("\t") for l in open("per.tsv").read().splitlines()[1:]]
assert np.allclose([float(r[1]) for r in rows], dice, atol=2e-6)
print("ok", got["frames"], "frames, dice %.4f hd95 %.3f" % (got["dice"], got["hd95"]))
PY
}

# prediction-like: the truth blurred and shifted a little, plus noise, as probabilities
add_pred() {
  py - "$1" "$2" <<'PY'
import sys, fnframes, numpy as np
r = np.random.default_rng(5)
out = []
for i, f in enumerate(fnframes.read(sys.argv[1])):
    m = f["mask"][0].astype(np.float32)
    k = np.ones(5) / 5
    b = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 0, m)
    b = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 1, b)
    b = np.roll(b, (i % 3 - 1, i % 2), axis=(0, 1)) + r.normal(0, 0.15, b.shape)
    f["pred"] = np.clip(b, 0, 1).astype(np.float32)[None]
    if i == 2: f["pred"][:] = 0   # an empty prediction: HD95 undefined for this frame
    out.append(f)
fnframes.write(sys.argv[2], out)
PY
}

@test "agrees with an independent numpy computation (synthetic masks)" {
  fn-synth -n 8 --size 48x40 > s.fns
  add_pred s.fns p.fns
  run numpy_check p.fns
  assert_success
  assert_output --partial "ok 8 frames"
}

@test "agrees with an independent numpy computation on a real prediction-like stream (JSRT lungs)" {
  need_data jsrt_lung
  fn-read --masks "$FN_DATA/jsrt_lung/masks" --mask-values 150,200 $(ls "$FN_DATA"/jsrt_lung/images/*.png | head -6) \
    | fn-resize 64x64 > j.fns
  add_pred j.fns p.fns
  run numpy_check p.fns
  assert_success
  assert_output --partial "ok 6 frames"
}

# ---- failures ---------------------------------------------------------------------------------

@test "usage errors exit 2 and print nothing" {
  mkframes p.fns "[('p', $SQ, $SQ)]"
  for args in "--threshold 2" "--threshold x" "--threshold -0.1" "--bogus" "p.fns extra" "--jaccard-threshold 1.5" \
              "--jaccard-threshold x" "--ci-samples 5" "--ci-samples x" "--seed -1" "--seed x"; do
    run --separate-stderr fn-score $args p.fns
    [ "$status" -eq 2 ] || fail "fn-score $args: status $status"
    [ -z "$output" ] || fail "fn-score $args printed: $output"
  done
}

@test "missing pred, missing mask, wrong dtypes, size mismatch, NaN, no frames: one-line errors, no table" {
  fn-synth -n 1 --size 8x8 > nopred.fns
  py -c '
import fnframes, numpy as np
m = np.ones((1, 8, 8), np.uint8); p = np.ones((1, 8, 8), np.float32)
fnframes.write("nomask.fns", [{"id": "a", "pred": p}])
fnframes.write("u8pred.fns", [{"id": "a", "mask": m, "pred": m}])
fnframes.write("f32mask.fns", [{"id": "a", "mask": p, "pred": p}])
fnframes.write("size.fns", [{"id": "a", "mask": m, "pred": np.ones((1, 8, 9), np.float32)}])
q = p.copy(); q[0, 3, 3] = np.nan
fnframes.write("nan.fns", [{"id": "a", "mask": m, "pred": p}, {"id": "b", "mask": m, "pred": q}])
fnframes.write("roisize.fns", [{"id": "a", "mask": m, "pred": p, "roi": np.ones((1, 8, 9), np.uint8)}])'
  : > empty.fns
  for f in nopred nomask u8pred f32mask size roisize nan empty; do
    run --separate-stderr fn-score --per-image per.tsv $f.fns
    assert_one_line_error fn-score
    [ -z "$output" ] || fail "$f: printed $output"
    [ ! -e per.tsv ] || fail "$f: left per.tsv"
  done
  run --separate-stderr fn-score nopred.fns
  [[ "$stderr" == *"frame 1 (synth_0000): no pred"* ]] || fail "$stderr"
  run --separate-stderr fn-score nan.fns
  [[ "$stderr" == *"frame 2 (b)"*NaN* ]] || fail "$stderr"
  run --separate-stderr fn-score size.fns
  [[ "$stderr" == *"8x9"*"8x8"* ]] || fail "$stderr"
  run --separate-stderr fn-score roisize.fns
  [[ "$stderr" == *"frame 1 (a): roi is 8x9 but pred is 8x8" ]] || fail "$stderr"
}

# ---- challenge figures and regions of interest ----------------------------------------------------

@test "median and worst per-image Dice and Jaccard; --jaccard-threshold counts JI under T as 0" {
  # Jaccard 1, 0.6, 0.6 / 0.8 ... : a perfect frame, the shifted square, and a half-overlap
  mkframes m.fns "[('a', $SQ, $SQ), ('b', $SQ, np.roll($SQ, 1, axis=1)), ('c', $SQ, np.roll($SQ, 2, axis=1))]"
  run fn-score --json --jaccard-threshold 0.65 m.fns
  assert_success
  # per image: Dice 1, 0.75, 0.5; Jaccard 1, 0.6, 1/3; thresholded at 0.65: 1, 0, 0
  assert_output --partial '"dice_median":0.750000,"dice_worst":0.500000,"dice_worst_id":"c","jaccard_median":0.600000,"jaccard_worst":0.333333,"jaccard_worst_id":"c","jaccard_threshold":0.65,"jaccard_thresholded":0.333333'
  run fn-score --jaccard-threshold 0.5 m.fns
  assert_line "jaccard_thresholded 0.533333 (per-image Jaccard under 0.5 counted as 0)"
  assert_line "dice_worst   0.500000 c"
}

@test "--ci: seeded percentile bootstrap of the means, the same as numpy's with the same resamples" {
  mkframes m.fns "[('f%d' % k, $SQ, np.roll($SQ, k % 4, axis=1)) for k in range(9)]"
  run fn-score --json --ci --seed 3 m.fns
  assert_success
  echo "$output" >a.json
  run fn-score --json --ci --seed 3 m.fns
  assert_output "$(cat a.json)"       # reproducible
  run fn-score --json --ci --seed 4 --ci-samples 500 m.fns
  [ "$output" != "$(cat a.json)" ]
  py - a.json <<'PY'
import sys, json, numpy as np
g = json.load(open(sys.argv[1]))
assert g["ci_level"] == 0.95 and g["ci_samples"] == 2000 and g["ci_seed"] == 3
d = [1.0, 0.75, 0.5, 0.25] * 2 + [1.0]
# intervals contain the mean, lie inside the range of the values, are not degenerate
assert g["dice_ci_lo"] < g["dice"] < g["dice_ci_hi"] and 0.25 <= g["dice_ci_lo"] and g["dice_ci_hi"] <= 1
assert g["jaccard_ci_lo"] < g["jaccard"] < g["jaccard_ci_hi"]
# the width is about what the normal approximation gives: 2 * 1.96 * sd / sqrt(n)
w = 2 * 1.96 * np.std(d) / np.sqrt(len(d))
assert 0.6 * w < g["dice_ci_hi"] - g["dice_ci_lo"] < 1.4 * w, (g, w)
PY
  run fn-score --ci m.fns
  assert_line --regexp '^dice_ci +0\.[0-9]+ [01]\.[0-9]+ \(95%, 2000 bootstrap resamples, seed 0\)$'
  assert_line --regexp '^jaccard_ci +0\.[0-9]+ [01]\.[0-9]+$'
}

@test "a frame with a roi is scored inside it only (DRIVE's field of view)" {
  py - <<'PY'
import fnframes, numpy as np
m = np.zeros((1, 8, 8), np.uint8); m[0, 2:6, 2:6] = 1
p = np.zeros((1, 8, 8), np.float32); p[0, 2:6, 2:6] = 1; p[0, 0, :] = 1   # false positives in row 0
roi = np.ones((1, 8, 8), np.uint8); roi[0, 0, :] = 0                        # ... outside the roi
fnframes.write("r.fns", [{"id": "r", "mask": m, "pred": p, "roi": roi}])
fnframes.write("n.fns", [{"id": "n", "mask": m, "pred": p}])
PY
  run fn-score --json --hd95 r.fns
  assert_output --partial '{"frames":1,"dice":1.000000,"jaccard":1.000000,"accuracy":1.000000,"sensitivity":1.000000,"specificity":1.000000,"hd95":0.000000'
  assert_output --partial '"roi_frames":1}'
  run fn-score --per-image per.tsv r.fns
  assert_line "roi_frames   1 (scored inside their roi)"
  run cat per.tsv
  assert_line --index 1 "$(printf 'r\t1.000000\t1.000000\t16\t0\t0\t40')"
  run fn-score --json n.fns
  assert_output --partial '"dice":0.800000'
  refute_output --partial roi_frames
}

# native-size frames (60x90, a roi on some), resized for a network with the originals kept, and a
# pred at the reduced size; $1: fn-resize options for the reduction
restore_frames() {
  fn-synth -n 4 --size 60x90 --seed 3 > syn.fns
  py - <<'PY'
import fnframes, numpy as np
fs = fnframes.read("syn.fns")
for i, f in enumerate(fs):
    if i % 2:
        f["roi"] = np.pad(np.ones((1, 50, 70), np.uint8), ((0, 0), (5, 5), (10, 10)))
fnframes.write("nat.fns", fs)
PY
  fn-resize --keep-native $1 nat.fns > small.fns
  py - <<'PY'
import fnframes, numpy as np
fs = fnframes.read("small.fns")
r = np.random.default_rng(0)
for f in fs:
    m = f["mask"].astype(np.float32)
    f["pred"] = np.clip(np.roll(m, 1, 2) * 0.8 + r.uniform(0, 0.4, m.shape), 0, 1).astype(np.float32)
fnframes.write("small.fns", fs)
PY
}

@test "--restore scores as fn-resize --restore --drop-image | fn-score, to the last digit (native masks, rois, padding)" {
  for opts in "32x48" "--keep-aspect 32x32"; do
    restore_frames "$opts"
    fn-resize --restore --drop-image small.fns | fn-score --json --hd95 --per-image two.tsv > two.json
    fn-score --restore --json --hd95 --per-image one.tsv small.fns > one.json
    cmp two.json one.json || fail "$opts: $(cat two.json) vs $(cat one.json)"
    cmp two.tsv one.tsv || fail "$opts: per-image tables differ"
    run grep -c . one.tsv
    assert_output 5
    # at native size: the counts add up to the 60x90 frames (the rois' 50x70 on two of them)
    run awk -F'\t' 'NR > 1 { n += $4 + $5 + $6 + $7 } END { print n }' one.tsv
    assert_output $((2 * 60 * 90 + 2 * 50 * 70))
  done
  # without --restore the same stream is scored at the reduced size
  run bash -c "fn-score --per-image small.tsv small.fns > /dev/null && awk -F'\t' 'NR == 2 { print \$4 + \$5 + \$6 + \$7 }' small.tsv"
  assert_output $((32 * 32))
}

@test "--restore: a frame without orig_h/orig_w, or a native_mask of another size, is a one-line error" {
  mkframes p.fns "[('p', $SQ, $SQ * 0.9)]"
  run --separate-stderr fn-score --restore p.fns
  assert_one_line_error fn-score
  [[ "$stderr" == *"frame 1 (p): no orig_h/orig_w in meta to restore to" ]] || fail "$stderr"
  py -c '
import fnframes, numpy as np
m = np.ones((1, 8, 8), np.uint8)
fnframes.write("bad.fns", [{"id": "x", "mask": m, "pred": m.astype(np.float32), "native_mask": np.ones((1, 9, 9), np.uint8), "meta": {"orig_h": 8, "orig_w": 10}}])'
  run --separate-stderr fn-score --restore bad.fns
  assert_one_line_error fn-score
  [[ "$stderr" == *"native_mask is u8 [1,9,9], not u8 [1,8,10] (orig_h x orig_w)" ]] || fail "$stderr"
}
