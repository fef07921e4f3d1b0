#!/usr/bin/env bats
# fn-resize: antialiased resizing of image/mask/pred, --keep-aspect padding, --restore

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

@test "fn-resize --help starts with the usage lines and exits 0" {
  run fn-resize --help
  assert_success
  assert_line --index 0 "usage: fn-resize [options] HxW [FILE]"
  assert_line --index 2 "usage: fn-resize [options] --restore [FILE]"
}

@test "fn-resize --version" {
  run fn-resize --version
  assert_success
  assert_output --regexp '^fn-resize [0-9]+\.[0-9]+'
}

@test "HxW resizes image and mask, keeps dtypes, mask stays binary, meta records the size" {
  fn-synth -n 3 --size 64x48 --channels 3 > s.fns
  fn-resize 32x40 s.fns > r.fns
  run py -c '
import fnframes
for f in fnframes.read("r.fns"):
    m = f["meta"]
    print(f["id"], f["image"].dtype, f["image"].shape, f["mask"].dtype, f["mask"].shape, sorted(set(f["mask"].ravel())),
          m["orig_h"], m["orig_w"], m["resize_from_h"], m["resize_from_w"])'
  assert_success
  assert_line --index 0 "synth_0000 uint8 (3, 32, 40) uint8 (1, 32, 40) [0, 1] 64 48 64 48"
  assert_equal "${#lines[@]}" 3
}

@test "orig_h/orig_w already in meta are kept through a chain of resizes" {
  fn-synth -n 1 --size 64x64 | fn-resize 32x32 | fn-resize 16x8 > r.fns
  run py -c '
import fnframes
f = fnframes.read("r.fns")[0]; m = f["meta"]
print(f["image"].shape, m["orig_h"], m["orig_w"], m["resize_from_h"], m["resize_from_w"])'
  assert_output "(1, 16, 8) 64 64 32 32"
}

@test "--scale and --max-side" {
  fn-synth -n 1 --size 40x100 > s.fns
  run bash -c 'fn-resize --scale 0.5 s.fns | fn-info | head -1'
  assert_output --partial "image u8 [1,20,50]"
  run bash -c 'fn-resize --max-side 50 s.fns | fn-info | head -1'
  assert_output --partial "image u8 [1,20,50]"
  run bash -c 'fn-resize --max-side 500 s.fns | fn-info | head -1'
  assert_output --partial "image u8 [1,40,100]"
}

@test "u16, f32 and a 5-channel image keep their dtype and channels; constant stays constant" {
  py -c '
import fnframes, numpy as np
fnframes.write("in.fns", [
  {"id": "a", "image": np.full((1, 30, 20), 40000, np.uint16)},
  {"id": "b", "image": np.full((5, 30, 20), -2.5, np.float32), "pred": np.full((1, 30, 20), 0.25, np.float32)}])'
  fn-resize 7x90 in.fns > r.fns
  run py -c '
import fnframes
for f in fnframes.read("r.fns"):
    for k in ("image", "pred"):
        if k in f: print(f["id"], k, f[k].dtype, f[k].shape, round(float(f[k].min()), 4), round(float(f[k].max()), 4))'
  assert_success
  assert_line --index 0 "a image uint16 (1, 7, 90) 40000.0 40000.0"
  assert_line --index 1 "b image float32 (5, 7, 90) -2.5 -2.5"
  assert_line --index 2 "b pred float32 (1, 7, 90) 0.25 0.25"
}

@test "--mask-mode bilinear gives a binary mask close to the nearest one" {
  fn-synth -n 4 --size 96x96 > s.fns
  fn-resize 40x40 s.fns > n.fns
  fn-resize --mask-mode bilinear 40x40 s.fns > b.fns
  run py -c '
import fnframes, numpy as np
for a, b in zip(fnframes.read("n.fns"), fnframes.read("b.fns")):
    assert set(np.unique(b["mask"])) <= {0, 1}
    assert np.abs(a["mask"].astype(int) - b["mask"]).mean() < 0.05, a["id"]
    assert (a["image"] == b["image"]).all()
print("ok")'
  assert_success
  assert_output "ok"
}

@test "--keep-aspect pads with zeros, records the box, and --restore undoes it" {
  fn-synth -n 2 --size 60x30 --channels 3 > s.fns
  fn-resize --keep-aspect 40x40 s.fns > k.fns
  fn-resize --restore k.fns > back.fns
  fn-resize 40x20 s.fns | fn-resize --restore > plain.fns
  run py -c '
import fnframes, numpy as np
for s, k, b, p in zip(*(fnframes.read(x) for x in ("s.fns", "k.fns", "back.fns", "plain.fns"))):
    m = k["meta"]
    print(k["image"].shape, m["pad_top"], m["pad_left"], m["pad_bottom"], m["pad_right"],
          int(k["image"][:, :, :10].max()), int(k["image"][:, :, 30:].max()), int(k["mask"][:, :, :10].max()))
    assert b["image"].shape == s["image"].shape and b["mask"].shape == s["mask"].shape
    assert not any(x.startswith("pad_") for x in b["meta"])
    assert (b["image"] == p["image"]).all() and (b["mask"] == p["mask"]).all()
    agree = (b["mask"] == s["mask"]).mean()
    assert agree > 0.97, agree'
  assert_success
  assert_line --index 0 "(3, 40, 40) 0 10 0 10 0 0 0"
}

