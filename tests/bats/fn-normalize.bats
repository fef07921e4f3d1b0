#!/usr/bin/env bats
# fn-normalize: dataset z-score fitted on the stream (spilled to $TMPDIR), saved stats, per-image, clipping

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

@test "fn-normalize --help starts with the usage lines and exits 0" {
  run fn-normalize --help
  assert_success
  assert_line --index 0 "usage: fn-normalize [options] --fit STATS [FILE]"
}

@test "fn-normalize --version" {
  run fn-normalize --version
  assert_success
  assert_output --regexp '^fn-normalize [0-9]+\.[0-9]+'
}

@test "--fit: scalar mean/std of all values (as numpy), JSON stats, f32 output, masks untouched, meta" {
  fn-synth -n 5 --size 24x20 --channels 3 > s.fns
  fn-normalize --fit stats.json s.fns > n.fns
  run py -c '
import fnframes, json, numpy as np
src, out = fnframes.read("s.fns"), fnframes.read("n.fns")
allv = np.concatenate([f["image"].ravel().astype(np.float64) for f in src])
st = json.load(open("stats.json"))
assert st["mode"] == "dataset" and st["dtype"] == "u8" and st["count"] == allv.size and st["channels"] == 3, st
assert abs(st["mean"] - allv.mean()) < 1e-9 and abs(st["std"] - allv.std()) < 1e-9, st
for a, b in zip(src, out):
    assert b["image"].dtype == np.float32
    want = (a["image"] - allv.mean()) / allv.std()
    assert np.abs(b["image"] - want).max() < 1e-5
    assert (a["mask"] == b["mask"]).all()
    m = b["meta"]
    assert m["norm_mode"] == "dataset" and abs(m["norm_mean"] - st["mean"]) < 1e-9 and abs(m["norm_std"] - st["std"]) < 1e-9
    assert m["src"] == "fn-synth"
print("ok")'
  assert_success
  assert_output "ok"
}

@test "--stats applies saved statistics: the same bytes as the --fit run on the same input" {
  fn-synth -n 4 --size 16x16 > s.fns
  fn-normalize --fit stats.json s.fns > a.fns
  fn-normalize --stats stats.json < s.fns > b.fns
  cmp a.fns b.fns
}

@test "--per-channel: arrays in the JSON, comma-separated meta, each channel standardised" {
  fn-synth -n 3 --size 16x16 --channels 3 > s.fns
  fn-normalize --fit st.json --per-channel s.fns > n.fns
  run py -c '
import fnframes, json, numpy as np
src, out = fnframes.read("s.fns"), fnframes.read("n.fns")
st = json.load(open("st.json"))
x = np.concatenate([f["image"].reshape(3, -1) for f in src], axis=1).astype(np.float64)
assert st["mode"] == "dataset-per-channel"
assert np.allclose(st["mean"], x.mean(1), atol=1e-9) and np.allclose(st["std"], x.std(1), atol=1e-9)
y = np.concatenate([f["image"].reshape(3, -1) for f in out], axis=1)
assert np.allclose(y.mean(1), 0, atol=1e-4) and np.allclose(y.std(1), 1, atol=1e-4)
m = out[0]["meta"]
assert m["norm_mode"] == "dataset-per-channel"
assert np.allclose([float(v) for v in m["norm_mean"].split(",")], st["mean"], rtol=1e-7)
print("ok")'
  assert_output "ok"
}

@test "--per-image z-scores each image by its own statistics" {
  fn-synth -n 3 --size 20x20 > s.fns
  fn-normalize --per-image s.fns > n.fns
  run py -c '
import fnframes, numpy as np
for a, b in zip(fnframes.read("s.fns"), fnframes.read("n.fns")):
    x = b["image"].astype(np.float64)
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-5
    assert b["meta"]["norm_mode"] == "per-image"
    assert abs(b["meta"]["norm_mean"] - a["image"].mean()) < 1e-6
print("ok")'
  assert_output "ok"
}

