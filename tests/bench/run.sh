#!/usr/bin/env bash
# make bench: run every tests/bench/*.sh except this one, in name order; each prints its own table.
# The Makefile sets FN_BIN, FN_TESTBIN and FN_SHARED. Exit 1 if any benchmark failed.
set -u
cd "$(dirname "$0")"
fail=0
for s in *.sh; do
  [ "$s" = run.sh ] && continue
  echo "== ${s%.sh}"
  if ! bash "$s"; then
    echo "${s%.sh}: FAILED"
    fail=1
  fi
  echo
done
exit $fail
