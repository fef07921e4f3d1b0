#!/usr/bin/env bats
# fn-read: image files, folders and TSV lists to frames; masks paired by name; bad input; real data

load test_helper

PY=/usr/bin/python3

# print "id image-dtype image-shape [mask-dtype mask-shape mask-values] orig_h orig_w" per frame
describe() {
  $PY -c '
import sys, msgpack
for f in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, max_buffer_size=1 << 31):
    im, m = f["image"], f["meta"]
    s = [f["id"], im["dtype"], str(im["shape"])]
    if "mask" in f:
        mk = f["mask"]
        s += [mk["dtype"], str(mk["shape"]), str(sorted(set(mk["data"])))]
    print(" ".join(s + [str(m["orig_h"]), str(m["orig_w"])]))
' "$1"
}

# small images of every format, written with Pillow: imgs/ and masks/
fixtures() {
  mkdir -p imgs masks
  $PY -c '
import numpy as np
from PIL import Image
y, x = np.mgrid[0:20, 0:30]
g = (x * 8 + y).astype(np.uint8)
rgb = np.stack([g, 255 - g, (x * y % 256).astype(np.uint8)], axis=2)
Image.fromarray(g).save("imgs/a.png")
Image.fromarray(rgb).save("imgs/b.jpg", quality=95)
Image.fromarray(rgb).save("imgs/c.tif", compression="tiff_lzw")
Image.fromarray(g).convert("P").save("imgs/d.gif")
m = np.zeros((20, 30), np.uint8); m[5:15, 10:20] = 150; m[0:3, 0:3] = 250
for n in ["a", "b", "c", "d", "big"]:
    Image.fromarray(m).save("masks/%s_seg.png" % n)
Image.fromarray(rgb).save("imgs/big.png")
'
  echo "not an image" > imgs/notes.txt
}

@test "fn-read --help starts with the usage lines and exits 0" {
  run fn-read --help
  assert_success
  assert_line --index 0 "usage: fn-read [options] FILE|DIR..."
  assert_line --index 1 "usage: fn-read [options] --list LIST.tsv [FILE|DIR...]"
}

@test "fn-read --version" {
  run fn-read --version
  assert_success
  assert_output --regexp '^fn-read [0-9]+\.[0-9]+'
}

@test "usage errors exit 2: no input, bad option values, exclusive options" {
  run --separate-stderr fn-read
  assert_equal "$status" 2
  run --separate-stderr fn-read --size-hint 12 x.png
  assert_equal "$status" 2
  run --separate-stderr fn-read --mask-values 1,a x.png
  assert_equal "$status" 2
  run --separate-stderr fn-read --mask-values 1 --mask-threshold 2 x.png
  assert_equal "$status" 2
  run --separate-stderr fn-read --gray --rgb x.png
  assert_equal "$status" 2
  run --separate-stderr fn-read --mask-suffix _x x.png
  assert_equal "$status" 2
}

@test "a folder: image files sorted by name, other files skipped, every format decoded" {
  fixtures
  fn-read imgs > s.fns
  run describe s.fns
  assert_success
  assert_output - <<'OUT'
a u8 [1, 20, 30] 20 30
b u8 [3, 20, 30] 20 30
big u8 [3, 20, 30] 20 30
c u8 [3, 20, 30] 20 30
d u8 [1, 20, 30] 20 30
OUT
}

@test "pixels equal Pillow's decoding; meta src names the file" {
  fixtures
  fn-read imgs/c.tif imgs/a.png imgs/d.gif -o s.fns
  $PY -c '
import sys, msgpack, numpy as np
from PIL import Image
for f in msgpack.Unpacker(open("s.fns", "rb"), raw=False):
    t = f["image"]
    a = np.frombuffer(t["data"], np.uint8).reshape(t["shape"])
    ref = np.asarray(Image.open(f["meta"]["src"]).convert("L" if t["shape"][0] == 1 else "RGB"))
    ref = ref[None] if ref.ndim == 2 else ref.transpose(2, 0, 1)
    assert (a == ref).all(), f["id"]
    assert f["meta"]["src"] == "imgs/" + f["id"] + {"c": ".tif", "a": ".png", "d": ".gif"}[f["id"]]
'
}

