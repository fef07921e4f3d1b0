#!/usr/bin/env bats
# fn-post: binary pred (0/1 f32) from threshold, small-component removal, K largest, holes; errors.

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

# one frame 'a' whose pred has: a 6x6 square with a 2x2 hole (32 px), a 3x3 square (9 px), a single
# pixel, and two pixels touching only at a corner (far from the rest); values 0.9 / 0.4 / 0.1
setup_file() {
  export D="$BATS_FILE_TMPDIR"
  PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 - "$D/p.fns" <<'PY'
import sys, fnframes, numpy as np
p = np.full((1, 20, 24), 0.1, np.float32)
p[0, 1:7, 1:7] = 0.9; p[0, 3:5, 3:5] = 0.1      # ring, 32 px, hole of 4
p[0, 10:13, 10:13] = 0.9                          # 9 px
p[0, 16, 2] = 0.9                                 # 1 px
p[0, 15, 20] = 0.9; p[0, 16, 21] = 0.9            # diagonal pair
p[0, 18, 10:14] = 0.4                             # 4 px at 0.4
m = (p > 0.5).astype(np.uint8)
fnframes.write(sys.argv[1], [{"id": "a", "image": m * 200, "mask": m, "pred": p, "meta": {"src": "x"}}])
PY
}

count() { py - "$1" "$2" <<'PY'
import sys, fnframes, numpy as np
f = fnframes.read(sys.argv[1])[0]
p = f["pred"]
assert p.dtype == np.float32 and p.shape == (1, 20, 24) and set(np.unique(p)) <= {0.0, 1.0}, np.unique(p)
print(int(p.sum()), int(p[0, 3:5, 3:5].sum()), int(p[0, 16, 2]), int(p[0, 15, 20] + p[0, 16, 21]), int(p[0, 18, 10:14].sum()), sys.argv[2])
PY
}

@test "fn-post --help starts with the usage line and exits 0" {
  run fn-post --help
  assert_success
  assert_line --index 0 "usage: fn-post [options] [FILE]"
}

@test "fn-post --version" {
  run fn-post --version
  assert_success
  assert_output --regexp '^fn-post [0-9]+\.[0-9]+'
}

@test "default: pred > 0.5 as 0/1 f32; image, mask and other meta pass through; meta post says what was done" {
  run --separate-stderr fn-post -o o.fns "$D/p.fns"
  assert_success
  run count o.fns x
  assert_output "44 0 1 2 0 x"
  py - "$D/p.fns" o.fns <<'PY'
import sys, fnframes, numpy as np
a, b = fnframes.read(sys.argv[1])[0], fnframes.read(sys.argv[2])[0]
assert (b["pred"] == (a["pred"] > 0.5)).all()
assert (a["image"] == b["image"]).all() and (a["mask"] == b["mask"]).all() and b["meta"]["src"] == "x"
assert b["meta"]["post"].startswith("threshold 0.5,"), b["meta"]
PY
}

@test "--threshold" {
  fn-post --threshold 0.3 -o o.fns "$D/p.fns"
  run count o.fns t
  assert_output "48 0 1 2 4 t"
}

@test "--min-size removes components under N pixels" {
  fn-post --min-size 9 -o o.fns "$D/p.fns"
  run count o.fns s
  assert_output "41 0 0 0 0 s"
  fn-post -s 2 -c 8 -o o.fns "$D/p.fns"
  run count o.fns s8
  assert_output "43 0 0 2 0 s8"
}

@test "--largest K keeps the K biggest" {
  fn-post --largest 1 -o o.fns "$D/p.fns"
  run count o.fns k1
  assert_output "32 0 0 0 0 k1"
  fn-post -k 2 -o o.fns "$D/p.fns"
  run count o.fns k2
  assert_output "41 0 0 0 0 k2"
}

@test "--connectivity 4 splits the diagonal pair, 8 joins it" {
  fn-post -c 8 -k 3 -o o.fns "$D/p.fns"
  run count o.fns c8
  assert_output "43 0 0 2 0 c8"
  fn-post --connectivity 4 -k 3 -o o.fns "$D/p.fns"
  run count o.fns c4
  assert_output "42 0 0 1 0 c4"  # ties among 1-pixel ones: the first in raster order (row 15)
}

@test "--fill-holes fills the ring's hole and nothing that touches the border" {
  fn-post --fill-holes -o o.fns "$D/p.fns"
  run count o.fns f
  assert_output "48 4 1 2 0 f"
  fn-post -f -k 1 -o o.fns "$D/p.fns"
  run count o.fns fk
  assert_output "36 4 0 0 0 fk"
}

@test "fn-score reads fn-post's pred unchanged" {
  run bash -o pipefail -c 'fn-post -k 1 -f "$0" | fn-score --json' "$D/p.fns"
  assert_success
  assert_output --partial '"frames":1'
}

@test "a frame without pred: one line naming it; frames before it are written whole; no file left" {
  py - "$D/p.fns" <<'PY'
import sys, fnframes
f = fnframes.read(sys.argv[1])[0]
g = dict(f, id="b"); del g["pred"]
fnframes.write("two.fns", [f, g])
PY
  run --separate-stderr bash -c 'fn-post two.fns | fn-info'
  [[ "$stderr" == "fn-post: two.fns: frame 2 (b): no pred to post-process" ]] || fail "$stderr"
  assert_line --index 0 --partial "a"$'\t'
  assert_line --index 1 --regexp '^1 frames?'
  run --separate-stderr fn-post -o out.fns two.fns
  assert_one_line_error fn-post
  [ ! -e out.fns ]
}

@test "a truncated stream" {
  head -c 100 "$D/p.fns" >trunc.fns
  run --separate-stderr fn-post trunc.fns
  assert_one_line_error fn-post
  assert_output ""
}

@test "usage errors exit 2 and write nothing" {
  for bad in "-t 2" "-t x" "-c 6" "-c 4x" "-k 0" "-k -1" "-s -1" "--min-size x" "--bogus" "a b"; do
    run --separate-stderr fn-post $bad
    assert_equal "$status" 2
    assert_output ""
  done
}
