#!/usr/bin/env bats
# Any msgpack library reads and writes fn streams: Python's msgpack (Debian's python3-msgpack).

load test_helper

@test "Python's msgpack.Unpacker reads an fn-synth stream from a pipe: shapes, dtypes, data" {
  run bash -o pipefail -c 'fn-synth -n 5 --size 24x40 --channels 3 | /usr/bin/python3 -c "
import sys, msgpack, numpy as np
n = 0
for f in msgpack.Unpacker(sys.stdin.buffer, raw=False):
    assert sorted(f) == [\"id\", \"image\", \"mask\", \"meta\"], sorted(f)
    im, mk = f[\"image\"], f[\"mask\"]
    assert im[\"dtype\"] == \"u8\" and im[\"shape\"] == [3, 24, 40], im[\"shape\"]
    assert mk[\"dtype\"] == \"u8\" and mk[\"shape\"] == [1, 24, 40], mk[\"shape\"]
    assert isinstance(im[\"data\"], bytes) and len(im[\"data\"]) == 3 * 24 * 40
    m = np.frombuffer(mk[\"data\"], np.uint8)
    assert set(np.unique(m)) <= {0, 1} and m.any()
    assert f[\"meta\"] == {\"src\": \"fn-synth\", \"orig_h\": 24, \"orig_w\": 40}
    assert f[\"id\"] == \"synth_%04d\" % n
    n += 1
print(n)
"'
  assert_success
  assert_output 5
}

@test "a stream written by Python is read by fn-info: u8, u16, f32 (little-endian), meta, unknown keys" {
  /usr/bin/python3 - <<'PY'
import msgpack, numpy as np
def t(a):
    a = np.asarray(a)
    return {"dtype": {"uint8": "u8", "uint16": "u16", "float32": "f32"}[a.dtype.name],
            "shape": list(a.shape), "data": a.astype(a.dtype.newbyteorder("<")).tobytes()}
frames = [
    {"id": "py0", "image": t(np.arange(12, dtype=np.uint8).reshape(3, 2, 2)),
     "mask": t(np.array([[[0, 1], [1, 1]]], np.uint8)), "meta": {"src": "python", "orig_h": 2, "orig_w": 2}},
    {"id": "py1", "image": t(np.array([[[256, 513]]], np.uint16)), "label": "x"},
    {"id": "py2", "pred": t(np.array([[[0.0, 0.5, 1.0]]], np.float32)), "meta": {"norm_std": 2.5}},
]
with open("py.fns", "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr, use_bin_type=True))
PY
  run fn-info py.fns
  assert_success
  assert_line --index 0 "py0"$'\t'"keys id,image,mask,meta"$'\t'"image u8 [3,2,2] min 0 max 11 mean 5.5"$'\t'"mask u8 [1,2,2] min 0 max 1 mean 0.75"$'\t'"meta src=python orig_h=2 orig_w=2"
  assert_line --index 1 "py1"$'\t'"keys id,image,label"$'\t'"image u16 [1,1,2] min 256 max 513 mean 384.5"
  assert_line --index 2 "py2"$'\t'"keys id,pred,meta"$'\t'"pred f32 [1,1,3] min 0 max 1 mean 0.5"$'\t'"meta norm_std=2.5"
  assert_line --index 3 "3 frames, $(stat -c %s py.fns) bytes"
}

@test "a Python stream passes through the stream library byte for byte (unknown keys and meta kept)" {
  /usr/bin/python3 - <<'PY'
import msgpack
frames = [
    {"id": "a", "image": {"dtype": "u8", "shape": [1, 1, 3], "data": b"\x01\x02\x03"},
     "meta": {"src": "x/y.png", "orig_h": 584, "orig_w": 565, "norm_mean": 0.123456789, "aug": "hflip,rot90",
              "neg": -7, "big": 2**64 - 1},
     "score": 0.25, "tags": [None, True, False, "t", 1.5], "nested": {"k": [1, {"b": b"\x00\xff"}]},
     "blob": b"\x00" * 300, "ext": msgpack.ExtType(5, b"abc")},
    {"id": "b", "meta": {}},
    {"id": "c" * 300, "zzz": "y" * 70000},
]
with open("in.fns", "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr, use_bin_type=True))
PY
  stream-cat < in.fns > out.fns
  cmp in.fns out.fns
}

@test "Python reads what the stream library re-packs, values intact" {
  /usr/bin/python3 -c '
import msgpack
open("in.fns", "wb").write(msgpack.packb({"id": "v", "meta": {"f": 1.5, "s": "é"}, "k": [1, 2]}, use_bin_type=True))'
  stream-cat < in.fns > out.fns
  run /usr/bin/python3 -c '
import msgpack
print(list(msgpack.Unpacker(open("out.fns", "rb"), raw=False)))'
  assert_success
  assert_output "[{'id': 'v', 'meta': {'f': 1.5, 's': 'é'}, 'k': [1, 2]}]"
}