@test "--restore brings pred (bilinear, f32) and mask (nearest) back to orig_h x orig_w" {
  py -c '
import fnframes, numpy as np
m = np.zeros((1, 16, 16), np.uint8); m[0, 4:12, 4:12] = 1
p = np.linspace(0, 1, 256, dtype=np.float32).reshape(1, 16, 16)
fnframes.write("in.fns", [{"id": "x", "mask": m, "pred": p, "meta": {"orig_h": 32, "orig_w": 48}}])'
  fn-resize --restore in.fns > r.fns
  run py -c '
import fnframes, numpy as np
f = fnframes.read("r.fns")[0]
print(f["pred"].dtype, f["pred"].shape, f["mask"].dtype, f["mask"].shape, int(f["mask"].sum()))
assert 0 <= f["pred"].min() and f["pred"].max() <= 1'
  assert_success
  assert_output "float32 (1, 32, 48) uint8 (1, 32, 48) 384"
}

# Pillow's Image.resize(BILINEAR) on the same decoded pixels, per channel
compare_with_pillow() {
  local size=$1
  shift
  fn-read "$@" > in.fns
  fn-resize "$size" in.fns > out.fns
  py - "$size" <<'PY'
import sys, fnframes, numpy as np
from PIL import Image
h, w = map(int, sys.argv[1].split("x"))
worst = 0
for a, b in zip(fnframes.read("in.fns"), fnframes.read("out.fns")):
    im = a["image"]
    ref = np.stack([np.asarray(Image.fromarray(im[c]).resize((w, h), Image.BILINEAR)) for c in range(im.shape[0])])
    assert ref.shape == b["image"].shape, (ref.shape, b["image"].shape)
    mad = np.abs(ref.astype(float) - b["image"]).mean()
    print("%s %s -> %s mad %.3f" % (a["id"], im.shape, b["image"].shape, mad))
    worst = max(worst, mad)
assert worst < 1.0, worst
print("worst %.3f" % worst)
PY
}

