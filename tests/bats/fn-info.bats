#!/usr/bin/env bats
# fn-info: one line per frame, --json, a summary line; bad input named with its frame number

load test_helper

@test "fn-info --help starts with the usage line and exits 0" {
  run fn-info --help
  assert_success
  assert_line --index 0 "usage: fn-info [options] [FILE...]"
}

@test "fn-info --version" {
  run fn-info --version
  assert_success
  assert_output --regexp '^fn-info [0-9]+\.[0-9]+'
}

@test "one line per frame with id, keys, tensors and meta, then the summary" {
  fn-synth -n 3 --size 8x10 > s.fns
  run fn-info s.fns
  assert_success
  assert_equal "${#lines[@]}" 4
  [[ "${lines[0]}" == "synth_0000"$'\t'"keys id,image,mask,meta"$'\t'"image u8 [1,8,10] min "* ]]
  assert_line --index 0 --regexp $'\tmask u8 \\[1,8,10\\] min 0 max 1 mean [0-9.e-]+\tmeta src=fn-synth orig_h=8 orig_w=10$'
  assert_line --index 2 --partial "synth_0002"
  assert_line --index 3 "3 frames, $(stat -c %s s.fns) bytes"
}

@test "stdin is the default input and '-' is stdin" {
  fn-synth -n 2 > s.fns
  run fn-info < s.fns
  assert_success
  assert_line --index 2 "2 frames, $(stat -c %s s.fns) bytes"
  run fn-info - < s.fns
  assert_line --index 2 "2 frames, $(stat -c %s s.fns) bytes"
}

@test "several inputs are read in turn and summed" {
  fn-synth -n 2 > a.fns
  fn-synth -n 3 --seed 2 > b.fns
  run fn-info a.fns - b.fns < a.fns
  assert_success
  assert_equal "${#lines[@]}" 8
  assert_line --index 7 "7 frames, $(( $(stat -c %s a.fns) * 2 + $(stat -c %s b.fns) )) bytes"
}

@test "the empty stream gives only the summary" {
  run fn-info < /dev/null
  assert_success
  assert_output "0 frames, 0 bytes"
}

@test "min, max and mean are right for u8, u16 and f32 tensors" {
  /usr/bin/python3 - <<'PY'
import msgpack, numpy as np
def t(a):
    return {"dtype": {"uint8": "u8", "uint16": "u16", "float32": "f32"}[a.dtype.name],
            "shape": list(a.shape), "data": a.astype(a.dtype.newbyteorder("<")).tobytes()}
with open("x.fns", "wb") as f:
    f.write(msgpack.packb({"id": "a", "image": t(np.array([[[0, 1000], [65535, 5]]], np.uint16)),
                           "pred": t(np.array([[[0.25, 0.5], [float("nan"), 1.0]]], np.float32))},
                          use_bin_type=True))
PY
  run fn-info x.fns
  assert_success
  assert_line --index 0 "a"$'\t'"keys id,image,pred"$'\t'"image u16 [1,2,2] min 0 max 65535 mean 16635"$'\t'"pred f32 [1,2,2] min 0.25 max 1 mean 0.583333 nonfinite 1"
}

@test "--json: one object per frame and a summary object" {
  fn-synth -n 2 --size 6x5 --channels 3 > s.fns
  fn-info --json s.fns > out.jsonl
  run /usr/bin/python3 -c '
import json
lines = [json.loads(l) for l in open("out.jsonl")]
assert len(lines) == 3
f = lines[0]
assert f["id"] == "synth_0000" and f["keys"] == ["id", "image", "mask", "meta"], f
assert f["image"]["dtype"] == "u8" and f["image"]["shape"] == [3, 6, 5]
assert isinstance(f["image"]["min"], int) and f["image"]["min"] <= f["image"]["mean"] <= f["image"]["max"]
assert f["mask"]["min"] >= 0 and f["mask"]["max"] <= 1 and f["mask"]["nonfinite"] == 0
assert f["meta"] == {"src": "fn-synth", "orig_h": 6, "orig_w": 5}, f["meta"]
assert lines[2]["frames"] == 2 and lines[2]["bytes"] > 0
print("ok")'
  assert_success
  assert_output ok
}

@test "unknown keys are listed; meta values of every kind are shown" {
  /usr/bin/python3 -c '
import msgpack
with open("x.fns", "wb") as f:
    f.write(msgpack.packb({"id": "k", "meta": {"src": "a b.png", "n": -3, "norm_mean": 0.5, "aug": [1]},
                           "score": 0.9, "extra": {"a": 1}}, use_bin_type=True))'
  run fn-info x.fns
  assert_success
  assert_line --index 0 "k"$'\t'"keys id,meta,score,extra"$'\t'"meta src=a b.png n=-3 norm_mean=0.5 aug=?"
  run fn-info -j x.fns
  assert_line --index 0 '{"id":"k","keys":["id","meta","score","extra"],"meta":{"src":"a b.png","n":-3,"norm_mean":0.5,"aug":null}}'
}

@test "a missing input: one line naming it, exit 1" {
  run --separate-stderr fn-info no-such.fns
  assert_one_line_error fn-info
  [[ "$stderr" == *"no-such.fns"* ]]
}

@test "a bad frame: the lines of the frames before it, then one error line naming input and frame" {
  fn-synth -n 2 > s.fns
  printf '\x81\xa2id\x01' >> s.fns   # a third frame whose id is not a string
  run --separate-stderr fn-info s.fns
  assert_one_line_error fn-info
  assert_equal "$stderr" "fn-info: s.fns: frame 3: 'id' is not a non-empty string"
  assert_equal "${#lines[@]}" 2
  assert_line --index 1 --partial "synth_0001"
}

@test "usage errors exit 2" {
  run --separate-stderr fn-info --bogus
  assert_equal "$status" 2
  [[ "$stderr" == "fn-info: "* ]]
  assert_output ""
}

@test "a closed output pipe: one line and exit 1" {
  fn-synth -n 5000 --size 8x8 > s.fns # lines beyond what the pipe holds: fn-info is still writing
  run --separate-stderr bash -c 'set -o pipefail; fn-info s.fns | head -n 1 > /dev/null'
  assert_equal "$status" 1
  assert_equal "$stderr" "fn-info: stdout: write error: Broken pipe"
}
