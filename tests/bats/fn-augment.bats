#!/usr/bin/env bats
# fn-augment: reproducible augmented copies; geometry shared by image and mask; identities

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

ALL="--hflip 0.5 --vflip 0.5 --rotate 25:0.7 --zoom 0.85,1.15:0.7 --channel-shift 0.5 --brightness 0.1:0.5 --contrast 0.2:0.5 --gamma 0.3:0.5 --noise 0.03:0.5"

@test "fn-augment --help starts with the usage line and exits 0" {
  run fn-augment --help
  assert_success
  assert_line --index 0 "usage: fn-augment [options] [FILE]"
}

@test "fn-augment --version" {
  run fn-augment --version
  assert_success
  assert_output --regexp '^fn-augment [0-9]+\.[0-9]+'
}

@test "-n 3 --keep-original: the original then ID~1..ID~3, with aug and aug_copy in meta" {
  fn-synth -n 2 --size 24x24 --channels 3 > s.fns
  fn-augment -n 3 --keep-original --seed 4 $ALL s.fns > a.fns
  run py -c '
import fnframes
for f in fnframes.read("a.fns"):
    m = f["meta"]
    print(f["id"], m.get("aug_copy", "-"), "aug" in m, f["image"].shape, f["mask"].shape)'
  assert_success
  assert_equal "${#lines[@]}" 8
  assert_line --index 0 "synth_0000 - False (3, 24, 24) (1, 24, 24)"
  assert_line --index 1 "synth_0000~1 1 True (3, 24, 24) (1, 24, 24)"
  assert_line --index 3 "synth_0000~3 3 True (3, 24, 24) (1, 24, 24)"
  assert_line --index 4 "synth_0001 - False (3, 24, 24) (1, 24, 24)"
  run bash -c 'fn-augment --keep-original -n 3 s.fns | fn-augment -n 0 --keep-original | cmp - <(fn-augment --keep-original -n 3 s.fns)'
  assert_success
}

@test "reproducible: same seed same bytes, whatever the pipe's chunking; another seed differs" {
  fn-synth -n 6 --size 32x32 --channels 3 > s.fns
  fn-augment -n 2 --seed 9 $ALL s.fns > a.fns
  cat s.fns | dd bs=333 2> /dev/null | fn-augment -n 2 --seed 9 $ALL > b.fns
  cmp a.fns b.fns
  fn-augment -n 2 --seed 10 $ALL s.fns > c.fns
  ! cmp -s a.fns c.fns
  # a copy depends on the frame's position, not on the frames after it
  fn-synth -n 3 --size 32x32 --channels 3 | fn-augment -n 2 --seed 9 $ALL > p.fns
  cmp -n "$(stat -c %s p.fns)" p.fns a.fns
}

@test "flipping twice is the identity (image and mask)" {
  fn-synth -n 3 --size 20x28 --channels 3 > s.fns
  fn-augment --hflip 1 s.fns | fn-augment --hflip 1 > h.fns
  fn-augment --vflip 1 --hflip 1 s.fns | fn-augment --vflip 1 --hflip 1 > hv.fns
  run py -c '
import fnframes, numpy as np
s = fnframes.read("s.fns")
for name in ("h.fns", "hv.fns"):
    for a, b in zip(s, fnframes.read(name)):
        assert (a["image"] == b["image"]).all() and (a["mask"] == b["mask"]).all(), name
        assert b["id"] == a["id"] + "~1~1"
print("ok")'
  assert_output "ok"
  run bash -c 'fn-augment --hflip 1 s.fns | fn-info | head -1'
  assert_output --partial "aug=hflip"
}

@test "a zoom of 1 and a rotation of 0 change nothing" {
  fn-synth -n 3 --size 30x22 --channels 3 > s.fns
  fn-augment --zoom 1,1 --rotate 0 s.fns > z.fns
  run py -c '
import fnframes
for a, b in zip(fnframes.read("s.fns"), fnframes.read("z.fns")):
    assert (a["image"] == b["image"]).all() and (a["mask"] == b["mask"]).all()
print("ok")'
  assert_output "ok"
}

@test "the mask stays binary and aligned with the image (a synthetic image whose mask is its bright region)" {
  py -c '
import fnframes, numpy as np
frames = []
for i in range(4):
    y, x = np.mgrid[:64, :80]
    m = (((y - 30 - i) / 18.0) ** 2 + ((x - 35 - 3 * i) / 25.0) ** 2 < 1).astype(np.uint8)
    frames.append({"id": "b%d" % i, "image": np.where(m, 200, 20).astype(np.uint8)[None], "mask": m[None]})
fnframes.write("in.fns", frames)'
  fn-augment -n 4 --seed 3 --hflip 0.5 --vflip 0.5 --rotate 40 --zoom 0.7,1.3 in.fns > a.fns
  run py -c '
import fnframes, numpy as np
for f in fnframes.read("a.fns"):
    im, m = f["image"][0].astype(int), f["mask"][0]
    assert set(np.unique(m)) <= {0, 1}, f["id"]
    agree = ((im > 110) == (m == 1)).mean()
    assert agree > 0.98, (f["id"], agree, f["meta"]["aug"])
    assert 0.05 < m.mean() < 0.9, (f["id"], m.mean())
print("ok")'
  assert_success
  assert_output "ok"
}

