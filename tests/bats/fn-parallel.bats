#!/usr/bin/env bats
# fn-parallel: GNU parallel around a per-file pipeline; output equal to the serial loop.
load test_helper
PATH="$PATH:$BATS_TEST_DIRNAME/../../pipelines" # when FN_BIN has no copy of the script

# six small PNG files (three RGB sizes) and the serial result of STAGE over them
make_files() {
  fn-synth -n 6 -s 40x56 -c 3 --seed 3 | fn-write w
  files=(w/*_image.png)
  [ ${#files[@]} -eq 6 ]
}
serial() {
  local f
  for f in "${files[@]}"; do bash -o pipefail -c "${1//\{\}/$f}" || return; done
}
STAGE='fn-read {} | fn-resize 24x32'

@test "fn-parallel: --help and --version" {
  run fn-parallel --help
  assert_success
  assert_line --index 0 --partial "usage: fn-parallel [-j N]"
  run fn-parallel --version
  assert_success
  assert_output --regexp '^fn-parallel [0-9]'
}

@test "fn-parallel: -j 2 output equals the serial pipeline's, frame for frame" {
  make_files
  serial "$STAGE" >serial.fns
  fn-parallel -j 2 "$STAGE" "${files[@]}" >par.fns
  cmp serial.fns par.fns
  run fn-info par.fns
  assert_line --partial "6 frames"
  # the order is the operands' order, not the finishing order
  fn-parallel -j 3 "$STAGE" "${files[5]}" "${files[0]}" >rev.fns
  { fn-read "${files[5]}" | fn-resize 24x32; fn-read "${files[0]}" | fn-resize 24x32; } >rev-serial.fns
  cmp rev.fns rev-serial.fns
}

@test "fn-parallel: other GNU parallel options and replacement strings pass through" {
  make_files
  serial "$STAGE" >serial.fns
  fn-parallel --jobs=2 --delay 0 "fn-read w/{/} | fn-resize 24x32" "${files[@]}" >par.fns
  cmp serial.fns par.fns
}

@test "fn-parallel: a failing job fails the run with its message" {
  make_files
  head -c 200 "${files[2]}" >w/broken.png
  run --separate-stderr bash -c 'fn-parallel "$@" >out.fns' _ -j 2 "$STAGE" "${files[0]}" w/broken.png "${files[3]}"
  assert_equal "$status" 1
  [[ "$stderr" == *"fn-read: "*broken.png* ]] || fail "no message of the failing tool: $stderr"
  [[ "$stderr" == *"fn-parallel: job 2 (w/broken.png) failed with exit status 1"* ]] || fail "$stderr"
  [[ "$stderr" != *"This job failed"* ]] || fail "GNU parallel's own report leaked: $stderr"
  [[ "$stderr" != *"citation"* ]] || fail "citation notice: $stderr"
  # what did come out is whole frames, the first job's first
  run fn-info out.fns
  assert_success
  assert_line --index 0 --partial "$(basename "${files[0]}" .png)"
}

@test "fn-parallel: a failure early in the job's pipeline counts (pipefail)" {
  make_files
  run --separate-stderr fn-parallel "fn-read {} | fn-resize 24x32" w/missing.png
  assert_equal "$status" 1
  [[ "$stderr" == *"fn-read: "* ]] || fail "$stderr"
}

@test "fn-parallel: across hosts through --ssh (a local stand-in for ssh)" {
  make_files
  serial "$STAGE" >serial.fns
  export FAKE_SSH_LOG=$T/hosts.log
  # the stand-in gives each job a bare PATH: fn-parallel must bring the tools' folder itself
  fn-parallel --ssh "$BATS_TEST_DIRNAME/fake-ssh" -j 1 --sshlogin hostA,hostB "$STAGE" "${files[@]}" >remote.fns
  cmp serial.fns remote.fns
  [ "$(sort -u hosts.log | tr '\n' ' ')" = "hostA hostB " ] || fail "hosts used: $(cat hosts.log)"
  # the same with the hosts in a file, and a failing job on a remote host
  printf '1/hostC\n1/hostD\n' >hosts.txt
  fn-parallel --ssh "$BATS_TEST_DIRNAME/fake-ssh" --slf hosts.txt "$STAGE" "${files[@]}" >remote2.fns
  cmp serial.fns remote2.fns
  run --separate-stderr fn-parallel --ssh "$BATS_TEST_DIRNAME/fake-ssh" --slf hosts.txt "$STAGE" w/nothere.png
  assert_equal "$status" 1
  [[ "$stderr" == *"fn-read: "* ]] || fail "$stderr"
}

@test "fn-parallel: usage errors exit 2 and write nothing" {
  run --separate-stderr fn-parallel
  assert_equal "$status" 2
  assert_equal "$output" ""
  [[ "$stderr" == "fn-parallel: no STAGE given"* ]] || fail "$stderr"
  run --separate-stderr fn-parallel "$STAGE"
  assert_equal "$status" 2
  [[ "$stderr" == "fn-parallel: no input FILE given"* ]] || fail "$stderr"
  run --separate-stderr fn-parallel -j
  assert_equal "$status" 2
  [[ "$stderr" == "fn-parallel: option '-j' needs a value"* ]] || fail "$stderr"
}

@test "fn-parallel: refuses to write to a terminal" {
  command -v script >/dev/null || skip "no script(1) to give a terminal"
  make_files
  run script -qec "fn-parallel 'fn-read {}' ${files[0]}" /dev/null
  assert_equal "$status" 1
  assert_output --partial "fn-parallel: refusing to write a binary stream to a terminal"
}

@test "fn-parallel: local jobs get cores/jobs OpenMP threads unless OMP_NUM_THREADS is set" {
  cores=$(nproc)
  run bash -c "unset OMP_NUM_THREADS; fn-parallel -j 1 'echo \$OMP_NUM_THREADS; : {}' a | cat"
  assert_success
  assert_output "$cores"
  run bash -c "unset OMP_NUM_THREADS; fn-parallel 'echo \$OMP_NUM_THREADS; : {}' a | cat"
  assert_success
  assert_output "1"
  run bash -c "unset OMP_NUM_THREADS; fn-parallel -j $((cores + 1)) 'echo \$OMP_NUM_THREADS; : {}' a | cat"
  assert_output "1"
  run bash -c "OMP_NUM_THREADS=3 fn-parallel -j 1 'echo \$OMP_NUM_THREADS; : {}' a | cat"
  assert_output "3"
}
