#!/usr/bin/env bats
# fn-split: a train/val split by a hash of (seed, id), independent of order; copies follow originals

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

ids() { py -c 'import fnframes, sys; print(" ".join(f["id"] for f in fnframes.read(sys.argv[1])))' "$1"; }

@test "fn-split --help starts with the usage lines and exits 0" {
  run fn-split --help
  assert_success
  assert_line --index 0 "usage: fn-split [options] TRAIN VAL [FILE]"
  assert_line --index 1 "usage: fn-split [options] --part train|val [FILE]"
}

@test "fn-split --version" {
  run fn-split --version
  assert_success
  assert_output --regexp '^fn-split [0-9]+\.[0-9]+'
}

@test "TRAIN and VAL partition the stream, in order, close to the ratio" {
  fn-synth -n 200 --size 4x4 > s.fns
  fn-split --ratio 0.8 --seed 0 tr.fns va.fns s.fns
  run py -c '
import fnframes
s, t, v = (fnframes.read(x) for x in ("s.fns", "tr.fns", "va.fns"))
ids, ti, vi = [f["id"] for f in s], [f["id"] for f in t], [f["id"] for f in v]
assert not set(ti) & set(vi) and sorted(ti + vi) == sorted(ids)
assert ti == [i for i in ids if i in set(ti)]
print(len(ti), len(vi))'
  assert_success
  local ntrain=${output% *}
  [ "$ntrain" -ge 145 ] && [ "$ntrain" -le 175 ] || fail "train part: $output"
}

@test "the hash is FNV-1a 64 of the seed's bytes and the id, finalised by splitmix64 (as documented)" {
  fn-synth -n 60 --size 4x4 > s.fns
  fn-split --ratio 0.5 --seed 12345 tr.fns va.fns s.fns
  run py -c '
import fnframes, struct
M = 2**64 - 1
def mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
def train(seed, id, ratio):
    h = 0xcbf29ce484222325
    for b in struct.pack("<Q", seed) + id.split("~")[0].encode():
        h = ((h ^ b) * 0x100000001b3) & M
    return (mix(h) >> 11) / 2.0**53 < ratio
want = [f["id"] for f in fnframes.read("s.fns") if train(12345, f["id"], 0.5)]
got = [f["id"] for f in fnframes.read("tr.fns")]
assert want == got, (want, got)
print("ok")'
  assert_output "ok"
}

@test "independent of frame order; --part gives the same parts on stdout" {
  fn-synth -n 40 --size 4x4 > s.fns
  py -c '
import fnframes
fnframes.write("r.fns", fnframes.read("s.fns")[::-1])'
  fn-split --seed 7 tr.fns va.fns s.fns
  fn-split --seed 7 rtr.fns rva.fns < r.fns
  [ "$(ids tr.fns | tr ' ' '\n' | sort)" = "$(ids rtr.fns | tr ' ' '\n' | sort)" ]
  fn-split --seed 7 --part train s.fns | cmp - tr.fns
  fn-split --seed 7 --part val -o v2.fns s.fns
  cmp v2.fns va.fns
}

@test "augmented copies ID~k go where ID goes; another seed gives another split; ratio 0 and 1" {
  fn-synth -n 30 --size 4x4 | fn-augment -k -n 3 > a.fns
  fn-split --seed 1 tr.fns va.fns a.fns
  run py -c '
import fnframes
base = lambda i: i.split("~")[0]
t = {base(f["id"]) for f in fnframes.read("tr.fns")}
v = {base(f["id"]) for f in fnframes.read("va.fns")}
assert not t & v and len(t) + len(v) == 30
print(len(fnframes.read("tr.fns")) % 4)'
  assert_output "0"
  fn-synth -n 30 --size 4x4 | fn-split --seed 2 tr2.fns va2.fns
  fn-synth -n 30 --size 4x4 | fn-split --seed 1 tr1.fns va1.fns
  [ "$(ids tr1.fns)" != "$(ids tr2.fns)" ]
  fn-split --ratio 0 --part train a.fns > none.fns
  [ ! -s none.fns ]
  fn-split --ratio 1 --part train a.fns | cmp - a.fns
}

# ---- failures ---------------------------------------------------------------------------------

@test "usage errors exit 2 and write nothing" {
  fn-synth -n 2 > s.fns
  for args in "" "tr.fns" "--ratio 2 tr.fns va.fns" "--ratio x tr.fns va.fns" "--part foo" "x.fns x.fns" \
              "-o o.fns tr.fns va.fns" "--seed -3 tr.fns va.fns" "tr.fns va.fns s.fns extra" "--bogus tr.fns va.fns"; do
    run --separate-stderr fn-split $args < s.fns
    [ "$status" -eq 2 ] || fail "fn-split $args: status $status"
    [ -z "$output" ] || fail "fn-split $args wrote to stdout"
  done
  [ ! -e tr.fns ] && [ ! -e va.fns ] && [ ! -e x.fns ]
}

@test "a bad frame: one-line error and neither output file is left; --part writes the frames before it" {
  fn-synth -n 5 --size 4x4 > s.fns
  { cat s.fns; printf '\x81\xa2id'; } > bad.fns
  run --separate-stderr fn-split tr.fns va.fns bad.fns
  assert_one_line_error fn-split
  [ ! -e tr.fns ] && [ ! -e va.fns ]
  [ -z "$(ls | grep tmp)" ]
  run --separate-stderr bash -c 'fn-split --ratio 1 --part train bad.fns | fn-info | tail -1'
  assert_output --partial "5 frames"
  run --separate-stderr fn-split tr.fns va.fns missing.fns
  assert_one_line_error fn-split
}
