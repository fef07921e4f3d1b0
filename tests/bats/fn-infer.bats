#!/usr/bin/env bats
# fn-infer: pred added in batches, everything else passed through, flip TTA, clear errors.

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

CPU=(--device cpu --threads 1)

setup_file() {
  export D="$BATS_FILE_TMPDIR"
  fn-synth -n 16 --size 32x32 --seed 1 -o "$D/train.fns"
  fn-synth -n 5 --size 32x32 --seed 2 -o "$D/val.fns"
  fn-train "${CPU[@]}" --width 0.125 --epochs 1 --val "$D/val.fns" -o "$D/m.safetensors" <"$D/train.fns"
}

@test "fn-infer --help starts with the usage line and exits 0" {
  run fn-infer --help
  assert_success
  assert_line --index 0 "usage: fn-infer [options] -m MODEL [FILE]"
}

@test "fn-infer --version" {
  run fn-infer --version
  assert_success
  assert_output --regexp '^fn-infer [0-9]+\.[0-9]+'
}

@test "adds pred (f32 [1,H,W] in [0,1]) to every frame and passes the rest through" {
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o p.fns "$D/val.fns"
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  py - "$D/val.fns" p.fns <<'PY'
import sys, fnframes, numpy as np
a, b = fnframes.read(sys.argv[1]), fnframes.read(sys.argv[2])
assert len(a) == len(b) == 5
for x, y in zip(a, b):
    p = y.pop("pred")
    assert p.dtype == np.float32 and p.shape == (1, 32, 32) and p.min() >= 0 and p.max() <= 1, p.shape
    assert list(x) == list(y), (list(x), list(y))
    for k in x:
        assert (x[k] == y[k]).all() if isinstance(x[k], np.ndarray) else x[k] == y[k], k
PY
}

@test "the batch size does not change the predictions; frames of other sizes keep their order" {
  { fn-synth -n 3 --size 32x32 --seed 2; fn-synth -n 2 --size 48x64 --seed 3; fn-synth -n 2 --size 32x32 --seed 4; } >mix.fns
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --batch 1 -o b1.fns mix.fns
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --batch 8 -o b8.fns mix.fns
  py - mix.fns b1.fns b8.fns <<'PY'
import sys, fnframes, numpy as np
m, a, b = (fnframes.read(p) for p in sys.argv[1:])
assert [f["id"] for f in m] == [f["id"] for f in a] == [f["id"] for f in b]
for f, x, y in zip(m, a, b):
    assert x["pred"].shape == (1,) + f["image"].shape[1:]
    assert np.abs(x["pred"] - y["pred"]).max() < 1e-5
PY
}

@test "--tta is the mean of the predictions of the four flips, each flipped back" {
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tta -o tta.fns "$D/val.fns"
  py - "$D/val.fns" <<'PY'
import sys, fnframes
fr = fnframes.read(sys.argv[1])
for name, fl in (("h", lambda a: a[..., ::-1]), ("v", lambda a: a[..., ::-1, :]), ("hv", lambda a: a[..., ::-1, ::-1])):
    fnframes.write(name + ".fns", [dict(f, image=fl(f["image"]), mask=fl(f["mask"])) for f in fr])
PY
  for f in h v hv; do fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o p$f.fns $f.fns; done
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o p.fns "$D/val.fns"
  py - <<'PY'
import fnframes, numpy as np
t = fnframes.read("tta.fns")
p = [f["pred"] for f in fnframes.read("p.fns")]
h = [f["pred"][..., ::-1] for f in fnframes.read("ph.fns")]
v = [f["pred"][..., ::-1, :] for f in fnframes.read("pv.fns")]
hv = [f["pred"][..., ::-1, ::-1] for f in fnframes.read("phv.fns")]
for i, f in enumerate(t):
    want = (p[i] + h[i] + v[i] + hv[i]) / 4
    assert np.abs(f["pred"] - want).max() < 1e-5, np.abs(f["pred"] - want).max()
PY
}

