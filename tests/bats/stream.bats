#!/usr/bin/env bats
# The fn stream at the command line: bad input is refused with one line naming the input and the frame,
# the frames before it come out whole; a terminal is never written to; a closed pipe is one line and exit 1.

load test_helper

# the byte length of the first K frames of an fn-synth stream FILE
frames_bytes() {
  /usr/bin/python3 -c '
import sys, msgpack
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
for _ in range(int(sys.argv[2])): u.unpack()
print(u.tell())' "$1" "$2"
}

@test "a truncated stream: the whole frames, then 'truncated' naming the input and frame" {
  fn-synth -n 3 --size 16x16 > s.fns
  head -c "$(( $(frames_bytes s.fns 2) + 100 ))" s.fns > cut.fns
  run --separate-stderr fn-info cut.fns
  assert_one_line_error fn-info
  assert_equal "$stderr" "fn-info: cut.fns: frame 3: truncated (the stream ends inside a frame)"
  assert_equal "${#lines[@]}" 2
  # and through a pipe, named stdin
  run --separate-stderr bash -c 'cat cut.fns | fn-info'
  assert_one_line_error fn-info
  [[ "$stderr" == "fn-info: stdin: frame 3: truncated"* ]]
}

@test "a stream cut anywhere is either whole frames or an error, never a crash" {
  fn-synth -n 2 --size 4x4 > s.fns
  size=$(stat -c %s s.fns)
  for cut in 1 2 5 17 30 $((size / 2 - 1)) $((size / 2 + 1)) $((size - 1)); do
    head -c "$cut" s.fns > cut.fns
    run --separate-stderr fn-info cut.fns
    assert_one_line_error fn-info
    [[ "$stderr" == "fn-info: cut.fns: frame "[12]": truncated"* ]] || fail "cut $cut: $stderr"
  done
  head -c $((size / 2)) s.fns > cut.fns   # the frames are the same size: a cut between them is a whole stream
  run fn-info cut.fns
  assert_success
  assert_line --index 1 "1 frames, $((size / 2)) bytes"
}

@test "random bytes are refused at frame 1" {
  for seed in 1 2 3 4 5; do
    /usr/bin/python3 -c 'import random, sys; random.seed(int(sys.argv[1])); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(3000)))' "$seed" > rnd.bin
    run --separate-stderr fn-info rnd.bin
    assert_one_line_error fn-info
    [[ "$stderr" == "fn-info: rnd.bin: frame 1: "* ]] || fail "seed $seed: $stderr"
    assert_output ""
  done
}

@test "random bytes after good frames: the good frames, then the error at the next frame" {
  fn-synth -n 2 --size 8x8 > s.fns
  printf '\xc1\x00\x01\x02' >> s.fns
  run --separate-stderr fn-info s.fns
  assert_one_line_error fn-info
  assert_equal "$stderr" "fn-info: s.fns: frame 3: malformed msgpack (not an fn stream?)"
  assert_equal "${#lines[@]}" 2
}

@test "a wrong data length is refused, naming the frame and the key" {
  /usr/bin/python3 -c '
import msgpack
good = {"id": "g", "image": {"dtype": "u8", "shape": [1, 2, 3], "data": bytes(6)}}
bad = {"id": "b", "image": {"dtype": "f32", "shape": [1, 2, 3], "data": bytes(23)}}
open("x.fns", "wb").write(msgpack.packb(good, use_bin_type=True) + msgpack.packb(bad, use_bin_type=True))'
  run --separate-stderr fn-info x.fns
  assert_one_line_error fn-info
  assert_equal "$stderr" "fn-info: x.fns: frame 2: 'image' data has 23 bytes, shape [1,2,3] f32 needs 24"
  assert_equal "${#lines[@]}" 1
  assert_line --index 0 --partial "g"$'\t'"keys id,image"
}

@test "shapes over the limits, unknown dtypes, missing ids and non-map frames are refused" {
  /usr/bin/python3 -c '
import msgpack, sys
cases = {
  "c17": {"id": "x", "image": {"dtype": "u8", "shape": [17, 1, 1], "data": bytes(17)}},
  "h": {"id": "x", "mask": {"dtype": "u8", "shape": [1, 65537, 1], "data": bytes(65537)}},
  "dtype": {"id": "x", "image": {"dtype": "f64", "shape": [1, 1, 1], "data": bytes(8)}},
  "noid": {"image": {"dtype": "u8", "shape": [1, 1, 1], "data": bytes(1)}},
  "array": [1, 2, 3],
}
for k, v in cases.items():
    open(k + ".fns", "wb").write(msgpack.packb(v, use_bin_type=True))'
  for k in c17 h dtype noid array; do
    run --separate-stderr fn-info "$k.fns"
    assert_one_line_error fn-info
    [[ "$stderr" == "fn-info: $k.fns: frame 1: "* ]] || fail "$k: $stderr"
  done
  run --separate-stderr fn-info c17.fns
  [[ "$stderr" == *"outside the limits"* ]]
  run --separate-stderr fn-info noid.fns
  [[ "$stderr" == *"no 'id'"* ]]
}

@test "a stream is never written to a terminal" {
  command -v script > /dev/null || skip "no script(1) (bsdutils): terminal test skipped"
  run script -qec "fn-synth -n 1" /dev/null
  assert_equal "$status" 1
  assert_output --partial "fn-synth: refusing to write a binary stream to a terminal"
}

@test "fn-synth -n 50 | head -c 100: a closed pipe is one line and exit 1" {
  run --separate-stderr bash -c 'set -o pipefail; fn-synth -n 50 --size 128x128 | head -c 100 | wc -c'
  assert_equal "$status" 1
  assert_output "100"
  assert_equal "$stderr" "fn-synth: stdout: write error: Broken pipe"
}

@test "the stream is plain concatenation: cat a b reads as a then b" {
  fn-synth -n 2 > a.fns
  fn-synth -n 3 --seed 9 > b.fns
  cat a.fns b.fns > ab.fns
  run fn-info ab.fns
  assert_success
  assert_line --index 5 "5 frames, $(stat -c %s ab.fns) bytes"
}

@test "roi: a u8 one-channel tensor carried by every filter; other dtypes or channels are refused" {
  /usr/bin/python3 -c '
import msgpack
t = lambda dt, c, n: {"dtype": dt, "shape": [c, 2, 3], "data": bytes(6 * c * n)}
good = {"id": "g", "image": t("u8", 1, 1), "mask": t("u8", 1, 1), "roi": t("u8", 1, 1)}
open("g.fns", "wb").write(msgpack.packb(good, use_bin_type=True))
open("f.fns", "wb").write(msgpack.packb(dict(good, roi=t("f32", 1, 4)), use_bin_type=True))
open("c.fns", "wb").write(msgpack.packb(dict(good, roi=t("u8", 2, 1)), use_bin_type=True))'
  run bash -o pipefail -c 'fn-normalize --per-image < g.fns | fn-split --part train --ratio 1 | fn-resize 4x6 | fn-info'
  assert_success
  assert_line --index 0 --partial $'\t'"roi u8 [1,4,6]"
  for k in f c; do
    run --separate-stderr fn-info $k.fns
    assert_one_line_error fn-info
    [[ "$stderr" == *"'roi' must be u8 with 1 channel"* ]] || fail "$stderr"
  done
}