@test "format comes from the bytes, not the name" {
  fixtures
  cp imgs/b.jpg imgs/fake.png
  run describe <(fn-read imgs/fake.png)
  assert_success
  assert_output "fake u8 [3, 20, 30] 20 30"
}

@test "masks by name with --mask-suffix; default foreground is any non-zero" {
  fixtures
  run describe <(fn-read imgs --masks masks --mask-suffix _seg)
  assert_success
  assert_line --index 0 "a u8 [1, 20, 30] u8 [1, 20, 30] [0, 1] 20 30"
  assert_equal "${#lines[@]}" 5
  fn-read imgs/a.png --masks masks -s _seg > s.fns
  $PY -c '
import msgpack
f = next(msgpack.Unpacker(open("s.fns", "rb"), raw=False))
m = f["mask"]["data"]
assert sum(m) == 100 + 9, sum(m)
assert f["meta"]["mask_src"] == "masks/a_seg.png"
'
}

@test "--mask-values picks labels; --mask-threshold keeps values >= T" {
  fixtures
  fn-read imgs/a.png --masks masks -s _seg --mask-values 150 > v.fns
  fn-read imgs/a.png --masks masks -s _seg --mask-threshold 200 > t.fns
  $PY -c '
import msgpack
v = next(msgpack.Unpacker(open("v.fns", "rb"), raw=False))["mask"]["data"]
t = next(msgpack.Unpacker(open("t.fns", "rb"), raw=False))["mask"]["data"]
assert sum(v) == 100 and sum(t) == 9, (sum(v), sum(t))
'
}

@test "a mask of any image extension pairs, two candidates are an error" {
  fixtures
  mkdir m2
  cp masks/a_seg.png m2/a.gif.png
  $PY -c '
from PIL import Image
Image.open("masks/a_seg.png").save("m2/a.tif")'
  run describe <(fn-read imgs/a.png --masks m2)
  assert_output "a u8 [1, 20, 30] u8 [1, 20, 30] [0, 1] 20 30"
  cp masks/a_seg.png m2/a.png
  run --separate-stderr fn-read imgs/a.png --masks m2
  assert_one_line_error fn-read
  assert_output ""
  [[ "$stderr" == *"more than one mask"* ]]
}

@test "a missing mask is an error before any output, unless --allow-missing-masks" {
  fixtures
  rm masks/c_seg.png
  run --separate-stderr fn-read imgs --masks masks -s _seg
  assert_one_line_error fn-read
  assert_output ""
  [[ "$stderr" == "fn-read: imgs/c.tif: no mask c_seg.* in the mask folder"* ]]
  run describe <(fn-read imgs --masks masks -s _seg --allow-missing-masks)
  assert_line --index 3 "c u8 [3, 20, 30] 20 30"
  assert_line --index 4 "d u8 [1, 20, 30] u8 [1, 20, 30] [0, 1] 20 30"
}

@test "--list: image<TAB>mask lines relative to the list's folder, comments and blank lines skipped" {
  fixtures
  mkdir lists
  printf '# a comment\n../imgs/b.jpg\t../masks/b_seg.png\n\n%s/imgs/a.png\t../masks/a_seg.png\r\n' "$T" > lists/l.tsv
  run describe <(fn-read --list lists/l.tsv)
  assert_success
  assert_output - <<'OUT'
b u8 [3, 20, 30] u8 [1, 20, 30] [0, 1] 20 30
a u8 [1, 20, 30] u8 [1, 20, 30] [0, 1] 20 30
OUT
  printf '../imgs/d.gif\n' >> lists/l.tsv
  run --separate-stderr fn-read --list lists/l.tsv
  assert_one_line_error fn-read
  [[ "$stderr" == *"lists/../imgs/d.gif: no mask in the list"* ]]
  run describe <(fn-read --list lists/l.tsv --allow-missing-masks)
  assert_line --index 2 "d u8 [1, 20, 30] 20 30"
  run describe <(printf '%s/imgs/a.png\n' "$T" | fn-read --list -)
  assert_output "a u8 [1, 20, 30] 20 30"
}

