#!/usr/bin/env bats
# .ci/check-deps, which make, make demo and make test run first: installs the missing packages of
# .ci/deps as root or through `sudo -n`, else prints the exact apt-get line. Stand-ins for dpkg-query,
# apt-get, sudo and id on PATH record their calls in $T/log; nothing is installed for real.

load test_helper

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# stand-ins: dpkg-query knows the packages of $INSTALLED; id -u prints $FAKE_UID; sudo -n runs its
# command when SUDO_OK=1; apt-get exits 1 for the subcommand named by APT_FAIL
stand_ins() {
  mkdir -p "$T/stub"
  cat >"$T/stub/dpkg-query" <<'EOF'
#!/bin/sh
echo "dpkg-query $*" >>"$LOG"
for p; do :; done
case " $INSTALLED " in *" $p "*) printf 'install ok installed' ;; *) exit 1 ;; esac
EOF
  cat >"$T/stub/id" <<'EOF'
#!/bin/sh
echo "id $*" >>"$LOG"
echo "$FAKE_UID"
EOF
  cat >"$T/stub/sudo" <<'EOF'
#!/bin/sh
echo "sudo $*" >>"$LOG"
[ "$1" = -n ] && shift
[ "$SUDO_OK" = 1 ] || { echo "sudo: a password is required" >&2; exit 1; }
exec "$@"
EOF
  cat >"$T/stub/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $* [DEBIAN_FRONTEND=$DEBIAN_FRONTEND]" >>"$LOG"
for a; do [ "$a" = "$APT_FAIL" ] && { echo "E: Unable to locate package" >&2; exit 100; }; done
exit 0
EOF
  chmod +x "$T"/stub/*
  printf '# a comment\na\nb\nc\nd\n' >"$T/deps"
  : >"$T/log"
  export PATH="$T/stub:$PATH" LOG="$T/log" FN_DEPS="$T/deps" INSTALLED="a c" FAKE_UID=1000 SUDO_OK=0 APT_FAIL=""
  unset FN_NO_INSTALL DEBIAN_FRONTEND
}

check_deps() {
  run --separate-stderr sh "$ROOT/.ci/check-deps"
}

# the apt-get lines of the log
apt_calls() {
  grep '^apt-get' "$T/log" || true
}

# the outcome without an install: exit 1, the exact apt-get line, no apt-get call
assert_told_not_installed() {
  assert_failure 1
  assert_equal "$stderr" "fn: missing Debian packages: b d
fn: install them with:  sudo apt-get install b d"
  assert_equal "$(apt_calls)" ""
}

@test "nothing missing: silent, exit 0, no apt-get" {
  stand_ins
  INSTALLED="a b c d"
  check_deps
  assert_success
  assert_output ""
  assert_equal "$stderr" ""
  assert_equal "$(apt_calls)" ""
}

@test "missing, as root: one line, then apt-get update and install of exactly the missing packages" {
  stand_ins
  FAKE_UID=0
  check_deps
  assert_success
  assert_output ""
  assert_equal "$stderr" "fn: installing missing Debian packages: b d"
  assert_equal "$(apt_calls)" "apt-get update -qq [DEBIAN_FRONTEND=]
apt-get install -y -qq --no-install-recommends b d [DEBIAN_FRONTEND=noninteractive]"
  run grep -c '^sudo' "$T/log"
  assert_output 0
}

@test "missing, not root, sudo -n works: the same through sudo -n" {
  stand_ins
  SUDO_OK=1
  check_deps
  assert_success
  assert_equal "$stderr" "fn: installing missing Debian packages: b d"
  assert_equal "$(grep -E '^sudo .*apt-get' "$T/log")" "sudo -n apt-get update -qq
sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends b d"
  assert_equal "$(apt_calls | tail -n 1)" \
    "apt-get install -y -qq --no-install-recommends b d [DEBIAN_FRONTEND=noninteractive]"
}

@test "missing, not root, no sudo: the exact apt-get line, exit 1, no apt-get" {
  stand_ins
  check_deps
  assert_told_not_installed
}

@test "apt-get install fails: exit 1, one message with the exact command after the installing line" {
  stand_ins
  FAKE_UID=0 APT_FAIL=install
  check_deps
  assert_failure 1
  assert_equal "$(printf '%s\n' "$stderr" | grep -c '^fn: ')" 2
  assert_equal "$(printf '%s\n' "$stderr" | grep '^fn: ' | tail -n 1)" \
    "fn: installing them failed; install them with:  sudo apt-get install b d"
}

@test "FN_NO_INSTALL=1, as root: prints the exact line, installs nothing" {
  stand_ins
  FAKE_UID=0 SUDO_OK=1
  export FN_NO_INSTALL=1
  check_deps
  assert_told_not_installed
}

@test "not a dpkg system: exit 0, nothing said" {
  stand_ins
  mkdir "$T/bin"
  for c in sh grep dirname; do ln -s "$(command -v $c)" "$T/bin/$c"; done
  run --separate-stderr env PATH="$T/bin" "$T/bin/sh" "$ROOT/.ci/check-deps"
  assert_success
  assert_equal "$stderr" ""
}