@test "--clip-percentile: u8 percentiles exactly as numpy, values clipped before the z-score" {
  fn-synth -n 4 --size 32x32 > s.fns
  fn-normalize --fit st.json --clip-percentile 2,98 s.fns > n.fns
  run py -c '
import fnframes, json, numpy as np
src, out = fnframes.read("s.fns"), fnframes.read("n.fns")
st = json.load(open("st.json"))
x = np.concatenate([f["image"].ravel() for f in src]).astype(np.float64)
lo, hi = np.percentile(x, [2, 98])
assert st["clip_percentile"] == [2, 98] and abs(st["clip_lo"] - lo) < 1e-9 and abs(st["clip_hi"] - hi) < 1e-9, (st, lo, hi)
y = np.concatenate([f["image"].ravel() for f in out])
assert abs(y.min() - (lo - x.mean()) / x.std()) < 1e-5 and abs(y.max() - (hi - x.mean()) / x.std()) < 1e-5
assert out[0]["meta"]["norm_clip_lo"] == st["clip_lo"]
print("ok")'
  assert_output "ok"
}

@test "f32 and u16 input: statistics as numpy; f32 percentiles within the histogram bin" {
  py -c '
import fnframes, numpy as np
r = np.random.default_rng(1)
fnframes.write("f.fns", [{"id": str(i), "image": (r.normal(5, 3, (2, 30, 30))).astype(np.float32)} for i in range(4)])
fnframes.write("u.fns", [{"id": str(i), "image": r.integers(0, 4096, (1, 30, 30)).astype(np.uint16)} for i in range(4)])'
  fn-normalize --fit f.json --clip-percentile 0.5,99.5 f.fns > fn.fns
  fn-normalize --fit u.json --clip-percentile 0.5,99.5 u.fns > un.fns
  run py -c '
import fnframes, json, numpy as np
for name in ("f", "u"):
    st = json.load(open(name + ".json"))
    x = np.concatenate([f["image"].ravel() for f in fnframes.read(name + ".fns")]).astype(np.float64)
    lo, hi = np.percentile(x, [0.5, 99.5])
    tol = (x.max() - x.min()) / 2**18 if name == "f" else 1e-9
    assert abs(st["mean"] - x.mean()) < 1e-6 and abs(st["std"] - x.std()) < 1e-6, name
    assert abs(st["clip_lo"] - lo) <= tol and abs(st["clip_hi"] - hi) <= tol, (name, st, lo, hi)
    assert st["dtype"] == {"f": "f32", "u": "u16"}[name]
print("ok")'
  assert_output "ok"
}

@test "--clip LO,HI: every value clipped first, the statistics those of the clipped values (as numpy); --stats the same" {
  py -c '
import fnframes, numpy as np
r = np.random.default_rng(3)
fnframes.write("ct.fns", [{"id": str(i), "image": r.integers(-2600, 5600, (1, 20, 24)).astype(np.float32),
                           "mask": (r.random((1, 20, 24)) < 0.3).astype(np.uint8)} for i in range(3)])
fnframes.write("u.fns", [{"id": str(i), "image": r.integers(0, 256, (3, 12, 10)).astype(np.uint8)} for i in range(3)])'
  fn-normalize --fit st.json --clip -1024,1500 ct.fns > n.fns
  fn-normalize --stats st.json ct.fns > n2.fns
  cmp n.fns n2.fns
  fn-normalize --fit su.json --clip 20.5,200 --per-channel u.fns > nu.fns
  run py -c '
import fnframes, json, numpy as np
for src, out, js, lo, hi, per in (("ct", "n", "st", -1024, 1500, False), ("u", "nu", "su", 20.5, 200, True)):
    st = json.load(open(js + ".json"))
    x = np.stack([f["image"] for f in fnframes.read(src + ".fns")]).astype(np.float64)
    xc = np.clip(x, lo, hi)
    ax = (0, 2, 3) if per else None
    m, s = xc.mean(axis=ax), xc.std(axis=ax)
    assert st["clip_window"] == [lo, hi] and "clip_percentile" not in st, st
    assert np.allclose(st["mean"], m, rtol=1e-9) and np.allclose(st["std"], s, rtol=1e-9), (st, m, s)
    assert np.allclose(st["clip_lo"], lo) and np.allclose(st["clip_hi"], hi)
    y = np.stack([f["image"] for f in fnframes.read(out + ".fns")])
    want = (xc - (m[None, :, None, None] if per else m)) / (s[None, :, None, None] if per else s)
    assert np.abs(y - want).max() < 1e-5, np.abs(y - want).max()
print("ok")'
  assert_output "ok"
}

