#!/usr/bin/env bats
# fn-train over MPI (mpirun -np 2, one thread a rank): sync-BN against one process with the same global
# batch, convergence without sync-BN, a killed rank and --resume; and the file-backed training set:
# a flat peak RSS as the stream grows. Tiny nets (--width 0.125, 32x32) so that this stays quick.

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

TINY=(--device cpu --threads 1 --width 0.125 --batch 8)
# CI runs as root, on 2 cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# a sanitized build (make test SANITIZE=1): LeakSanitizer would report what Open MPI keeps until exit,
# from components it has unloaded by then (no names to suppress them by); the code these tests run
# is leak-checked without MPI by test_replicas and fn-train.bats
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
MPIRUN=(mpirun -np 2 --oversubscribe)

need_mpi() {
  command -v mpirun >/dev/null || skip "no mpirun (Debian: openmpi-bin): MPI tests skipped"
  [ -f "$FN_BIN/../libfn-mpi.so" ] || skip "no libfn-mpi.so (built when mpicc is found): MPI tests skipped"
}

setup_file() {
  export D="$BATS_FILE_TMPDIR"
  fn-synth -n 32 --size 32x32 --seed 1 -o "$D/train.fns"
  fn-synth -n 12 --size 32x32 --seed 2 -o "$D/val.fns"
}

# one metadata value of a safetensors file
st_meta() { py -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; print(json.loads(f.read(n))['__metadata__'][sys.argv[2]])" "$1" "$2"; }

# One step over 16 frames (8 a rank) from the same initial weights, where rounding has not compounded:
# the two runs differ only in the order of the batch's sums (batch-norm statistics and weight gradients
# summed per rank, then across ranks). The longest such sum has n = 16 x 32 x 32 terms, and a
# reordered float32 sum of n terms is off by at most n u = 1e-3 of the sum of their magnitudes
# (u = 2^-24), by about sqrt(n) u = 8e-6 as rounding errors usually add up. So: the step's loss and the
# batch-norm statistics within 1e-4 (ten times the usual error), and each parameter's gradient within
# 1e-3 normwise (the worst case of one sum, as the backward pass compounds several). Measured on AMD
# EPYC Zen 4 (AVX-512, and oneDNN held to AVX2): 6e-6 and 0. Not compared: the trajectories of several
# steps, where Adam's normalisation turns the rounding noise of gradients near zero into whole steps
# (3 epochs drift 7e-4 apart, within 16x of what per-rank batch norm changes), and the biases of the
# convolutions that feed a batch norm, whose exact gradient is zero (the norm removes them).
NOBN='(^m0|\.c1)\.bias$'
@test "2 ranks with --sync-bn compute the step of one process with the whole batch" {
  need_mpi
  fn-synth -n 16 --size 32x32 --seed 1 -o t16.fns
  B16=(--device cpu --threads 1 --width 0.125 --batch 16 --epochs 1)
  fn-train "${B16[@]}" --val "$D/val.fns" -o one.st --log one.tsv t16.fns 2>/dev/null
  run --separate-stderr "${MPIRUN[@]}" fn-train "${B16[@]}" --sync-bn --progress --val "$D/val.fns" \
    -o two.st --log two.tsv t16.fns
  assert_success
  # only rank 0 reports
  [[ "$stderr" == *"2 ranks, synchronised batch norm"* ]] || fail "$stderr"
  [[ "$stderr" != *"rank 1"* ]] || fail "rank 1 printed: $stderr"
  [ "$(wc -l <two.tsv)" -eq 2 ]
  # the step's loss (the first epoch's training loss: one step, before the update)
  l1=$(awk -F'\t' 'NR == 2 { print $3 }' one.tsv)
  l2=$(awk -F'\t' 'NR == 2 { print $3 }' two.tsv)
  awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; exit !(d * d <= (1e-4 * a) ^ 2) }' ||
    fail "step losses $l1 and $l2 differ by more than 1e-4 (relative)"
  # the gradients (worst tensor) and the batch-norm statistics
  run py "$BATS_TEST_DIRNAME/stdiff.py" --step one.st one.st.state two.st.state "$NOBN"
  assert_success
  read -r g tensor s <<<"$output"
  awk -v g="$g" -v s="$s" 'BEGIN { exit !(g <= 1e-3 && s <= 1e-4) }' ||
    fail "gradient of $tensor differs by $g, statistics by $s (normwise)"
  # the check sees a difference: without sync-BN each rank normalises by its own 8 frames
  "${MPIRUN[@]}" fn-train "${B16[@]}" --val "$D/val.fns" -o own.st --log own.tsv t16.fns 2>/dev/null
  run py "$BATS_TEST_DIRNAME/stdiff.py" --step one.st one.st.state own.st.state "$NOBN"
  assert_success
  read -r g tensor s <<<"$output"
  awk -v g="$g" 'BEGIN { exit !(g > 0.1) }' || fail "per-rank batch norm changes the gradients by only $g"
}

@test "2 ranks without sync-BN train and converge on fn-synth data" {
  need_mpi
  run --separate-stderr "${MPIRUN[@]}" fn-train "${TINY[@]}" --epochs 6 --lr 0.003 --bn-recompute \
    --val "$D/val.fns" -o m.st --log m.tsv "$D/train.fns"
  assert_success
  [ -s m.st ] && [ -s m.st.state ]
  # the training loss falls by a fifth and the validation Dice rises
  awk -F'\t' 'NR == 2 { l = $3; d = $5 } NR == 7 { exit !($3 < 0.8 * l && $5 > d) }' m.tsv || fail "$(cat m.tsv)"
  fn-infer --device cpu -m m.st "$D/val.fns" | fn-score --json >s.json
}

