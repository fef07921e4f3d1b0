#!/usr/bin/env bats
# Faults from outside: SIGINT/SIGTERM during training, a full disk (a small file-size limit stands in
# for it: writes past it fail with EFBIG, as they fail with ENOSPC on a full disk; /dev/full for
# ENOSPC itself), a closed pipe, truncated or altered model and state files.

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

TINY=(--device cpu --threads 1 --width 0.125 --batch 8)

setup_file() {
  export D="$BATS_FILE_TMPDIR"
  fn-synth -n 96 --size 32x32 --seed 1 -o "$D/train.fns"
  fn-synth -n 8 --size 32x32 --seed 2 -o "$D/val.fns"
  fn-synth -n 4 --size 32x32 --seed 5 -o "$D/small.fns"
  fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o "$D/ref.safetensors" <"$D/train.fns"
}

st_data() {
  local hl
  hl=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  tail -c +$((9 + hl)) "$1"
}
st_meta() { py -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; print(json.loads(f.read(n))['__metadata__'].get(sys.argv[2], ''))" "$1" "$2"; }

# nothing but the expected files: no PATH.tmpXXXXXX left behind
no_temporaries() { ! ls -A | grep -q '\.tmp'; }

# run a command with its stdout on a pipe whose reading end is already closed; its stderr and its
# exit status come back
closed_pipe() {
  py -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
sys.stderr.write(p.stderr.decode())
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)' "$@"
}

# start a 4-epoch run in the background with SIGNAL's default action restored (a background job of a
# non-interactive shell starts with SIGINT ignored), send SIGNAL once epoch 1's files are on disk,
# and leave its exit status in $status and its stderr in err.txt
train_and_signal() {
  local sig=$1
  env --default-signal=INT fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o k.safetensors \
    --log k.tsv <"$D/train.fns" 2>err.txt &
  local pid=$!
  for _ in $(seq 1500); do
    [ "$(wc -l <k.tsv 2>/dev/null || echo 0)" -ge 2 ] && break
    sleep 0.02
  done
  kill -"$sig" $pid
  status=0
  wait $pid || status=$?
}

@test "SIGINT during an epoch: exit 130, it says so, the last epoch's files are whole; --resume ends bit-identical" {
  train_and_signal INT
  assert_equal "$status" 130
  [ "$(wc -l <err.txt)" -eq 1 ] || fail "$(cat err.txt)"
  grep -q "^fn-train: interrupted by SIGINT during epoch [2-4]: stopped; the state of epoch [1-3] is in k.safetensors.state and the best model (epoch [1-3]) in k.safetensors; --resume k.safetensors.state continues the run$" err.txt ||
    fail "$(cat err.txt)"
  done_epochs=$(st_meta k.safetensors.state epoch)
  assert_equal "$(($(wc -l <k.tsv) - 1))" "$done_epochs"
  no_temporaries
  run --separate-stderr fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" --resume k.safetensors.state \
    <"$D/train.fns"
  assert_success
  cmp "$D/ref.safetensors" k.safetensors
  cmp <(st_data "$D/ref.safetensors.state") <(st_data k.safetensors.state)
}

@test "SIGTERM during an epoch: exit 143 with the same note" {
  train_and_signal TERM
  assert_equal "$status" 143
  grep -q "^fn-train: interrupted by SIGTERM during epoch" err.txt || fail "$(cat err.txt)"
  [ -s k.safetensors ] && [ -s k.safetensors.state ]
  no_temporaries
}

@test "a full disk while writing the model or the state: a clear error, the previous files intact, no temporaries" {
  fn-train "${TINY[@]}" --epochs 1 --seed 3 --val "$D/val.fns" -o m.safetensors <"$D/train.fns"
  cp m.safetensors good.model && cp m.safetensors.state good.state
  # room for neither the model (1.2 MB) nor the state: the model of a better epoch 2 cannot be written
  # (or, if epoch 2 is not better, the state)
  run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 1000; exec fn-train ${TINY[*]} --epochs 2 --val '$D/val.fns' \
    --resume m.safetensors.state <'$D/train.fns'"
  assert_one_line_error fn-train
  [[ "$stderr" == "fn-train: m.safetensors"*"File too large" ]] || fail "$stderr"
  cmp good.model m.safetensors
  cmp good.state m.safetensors.state
  no_temporaries
  # room for the model, not the state (3.6 MB): the state of epoch 1 stays; a model written for epoch 2
  # is whole, and a resume takes it as the best so far
  run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 2000; exec fn-train ${TINY[*]} --epochs 2 --val '$D/val.fns' \
    --resume m.safetensors.state <'$D/train.fns'"
  assert_one_line_error fn-train
  [[ "$stderr" == "fn-train: m.safetensors.state: File too large" ]] || fail "$stderr"
  cmp good.state m.safetensors.state
  no_temporaries
  fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" --resume m.safetensors.state <"$D/train.fns"
}

@test "--log on a full device: a clear error after the epoch's model and state are written" {
  run --separate-stderr fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" -o m.safetensors --log /dev/full \
    <"$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == "fn-train: /dev/full: No space left on device" ]] || fail "$stderr"
  [ "$(st_meta m.safetensors.state epoch)" = 1 ]
  no_temporaries
}

