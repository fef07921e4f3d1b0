#!/usr/bin/env bash
# The stream's own overhead: fn-synth -n 200 --size 512x512 --channels 3 (about 210 MB: image u8 3x512x512
# and mask u8 1x512x512 per frame) written, read and described. MB/s of stream bytes, best of 3.
#   fn-synth > /dev/null        generating and writing
#   fn-info < file              reading, decoding, min/max/mean of every tensor (page-cached file)
#   cat file | fn-info          the same through a pipe
#   stream-cat < file           reading, decoding, re-packing and writing: the stream library alone
#   fn-synth | fn-info          the whole pipe
# FN_BENCH_FRAMES changes the frame count.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
TESTBIN=${FN_TESTBIN:-$(cd "$(dirname "$0")/../../build/tests" && pwd)}
export PATH="$BIN:$TESTBIN:$PATH"
N=${FN_BENCH_FRAMES:-200}
SYNTH="fn-synth -n $N --size 512x512 --channels 3"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
$SYNTH -o "$tmp/s.fns"
bytes=$(stat -c %s "$tmp/s.fns")

now() { date +%s.%N; }
# best wall time of 3 runs of a shell command line
best() {
  local b="" t0 t1
  for _ in 1 2 3; do
    t0=$(now)
    bash -o pipefail -c "$1" > /dev/null
    t1=$(now)
    b=$(awk -v a="$t0" -v z="$t1" -v b="$b" 'BEGIN { t = z - a; print (b == "" || t < b) ? t : b }')
  done
  echo "$b"
}
row() { # name, command
  local t
  t=$(best "$2")
  awk -v n="$1" -v t="$t" -v b="$bytes" -v f="$N" \
    'BEGIN { printf "%-28s %9.1f %10.1f %8.3f\n", n, b / t / 1e6, f / t, t }'
}

bench_machine
printf '%s frames 512x512x3 u8 + mask, %.1f MB\n' "$N" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')"
printf '%-28s %9s %10s %8s\n' "stage" "MB/s" "frames/s" "best s"
row "fn-synth > /dev/null" "$SYNTH"
row "fn-info < file" "fn-info < '$tmp/s.fns'"
row "cat file | fn-info" "cat '$tmp/s.fns' | fn-info"
if command -v stream-cat > /dev/null; then
  row "stream-cat < file" "stream-cat < '$tmp/s.fns'"
fi
row "fn-synth | fn-info" "$SYNTH | fn-info"
