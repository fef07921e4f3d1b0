#!/usr/bin/env bash
# make bench: run every tests/bench/*.sh except this one and machine.sh (the header helper), in name
# order; each prints its own table, under machine.sh's line naming the CPU, its generation and ISA.
# The Makefile sets FN_BIN, FN_TESTBIN and FN_SHARED. Exit 1 if any benchmark failed.
set -u
cd "$(dirname "$0")" || exit 1
. ./machine.sh
bench_machine
echo
fail=0
for s in *.sh; do
  case $s in run.sh|machine.sh) continue ;; esac
  echo "== ${s%.sh}"
  if ! bash "$s"; then
    echo "${s%.sh}: FAILED"
    fail=1
  fi
  echo
done
exit $fail