@test "--channel-shift reverses the channels; intensity ops leave the mask alone" {
  fn-synth -n 2 --size 16x16 --channels 3 > s.fns
  fn-augment --channel-shift 1 s.fns > c.fns
  fn-augment --brightness 0.2 --contrast 0.3 --gamma 0.5 --noise 0.05 s.fns > i.fns
  run py -c '
import fnframes, numpy as np
for a, c, i in zip(fnframes.read("s.fns"), fnframes.read("c.fns"), fnframes.read("i.fns")):
    assert (c["image"] == a["image"][::-1]).all()
    assert c["meta"]["aug"] == "channel-shift"
    assert (i["mask"] == a["mask"]).all() and not (i["image"] == a["image"]).all()
    assert i["image"].dtype == np.uint8
print("ok")'
  assert_output "ok"
}

@test "noise has the asked standard deviation; f32 images stay f32" {
  py -c '
import fnframes, numpy as np
fnframes.write("g.fns", [{"id": "g", "image": np.full((1, 128, 128), 128, np.uint8)},
                         {"id": "f", "image": np.zeros((2, 64, 64), np.float32)}])'
  fn-augment --noise 0.02 --seed 1 g.fns > n.fns
  run py -c '
import fnframes, numpy as np
g, f = fnframes.read("n.fns")
sd = (g["image"].astype(float) - 128).std()
assert abs(sd - 0.02 * 255) < 0.3, sd
assert f["image"].dtype == np.float32 and abs(f["image"].std() - 0.02) < 0.002, f["image"].std()
print("ok")'
  assert_output "ok"
}

# ---- failures ---------------------------------------------------------------------------------

@test "usage errors exit 2 and write nothing" {
  fn-synth -n 1 > s.fns
  for args in "--hflip 1.5" "--hflip x" "--zoom 1.1,0.9" "--zoom 0.9" "--rotate 10:2" "--rotate -5" "-n 0" "-n x" \
              "--contrast 1" "--noise -1" "--seed -1" "--bogus" "s.fns extra"; do
    run --separate-stderr fn-augment $args s.fns
    [ "$status" -eq 2 ] || fail "fn-augment $args: status $status"
    [ -z "$output" ] || fail "fn-augment $args wrote to stdout"
  done
}

@test "mask and image of different sizes: one-line error after the good frames; bad input" {
  fn-synth -n 1 --size 8x8 > good.fns
  py -c '
import fnframes, numpy as np
fnframes.write("bad.fns", [{"id": "m", "image": np.zeros((1, 8, 8), np.uint8), "mask": np.zeros((1, 8, 9), np.uint8)}])'
  cat good.fns bad.fns > in.fns
  run --separate-stderr bash -c 'fn-augment --hflip 1 in.fns | fn-info | tail -1'
  [[ "$stderr" == "fn-augment: "*"frame 2 (m)"* ]] || fail "$stderr"
  assert_output --partial "1 frames"
  run --separate-stderr fn-augment --hflip 1 in.fns -o out.fns
  assert_one_line_error fn-augment
  [ ! -e out.fns ]
  run --separate-stderr fn-augment missing.fns
  assert_one_line_error fn-augment
}

@test "a roi gets the mask's geometric transform (nearest) and no intensity op; a roi of another size is an error" {
  py -c '
import fnframes, numpy as np
fr = []
for i in range(4):
    r = np.random.default_rng(i)
    m = (r.random((1, 24, 32)) > 0.5).astype(np.uint8)
    fr.append({"id": "f%d" % i, "image": (m * 200).repeat(3, 0), "mask": m, "roi": m.copy()})
fnframes.write("s.fns", fr)
fnframes.write("bad.fns", [{"id": "b", "image": np.zeros((1, 8, 8), np.uint8), "roi": np.ones((1, 8, 9), np.uint8)}])'
  fn-augment -n 3 --seed 2 --hflip 0.5 --vflip 0.5 --rotate 30 --zoom 0.8,1.2 --brightness 0.2 s.fns > a.fns
  run py -c '
import fnframes, numpy as np
for f in fnframes.read("a.fns"):
    assert f["roi"].dtype == np.uint8 and set(np.unique(f["roi"])) <= {0, 1}
    assert (f["roi"] == f["mask"]).all(), f["id"]
print("ok")'
  assert_output "ok"
  run --separate-stderr fn-augment -n 1 --hflip 1 bad.fns
  assert_one_line_error fn-augment
  [[ "$stderr" == *"frame 1 (b): roi is 8x9 but image is 8x8" ]] || fail "$stderr"
}