@test "--gray and --rgb convert the images, not the masks" {
  fixtures
  run describe <(fn-read --gray imgs/b.jpg imgs/c.tif imgs/a.png)
  assert_output - <<'OUT'
b u8 [1, 20, 30] 20 30
c u8 [1, 20, 30] 20 30
a u8 [1, 20, 30] 20 30
OUT
  run describe <(fn-read --rgb imgs/a.png --masks masks -s _seg)
  assert_output "a u8 [3, 20, 30] u8 [1, 20, 30] [0, 1] 20 30"
}

@test "--size-hint: a JPEG decodes at 1/2, 1/4 or 1/8 size (>= the hint), its mask follows, orig size kept" {
  $PY -c '
import numpy as np
from PIL import Image
a = np.zeros((200, 320, 3), np.uint8); a[..., 0] = 200
Image.fromarray(a).save("p.jpg")
m = np.zeros((200, 320), np.uint8); m[40:120, 80:200] = 255
Image.fromarray(m).save("p_m.png")'
  run describe <(fn-read --size-hint 50x64 p.jpg --masks . -s _m)
  assert_output "p u8 [3, 50, 80] u8 [1, 50, 80] [0, 1] 200 320"
  run describe <(fn-read --size-hint 51x64 p.jpg)
  assert_output "p u8 [3, 100, 160] 200 320"
  fn-read --size-hint 50x64 p.jpg --masks . -s _m > s.fns
  $PY -c '
import msgpack
f = next(msgpack.Unpacker(open("s.fns", "rb"), raw=False))
assert sum(f["mask"]["data"]) == 20 * 30, sum(f["mask"]["data"])'
}

@test "a multi-page TIFF gives one frame per page, ids name#0, name#1" {
  $PY -c '
from PIL import Image
import numpy as np
pages = [Image.fromarray(np.full((8, 9), k * 40, np.uint8)) for k in range(3)]
pages[0].save("stack.tif", save_all=True, append_images=pages[1:])'
  run describe <(fn-read stack.tif)
  assert_output - <<'OUT'
stack#0 u8 [1, 8, 9] 8 9
stack#1 u8 [1, 8, 9] 8 9
stack#2 u8 [1, 8, 9] 8 9
OUT
}

@test "16-bit PNG and float TIFF keep their dtype" {
  $PY -c '
from PIL import Image
import numpy as np
Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).save("u16.png")
Image.fromarray((np.arange(600, dtype=np.float32).reshape(20, 30) - 300) / 7).save("f.tif")'
  fn-read u16.png f.tif > s.fns
  run describe s.fns
  assert_output - <<'OUT'
u16 u16 [1, 20, 30] 20 30
f f32 [1, 20, 30] 20 30
OUT
  $PY -c '
import msgpack, numpy as np
fr = list(msgpack.Unpacker(open("s.fns", "rb"), raw=False))
assert (np.frombuffer(fr[0]["image"]["data"], "<u2") == np.arange(600) * 100).all()
assert (np.frombuffer(fr[1]["image"]["data"], "<f4") == (np.arange(600, dtype=np.float32) - 300) / 7).all()'
}

