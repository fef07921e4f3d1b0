#!/usr/bin/env bash
# run.sh NAME...: each libFuzzer harness build-fuzz/fuzz/NAME in turn for $FUZZ_S seconds, or until
# $FUZZ_RUNS executions when that is set (one process, one core: the machine is shared), on the corpus kept in build-fuzz/corpus/NAME plus fresh seeds
# (seeds.py). Prints one line per harness (executions, coverage, corpus) and a table at the end; a
# finding (crash, leak, timeout, out-of-memory, sanitizer report) stops with its input under
# build-fuzz/findings/. The table goes to $FUZZ_SUMMARY (build-fuzz/summary.tsv), so that two queues
# can run side by side, one per core.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=build-fuzz
FUZZ_S=${FUZZ_S:-60}
FUZZ_RUNS=${FUZZ_RUNS:-}
limit=(-max_total_time="$FUZZ_S")
[ -n "$FUZZ_RUNS" ] && limit=(-runs="$FUZZ_RUNS")
mkdir -p "$B/findings" "$B/logs"
summary=${FUZZ_SUMMARY:-$B/summary.tsv}
printf 'harness\tseconds\texecutions\texec_per_s\tcoverage\tfeatures\tcorpus\tresult\n' >"$summary"
fail=0
for n in "$@"; do
  seeds="$B/seeds/$n"
  rm -rf "$seeds"
  /usr/bin/python3 tests/fuzz/seeds.py "$n" "$seeds" || { echo "fuzz: $n: no seeds" >&2; fail=1; continue; }
  mkdir -p "$B/corpus/$n"
  # a known finding replays first: it must be fixed before more fuzzing means anything
  log="$B/logs/$n.log"
  "$B/fuzz/$n" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$B/findings/$n-" "$B/corpus/$n" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$line")
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  result=ok
  if [ $rc -ne 0 ]; then
    result="FOUND: $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log" | cut -c1-120) (see $log)"
    fail=1
  fi
  eps=$([ -n "${secs:-}" ] && [ "${secs:-0}" -gt 0 ] && echo $((${execs:-0} / secs)) || echo -)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${secs:--}" "${execs:--}" "$eps" "${cov:--}" "${ft:--}" \
    "${corp:--}" "$result" | tee -a "$summary"
done
echo "fuzz: summary in $summary"
column -t -s $'\t' "$summary"
exit $fail