@test "--ct: percentiles 0.5/99.5, mean and std of the foreground pixels (mask > 0) as numpy; every pixel clipped; --stats the same" {
  py -c '
import fnframes, numpy as np
r = np.random.default_rng(4)
fr = []
for i in range(4):
    img = r.normal(-900, 300, (1, 32, 30))            # air and noise outside
    m = np.zeros((1, 32, 30), np.uint8); m[0, 6:26, 5:25] = 1 + (i % 2)   # labels 1 and 2: both foreground
    img[m > 0] = r.normal(-650, 120, int((m > 0).sum()))   # lung
    img[0, 0, 0], img[0, 31, 29] = -2619, 5556
    fr.append({"id": "s%d" % i, "image": np.round(img).astype(np.float32), "mask": m})
fnframes.write("ct.fns", fr)
fnframes.write("u.fns", [{"id": str(i), "image": r.integers(0, 60000, (1, 16, 16)).astype(np.uint16),
                          "mask": (r.random((1, 16, 16)) < 0.4).astype(np.uint8)} for i in range(3)])'
  fn-normalize --fit st.json --ct ct.fns > n.fns
  fn-normalize --stats st.json ct.fns > n2.fns
  cmp n.fns n2.fns
  fn-normalize --fit su.json --ct u.fns > nu.fns
  run py -c '
import fnframes, json, numpy as np
for src, out, js in (("ct", "n", "st"), ("u", "nu", "su")):
    st = json.load(open(js + ".json"))
    fr = fnframes.read(src + ".fns")
    x = np.stack([f["image"] for f in fr]).astype(np.float64)
    fg = x[np.stack([f["mask"] for f in fr]) > 0]
    lo, hi = np.percentile(fg, [0.5, 99.5])
    tol = (fg.max() - fg.min()) / 2**18 if src == "ct" else 1e-9
    assert st["foreground"] is True and st["clip_percentile"] == [0.5, 99.5] and st["count"] == fg.size, st
    assert abs(st["clip_lo"] - lo) <= tol and abs(st["clip_hi"] - hi) <= tol, (st, lo, hi)
    assert abs(st["mean"] - fg.mean()) < 1e-6 and abs(st["std"] - fg.std()) < 1e-6, (st, fg.mean(), fg.std())
    y = np.stack([f["image"] for f in fnframes.read(out + ".fns")])
    want = (np.clip(x, st["clip_lo"], st["clip_hi"]) - st["mean"]) / st["std"]
    assert np.abs(y - want).max() < 1e-4, np.abs(y - want).max()
    assert abs(y.min() - (st["clip_lo"] - st["mean"]) / st["std"]) < 1e-4   # the -2619 corner clipped
print("ok")'
  assert_output "ok"
}

@test "--foreground without masks, or with an empty foreground: a one-line error, no stats written" {
  fn-synth -n 2 --size 16x16 | fn-normalize --per-image > /dev/null
  py -c '
import fnframes, numpy as np
fnframes.write("nomask.fns", [{"id": "a", "image": np.ones((1, 4, 4), np.float32)}])
fnframes.write("empty.fns", [{"id": "a", "image": np.ones((1, 4, 4), np.float32), "mask": np.zeros((1, 4, 4), np.uint8)}])'
  run --separate-stderr fn-normalize --fit st.json --ct nomask.fns
  assert_one_line_error fn-normalize
  [[ "$stderr" == *"frame 1 (a)"*mask* ]] || fail "$stderr"
  run --separate-stderr fn-normalize --fit st.json --foreground empty.fns
  assert_one_line_error fn-normalize
  [[ "$stderr" == *"no foreground pixels"* ]] || fail "$stderr"
  [ -z "$output" ]
  [ ! -e st.json ]
}

@test "--fit spills to \$TMPDIR (an unusable TMPDIR is an error before anything is written)" {
  fn-synth -n 2 > s.fns
  TMPDIR="$T/does-not-exist" run --separate-stderr fn-normalize --fit st.json s.fns
  assert_one_line_error fn-normalize
  [[ "$stderr" == *"temporary file"* ]] || fail "$stderr"
  [ -z "$output" ]
  [ ! -e st.json ]
  mkdir tmp
  TMPDIR="$T/tmp" fn-normalize --fit st.json s.fns > n.fns
  [ -z "$(ls tmp)" ]
}