@test "signed 16-bit TIFF (CT slices): every value, below -1024 and above 5000, exact through fn-read, fn-resize, fn-augment, fn-normalize and fn-write" {
  mkdir -p ct/images ct/masks
  # an int16 TIFF as lungct's (written byte by byte: Pillow writes no signed 16-bit), a {0,1} mask
  PYTHONPATH="$BATS_TEST_DIRNAME" $PY - <<'EOF'
import fnframes, numpy as np
from PIL import Image
a = np.array([[-3000, -1025, -1024, 0], [1, 4999, 5001, 32767], [-32768, -2619, -700, 5556]])
img = np.kron(a, np.ones((8, 8), int))
fnframes.write_tiff_s16("ct/images/s.tif", img)
np.save("want.npy", img)
Image.fromarray((img > -1024).astype(np.uint8)).save("ct/masks/s.tif", compression="tiff_lzw")
EOF
  fn-read ct/images --masks ct/masks > r.fns
  fn-resize 48x64 r.fns > z.fns
  fn-augment -n 1 --hflip 1 --seed 1 r.fns > a.fns
  fn-normalize --fit st.json r.fns > n.fns
  fn-write --format tiff out < r.fns
  run $PY -c '
import sys; sys.path.insert(0, "'"$BATS_TEST_DIRNAME"'")
import fnframes, json, numpy as np
from PIL import Image
want = np.load("want.npy").astype(np.float64)
r, = fnframes.read("r.fns")
assert r["image"].dtype == np.float32 and (r["image"][0] == want).all(), r["image"].dtype
assert (r["mask"][0] == (want > -1024)).all()
z, = fnframes.read("z.fns")   # 2x up: the middle of each block (16x16 now) keeps its value
mid = z["image"][0].reshape(3, 16, 4, 16)[:, 6:10, :, 6:10]
err = np.abs(mid - want[::8, ::8][:, None, :, None]).max()
assert err < 0.05, err
a, = fnframes.read("a.fns")
assert (a["image"][0] == want[:, ::-1]).all()
st = json.load(open("st.json")); n, = fnframes.read("n.fns")
assert abs(st["mean"] - want.mean()) < 1e-6 and abs(st["std"] - want.std()) < 1e-6
assert np.abs(n["image"][0] - (want - want.mean()) / want.std()).max() < 1e-5
w = np.asarray(Image.open("out/s_image.tif"))
assert w.dtype == np.float32 and (w == want).all()
print("ok")'
  assert_output "ok"
}

@test "image/mask size mismatch: one line naming both, frames before it intact" {
  fixtures
  $PY -c '
from PIL import Image
Image.new("L", (31, 20)).save("masks/b_seg.png")'
  run --separate-stderr bash -c 'fn-read imgs/a.png imgs/b.jpg --masks masks -s _seg -j 1 > part.fns'
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: masks/b_seg.png: mask is 20x31 but image imgs/b.jpg is 20x30"
  run describe part.fns
  assert_output "a u8 [1, 20, 30] u8 [1, 20, 30] [0, 1] 20 30"
}

@test "truncated PNG, JPEG, TIFF, GIF: a one-line error naming the file, earlier frames whole" {
  fixtures
  for f in big.png b.jpg c.tif d.gif; do
    mkdir -p "cut_$f"
    cp imgs/a.png "cut_$f/0.png"
    head -c "$(( $(stat -c %s "imgs/$f") / 2 ))" "imgs/$f" > "cut_$f/$f"
    run --separate-stderr bash -c "fn-read cut_$f > part.fns"
    assert_one_line_error fn-read
    [[ "$stderr" == "fn-read: cut_$f/$f: corrupt "* ]] || fail "$stderr"
    run describe part.fns
    assert_output "0 u8 [1, 20, 30] 20 30"
  done
}

@test "unreadable, missing and non-image files are one-line errors" {
  fixtures
  run --separate-stderr fn-read imgs/nope.png
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: imgs/nope.png: No such file or directory"
  run --separate-stderr fn-read imgs/notes.txt
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: imgs/notes.txt: not a PNG/JPEG/TIFF/GIF file"
  printf 'imgs\n' > l.tsv
  run --separate-stderr fn-read --list l.tsv
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: imgs: Is a directory"
  run --separate-stderr fn-read --masks nodir imgs
  assert_one_line_error fn-read
  mkdir empty && touch empty/notes.txt
  run --separate-stderr fn-read empty
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: empty: no image files (PNG, JPEG, TIFF, GIF) in this folder"
  assert_equal "$output" ""
  if [ "$(id -u)" != 0 ]; then
    chmod 000 imgs/a.png
    run --separate-stderr fn-read imgs/a.png
    assert_one_line_error fn-read
    assert_equal "$stderr" "fn-read: imgs/a.png: Permission denied"
  fi
}

@test "-o FILE is written whole or not at all" {
  fixtures
  fn-read imgs -o out.fns
  [ "$(describe out.fns | wc -l)" -eq 5 ]
  head -c 100 imgs/big.png > imgs/e.png
  run --separate-stderr fn-read imgs -o bad.fns
  assert_one_line_error fn-read
  [ ! -e bad.fns ]
  [ -z "$(ls | grep tmp)" ]
}

