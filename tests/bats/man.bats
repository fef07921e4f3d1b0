#!/usr/bin/env bats
# Every tool (built from cmd/fn-*.c, or a script pipelines/fn-*) has a man page whose SYNOPSIS lines are exactly the "usage: " lines of
# its --help (as git's t0450 checks its docs against -h), and every page renders without warnings.

load test_helper

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# the plain text lines under .SH SYNOPSIS, with the roff escapes \- \e \& \fX undone
synopsis() {
  awk '/^\.SH/ { on = ($0 ~ /^\.SH +"?SYNOPSIS"?$/); next } on && !/^\./ && !/^'"'"'/ && NF' "$1" |
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g'
}

@test "every tool has a man page whose SYNOPSIS equals the usage lines of its --help" {
  local bad="" n=0
  for src in "$ROOT"/cmd/fn-*.c "$ROOT"/pipelines/fn-*; do
    [ -e "$src" ] || continue
    local tool page
    tool=$(basename "$src" .c)
    page="$ROOT/man/$tool.1"
    n=$((n + 1))
    [ -x "$FN_BIN/$tool" ] || { bad+=$'\n'"$tool: not built in $FN_BIN"; continue; }
    [ -f "$page" ] || { bad+=$'\n'"$tool: no man/$tool.1"; continue; }
    local man help
    man=$(synopsis "$page")
    help=$("$FN_BIN/$tool" --help | sed -n 's/^usage: //p')
    [ -n "$help" ] || bad+=$'\n'"$tool: --help has no 'usage: ' line"
    [ -n "$man" ] || bad+=$'\n'"$tool: man/$tool.1 has no plain SYNOPSIS line"
    [ "$man" = "$help" ] || bad+=$'\n'"$tool: man SYNOPSIS:"$'\n'"$man"$'\n'"--help usage:"$'\n'"$help"
  done
  [ "$n" -gt 0 ] || fail "no cmd/fn-*.c found under $ROOT"
  [ -z "$bad" ] || fail "$bad"
}

@test "the overview and format pages exist: fn.7, fn-stream.5" {
  [ -f "$ROOT/man/fn.7" ]
  [ -f "$ROOT/man/fn-stream.5" ]
}

@test "every man page has NAME, SYNOPSIS, DESCRIPTION, ... sections" {
  local bad=""
  for page in "$ROOT"/man/*.1; do
    for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
      grep -Eq "^\.SH +\"?$sec\"?$" "$page" || bad+=" $(basename "$page"):$sec"
    done
  done
  [ -z "$bad" ] || fail "missing sections:$bad"
}

@test "man -l renders every page without warnings" {
  command -v man > /dev/null || skip "no man(1) (man-db): rendering check skipped"
  local bad=""
  for page in "$ROOT"/man/*.[157]; do
    local out
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 > /dev/null)
    [ -z "$out" ] || bad+=$'\n'"$(basename "$page"): $out"
  done
  [ -z "$bad" ] || fail "$bad"
}
