#!/usr/bin/env bats
# fn-write: frames to PNG/TIFF files named by id; overlays; bad input

load test_helper

PY=/usr/bin/python3

# a stream of small frames of every dtype, written with Python's msgpack
mkstream() {
  $PY -c '
import sys, msgpack, numpy as np
def t(a):
    a = np.asarray(a)
    a = a[None] if a.ndim == 2 else a
    return {"dtype": {"uint8": "u8", "uint16": "u16", "float32": "f32"}[a.dtype.name],
            "shape": list(a.shape), "data": a.astype(a.dtype.newbyteorder("<")).tobytes()}
y, x = np.mgrid[0:20, 0:30]
g = (x * 8 + y).astype(np.uint8)
m = ((x > 8) & (x < 20) & (y > 4) & (y < 15)).astype(np.uint8)
p = (x / 29.0).astype(np.float32)
frames = [
  {"id": "s1", "image": t(g), "mask": t(m), "pred": t(p), "meta": {"src": "x"}},
  {"id": "s2", "image": t(np.stack([g, 255 - g, g // 2])), "mask": t(m)},
  {"id": "f", "image": t(((x - y) / 4.0).astype(np.float32))},
  {"id": "u", "image": t((x * 1000 + y).astype(np.uint16))},
  {"id": "a/b", "image": t(g)},
]
with open(sys.argv[1], "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr, use_bin_type=True))
' "$1"
}

@test "fn-write --help starts with the usage line and exits 0" {
  run fn-write --help
  assert_success
  assert_line --index 0 "usage: fn-write [options] DIR [FILE]"
}

@test "fn-write --version" {
  run fn-write --version
  assert_success
  assert_output --regexp '^fn-write [0-9]+\.[0-9]+'
}

@test "usage errors exit 2" {
  run --separate-stderr fn-write
  assert_equal "$status" 2
  run --separate-stderr fn-write --format jpeg out
  assert_equal "$status" 2
  run --separate-stderr fn-write --keys image,foo out
  assert_equal "$status" 2
  run --separate-stderr fn-write out a b
  assert_equal "$status" 2
}

@test "image, mask and pred as ID_KEY.png in a new folder; no temporary files left" {
  mkstream s.fns
  fn-write out/sub s.fns
  run ls out/sub
  assert_output - <<'OUT'
a_b_image.png
f_image.png
s1_image.png
s1_mask.png
s1_pred.png
s2_image.png
s2_mask.png
u_image.png
OUT
}

@test "pixels: u8 as is, masks 0/255, pred x255, f32 min-max to 8 bits, u16 as 16-bit PNG" {
  mkstream s.fns
  fn-write out < s.fns
  $PY -c '
import numpy as np
from PIL import Image
y, x = np.mgrid[0:20, 0:30]
g = (x * 8 + y).astype(np.uint8)
m = ((x > 8) & (x < 20) & (y > 4) & (y < 15))
a = lambda n: np.asarray(Image.open("out/" + n))
assert (a("s1_image.png") == g).all()
assert (a("s2_image.png") == np.stack([g, 255 - g, g // 2], 2)).all()
assert (a("s1_mask.png") == m * 255).all()
assert (a("s1_pred.png") == np.rint(x / 29.0 * 255)).all()
f = a("f_image.png"); v = (x - y) / 4.0
assert f.dtype == np.uint8 and f[0, 29] == 255 and f[19, 0] == 0
assert np.abs(f - (v - v.min()) / (v.max() - v.min()) * 255).max() <= 0.51
u = Image.open("out/u_image.png")
assert u.mode.startswith("I"), u.mode
assert (np.asarray(u) == x * 1000 + y).all()
'
}

@test "fn-read reads back what fn-write wrote" {
  mkstream s.fns
  fn-write out s.fns
  fn-read out/s2_image.png out/u_image.png > back.fns
  $PY -c '
import msgpack
a = list(msgpack.Unpacker(open("s.fns", "rb"), raw=False))
b = list(msgpack.Unpacker(open("back.fns", "rb"), raw=False))
assert b[0]["image"] == a[1]["image"] and b[0]["id"] == "s2_image"
assert b[1]["image"] == a[3]["image"]
'
}

@test "--format tiff keeps f32 images and predictions as they are" {
  mkstream s.fns
  fn-write --format tiff out s.fns
  [ -f out/f_image.tif ] && [ -f out/s1_pred.tif ] && [ -f out/s1_mask.tif ]
  fn-write --format tiff --keys image out2 s.fns
  [ -f out2/s1_image.tif ] && [ ! -e out2/s1_pred.tif ]
  fn-read out/f_image.tif out/s1_pred.tif > back.fns
  $PY -c '
import msgpack
a = list(msgpack.Unpacker(open("s.fns", "rb"), raw=False))
b = list(msgpack.Unpacker(open("back.fns", "rb"), raw=False))
assert b[0]["image"] == a[2]["image"]
assert b[1]["image"] == a[0]["pred"]
'
}

@test "--overlay: one montage per frame, input | truth | prediction; only overlays unless --keys" {
  mkstream s.fns
  fn-write --overlay out s.fns
  run ls out
  assert_output - <<'OUT'
a_b_overlay.png
f_overlay.png
s1_overlay.png
s2_overlay.png
u_overlay.png
OUT
  $PY -c '
import numpy as np
from PIL import Image
o = np.asarray(Image.open("out/s1_overlay.png"))
assert o.shape == (20, 3 * 30 + 2 * 4, 3), o.shape
assert (o[:, 30:34] == 255).all()                      # the gap
assert (o[:, :30, 0] == o[:, :30, 1]).all()             # input panel: grey
assert o[10, 34 + 14, 1] > o[10, 34 + 14, 0]            # truth panel: green inside the mask
assert o[10, 68 + 25, 0] > o[10, 68 + 25, 1]            # prediction panel: red where pred >= 0.5
assert (o[10, 68 + 2] == o[10, 2]).all()                # ... and untouched where pred < 0.5
assert Image.open("out/s2_overlay.png").size == (64, 20)   # no pred: two panels
assert Image.open("out/f_overlay.png").size == (30, 20)
'
  fn-write --overlay --keys mask out2 s.fns
  [ -f out2/s1_overlay.png ] && [ -f out2/s1_mask.png ] && [ ! -e out2/s1_image.png ]
}

@test "a truncated stream: one-line error, the files of earlier frames written" {
  mkstream s.fns
  head -c "$(( $(stat -c %s s.fns) - 10 ))" s.fns > cut.fns
  run --separate-stderr fn-write out cut.fns
  assert_one_line_error fn-write
  [[ "$stderr" == "fn-write: cut.fns: frame 5"* ]] || fail "$stderr"
  [ -f out/u_image.png ] && [ ! -e out/a_b_image.png ]
  [ -z "$(ls out | grep tmp)" ]
}

@test "bad input: DIR is a file, a 2-channel image as PNG, a missing input" {
  mkstream s.fns
  touch file
  run --separate-stderr fn-write file s.fns
  assert_one_line_error fn-write
  $PY -c '
import msgpack
open("c2.fns", "wb").write(msgpack.packb({"id": "c2", "image": {"dtype": "u8", "shape": [2, 2, 2], "data": bytes(8)}}))'
  run --separate-stderr fn-write out c2.fns
  assert_one_line_error fn-write
  assert_equal "$stderr" "fn-write: c2: image has 2 channels; PNG holds 1 or 3 (try --format tiff)"
  fn-write --format tiff out c2.fns
  [ -f out/c2_image.tif ]
  run --separate-stderr fn-write out missing.fns
  assert_one_line_error fn-write
}

@test "garbage input: one-line error, exit 1, no folder and none of its parents made" {
  run --separate-stderr bash -c 'echo garbage | fn-write a/b/out'
  assert_one_line_error fn-write
  [[ "$stderr" == "fn-write: stdin: frame 1: "* ]] || fail "$stderr"
  assert_equal "$output" ""
  [ ! -e a ] || fail "left $(find a)"
  printf 'garbage' > g.fns
  run --separate-stderr fn-write a/b/out g.fns
  assert_one_line_error fn-write
  [ ! -e a ]
  run --separate-stderr fn-write --nifti a/b/out g.fns
  assert_one_line_error fn-write
  [ ! -e a ]
}

@test "a first frame that cannot be written: one-line error, no folder made; an existing folder kept as it was" {
  $PY -c '
import msgpack
open("c2.fns", "wb").write(msgpack.packb({"id": "c2", "image": {"dtype": "u8", "shape": [2, 2, 2], "data": bytes(8)}}))'
  run --separate-stderr fn-write a/out c2.fns
  assert_one_line_error fn-write
  assert_equal "$stderr" "fn-write: c2: image has 2 channels; PNG holds 1 or 3 (try --format tiff)"
  [ ! -e a ]
  mkdir have && touch have/keep.txt
  run --separate-stderr bash -c 'echo garbage | fn-write have'
  assert_one_line_error fn-write
  run ls -A have
  assert_output "keep.txt"
  mkstream s.fns
  fn-write have s.fns
  [ -f have/keep.txt ] && [ -f have/s1_image.png ]
}

@test "an empty stream: exit 0, nothing written, no folder made; an existing one left as it was" {
  run --separate-stderr fn-write a/b/out < /dev/null
  assert_success
  assert_equal "$output" ""
  assert_equal "$stderr" ""
  [ ! -e a ]
  : > empty.fns
  run --separate-stderr fn-write --overlay a/b/out empty.fns
  assert_success
  [ ! -e a ]
  mkdir have
  run --separate-stderr fn-write have < /dev/null
  assert_success
  [ -d have ] && [ -z "$(ls -A have)" ]
  mkstream s.fns   # frames, but none with what --keys asks for: nothing written, no folder
  PYTHONPATH="$BATS_TEST_DIRNAME" $PY -c '
import fnframes, numpy as np
fnframes.write("nopred.fns", [{"id": "b", "image": np.zeros((1, 4, 4), np.uint8)}])'
  run --separate-stderr fn-write --keys pred a/b/out nopred.fns
  assert_success
  [ ! -e a ]
}

@test "a good stream makes the nested folders, parents included, as it writes the first file" {
  mkstream s.fns
  run --separate-stderr fn-write a/b/c/out s.fns
  assert_success
  [ -d a/b/c/out ] && [ -f a/b/c/out/s1_image.png ]
  run ls a/b/c/out
  assert_line --index 0 "a_b_image.png"
  fn-synth -n 2 | fn-write x/y/z
  [ -f x/y/z/synth_0000_image.png ]
}

@test "real data: DRIVE TIFFs written as PNG equal the originals; an overlay per sample" {
  need_data drive
  D=$FN_DATA/drive
  fn-read "$D/images/21_training.tif" "$D/images/22_training.tif" --masks "$D/masks" | fn-write --overlay --keys image,mask out
  $PY -c '
import sys, numpy as np
from PIL import Image
for n in ("21_training", "22_training"):
    assert (np.asarray(Image.open("out/%s_image.png" % n)) == np.asarray(Image.open(sys.argv[1] + "/images/%s.tif" % n))).all()
    assert set(np.unique(np.asarray(Image.open("out/%s_mask.png" % n)))) == {0, 255}
    assert Image.open("out/%s_overlay.png" % n).size == (2 * 565 + 4, 584)
' "$D"
}

# ---- --pred-suffix: challenge submissions ----------------------------------------------------------

@test "--pred-suffix: pred > T as a 0/255 PNG named ID SUFFIX.png at the image's own size, nothing else" {
  PYTHONPATH="$BATS_TEST_DIRNAME" $PY -c '
import fnframes, numpy as np
p = np.linspace(0, 1, 60 * 40, dtype=np.float32).reshape(1, 60, 40)
fnframes.write("s.fns", [{"id": "ISIC_0000001", "image": np.zeros((3, 16, 16), np.uint8), "mask": (p > 0.5).astype(np.uint8),
                          "pred": p, "meta": {"orig_h": 60, "orig_w": 40}}])'
  fn-write --pred-suffix _segmentation sub s.fns
  run ls sub
  assert_output "ISIC_0000001_segmentation.png"
  fn-write --pred-suffix _seg --threshold 0.25 sub2 s.fns
  run $PY -c '
import numpy as np
from PIL import Image
a = np.asarray(Image.open("sub/ISIC_0000001_segmentation.png")); b = np.asarray(Image.open("sub2/ISIC_0000001_seg.png"))
p = np.linspace(0, 1, 60 * 40).reshape(60, 40)
print(Image.open("sub/ISIC_0000001_segmentation.png").mode, a.shape, sorted(set(a.ravel())),
      (a == np.where(p > 0.5, 255, 0)).all(), (b == np.where(p > 0.25, 255, 0)).all())'
  assert_output "L (60, 40) [0, 255] True True"
  fn-write --pred-suffix _segmentation --keys mask sub3 s.fns
  run ls sub3
  assert_output "ISIC_0000001_mask.png"$'\n'"ISIC_0000001_segmentation.png"
}

@test "--pred-suffix: a pred not at the native size, a frame without pred, a suffix with '/'" {
  PYTHONPATH="$BATS_TEST_DIRNAME" $PY -c '
import fnframes, numpy as np
p = np.zeros((1, 16, 16), np.float32)
fnframes.write("small.fns", [{"id": "a", "pred": p, "meta": {"orig_h": 60, "orig_w": 40}}])
fnframes.write("nopred.fns", [{"id": "b", "image": np.zeros((1, 4, 4), np.uint8)}])'
  run --separate-stderr fn-write --pred-suffix _segmentation out small.fns
  assert_one_line_error fn-write
  [[ "$stderr" == *"a: pred is 16x16, the image's own size 60x40 (run fn-resize --restore first)" ]] || fail "$stderr"
  run --separate-stderr fn-write --pred-suffix _segmentation out nopred.fns
  assert_one_line_error fn-write
  [[ "$stderr" == *"b: no pred to write" ]] || fail "$stderr"
  run --separate-stderr fn-write --pred-suffix a/b out nopred.fns
  assert_equal "$status" 2
}

@test "real data: an ISIC submission folder from fn-resize --restore | fn-write --pred-suffix" {
  need_data isic2017-sample
  D=$FN_DATA/isic2017-sample
  ls "$D/images" | head -n 2 | sed "s|^|$D/images/|" > two.txt
  fn-read --list two.txt --rgb | fn-resize --keep-native 64x64 | PYTHONPATH="$BATS_TEST_DIRNAME" $PY -c '
import fnframes, numpy as np
fr = fnframes.read("-")
for f in fr: f["pred"] = (f["image"].mean(0, keepdims=True) < 128).astype(np.float32)
fnframes.write("p.fns", fr)'
  fn-resize --restore p.fns | fn-write --pred-suffix _segmentation sub
  run bash -c 'for f in sub/*; do $0 -c "from PIL import Image; im = Image.open(\"$f\"); print(\"$f\".split(\"/\")[1], im.size, im.mode)"; done' $PY
  assert_success
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == ISIC_*_segmentation.png" ("* ]] || fail "$output"
}