@test "threads do not change the output" {
  fixtures
  fn-read imgs --masks masks -s _seg -j 1 > a.fns
  fn-read imgs --masks masks -s _seg -j 3 > b.fns
  cmp a.fns b.fns
}

@test "fn-read | head -c 100: one line and exit 1 on a closed pipe" {
  $PY -c '
from PIL import Image
import numpy as np
for k in range(8):
    Image.fromarray(np.full((300, 300, 3), k, np.uint8)).save("p%d.png" % k)'
  run bash -c 'set -o pipefail; fn-read p*.png 2> err | head -c 100 > /dev/null'
  assert_equal "$status" 1
  assert_equal "$(cat err)" "fn-read: stdout: write error: Broken pipe"
}

@test "a stream is never written to a terminal" {
  command -v script > /dev/null || skip "script(1) not available"
  fixtures
  run script -qec "fn-read imgs/a.png" /dev/null
  assert_equal "$status" 1
  assert_output --partial "fn-read: refusing to write a binary stream to a terminal"
}

# ---- real data (../shared/data) ---------------------------------------------------------------------

# check a stream of a real set: N frames, image dtype/channels, masks binary with both values present
check_set() {
  $PY -c '
import sys, msgpack
n, chans = int(sys.argv[2]), int(sys.argv[3])
count = 0
for f in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, max_buffer_size=1 << 31):
    im, mk, m = f["image"], f["mask"], f["meta"]
    assert im["dtype"] == "u8" and im["shape"][0] == chans, (f["id"], im["shape"])
    assert mk["dtype"] == "u8" and mk["shape"] == [1] + im["shape"][1:], (f["id"], mk["shape"])
    assert [m["orig_h"], m["orig_w"]] == im["shape"][1:]
    assert set(mk["data"]) == {0, 1}, (f["id"], set(mk["data"]))
    count += 1
    print(f["id"], im["shape"][1], im["shape"][2])
assert count == n, count
' "$@"
}

@test "--size-hint decodes exactly as Pillow's draft (libjpeg's DCT scaling): every subsampling, progressive, gray" {
  $PY -c '
import numpy as np
from PIL import Image
rng = np.random.default_rng(3)
for h, w in [(683, 1024), (37, 91), (17, 16)]:
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], -1) + rng.integers(-20, 20, (h, w, 3))
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    for ss in (0, 1, 2):
        for prog in (False, True):
            im.save("c%dx%d_s%d_p%d.jpg" % (h, w, ss, prog), quality=90, subsampling=ss, progressive=prog)
    im.convert("L").save("g%dx%d.jpg" % (h, w), quality=90)'
  for hint in 8x8 20x20 256x256; do
    fn-read --size-hint $hint *.jpg > s.fns
    run env PYTHONPATH="$BATS_TEST_DIRNAME" $PY - "$hint" *.jpg <<'PY'
import sys, numpy as np, fnframes
from PIL import Image
h, w = map(int, sys.argv[1].split("x"))
for path, f in zip(sys.argv[2:], fnframes.read("s.fns")):
    im = Image.open(path)
    im.draft(im.mode, (w, h))
    a = np.asarray(im)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    assert a.shape == f["image"].shape and (a == f["image"]).all(), (path, a.shape, f["image"].shape)
PY
    assert_success
  done
}