# the pid of rank R of the mpirun whose pid is $1
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
  done
}

@test "a killed rank ends the run within seconds, naming it, and --resume completes it" {
  need_mpi
  "${MPIRUN[@]}" fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o ref.st "$D/train.fns" 2>/dev/null
  "${MPIRUN[@]}" fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o k.st --log k.tsv \
    "$D/train.fns" 2>err.txt &
  mpi=$!
  for _ in $(seq 1500); do
    [ "$(wc -l <k.tsv 2>/dev/null || echo 0)" -ge 3 ] && break
    sleep 0.02
  done
  r1=$(rank_pid $mpi 1)
  [ -n "$r1" ] || fail "no rank 1 under mpirun $mpi"
  kill -9 "$r1"
  t0=$(date +%s)
  rc=0
  wait $mpi || rc=$?
  [ "$rc" -ne 0 ] || fail "mpirun exited 0"
  [ $(($(date +%s) - t0)) -le 10 ] || fail "the other rank took more than 10 s to stop"
  grep -q "rank 1" err.txt || fail "no message names rank 1: $(cat err.txt)"
  pgrep -f "k.st --log k.tsv" && fail "a rank is still running"
  # the last good model and state are whole; the resume ends where the uninterrupted run does
  rows=$(($(wc -l <k.tsv) - 1))
  [ "$rows" -ge 2 ] && [ "$rows" -lt 4 ] || fail "the kill came at $rows epochs done"
  run st_meta k.st.state epoch
  assert_output "$rows"
  run --separate-stderr "${MPIRUN[@]}" fn-train "${TINY[@]}" --epochs 4 --val "$D/val.fns" --resume k.st.state \
    --log k.tsv "$D/train.fns"
  assert_success
  cmp ref.st k.st
}

@test "under an MPI launcher without libfn-mpi.so fn-train says so" {
  run --separate-stderr env OMPI_COMM_WORLD_SIZE=2 FN_MPI_LIB=/nonexistent/libfn-mpi.so \
    fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o m.st "$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == *"started by an MPI launcher"*"/nonexistent/libfn-mpi.so"* ]] || fail "$stderr"
  [ ! -e m.st ]
}

@test "started by srun as one of several tasks that MPI cannot join, fn-train refuses" {
  need_mpi
  run --separate-stderr env SLURM_PROCID=0 SLURM_NTASKS=2 \
    fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o m.st "$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == *"srun started 2 tasks but MPI sees one"* ]] || fail "$stderr"
  [ ! -e m.st ]
}

@test "under mpirun the training frames must be a file, not stdin" {
  need_mpi
  run --separate-stderr "${MPIRUN[@]}" fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o m.st <"$D/train.fns"
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"fn-train: rank "*": under mpirun the frames must come from files"* ]] || fail "$stderr"
  [ ! -e m.st ]
}

# peak RSS (KiB) of fn-train reading a training stream of N frames (64x64 RGB: 64 KiB a frame as f32)
# and training on none of it (--epochs 0: the set is read and checked, the net built), from a pipe
peak_rss() {
  local n=$1; shift
  fn-synth -n "$n" --size 64x64 -c 3 --seed 5 -o big.fns
  fn-synth -n 4 --size 64x64 -c 3 --seed 6 -o val3.fns
  py -c 'import resource, subprocess, sys
with open("big.fns", "rb") as f:
    subprocess.run(sys.argv[1:], stdin=f, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
    env ASAN_OPTIONS="detect_leaks=0:quarantine_size_mb=0:thread_local_quarantine_size_kb=0" "$@" \
    fn-train "${TINY[@]}" --epochs 0 --val val3.fns -o m.st
}

@test "the training set stays on disk: the peak RSS does not grow with the stream" {
  small=$(peak_rss 100)
  large=$(peak_rss 1600)
  # 1500 more frames are 94 MiB in memory; allow 16 MiB of noise
  [ $((large - small)) -lt 16384 ] || fail "peak RSS $small KiB with 100 frames, $large KiB with 1600"
  # the same check sees the growth of the in-memory set (FN_TRAIN_MEMORY=1)
  mem=$(peak_rss 1600 FN_TRAIN_MEMORY=1)
  [ $((mem - small)) -gt 65536 ] || fail "in memory: $mem KiB against $small KiB"
}

@test "a pipe is spilled to TMPDIR and the run equals the one from the file" {
  fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o a.st "$D/train.fns" 2>/dev/null
  mkdir tmp
  cat "$D/train.fns" | TMPDIR=$PWD/tmp fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o b.st 2>/dev/null
  cmp a.st b.st
  [ -z "$(ls tmp)" ] # the spill file is gone
  run --separate-stderr bash -c "cat '$D/train.fns' | TMPDIR=$PWD/none fn-train ${TINY[*]} --epochs 1 --val '$D/val.fns' -o c.st"
  assert_one_line_error fn-train
  [[ "$stderr" == *"spill file"*"TMPDIR"* ]] || fail "$stderr"
}

@test "the state keeps --sync-bn: a resume without it still synchronises" {
  fn-train "${TINY[@]}" --sync-bn --epochs 1 --val "$D/val.fns" -o s.st "$D/train.fns" 2>/dev/null
  run st_meta s.st.state sync_bn
  assert_output 1
  fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" --resume s.st.state "$D/train.fns" 2>/dev/null
  run st_meta s.st.state sync_bn
  assert_output 1
  run st_meta s.st.state epoch
  assert_output 2
}
