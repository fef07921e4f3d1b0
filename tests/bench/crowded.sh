#!/usr/bin/env bash
# crowded.sh: two multi-threaded fn-infer pipelines on the same cores (fn-parallel -j 2, default
# options: fn-parallel gives each job cores/jobs OpenMP threads) against the same two run one after
# the other (one thread per CPU each), with the tools' default OpenMP waiting (passive, lib/data/cli.c)
# and with OpenMP's spinning (OMP_WAIT_POLICY=active, as before). A ratio parallel/sequential at or
# below 1.00 means the shared cores are not wasted. Medians of REPS runs (default 3), each pair run back to back.
# Environment: FN_BIN, REPS, CROWD_SIZE (default 128x128), CROWD_N (frames per job, default 4),
# CROWD_WIDTH (model width, default 0.5).
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
here=$(cd "$(dirname "$0")/../.." && pwd)
FN_BIN=${FN_BIN:-$here/build/bin}
REPS=${REPS:-3}
SIZE=${CROWD_SIZE:-128x128}
N=${CROWD_N:-4}
WIDTH=${CROWD_WIDTH:-0.5}
export PATH="$FN_BIN:$here/pipelines:$PATH"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fn-synth -n 8 --size 32x32 --seed 1 -o t.fns
fn-train --device cpu --width "$WIDTH" --epochs 1 --val t.fns -o m.safetensors <t.fns 2>/dev/null
fn-synth -n "$N" --size "$SIZE" --seed 2 -o a.fns
fn-synth -n "$N" --size "$SIZE" --seed 3 -o b.fns

ms() { local s e; s=$(date +%s%N); bash -c "$1" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
seq_cmd='fn-infer --device cpu -m m.safetensors a.fns; fn-infer --device cpu -m m.safetensors b.fns'
par_cmd="fn-parallel -j 2 'fn-infer --device cpu -m m.safetensors {}' a.fns b.fns"

bench_machine
echo "two fn-infer (width $WIDTH, $N frames of $SIZE each), median of $REPS pairs"
echo
echo "| OpenMP waiting | one after the other (s) | fn-parallel -j 2 (s) | parallel / sequential |"
echo "|---|---:|---:|---:|"
for policy in default active; do
  envset=$([ $policy = active ] && echo "export OMP_WAIT_POLICY=active;" || echo "unset OMP_WAIT_POLICY;")
  s=() p=() r=()
  for ((i = 0; i < REPS; i++)); do
    a=$(ms "$envset $seq_cmd")
    b=$(ms "$envset $par_cmd")
    s+=("$a") p+=("$b") r+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')")
  done
  printf '| %s | %.2f | %.2f | %s |\n' "$([ $policy = active ] && echo "active (spinning, as before)" || echo "default (passive)")" \
    "$(printf '%s\n' "${s[@]}" | median | awk '{ print $1 / 1000 }')" \
    "$(printf '%s\n' "${p[@]}" | median | awk '{ print $1 / 1000 }')" "$(printf '%s\n' "${r[@]}" | median)"
done