@test "PNG: every filter, colour type and bit depth, split IDAT, ancillary chunks decode to the written samples" {
  $PY - <<'PY'
import zlib, struct, numpy as np
rng = np.random.default_rng(1)
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)
def filtered(rows, bpp, types):
    out, prev = [], np.zeros(rows.shape[1], np.int64)
    for r, t in zip(rows.astype(np.int64), types):
        f = np.zeros_like(r)
        for i in range(len(r)):
            a = r[i - bpp] if i >= bpp else 0
            c = prev[i - bpp] if i >= bpp else 0
            f[i] = (r[i] - [0, a, prev[i], (a + prev[i]) // 2, paeth(a, prev[i], c)][t]) % 256
        out.append(bytes([t]) + bytes(f.astype(np.uint8)))
        prev = r
    return b"".join(out)
k = 0
for ct, ch in [(0, 1), (2, 3), (4, 2), (6, 4)]:
    for depth in (8, 16):
        for h, w in [(1, 1), (3, 5), (17, 13)]:
            bpp = ch * depth // 8
            rows = rng.integers(0, 256, (h, w * bpp)).astype(np.uint8)
            z = zlib.compress(filtered(rows, bpp, rng.integers(0, 5, h)), 9)
            parts = [z[i:i + 7] for i in range(0, len(z), 7)] if k % 2 else [z]
            png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ct, 0, 0, 0))
                   + chunk(b"gAMA", struct.pack(">I", 45455)) + b"".join(chunk(b"IDAT", p) for p in parts)
                   + chunk(b"tEXt", b"a\0b") + chunk(b"IEND", b""))
            open("p%02d.png" % k, "wb").write(png)
            s = rows.reshape(h, w, ch, depth // 8).astype(np.uint32)
            s = s[..., 0] * 256 + s[..., 1] if depth == 16 else s[..., 0]
            np.save("p%02d.npy" % k, s[..., :3 if ch >= 3 else 1].transpose(2, 0, 1))
            k += 1
PY
  fn-read p*.png > s.fns
  run env PYTHONPATH="$BATS_TEST_DIRNAME" $PY -c '
import glob, numpy as np, fnframes
fr = fnframes.read("s.fns")
names = sorted(glob.glob("p*.npy"))
assert len(fr) == len(names) == 24, len(fr)
for n, f in zip(names, fr):
    want = np.load(n)
    assert f["image"].shape == want.shape and (f["image"] == want).all(), n'
  assert_success
}

@test "corrupt PNGs (bad CRC, bad filter byte, short data, no IEND): one-line errors, nothing written" {
  $PY - <<'PY'
import zlib, struct
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 5, 8, 0, 0, 0, 0))
raw = b"".join(b"\x01" + bytes(range(r, r + 6)) for r in range(5))
bad = chunk(b"IDAT", zlib.compress(raw))
open("crc.png", "wb").write(head + bad[:-1] + bytes([bad[-1] ^ 1]) + chunk(b"IEND", b""))
open("filter.png", "wb").write(head + chunk(b"IDAT", zlib.compress(b"\x07" + raw[1:])) + chunk(b"IEND", b""))
open("short.png", "wb").write(head + chunk(b"IDAT", zlib.compress(raw[:-3])) + chunk(b"IEND", b""))
open("noend.png", "wb").write(head + chunk(b"IDAT", zlib.compress(raw)))
PY
  for f in crc filter short noend; do
    run --separate-stderr fn-read $f.png
    assert_one_line_error fn-read
    [[ "$stderr" == "fn-read: $f.png: corrupt PNG: "* ]] || fail "$stderr"
    [ -z "$output" ] || fail "$f.png: wrote to stdout"
  done
}

@test "real data: isic2017-sample, 68 RGB JPEGs with _segmentation masks" {
  need_data isic2017-sample
  D=$FN_DATA/isic2017-sample
  fn-read "$D/images" --masks "$D/masks" --mask-suffix _segmentation > s.fns
  run check_set s.fns 68 3
  assert_success
  assert_line --index 0 "ISIC_0001769 2016 3024"
  [ "$(printf '%s\n' "$output" | grep -c ' 3024$')" -eq 4 ]
  [ "$(printf '%s\n' "$output" | grep -c ' 1024$')" -eq 64 ]
}

@test "real data: jsrt_lung, 197 gray PNGs, lungs = labels 150,200" {
  need_data jsrt_lung
  D=$FN_DATA/jsrt_lung
  fn-read "$D/images" --masks "$D/masks" --mask-values 150,200 > s.fns
  run check_set s.fns 197 1
  assert_success
  [ "$(printf '%s\n' "$output" | grep -c ' 224 224$')" -eq 197 ]
}

@test "real data: isbi2012_membrane, 24 gray PNGs" {
  need_data isbi2012_membrane
  D=$FN_DATA/isbi2012_membrane
  fn-read "$D/images" --masks "$D/masks" > s.fns
  run check_set s.fns 24 1
  assert_success
  [ "$(printf '%s\n' "$output" | grep -c ' 512 512$')" -eq 24 ]
}

