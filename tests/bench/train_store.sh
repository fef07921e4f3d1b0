#!/usr/bin/env bash
# fn-train's file-backed training set against the in-memory one (FN_TRAIN_MEMORY=1):
# 1. epoch time: FRAMES frames of SIZE x 3 (f32, normalised), --width WIDTH, batch 8, 1 thread; the last
#    of EPOCHS epochs from --log, the two sides alternating REPEATS times, medians compared;
# 2. peak memory as the stream grows: streams of SMALL_GB and LARGE_GB (GiB) of 256x256x3 f32 frames
#    (one file repeated by cat), fn-train reads the whole stream (index and checks), then trains for
#    TRAIN_S seconds; its peak RSS (VmHWM) is read then and it is stopped. The in-memory set is
#    measured on the small stream only (it needs the stream's size in memory, times 4 for u8 data).
# The streams go to $TMPDIR (default /tmp): it needs LARGE_GB + SMALL_GB of free space.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)

BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
FRAMES=${FRAMES:-128}
SIZE=${SIZE:-128x128}
WIDTH=${WIDTH:-0.25}
EPOCHS=${EPOCHS:-2}
REPEATS=${REPEATS:-3}
SMALL_GB=${SMALL_GB:-1}
LARGE_GB=${LARGE_GB:-8}
TRAIN_S=${TRAIN_S:-20}
export PATH="$BIN:$PATH"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench-store.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# 1. epoch time
fn-synth -n "$FRAMES" --size "$SIZE" -c 3 --seed 1 | fn-normalize --fit "$tmp/st.json" >"$tmp/train.fns"
fn-synth -n 8 --size "$SIZE" -c 3 --seed 2 | fn-normalize --stats "$tmp/st.json" >"$tmp/val.fns"
COMMON=(--device cpu --threads 1 --width "$WIDTH" --batch 8 --epochs "$EPOCHS" --val "$tmp/val.fns")
: >"$tmp/mem"; : >"$tmp/disk"
for r in $(seq "$REPEATS"); do
  FN_TRAIN_MEMORY=1 fn-train "${COMMON[@]}" -o "$tmp/a.st" --log "$tmp/a.tsv" "$tmp/train.fns" 2>/dev/null
  awk -F'\t' 'END { print $6 }' "$tmp/a.tsv" >>"$tmp/mem"
  fn-train "${COMMON[@]}" -o "$tmp/b.st" --log "$tmp/b.tsv" "$tmp/train.fns" 2>/dev/null
  awk -F'\t' 'END { print $6 }' "$tmp/b.tsv" >>"$tmp/disk"
done
bench_machine
mem=$(median <"$tmp/mem") disk=$(median <"$tmp/disk")
echo "epoch time, $FRAMES frames of ${SIZE}x3 f32, width $WIDTH, batch 8, 1 thread, median of $REPEATS" \
  "alternating runs; load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-26s %9s %8s   %s\n' case seconds ratio runs
printf '%-26s %9s %8s   %s\n' "in memory" "$mem" 1.00 "$(tr '\n' ' ' <"$tmp/mem")"
printf '%-26s %9s %8s   %s\n' "file-backed store" "$disk" "$(awk -v a="$disk" -v b="$mem" 'BEGIN { printf "%.3f", a / b }')" \
  "$(tr '\n' ' ' <"$tmp/disk")"
rm -f "$tmp/train.fns"

# 2. peak RSS against the stream's size
fn-synth -n 64 --size 256x256 -c 3 --seed 3 | fn-normalize --fit "$tmp/st2.json" >"$tmp/chunk.fns"
fn-synth -n 8 --size 256x256 -c 3 --seed 4 | fn-normalize --stats "$tmp/st2.json" >"$tmp/val2.fns"
chunk=$(stat -c %s "$tmp/chunk.fns")
# peak RSS (MiB) of fn-train on $1 after reading it and TRAIN_S seconds of training; extra env in $2...
peak() {
  local f=$1 pid hwm
  shift
  env "$@" fn-train --device cpu --threads 1 --width "$WIDTH" --batch 8 --epochs 1 --progress \
    --val "$tmp/val2.fns" -o "$tmp/p.st" "$f" 2>"$tmp/p.err" &
  pid=$!
  until grep -q "device:" "$tmp/p.err" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { cat "$tmp/p.err" >&2; return 1; }
    sleep 0.5
  done
  sleep "$TRAIN_S"
  hwm=$(awk '/^VmHWM/ { print int($2 / 1024) }' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  echo "$hwm"
}
printf '%-40s %10s %10s\n' "stream (256x256x3 f32 frames)" frames "peak MiB"
for gb in "$SMALL_GB" "$LARGE_GB"; do
  n=$(awk -v g="$gb" -v c="$chunk" 'BEGIN { n = int(g * 1073741824 / c + 0.5); print n < 1 ? 1 : n }')
  for i in $(seq "$n"); do cat "$tmp/chunk.fns"; done >"$tmp/big.fns"
  frames=$((n * 64))
  printf '%-40s %10s %10s\n' "$gb GiB, file-backed" "$frames" "$(peak "$tmp/big.fns")"
  [ "$gb" = "$SMALL_GB" ] && printf '%-40s %10s %10s\n' "$gb GiB, in memory (FN_TRAIN_MEMORY=1)" "$frames" \
    "$(peak "$tmp/big.fns" FN_TRAIN_MEMORY=1)"
  rm -f "$tmp/big.fns"
done