# ---- failures ---------------------------------------------------------------------------------

@test "usage errors exit 2 and write nothing" {
  fn-synth -n 1 > s.fns
  for args in "" "--fit a.json --stats b.json" "--per-image --stats b.json" "--stats b.json --clip-percentile 1,99" \
              "--fit a.json --clip-percentile 99,1" "--fit a.json --clip-percentile 5" "--stats b.json --per-channel" \
              "--per-image --fit a.json" "--per-image s.fns extra" "--bogus" "--stats b.json --clip 1,2" \
              "--fit a.json --clip 5,1" "--fit a.json --clip 5" "--per-image --ct" "--stats b.json --foreground"; do
    run --separate-stderr fn-normalize $args s.fns
    [ "$status" -eq 2 ] || fail "fn-normalize $args: status $status"
    [ -z "$output" ] || fail "fn-normalize $args wrote to stdout"
  done
  [ ! -e a.json ]
}

@test "unreadable or malformed stats file: one-line error, nothing written" {
  fn-synth -n 1 > s.fns
  run --separate-stderr fn-normalize --stats missing.json s.fns
  assert_one_line_error fn-normalize
  [ -z "$output" ]
  echo '{"mode": "dataset", "mean": 1}' > bad.json
  run --separate-stderr fn-normalize --stats bad.json s.fns
  assert_one_line_error fn-normalize
  [[ "$stderr" == *std* ]] || fail "$stderr"
  echo 'not json' > bad.json
  run --separate-stderr fn-normalize --stats bad.json s.fns
  assert_one_line_error fn-normalize
}

@test "NaN in an image: --stats writes the frames before it whole; --fit writes nothing and no stats" {
  py -c '
import fnframes, numpy as np
a = np.ones((1, 4, 4), np.float32); b = a.copy(); b[0, 1, 2] = np.nan
fnframes.write("in.fns", [{"id": "ok", "image": a}, {"id": "bad", "image": b}])'
  echo '{"mode": "dataset", "mean": 0, "std": 1}' > st.json
  run --separate-stderr bash -c 'fn-normalize --stats st.json in.fns | fn-info | tail -1'
  [[ "$stderr" == "fn-normalize: "*"frame 2 (bad)"*NaN* ]] || fail "$stderr"
  assert_output --partial "1 frames"
  run --separate-stderr fn-normalize --fit new.json in.fns
  assert_one_line_error fn-normalize
  [ -z "$output" ]
  [ ! -e new.json ]
}

@test "--fit on a zero-variance channel: a warning naming it; the channel is only centred" {
  py -c '
import fnframes, numpy as np
a = np.arange(48, dtype=np.uint8).reshape(3, 4, 4); a[1] = 7
fnframes.write("in.fns", [{"id": "a", "image": a}, {"id": "b", "image": a.copy()}])'
  run --separate-stderr bash -c 'fn-normalize --fit st.json --per-channel in.fns > out.fns'
  assert_success
  assert_equal "$stderr" "fn-normalize: warning: in.fns: channel 1 has zero variance (every value is 7): it is only centred, to 0"
  py -c '
import fnframes, numpy as np
for f in fnframes.read("out.fns"): assert np.all(f["image"][1] == 0) and np.isfinite(f["image"]).all()'
  run --separate-stderr bash -c 'fn-synth -n 2 --size 16x16 | fn-normalize --fit st.json > /dev/null'
  assert_success
  assert_equal "$stderr" ""
}

@test "mixed dtypes when fitting, or a channel count that differs from per-channel stats: errors" {
  py -c '
import fnframes, numpy as np
fnframes.write("mixed.fns", [{"id": "a", "image": np.ones((1, 4, 4), np.uint8)}, {"id": "b", "image": np.ones((1, 4, 4), np.uint16)}])'
  run --separate-stderr fn-normalize --fit st.json mixed.fns
  assert_one_line_error fn-normalize
  fn-synth -n 1 --channels 3 | fn-normalize --fit rgb.json --per-channel > /dev/null
  fn-synth -n 1 --channels 1 > gray.fns
  run --separate-stderr fn-normalize --stats rgb.json gray.fns
  assert_one_line_error fn-normalize
  [[ "$stderr" == *channels* ]] || fail "$stderr"
}
