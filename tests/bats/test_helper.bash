# Shared by every .bats file: a private temporary folder per test, the built tools on PATH,
# bats-support and bats-assert from Debian's packages.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

FN_BIN=${FN_BIN:-$(cd "$BATS_TEST_DIRNAME/../../build/bin" && pwd)}
FN_TESTBIN=${FN_TESTBIN:-$(cd "$BATS_TEST_DIRNAME/../../build/tests" && pwd)}
FN_SHARED=${FN_SHARED:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/shared}
FN_DATA="$FN_SHARED/data"
export PATH="$FN_BIN:$FN_TESTBIN:/usr/bin:/bin"

setup() {
  T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/fn-test.XXXXXX")
  export HOME="$T"
  cd "$T"
}

teardown() {
  cd /
  rm -rf "$T"
}

# skip a test that needs ../shared/data/SET
need_data() {
  [ -d "$FN_DATA/$1" ] || skip "no $FN_DATA/$1: real-data test skipped"
}

# assert the last `run` failed with exit 1 and exactly one stderr line starting "TOOL: "
# (use with `run --separate-stderr`)
assert_one_line_error() {
  local tool=$1
  assert_equal "$status" 1
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "expected one stderr line, got: $stderr"
  [[ "$stderr" == "$tool: "* ]] || fail "stderr does not start with '$tool: ': $stderr"
}

# skip a slow test unless this is `make test-long` (FN_LONG=1)
need_long() {
  [ "${FN_LONG:-0}" = 1 ] || skip "slow test: run by make test-long"
}