@test "real data: drive, 20 RGB LZW TIFFs with GIF masks" {
  need_data drive
  D=$FN_DATA/drive
  fn-read "$D/images" --masks "$D/masks" > s.fns
  run check_set s.fns 20 3
  assert_success
  assert_line --index 0 "21_training 584 565"
  [ "$(printf '%s\n' "$output" | grep -c ' 584 565$')" -eq 20 ]
}

@test "real data: kvasir_seg, 5 RGB JPEGs with RGB JPEG masks thresholded at 128" {
  need_data kvasir_seg
  D=$FN_DATA/kvasir_seg
  fn-read "$D/images" --masks "$D/masks" --mask-threshold 128 > s.fns
  run check_set s.fns 5 3
  assert_success
}

# ---- regions of interest ----------------------------------------------------------------------

@test "--roi DIR: a roi per image (u8 0/1, any non-zero inside), meta roi_src; --roi-suffix" {
  fixtures
  mkdir -p rois
  $PY -c '
import numpy as np
from PIL import Image
r = np.zeros((20, 30), np.uint8); r[2:18, 3:27] = 255
for n in ["a", "b", "c", "d", "big"]:
    Image.fromarray(r).save("rois/%s_fov.gif" % n)
'
  fn-read imgs --masks masks --mask-suffix _seg --roi rois --roi-suffix _fov > s.fns
  run $PY -c '
import sys; sys.path.insert(0, "'"$BATS_TEST_DIRNAME"'")
import fnframes
for f in fnframes.read("s.fns"):
    r = f["roi"]
    print(f["id"], r.dtype, r.shape, sorted(set(r.ravel())), int(r.sum()), f["meta"]["roi_src"])'
  assert_success
  assert_line --index 0 "a uint8 (1, 20, 30) [0, 1] 384 rois/a_fov.gif"
  assert_equal "${#lines[@]}" 5
}

@test "--roi: a missing roi, a roi of another size, two candidates: one-line errors, nothing written" {
  fixtures
  mkdir -p rois
  $PY -c '
import numpy as np
from PIL import Image
r = np.full((20, 30), 255, np.uint8)
for n in ["a", "b", "c", "d"]:
    Image.fromarray(r).save("rois/%s.png" % n)
'
  run --separate-stderr fn-read imgs --roi rois
  assert_one_line_error fn-read
  [[ "$stderr" == *"imgs/big.png: no roi big.* in rois" ]] || fail "$stderr"
  assert_output ""
  $PY -c '
import numpy as np
from PIL import Image
Image.fromarray(np.full((21, 30), 255, np.uint8)).save("rois/big.png")'
  run --separate-stderr fn-read imgs --roi rois -o out.fns
  assert_one_line_error fn-read
  [[ "$stderr" == *"rois/big.png: roi is 21x30 but image imgs/big.png is 20x30"* ]] || fail "$stderr"
  [ ! -e out.fns ]
  cp rois/a.png rois/a.gif
  run --separate-stderr fn-read imgs --roi rois
  assert_one_line_error fn-read
  [[ "$stderr" == *"more than one roi for a in rois"* ]] || fail "$stderr"
  run --separate-stderr fn-read imgs --roi-suffix _fov
  assert_equal "$status" 2
}

@test "real data: drive with its field-of-view masks as roi" {
  need_data drive
  D=$FN_DATA/drive
  fn-read "$D/images" --masks "$D/masks" --roi "$D/fov" > s.fns
  run $PY -c '
import sys; sys.path.insert(0, "'"$BATS_TEST_DIRNAME"'")
import fnframes
fr = fnframes.read("s.fns")
print(len(fr), {f["roi"].shape for f in fr}, all(0.6 < f["roi"].mean() < 0.75 for f in fr),
      all((f["mask"] & (1 - f["roi"])).sum() < 0.005 * f["mask"].sum() for f in fr))  # vessels lie inside'
  assert_output "20 {(1, 584, 565)} True True"
}
