#!/usr/bin/env bash
# fn-normalize and fn-augment throughput on 256x256 f32 frames (image f32 3x256x256 + mask u8, about
# 0.85 MB a frame; FN_BENCH_FRAMES of them, default 200), one core (taskset -c 0, OMP_NUM_THREADS=1),
# from a page-cached file to /dev/null. MB/s of input stream bytes, frames/s, best of 3.
# fn-normalize --stats on u8 frames of the same size is shown too (MB/s of output bytes there).
# MB/CPU-s divides by the CPU time (user + system) instead of the wall time: steadier on a busy machine.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
export PATH="$BIN:$PATH"
export OMP_NUM_THREADS=1
N=${FN_BENCH_FRAMES:-200}
PIN=""
command -v taskset > /dev/null && PIN="taskset -c 0"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fn-synth -n "$N" --size 256x256 --channels 3 -o "$tmp/u8.fns"
fn-normalize --fit "$tmp/u8.json" "$tmp/u8.fns" > "$tmp/f32.fns"
fn-normalize --fit "$tmp/f32.json" "$tmp/f32.fns" > /dev/null
in_f32=$(stat -c %s "$tmp/f32.fns")
out_u8=$in_f32

best() { # "WALL CPU": best wall seconds and least CPU seconds (user + system) of 3 runs
  local w="" c="" out
  for _ in 1 2 3; do
    out=$( { TIMEFORMAT='%3R %3U %3S'; time bash -o pipefail -c "$1" > /dev/null 2>&1; } 2>&1 | tail -n 1)
    w=$(awk -v o="$out" -v b="$w" 'BEGIN { split(o, a, " "); print (b == "" || a[1] < b) ? a[1] : b }')
    c=$(awk -v o="$out" -v b="$c" 'BEGIN { split(o, a, " "); t = a[2] + a[3]; print (b == "" || t < b) ? t : b }')
  done
  echo "$w $c"
}
row() { # name, bytes, frames per input frame, command
  local t
  t=$(best "$PIN $4")
  awk -v n="$1" -v t="$t" -v b="$2" -v f="$N" -v k="$3" \
    'BEGIN { split(t, a, " "); if (a[2] <= 0) a[2] = 1e-9
             printf "%-52s %9.1f %11.1f %10.1f %8.3f\n", n, b / a[1] / 1e6, b / a[2] / 1e6, f * k / a[1], a[1] }'
}

bench_machine
printf '%s frames: image f32 3x256x256 + mask u8, %.1f MB; one core\n' "$N" "$(awk -v b="$in_f32" 'BEGIN { print b / 1e6 }')"
printf '%-52s %9s %11s %10s %8s\n' "stage" "MB/s" "MB/CPU-s" "frames/s" "best s"
row "cat (the pipe's ceiling)" "$in_f32" 1 "cat $tmp/f32.fns"
row "fn-normalize --stats (f32 in)" "$in_f32" 1 "fn-normalize --stats $tmp/f32.json $tmp/f32.fns"
row "fn-normalize --stats (u8 in, MB/s of f32 out)" "$out_u8" 1 "fn-normalize --stats $tmp/u8.json $tmp/u8.fns"
row "fn-normalize --per-image" "$in_f32" 1 "fn-normalize --per-image $tmp/f32.fns"
row "fn-normalize --fit (spill, re-read)" "$in_f32" 1 "fn-normalize --fit $tmp/fit.json $tmp/f32.fns"
row "fn-augment -n 1 (no op: copy)" "$in_f32" 1 "fn-augment -n 1 $tmp/f32.fns"
row "fn-augment --hflip 0.5 --vflip 0.5" "$in_f32" 1 "fn-augment --hflip 0.5 --vflip 0.5 $tmp/f32.fns"
row "fn-augment --rotate 20 --zoom 0.9,1.1" "$in_f32" 1 "fn-augment --rotate 20 --zoom 0.9,1.1 $tmp/f32.fns"
row "fn-augment --brightness 0.1 --contrast 0.2 --gamma 0.2" "$in_f32" 1 \
  "fn-augment --brightness 0.1 --contrast 0.2 --gamma 0.2 $tmp/f32.fns"
row "fn-augment --noise 0.05" "$in_f32" 1 "fn-augment --noise 0.05 $tmp/f32.fns"
row "fn-augment -n 8, all ops at p 0.5 (MB/s of input)" "$in_f32" 8 \
  "fn-augment -n 8 --hflip 0.5 --vflip 0.5 --rotate 20:0.5 --zoom 0.9,1.1:0.5 --channel-shift 0.5 --brightness 0.1:0.5 --contrast 0.2:0.5 --gamma 0.2:0.5 --noise 0.02:0.5 $tmp/f32.fns"