@test "matches Pillow's BILINEAR within 1 grey level: ISIC JPEGs (1024 px and 3024x2016)" {
  need_data isic2017-sample
  local d="$FN_DATA/isic2017-sample/images"
  run compare_with_pillow 256x256 "$d/ISIC_0001769.jpg" $(ls "$d"/*.jpg | sed -n '10p;30p')
  assert_success
  assert_output --partial "worst"
  run compare_with_pillow 300x700 $(ls "$d"/*.jpg | sed -n '20p')
  assert_success
}

@test "matches Pillow's BILINEAR within 1 grey level: JSRT PNGs (growing too) and DRIVE TIFFs" {
  need_data jsrt_lung
  need_data drive
  run compare_with_pillow 256x256 $(ls "$FN_DATA"/jsrt_lung/images/*.png | head -3)
  assert_success
  run compare_with_pillow 100x333 $(ls "$FN_DATA"/drive/images/*.tif | head -2)
  assert_success
}

# ---- failures ---------------------------------------------------------------------------------

@test "usage errors exit 2 and write nothing" {
  fn-synth -n 1 > s.fns
  for args in "" "abc" "0x10" "--scale 0" "--scale x" "--max-side 0" "--keep-aspect --scale 2" \
              "--mask-mode cubic 8x8" "--restore --scale 2" "8x8 s.fns extra" "--bogus 8x8"; do
    run --separate-stderr fn-resize $args s.fns
    [ "$status" -eq 2 ] || fail "fn-resize $args: status $status"
    [ -z "$output" ] || fail "fn-resize $args wrote to stdout"
  done
}

@test "--restore without orig_h/orig_w: one-line error after the good frames" {
  fn-synth -n 2 --size 16x16 | fn-resize 8x8 > good.fns
  py -c '
import fnframes, numpy as np
fnframes.write("bad.fns", [{"id": "nometa", "pred": np.zeros((1, 8, 8), np.float32)}])'
  cat good.fns bad.fns > in.fns
  run --separate-stderr fn-resize --restore in.fns -o out.fns
  assert_one_line_error fn-resize
  [[ "$stderr" == *"frame 3 (nometa)"*"orig_h"* ]] || fail "$stderr"
  [ ! -e out.fns ]
  run --separate-stderr bash -c 'fn-resize --restore in.fns | fn-info | tail -1'
  assert_output --partial "2 frames"
}

@test "image and mask of different sizes, a bad stream, a missing file: one-line errors" {
  py -c '
import fnframes, numpy as np
fnframes.write("mis.fns", [{"id": "m", "image": np.zeros((1, 8, 8), np.uint8), "mask": np.zeros((1, 8, 9), np.uint8)}])'
  run --separate-stderr fn-resize 4x4 mis.fns
  assert_one_line_error fn-resize
  [ -z "$output" ]
  printf 'not a stream' > junk.fns
  run --separate-stderr fn-resize 4x4 junk.fns
  assert_one_line_error fn-resize
  run --separate-stderr fn-resize 4x4 nonexistent.fns
  assert_one_line_error fn-resize
}

@test "shrink-on-load (fn-read --size-hint) + fn-resize is within 2 grey levels of Pillow's full decode" {
  need_data isic2017-sample
  local d="$FN_DATA/isic2017-sample/images"
  local files="$d/ISIC_0001769.jpg $(ls "$d"/*.jpg | sed -n '5p;40p' | tr '\n' ' ')"
  fn-read --size-hint 256x256 $files | fn-resize 256x256 > fast.fns
  run py - $files <<'PY'
import sys, fnframes, numpy as np
from PIL import Image
for path, b in zip(sys.argv[1:], fnframes.read("fast.fns")):
    ref = np.asarray(Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)).transpose(2, 0, 1)
    mad = np.abs(ref.astype(float) - b["image"]).mean()
    print("%s mad %.3f" % (b["id"], mad))
    assert mad < 2.0, mad
PY
  assert_success
}

# ---- roi and native-resolution copies ---------------------------------------------------------

roi_frames() {
  py -c '
import fnframes, numpy as np
y, x = np.mgrid[0:60, 0:90]
m = (((y - 30) ** 2 + (x - 45) ** 2) < 300).astype(np.uint8)[None]
r = (((y - 30) ** 2 / 900 + (x - 45) ** 2 / 2025) < 1).astype(np.uint8)[None]
im = np.stack([(x * 2 + y).astype(np.uint8)] * 3)
fnframes.write("in.fns", [{"id": "a", "image": im, "mask": m, "roi": r, "meta": {"src": "a"}}])'
}

@test "roi is resized like the mask (nearest) and restored with it" {
  roi_frames
  fn-resize 32x48 in.fns > r.fns
  fn-resize --restore r.fns > back.fns
  py -c '
import fnframes, numpy as np
a, r, b = (fnframes.read(p)[0] for p in ("in.fns", "r.fns", "back.fns"))
assert r["roi"].shape == r["mask"].shape == (1, 32, 48) and set(np.unique(r["roi"])) == {0, 1}
yi = (np.arange(32) * 60 + 30) // 32; xi = (np.arange(48) * 90 + 45) // 48   # nearest: centres
assert (r["roi"][0] == a["roi"][0][yi][:, xi]).all()
assert b["roi"].shape == (1, 60, 90) and (b["roi"] != a["roi"]).mean() < 0.05'
}

@test "--keep-native: --restore gives back the original mask and roi exactly; augmented copies drop them" {
  roi_frames
  fn-resize --keep-native 32x48 in.fns | fn-resize 16x16 > r.fns
  run fn-info r.fns
  assert_line --index 0 --partial "keys id,image,mask,roi,meta,native_mask,native_roi"
  fn-resize --restore --drop-image r.fns > back.fns
  py -c '
import fnframes, numpy as np
a, b = fnframes.read("in.fns")[0], fnframes.read("back.fns")[0]
assert "image" not in b and "native_mask" not in b and "native_roi" not in b, list(b)
assert (a["mask"] == b["mask"]).all() and (a["roi"] == b["roi"]).all()'
  fn-resize --restore r.fns > lossy.fns
  run py -c '
import fnframes
print(fnframes.read("lossy.fns")[0]["image"].shape)'
  assert_output "(3, 60, 90)"
  run bash -c 'fn-augment -n 1 --keep-original --hflip 1 r.fns | fn-info'
  assert_line --index 0 --partial "native_mask,native_roi"
  refute_line --index 1 --partial "native_mask"
}

@test "--restore: a native_mask that does not match orig_h x orig_w is an error; --keep-native --restore is a usage error" {
  py -c '
import fnframes, numpy as np
m = np.ones((1, 8, 8), np.uint8)
fnframes.write("bad.fns", [{"id": "x", "mask": m, "native_mask": np.ones((1, 9, 9), np.uint8), "meta": {"orig_h": 8, "orig_w": 10}}])'
  run --separate-stderr fn-resize --restore bad.fns
  assert_one_line_error fn-resize
  [[ "$stderr" == *"frame 1 (x): native_mask is u8 [1,9,9], not u8 [1,8,10] (orig_h x orig_w)" ]] || fail "$stderr"
  run --separate-stderr fn-resize --keep-native --restore bad.fns
  assert_equal "$status" 2
}
