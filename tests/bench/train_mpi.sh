#!/usr/bin/env bash
# Data-parallel fn-train on the CPU: images/s of RANKS ranks x 1 thread (mpirun) against one process
# with RANKS threads on the same cores, the same global batch and data (FRAMES frames of SIZE, 3
# channels, normalised; --width WIDTH, --batch BATCH). The figure of a run is its last epoch's
# (training and validation, from --log); the two sides alternate, REPEATS times, and the medians are
# compared. Ratio > 1: the MPI path is faster. Also with --sync-bn.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)

BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
RANKS=${RANKS:-2}
FRAMES=${FRAMES:-32}
SIZE=${SIZE:-128x128}
WIDTH=${WIDTH:-0.25}
BATCH=${BATCH:-8}
EPOCHS=${EPOCHS:-2}
REPEATS=${REPEATS:-3}
export PATH="$BIN:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

if ! command -v mpirun >/dev/null || [ ! -f "$BIN/../libfn-mpi.so" ]; then
  echo "train_mpi: no mpirun or libfn-mpi.so: skipped (apt-get install openmpi-bin libopenmpi-dev)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fn-synth -n "$FRAMES" --size "$SIZE" -c 3 --seed 1 | fn-normalize --fit "$tmp/st.json" >"$tmp/train.fns"
fn-synth -n 8 --size "$SIZE" -c 3 --seed 2 | fn-normalize --stats "$tmp/st.json" >"$tmp/val.fns"
COMMON=(--device cpu --width "$WIDTH" --batch "$BATCH" --epochs "$EPOCHS" --val "$tmp/val.fns")

# images/s of the last epoch of a run whose log is $1
ips() { awk -F'\t' -v n="$FRAMES" 'END { printf "%.2f\n", n / $6 }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$tmp/one" ; : >"$tmp/mpi" ; : >"$tmp/sync"
for r in $(seq "$REPEATS"); do
  fn-train "${COMMON[@]}" --threads "$RANKS" -o "$tmp/a.st" --log "$tmp/a.tsv" "$tmp/train.fns" 2>/dev/null
  ips "$tmp/a.tsv" >>"$tmp/one"
  mpirun -np "$RANKS" fn-train "${COMMON[@]}" --threads 1 -o "$tmp/b.st" --log "$tmp/b.tsv" "$tmp/train.fns" 2>/dev/null
  ips "$tmp/b.tsv" >>"$tmp/mpi"
  mpirun -np "$RANKS" fn-train "${COMMON[@]}" --threads 1 --sync-bn -o "$tmp/c.st" --log "$tmp/c.tsv" \
    "$tmp/train.fns" 2>/dev/null
  ips "$tmp/c.tsv" >>"$tmp/sync"
done
bench_machine
one=$(median <"$tmp/one") mpi=$(median <"$tmp/mpi") sync=$(median <"$tmp/sync")
echo "fn-train, $FRAMES frames of ${SIZE}x3, width $WIDTH, batch $BATCH (global), last of $EPOCHS epochs," \
  "median of $REPEATS alternating runs; load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-34s %10s %8s   %s\n' case "images/s" ratio "runs"
printf '%-34s %10s %8s   %s\n' "1 process x $RANKS threads" "$one" "1.00" "$(tr '\n' ' ' <"$tmp/one")"
printf '%-34s %10s %8s   %s\n' "$RANKS ranks x 1 thread (MPI)" "$mpi" "$(awk -v a="$mpi" -v b="$one" 'BEGIN { printf "%.2f", a / b }')" \
  "$(tr '\n' ' ' <"$tmp/mpi")"
printf '%-34s %10s %8s   %s\n' "$RANKS ranks x 1 thread, --sync-bn" "$sync" \
  "$(awk -v a="$sync" -v b="$one" 'BEGIN { printf "%.2f", a / b }')" "$(tr '\n' ' ' <"$tmp/sync")"
