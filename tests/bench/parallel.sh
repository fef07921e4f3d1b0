#!/usr/bin/env bash
# parallel.sh: the speed-up of fn-parallel on this machine's cores.
#   1. read + resize to 256x256 of the ISIC sample (68 JPEGs): fn-parallel -j1 vs -j2 (one decoder
#      thread per job), beside fn-read's own threads (-j 1, -j 2) for reference;
#   2. CPU inference: one fn-infer on all frames vs the frames split into 2 jobs (fn-parallel -j2),
#      each fn-infer with one thread, beside one fn-infer with 2 threads.
# Medians of REPS runs (default 3). Environment: FN_BIN (tools), FN_SHARED (../shared), REPS,
# INFER_SIZE (default 256x256), INFER_N (frames, default 8), INFER_WIDTH (model width, default 1).
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
here=$(cd "$(dirname "$0")/../.." && pwd)
FN_BIN=${FN_BIN:-$here/build/bin}
FN_SHARED=${FN_SHARED:-$here/../shared}
REPS=${REPS:-3}
INFER_SIZE=${INFER_SIZE:-256x256}
INFER_N=${INFER_N:-8}
INFER_WIDTH=${INFER_WIDTH:-1}
export PATH="$FN_BIN:$here/pipelines:$PATH"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# median wall seconds of REPS runs of a command (its stdout to $tmp/out)
time_median() {
  local i s e ts=()
  for ((i = 0; i < REPS; i++)); do
    s=$(date +%s%N)
    bash -o pipefail -c "$1" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
    e=$(date +%s%N)
    ts+=("$(( (e - s) / 1000000 ))")
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1000 }'
}
row() { # LABEL ITEMS SECONDS BASE_SECONDS
  awk -v l="$1" -v n="$2" -v s="$3" -v b="$4" 'BEGIN { printf "| %-52s | %7.2f | %7.1f | %5.2fx |\n", l, s, n / s, b / s }'
}

bench_machine
echo "fn-parallel speed-up, median of $REPS"
echo
isic=$FN_SHARED/data/isic2017-sample
if [ -d "$isic" ]; then
  n=$(ls "$isic/images" | wc -l)
  stage="fn-read -j 1 {} --masks $isic/masks --mask-suffix _segmentation | fn-resize 256x256"
  fn-parallel -j 2 "$stage" "$isic"/images/* >/dev/null # warm the page cache
  t1=$(time_median "fn-parallel -j 1 '$stage' $isic/images/*")
  cp "$tmp/out" "$tmp/j1.fns"
  t2=$(time_median "fn-parallel -j 2 '$stage' $isic/images/*")
  cmp -s "$tmp/out" "$tmp/j1.fns" || { echo "parallel.sh: -j 2 output differs from -j 1" >&2; exit 1; }
  r1=$(time_median "fn-read -j 1 $isic/images --masks $isic/masks --mask-suffix _segmentation | fn-resize 256x256")
  r2=$(time_median "fn-read -j 2 $isic/images --masks $isic/masks --mask-suffix _segmentation | fn-resize 256x256")
  echo "ISIC sample, read + resize to 256x256 ($n images)"
  echo
  echo "| run | seconds | img/s | speed-up |"
  echo "|---|---|---|---|"
  row "fn-parallel -j 1 'fn-read -j 1 {} | fn-resize'" "$n" "$t1" "$t1"
  row "fn-parallel -j 2 'fn-read -j 1 {} | fn-resize'" "$n" "$t2" "$t1"
  row "fn-read -j 1 images/ | fn-resize (one process)" "$n" "$r1" "$t1"
  row "fn-read -j 2 images/ | fn-resize (one process)" "$n" "$r2" "$t1"
  echo
else
  echo "no $isic: read + resize benchmark skipped"
  echo
fi

if command -v fn-train >/dev/null && command -v fn-infer >/dev/null; then
  # an untrained-enough model: one short epoch on a few synthetic frames; its speed is what counts
  fn-synth -n 4 -s "$INFER_SIZE" -c 3 --seed 7 | fn-normalize --fit "$tmp/stats.json" >"$tmp/t.fns"
  fn-train --epochs 1 --batch 2 --width "$INFER_WIDTH" --threads 2 --val "$tmp/t.fns" \
    --out "$tmp/model.safetensors" <"$tmp/t.fns" 2>/dev/null
  fn-synth -n "$INFER_N" -s "$INFER_SIZE" -c 3 --seed 8 | fn-normalize --stats "$tmp/stats.json" >"$tmp/v.fns"
  fn-split --ratio 0.5 --seed 0 "$tmp/a.fns" "$tmp/b.fns" "$tmp/v.fns"
  m=$tmp/model.safetensors
  i1=$(time_median "fn-infer -m $m --threads 1 $tmp/v.fns")
  i2=$(time_median "fn-parallel -j 2 'fn-infer -m $m --threads 1 {}' $tmp/a.fns $tmp/b.fns")
  it=$(time_median "fn-infer -m $m --threads 2 $tmp/v.fns")
  echo "CPU inference, $INFER_N frames of $INFER_SIZE x3, FocusNet width $INFER_WIDTH"
  echo
  echo "| run | seconds | img/s | speed-up |"
  echo "|---|---|---|---|"
  row "fn-infer --threads 1 (one job)" "$INFER_N" "$i1" "$i1"
  row "fn-parallel -j 2 'fn-infer --threads 1 {}' (2 halves)" "$INFER_N" "$i2" "$i1"
  row "fn-infer --threads 2 (one job)" "$INFER_N" "$it" "$i1"
else
  echo "no fn-train/fn-infer yet: inference benchmark skipped"
fi