@test "a truncated or altered model or state is refused before any work; files without a checksum still load" {
  cp "$D/ref.safetensors" m.safetensors
  cp "$D/ref.safetensors.state" m.safetensors.state
  [ -n "$(st_meta m.safetensors fn_data_crc32)" ] && [ -n "$(st_meta m.safetensors.state fn_data_crc32)" ]
  # one flipped bit in the last tensor of the model, one cut off the end of the state
  py -c "
import sys; b = bytearray(open('m.safetensors', 'rb').read()); b[-5] ^= 1; open('alt.safetensors', 'wb').write(b)"
  head -c -4 m.safetensors.state >cut.state
  run --separate-stderr fn-infer --device cpu -m alt.safetensors "$D/small.fns"
  assert_one_line_error fn-infer
  [[ "$stderr" == "fn-infer: alt.safetensors: corrupt: the tensor data does not match its checksum"* ]] || fail "$stderr"
  assert_output ""
  run --separate-stderr fn-train "${TINY[@]}" --epochs 5 --val "$D/val.fns" --resume cut.state <"$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == "fn-train: cut.state: "*"corrupt"* ]] || fail "$stderr"
  # the same file without its checksum (as written before it was recorded) loads and runs
  py -c "
import json, struct
f = open('alt.safetensors', 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
del h['__metadata__']['fn_data_crc32']
s = json.dumps(h).encode(); s += b' ' * (-len(s) % 8)
open('old.safetensors', 'wb').write(struct.pack('<Q', len(s)) + s + data)"
  fn-infer --device cpu -m old.safetensors "$D/small.fns" -o p.fns
  [ -s p.fns ]
  # a small file whose metadata claims a huge net is refused before the net is made (it took minutes
  # and 20 GB before)
  run --separate-stderr timeout 20 fn-infer --device cpu -m "$BATS_TEST_DIRNAME/../fuzz/regress/safetensors/model-claims-width16-cin4096" \
    "$D/small.fns"
  assert_one_line_error fn-infer
  [[ "$stderr" == *"holds 2 values, but a FocusNet of 4096 input channels and width 16 has"* ]] || fail "$stderr"
}

# every tool that writes a stream or text, on small input
tool_commands() {
  cat <<EOF
fn-synth -n 4 --size 32x32
fn-read $FN_SHARED_TEST_IMAGES
fn-resize 16x16 $D/small.fns
fn-normalize --per-image $D/small.fns
fn-normalize --fit stats.json $D/small.fns
fn-augment --seed 1 $D/small.fns
fn-split --part train $D/small.fns
fn-infer --device cpu -m $D/ref.safetensors $D/small.fns
fn-info $D/small.fns
fn-score $D/scored.fns
fn-post $D/scored.fns
EOF
}

prepare_tools() {
  mkdir imgs
  fn-write imgs "$D/small.fns"
  export FN_SHARED_TEST_IMAGES=imgs
  fn-infer --device cpu -m "$D/ref.safetensors" "$D/small.fns" -o "$D/scored.fns"
}

@test "every tool: stdout on a closed pipe or a full device: one line, exit 1" {
  prepare_tools
  while read -r -a cmd; do
    run --separate-stderr closed_pipe "${cmd[@]}"
    assert_one_line_error "${cmd[0]}"
    assert_equal "$stderr" "${cmd[0]}: stdout: write error: Broken pipe"
    run --separate-stderr bash -c '"$@" >/dev/full' - "${cmd[@]}"
    assert_one_line_error "${cmd[0]}"
    assert_equal "$stderr" "${cmd[0]}: stdout: write error: No space left on device"
  done < <(tool_commands)
  no_temporaries
}

@test "every tool: -o FILE on a full disk: one line, exit 1, no file and no temporary left" {
  prepare_tools
  fn-synth -n 16 --size 64x64 -o big.fns
  for cmd in "fn-synth -n 16 --size 64x64" "fn-read imgs" "fn-resize 64x64 big.fns" "fn-normalize --per-image big.fns" \
             "fn-augment --seed 1 big.fns" "fn-split --part train --ratio 1 big.fns" \
             "fn-infer --device cpu -m $D/ref.safetensors big.fns"; do
    mkdir out
    run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 4; exec $cmd -o out/x.fns"
    assert_one_line_error "${cmd%% *}"
    [[ "$stderr" == *"out/x.fns"*"File too large" ]] || fail "$cmd: $stderr"
    [ -z "$(ls -A out)" ] || fail "$cmd left $(ls -A out)"
    rm -r out
  done
  # fn-write: every picture is written whole or not at all
  mkdir pics
  run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 2; exec fn-write pics big.fns"
  assert_one_line_error fn-write
  [[ "$stderr" == *"File too large" ]] || fail "$stderr"
  ! ls -A pics | grep -q '\.tmp'
}

@test "crowded CPUs: OpenMP threads wait passively unless OMP_WAIT_POLICY says otherwise" {
  run env OMP_DISPLAY_ENV=true fn-infer --version
  assert_output --partial "OMP_WAIT_POLICY = 'PASSIVE'"
  run env OMP_DISPLAY_ENV=true OMP_WAIT_POLICY=active fn-infer --version
  assert_output --partial "OMP_WAIT_POLICY = 'ACTIVE'"
}
