#!/usr/bin/env bats
# fn-train --arch: every comparison network trains, and every tool works on its model file (fn-infer,
# with --tta; fn-score; fn-info; --resume). Tiny: width 0.0625, 32x32 frames, one thread.

load test_helper

TINY=(--device cpu --threads 1 --width 0.0625 --batch 4)
ARCHS=(unet resunet runet r2unet attunet)

setup_file() {
  export D="$BATS_FILE_TMPDIR"
  fn-synth -n 8 --size 32x32 --seed 1 -o "$D/train.fns"
  fn-synth -n 4 --size 32x32 --seed 2 -o "$D/val.fns"
  for a in unet resunet runet r2unet attunet; do
    fn-train "${TINY[@]}" --arch "$a" --epochs 2 --seed 3 --val "$D/val.fns" -o "$D/$a.safetensors" \
      --log "$D/$a.tsv" <"$D/train.fns"
  done
}

@test "fn-train --help lists the architectures" {
  run fn-train --help
  assert_success
  assert_output --partial "--arch NET"
  assert_output --partial "focusnet, unet, resunet, runet, r2unet or attunet"
}

@test "each architecture trains: two epochs logged, the model names its arch, fn-info tells it" {
  for a in "${ARCHS[@]}"; do
    [ "$(wc -l <"$D/$a.tsv")" -eq 3 ]
    run fn-info "$D/$a.safetensors"
    assert_success
    assert_line --index 0 --regexp "^$D/$a.safetensors	model arch=$a in_channels=1 width=0.0625 parameters=[0-9]+ tensors=[0-9]+ epoch=[12] "
    assert_line --index 1 "0 frames, 0 bytes"
  done
  run fn-info --json "$D/unet.safetensors"
  assert_success
  assert_line --index 0 --regexp '^\{"model":".*unet.safetensors","arch":"unet","in_channels":1,"width":"0.0625","parameters":[0-9]+,'
}

@test "fn-infer reads the arch from the model: predictions in [0,1], --tta too; fn-score scores them" {
  for a in "${ARCHS[@]}"; do
    fn-infer --device cpu -m "$D/$a.safetensors" -o p.fns "$D/val.fns"
    fn-infer --device cpu -m "$D/$a.safetensors" --tta -o t.fns "$D/val.fns"
    run fn-info p.fns
    assert_success
    assert_line --index 0 --regexp '	pred f32 \[1,32,32\] min [0-9.e-]+ max [0-9.e-]+ mean'
    assert_line --index 4 "4 frames, $(stat -c %s p.fns) bytes"
    ! grep -q nonfinite <<<"$output"
    run fn-score p.fns
    assert_success
    run fn-score t.fns
    assert_success
    ! cmp -s p.fns t.fns
  done
}

@test "the same seed gives the same model, byte for byte" {
  fn-train "${TINY[@]}" --arch attunet --epochs 2 --seed 3 --val "$D/val.fns" -o again.safetensors \
    <"$D/train.fns"
  cmp again.safetensors "$D/attunet.safetensors"
}

@test "a resume keeps the arch and refuses another" {
  fn-train "${TINY[@]}" --arch runet --epochs 1 --seed 3 --val "$D/val.fns" -o r.safetensors <"$D/train.fns"
  run --separate-stderr fn-train "${TINY[@]}" --arch unet --epochs 2 --val "$D/val.fns" --resume r.safetensors.state \
    <"$D/train.fns"
  assert_failure 1
  [[ "$stderr" == *"--arch differs from the resumed run's"* ]]
  fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" --resume r.safetensors.state <"$D/train.fns"
  run fn-info r.safetensors
  assert_output --partial "model arch=runet "
}

@test "an unknown --arch is a usage error" {
  run --separate-stderr fn-train --arch vnet --val "$D/val.fns" -o x.safetensors "$D/train.fns"
  assert_failure 2
  [[ "$stderr" == "fn-train: unknown --arch 'vnet' (focusnet, unet, resunet, runet, r2unet, attunet)"* ]]
  [ ! -e x.safetensors ]
}

@test "a model file of an unknown arch is refused by fn-infer" {
  /usr/bin/python3 - "$D/unet.safetensors" bad.safetensors <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"]["arch"] = "vnet"
j = json.dumps(h).encode()
j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])
PY
  run --separate-stderr fn-infer --device cpu -m bad.safetensors -o p.fns "$D/val.fns"
  assert_failure 1
  [[ "$stderr" == "fn-infer: bad.safetensors: unknown architecture vnet" ]]
}

@test "fn-info: a truncated model file is a one-line error" {
  head -c 3000 "$D/unet.safetensors" > cut.safetensors
  run --separate-stderr fn-info cut.safetensors
  assert_failure 1
  [[ "$stderr" == "fn-info: cut.safetensors: "* ]]
  [ "$(wc -l <<<"$stderr")" -eq 1 ]
  [ -z "$output" ]
}