@test "a model trained on normalised data warns once about frames that are not" {
  fn-normalize --fit st.json -o tn.fns "$D/train.fns"
  fn-normalize --stats st.json -o vn.fns "$D/val.fns"
  fn-train "${CPU[@]}" --width 0.125 --epochs 1 --val vn.fns -o n.safetensors <tn.fns
  run --separate-stderr fn-infer "${CPU[@]}" -m n.safetensors -o /dev/null vn.fns
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  run --separate-stderr fn-infer "${CPU[@]}" -m n.safetensors -o /dev/null "$D/val.fns"
  assert_success
  [[ "$stderr" == "fn-infer: warning: frame 1 (synth_0000) is normalised as 'none"* ]] || fail "$stderr"
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

# ---- errors: one line "fn-infer: ...", exit 1 ------------------------------------------------------

@test "frames whose channels differ from the model's; frames before a bad one are written whole" {
  { fn-synth -n 2 --size 32x32; fn-synth -n 1 --size 32x32 --channels 3; } >bad.fns
  run --separate-stderr bash -c 'fn-infer --device cpu -m "$0" bad.fns | fn-info' "$D/m.safetensors"
  [[ "$stderr" == "fn-infer: stdin: frame 3"*"3 channels"*"takes 1"* ]] || [[ "$stderr" == "fn-infer: bad.fns: frame 3"*"3 channels"*"takes 1"* ]] || fail "$stderr"
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  assert_line --index 0 --partial "synth_0000"$'\t'
  assert_line --index 1 --partial "synth_0001"$'\t'
  assert_line --index 2 --regexp '^2 frames'
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o out.fns bad.fns
  assert_one_line_error fn-infer
  [ ! -e out.fns ]
}

@test "any H x W: reflect-padded to multiples of 16 and cropped back" {
  fn-synth -n 2 --size 21x37 --seed 5 >odd.fns
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o p.fns odd.fns
  assert_success
  # the same as the prediction of the image padded by numpy's reflect (bottom, right), cropped
  py - odd.fns <<'PY'
import sys, fnframes, numpy as np
fr = fnframes.read(sys.argv[1])
fnframes.write("padded.fns", [dict(f, image=np.pad(f["image"], ((0, 0), (0, 11), (0, 11)), mode="reflect"),
                                   mask=np.pad(f["mask"], ((0, 0), (0, 11), (0, 11)))) for f in fr])
PY
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o pp.fns padded.fns
  py - <<'PY'
import fnframes, numpy as np
a, b = fnframes.read("p.fns"), fnframes.read("pp.fns")
for x, y in zip(a, b):
    assert x["pred"].shape == (1, 21, 37), x["pred"].shape
    assert (x["pred"] == y["pred"][:, :21, :37]).all()
PY
}

@test "--tile: an image that fits one tile gets the untiled pred, with --tta and --batch too" {
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tta --batch 3 -o a.fns "$D/val.fns"
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tta --batch 3 --tile 32x32 --overlap 0.25 -o b.fns "$D/val.fns"
  cmp a.fns b.fns
}

@test "--tile on larger images: overlapping tiles blended; --batch counts tiles and keeps the result" {
  { fn-synth -n 2 --size 64x96 --seed 6; fn-synth -n 1 --size 37x50 --seed 7; } >big.fns
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 32x32 --batch 1 -o t1.fns big.fns
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 32x32 --overlap 0.5 --batch 7 -o t7.fns big.fns
  assert_success
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 32x32 --overlap 0 --tta -o t0.fns big.fns
  py - big.fns <<'PY'
import sys, fnframes, numpy as np
m, a, b, c = (fnframes.read(p) for p in (sys.argv[1], "t1.fns", "t7.fns", "t0.fns"))
assert [f["id"] for f in m] == [f["id"] for f in a] == [f["id"] for f in b]
for f, x, y, z in zip(m, a, b, c):
    assert x["pred"].shape == (1,) + f["image"].shape[1:] == z["pred"].shape
    assert 0 <= x["pred"].min() and x["pred"].max() <= 1 and np.isfinite(z["pred"]).all()
    assert np.abs(x["pred"] - y["pred"]).max() < 1e-4  # rounding of batched convolutions
PY
}

@test "--tile on a stream of mixed sizes: images smaller than the tile run whole, as without --tile" {
  { fn-synth -n 2 --size 32x32 --seed 2; fn-synth -n 1 --size 48x80 --seed 3; fn-synth -n 2 --size 96x96 --seed 4
    fn-synth -n 1 --size 21x37 --seed 5; fn-synth -n 1 --size 80x40 --seed 6; fn-synth -n 1 --size 64x64 --seed 7
    fn-synth -n 1 --size 32x32 --seed 8; } >mix.fns
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 64x64 --batch 4 -o t.fns mix.fns
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --batch 4 -o u.fns mix.fns
  # larger along both axes: tiled as before (the same as those frames alone)
  py - mix.fns <<'PY'
import sys, fnframes
fnframes.write("big.fns", [f for f in fnframes.read(sys.argv[1]) if f["image"].shape[1:] == (96, 96)])
fnframes.write("strip.fns", [f for f in fnframes.read(sys.argv[1]) if f["image"].shape[1:] == (48, 80)])
fnframes.write("tall.fns", [f for f in fnframes.read(sys.argv[1]) if f["image"].shape[1:] == (80, 40)])
PY
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 64x64 --batch 4 -o tb.fns big.fns
  # smaller along one axis: one tile across it, shrunk to the side padded to a multiple of 16
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 48x64 --batch 4 -o ts.fns strip.fns
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" --tile 64x48 --batch 4 -o tt.fns tall.fns
  py - mix.fns <<'PY'
import sys, fnframes
m, t, u = (fnframes.read(p) for p in (sys.argv[1], "t.fns", "u.fns"))
ref = {f["id"] + str(f["pred"].shape): f["pred"] for p in ("tb.fns", "ts.fns", "tt.fns") for f in fnframes.read(p)}
assert [f["id"] for f in m] == [f["id"] for f in t] and len(m) == 9
for f, x, y in zip(m, t, u):
    h, w = f["image"].shape[1:]
    assert x["pred"].shape == (1, h, w), (x["id"], x["pred"].shape)
    assert 0 <= x["pred"].min() and x["pred"].max() <= 1
    if h <= 64 and w <= 64:
        assert x["pred"].tobytes() == y["pred"].tobytes(), (x["id"], h, w)
    else:
        assert x["pred"].tobytes() == ref[x["id"] + str(x["pred"].shape)].tobytes(), (x["id"], h, w)
        assert x["pred"].tobytes() != y["pred"].tobytes(), (x["id"], h, w)
PY
}

@test "NaN in an image, a frame without image" {
  fn-synth -n 1 --size 32x32 | py -c "
import fnframes, numpy as np; fr = fnframes.read('-')
fr[0]['image'] = fr[0]['image'].astype(np.float32); fr[0]['image'][0, 0, 0] = np.inf
fnframes.write('inf.fns', fr)
fnframes.write('noimg.fns', [{'id': 'x', 'mask': fr[0]['mask']}])"
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" inf.fns
  assert_one_line_error fn-infer
  [[ "$stderr" == *"NaN or Inf"* ]]
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors" noimg.fns
  assert_one_line_error fn-infer
  [[ "$stderr" == *"no image"* ]]
}

@test "a truncated model, a file that is not a model, a missing model" {
  head -c 5000 "$D/m.safetensors" >trunc.safetensors
  run --separate-stderr fn-infer "${CPU[@]}" -m trunc.safetensors "$D/val.fns"
  assert_one_line_error fn-infer
  assert_output ""
  [[ "$stderr" == "fn-infer: trunc.safetensors: "*"truncated"* ]] || fail "$stderr"
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/val.fns" "$D/val.fns"
  assert_one_line_error fn-infer
  assert_output ""
  run --separate-stderr fn-infer "${CPU[@]}" -m "$D/m.safetensors.state" "$D/val.fns"
  assert_one_line_error fn-infer
  [[ "$stderr" == *"not an fn model"* ]] || fail "$stderr"
  run --separate-stderr fn-infer "${CPU[@]}" -m nothere.safetensors "$D/val.fns"
  assert_one_line_error fn-infer
}

@test "--device cuda without a usable GPU" {
  export FN_CUDA_LIB=/nonexistent/libfn-cuda.so
  run --separate-stderr fn-infer --device cuda -m "$D/m.safetensors" "$D/val.fns"
  assert_one_line_error fn-infer
  [[ "$stderr" == *"no usable GPU"* ]]
}

@test "usage errors exit 2" {
  run --separate-stderr fn-infer "$D/val.fns"
  assert_equal "$status" 2
  run --separate-stderr fn-infer -m "$D/m.safetensors" --batch 0 "$D/val.fns"
  assert_equal "$status" 2
  for bad in "--tile 30x32" "--tile 32" "--tile 0x16" "--tile 32x32 --overlap 1" "--tile 32x32 --overlap -0.1" \
             "--tile 32x32 --overlap x" "--overlap 0.5"; do
    run --separate-stderr fn-infer -m "$D/m.safetensors" $bad "$D/val.fns"
    assert_equal "$status" 2
    assert_output ""
  done
}

@test "--precision bf16: predictions near fp32's; refused in one line without bf16 instructions" {
  run --separate-stderr env ONEDNN_MAX_CPU_ISA=AVX2 fn-infer "${CPU[@]}" --precision bf16 -m "$D/m.safetensors" -o p.fns "$D/val.fns"
  assert_failure 1
  [[ "$stderr" == "fn-infer: --precision bf16 needs a CPU with bf16 instructions"* ]] || fail "stderr: $stderr"
  [ ! -e p.fns ]
  # tf32 is CUDA's: refused in one line on the CPU; an unknown name is a usage error
  run --separate-stderr fn-infer "${CPU[@]}" --precision tf32 -m "$D/m.safetensors" -o p.fns "$D/val.fns"
  assert_failure 1
  assert_output ""
  assert_equal "$stderr" "fn-infer: --precision tf32 is not available on the CPU (fp32 or bf16)"
  [ ! -e p.fns ]
  run --separate-stderr fn-infer "${CPU[@]}" --precision fp16 -m "$D/m.safetensors" -o p.fns "$D/val.fns"
  assert_failure 2
  [[ "$stderr" == "fn-infer: --precision takes fp32, tf32 or bf16, not 'fp16'"* ]] || fail "stderr: $stderr"
  [ ! -e p.fns ]
  run --separate-stderr fn-infer "${CPU[@]}" --precision bf16 -m "$D/m.safetensors" -o b.fns "$D/val.fns"
  if [[ "$stderr" == *"needs a CPU with bf16"* ]]; then skip "no bf16 instructions on this CPU"; fi
  assert_success
  fn-infer "${CPU[@]}" -m "$D/m.safetensors" -o f.fns "$D/val.fns"
  fn-infer "${CPU[@]}" --precision bf16 -m "$D/m.safetensors" -o b2.fns "$D/val.fns"
  cmp b.fns b2.fns
  py - f.fns b.fns <<'PY'
import sys, fnframes, numpy as np
a, b = fnframes.read(sys.argv[1]), fnframes.read(sys.argv[2])
d = np.concatenate([np.abs(x["pred"] - y["pred"]).ravel() for x, y in zip(a, b)])
# a 1-epoch model's probabilities (its batch-norm statistics still far off, which amplifies): bf16's
# rounding (2^-9 per input, 78 convolutions) moved them by 0.006 on average and 0.10 at most on a Zen 4
assert 0 < d.mean() < 0.02 and d.max() < 0.25, (d.mean(), d.max())
PY
}

@test "--precision bf16: a batch's images get the predictions each gets alone (the primitives' calls cut a batch)" {
  fn-synth -n 4 --size 256x256 --seed 4 -o big.fns
  run --separate-stderr fn-infer "${CPU[@]}" --precision bf16 --batch 1 -m "$D/m.safetensors" -o p1.fns big.fns
  if [[ "$stderr" == *"needs a CPU with bf16"* ]]; then skip "no bf16 instructions on this CPU"; fi
  assert_success
  fn-infer "${CPU[@]}" --precision bf16 --batch 4 -m "$D/m.safetensors" -o p4.fns big.fns
  # at 256x256 the primitives take the batch in calls of a few images; a residual unit once wrote its sum
  # over its concatenated input's later images (0.71 apart in probability): now the same to rounding
  py - p1.fns p4.fns <<'PY'
import sys, fnframes, numpy as np
a, b = fnframes.read(sys.argv[1]), fnframes.read(sys.argv[2])
assert len(a) == len(b) == 4
d = [float(np.abs(x["pred"] - y["pred"]).max()) for x, y in zip(a, b)]
assert max(d) < 1e-3, d
PY
}
