#!/usr/bin/env bats
# fn-train: a tiny FocusNet (--width 0.125, 32x32 frames) trained for a few epochs on the CPU:
# outputs, determinism, kill -9 and --resume bit-exactness, divergence, bad input.

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

# one thread: quick and steady on a busy machine (a test below checks two)
TINY=(--device cpu --threads 1 --width 0.125 --batch 8)

setup_file() {
  export D="$BATS_FILE_TMPDIR"
  fn-synth -n 48 --size 32x32 --seed 1 -o "$D/train.fns"
  fn-synth -n 8 --size 32x32 --seed 2 -o "$D/val.fns"
  # the reference run: 4 epochs, uninterrupted
  fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o "$D/ref.safetensors" --log "$D/ref.tsv" \
    <"$D/train.fns"
}

# the tensor data of a safetensors file (what follows the 8-byte length and the JSON header)
st_data() {
  local hl
  hl=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  tail -c +$((9 + hl)) "$1"
}
# one metadata value of a safetensors file
st_meta() { py -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; print(json.loads(f.read(n))['__metadata__'][sys.argv[2]])" "$1" "$2"; }

@test "fn-train --help starts with the usage lines and exits 0" {
  run fn-train --help
  assert_success
  assert_line --index 0 "usage: fn-train [options] --val FILE -o MODEL [FILE]"
  assert_line --index 1 "usage: fn-train [options] --val FILE --resume STATE [FILE]"
}

@test "fn-train --version" {
  run fn-train --version
  assert_success
  assert_output --regexp '^fn-train [0-9]+\.[0-9]+'
}

@test "a run writes the model, its state and the epochs log, and is quiet" {
  run --separate-stderr fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" -o m.safetensors --log e.tsv \
    "$D/train.fns"
  assert_success
  assert_output ""
  [ -z "$stderr" ] || fail "stderr: $stderr"
  [ -s m.safetensors ] && [ -s m.safetensors.state ]
  run cat e.tsv
  assert_line --index 0 "$(printf 'epoch\tlr\ttrain_loss\tval_loss\tval_dice\tseconds')"
  assert_line --index 1 --regexp $'^1\t0.001\t[0-9.]+\t[0-9.]+\t[0-9.]+\t[0-9.]+$'
  assert_line --index 2 --regexp $'^2\t0.001\t'
  [ "${#lines[@]}" -eq 3 ]
  run st_meta m.safetensors format
  assert_output fn-model
  run st_meta m.safetensors options
  assert_output --partial "batch=8 plateau=5(0.5,0.001) l2=on epochs=2 seed=1 width=0.125"
  # the model is the epoch with the lowest validation loss of the log
  best=$(tail -n +2 e.tsv | sort -t $'\t' -k4,4g | head -n 1 | cut -f1)
  run st_meta m.safetensors epoch
  assert_output "$best"
}

@test "--device auto says when it falls back to the CPU; --progress shows steps, speed and ETA" {
  export FN_CUDA_LIB=/nonexistent/libfn-cuda.so
  run --separate-stderr fn-train --device auto --threads 1 --width 0.125 --epochs 1 --val "$D/val.fns" \
    -o m.safetensors "$D/train.fns"
  assert_success
  [[ "$stderr" == "fn-train: no GPU ("*"); using the CPU" ]] || fail "$stderr"
  run --separate-stderr fn-train "${TINY[@]}" --epochs 1 --progress --val "$D/val.fns" -o m.safetensors \
    "$D/train.fns"
  assert_success
  [[ "$stderr" == *"fn-train: epoch 1/1 step 6/6 loss "*" img/s ETA "* ]] || fail "$stderr"
  [[ "$stderr" == *"fn-train: epoch 1/1 lr 0.001 train_loss "*" val_dice "* ]] || fail "$stderr"
}

@test "the model holds fn-normalize's statistics and fn-infer reads it" {
  fn-normalize --fit st.json -o tn.fns "$D/train.fns"
  fn-normalize --stats st.json -o vn.fns "$D/val.fns"
  fn-train "${TINY[@]}" --epochs 1 --val vn.fns -o m.safetensors <tn.fns
  run st_meta m.safetensors norm_mode
  assert_output dataset
  run st_meta m.safetensors norm_mean
  assert_output --regexp '^[0-9]+\.[0-9]+'
  run --separate-stderr bash -c 'fn-infer --device cpu -m m.safetensors vn.fns | fn-info'
  assert_success
  [ -z "$stderr" ] || fail "stderr: $stderr"
  assert_line --index 0 --partial "pred f32 [1,32,32]"
}

@test "same seed, same data: the same model, byte for byte; another seed: another model" {
  fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o again.safetensors <"$D/train.fns"
  cmp "$D/ref.safetensors" again.safetensors
  fn-train "${TINY[@]}" --epochs 1 --seed 4 --val "$D/val.fns" -o other.safetensors <"$D/train.fns"
  ! cmp -s "$D/ref.safetensors" other.safetensors
}

@test "with two threads too: the same seed gives the same bytes" {
  fn-train "${TINY[@]}" --threads 2 --epochs 1 --val "$D/val.fns" -o a.safetensors <"$D/train.fns"
  fn-train "${TINY[@]}" --threads 2 --epochs 1 --val "$D/val.fns" -o b.safetensors <"$D/train.fns"
  cmp a.safetensors b.safetensors
}

@test "stopped by kill -9 after epoch 2 and resumed: the model and state are bit-identical" {
  fn-train "${TINY[@]}" --epochs 4 --seed 3 --val "$D/val.fns" -o k.safetensors --log k.tsv \
    <"$D/train.fns" 2>/dev/null &
  pid=$!
  # the log is written after the state: two rows in it mean the state of epoch 2 is on disk
  for _ in $(seq 600); do
    [ "$(wc -l <k.tsv 2>/dev/null || echo 0)" -ge 3 ] && break
    sleep 0.02
  done
  kill -9 $pid
  wait $pid || true
  rows=$(($(wc -l <k.tsv) - 1))
  [ "$rows" -ge 2 ] && [ "$rows" -lt 4 ] || fail "the kill came at $rows epochs done"
  run st_meta k.safetensors.state epoch
  assert_output "$rows"
  # repeating the run's own settings (as pipelines/common.mk does) changes nothing
  run --separate-stderr fn-train "${TINY[@]}" --epochs 4 --seed 3 --lr 0.001 --val "$D/val.fns" \
    --resume k.safetensors.state --log k.tsv <"$D/train.fns"
  assert_success
  cmp "$D/ref.safetensors" k.safetensors
  # parameters, batch-norm statistics and Adam moments of the last epoch too
  cmp <(st_data "$D/ref.safetensors.state") <(st_data k.safetensors.state)
  # the log goes on from the state: the same columns as the reference but for the seconds
  diff <(cut -f1-5 "$D/ref.tsv") <(cut -f1-5 k.tsv)
}

@test "--resume of a missing state starts a new run that writes its state there" {
  fn-train "${TINY[@]}" --epochs 1 --seed 3 --val "$D/val.fns" -o m.safetensors --resume s.state <"$D/train.fns"
  [ -s s.state ] && [ ! -e m.safetensors.state ]
  fn-train --device cpu --threads 1 --epochs 4 --val "$D/val.fns" -o m.safetensors --resume s.state <"$D/train.fns"
  cmp "$D/ref.safetensors" m.safetensors
}

@test "--resume refuses other settings and other training frames" {
  fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o m.safetensors <"$D/train.fns"
  run --separate-stderr fn-train --device cpu --batch 4 --val "$D/val.fns" --resume m.safetensors.state <"$D/train.fns"
  assert_one_line_error fn-train
  assert_output ""
  [[ "$stderr" == *"--batch differs"* ]]
  run --separate-stderr fn-train --device cpu --val "$D/val.fns" --resume m.safetensors.state "$D/val.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == *"differ from those of the resumed run"* ]]
}

@test "--bn-recompute: recorded in the model and state, changes the statistics, and a resume keeps it" {
  fn-train "${TINY[@]}" --epochs 1 --bn-recompute --val "$D/val.fns" -o bn.safetensors <"$D/train.fns"
  run st_meta bn.safetensors options
  assert_output --partial "width=0.125 bn=recompute"
  # the weights are those of the plain run (the option touches only the statistics)
  fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o plain.safetensors <"$D/train.fns"
  run py -c "
import json, struct, sys, numpy as np
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], np.float32)
            for k, v in h.items() if k != '__metadata__'}
a, b = load('bn.safetensors'), load('plain.safetensors')
st = [k for k in a if k.endswith('running_mean') or k.endswith('running_var')]
w = [k for k in a if k not in st]
print(len(st) > 0, all(np.array_equal(a[k], b[k]) for k in w), sum(not np.array_equal(a[k], b[k]) for k in st) > 0)"
  assert_output "True True True"
  run --separate-stderr fn-train --device cpu --epochs 2 --val "$D/val.fns" --resume bn.safetensors.state <"$D/train.fns"
  assert_success
  run st_meta bn.safetensors.state bn_recompute
  assert_output 1
  run --separate-stderr fn-train --device cpu --epochs 2 --bn-recompute --val "$D/val.fns" --resume plain.safetensors.state <"$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == *"--bn-recompute differs"* ]]
}

@test "--bn-recompute keeps validation stable: after epoch 5 no epoch's Dice falls 0.03 below the best so far" {
  # 64 frames at batch 8: 8 steps an epoch, far fewer than the ~100 steps the running averages remember
  fn-synth -n 64 --size 32x32 --seed 1 -o t64.fns
  fn-synth -n 16 --size 32x32 --seed 2 -o v16.fns
  fn-train "${TINY[@]}" --epochs 12 --seed 3 --bn-recompute --val v16.fns -o rec.safetensors --log rec.tsv <t64.fns
  fn-train "${TINY[@]}" --epochs 12 --seed 3 --val v16.fns -o run.safetensors --log run.tsv <t64.fns
  run awk -F'\t' 'NR > 1 { if ($1 > 5 && best - $5 > 0.03) { print "epoch " $1 ": Dice " $5 ", best so far " best; bad = 1 }
                            if ($5 > best) best = $5 } END { exit bad }' rec.tsv
  assert_success
  # what it fixes: with the running averages, the validation Dice of the same weights lags far behind
  run awk -F'\t' 'NR == 6 { print ($5 < $11 - 0.3) ? "lags" : "does not lag: " $5 " against " $11 }' <(paste run.tsv rec.tsv)
  assert_output lags
}

@test "a diverging training stops with a message and keeps the last good model" {
  fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o m.safetensors <"$D/train.fns"
  cp m.safetensors good.safetensors
  run --separate-stderr fn-train --device cpu --epochs 3 --lr 1e30 --val "$D/val.fns" \
    --resume m.safetensors.state <"$D/train.fns"
  assert_one_line_error fn-train
  [[ "$stderr" == *"diverged"*"keeping the best model (epoch 1"* ]] || fail "$stderr"
  cmp good.safetensors m.safetensors
}

# ---- bad input: one line "fn-train: ...", exit 1, nothing written --------------------------------

bad() { # EXPECTED-TEXT fn-train args...
  local want=$1
  shift
  run --separate-stderr fn-train "$@"
  assert_one_line_error fn-train
  assert_output ""
  [[ "$stderr" == *"$want"* ]] || fail "expected '$want' in: $stderr"
  [ ! -e m.safetensors ] || fail "a model was written"
}

@test "a training stream without masks" {
  fn-synth -n 2 --size 32x32 | py -c "
import fnframes; fr = fnframes.read('-')
for f in fr: del f['mask']
fnframes.write('nomask.fns', fr)"
  bad "no mask" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors nomask.fns
}

@test "an empty training stream" {
  : >empty.fns
  bad "no frames" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors empty.fns
}

@test "images of different sizes or channels within a stream" {
  { fn-synth -n 1 --size 32x32; fn-synth -n 1 --size 48x48; } >sizes.fns
  bad "one size per stream" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors sizes.fns
  { fn-synth -n 1 --size 32x32; fn-synth -n 1 --size 32x32 --channels 3; } >chans.fns
  bad "frame 2" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors chans.fns
  fn-synth -n 2 --size 32x32 --channels 3 >rgb.fns
  bad "channels" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors rgb.fns
}

@test "a size that is not a multiple of 16" {
  fn-synth -n 2 --size 40x32 >odd.fns
  bad "multiples of 16" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors odd.fns
}

@test "NaN or Inf in an image" {
  fn-synth -n 2 --size 32x32 | py -c "
import fnframes, numpy as np; fr = fnframes.read('-')
fr[1]['image'] = fr[1]['image'].astype(np.float32); fr[1]['image'][0, 3, 4] = np.nan
fnframes.write('nan.fns', fr)"
  bad "NaN or Inf" "${TINY[@]}" --val "$D/val.fns" -o m.safetensors nan.fns
}

@test "a missing --val file, --device cuda without a GPU" {
  bad "nothere.fns" "${TINY[@]}" --val nothere.fns -o m.safetensors "$D/train.fns"
  export FN_CUDA_LIB=/nonexistent/libfn-cuda.so
  bad "no usable GPU" --device cuda --val "$D/val.fns" -o m.safetensors \
    "$D/train.fns"
}

@test "usage errors exit 2" {
  run --separate-stderr fn-train -o m.safetensors "$D/train.fns"
  assert_equal "$status" 2
  [[ "$stderr" == *"--val FILE is required"* ]]
  run --separate-stderr fn-train --val "$D/val.fns" "$D/train.fns"
  assert_equal "$status" 2
  run --separate-stderr fn-train --l2 maybe --val "$D/val.fns" -o m.safetensors
  assert_equal "$status" 2
  run --separate-stderr fn-train --width 0 --val "$D/val.fns" -o m.safetensors
  assert_equal "$status" 2
}

# --precision bf16 runs where oneDNN finds bf16 instructions (AVX512_BF16 or AMX), and is refused elsewhere
have_bf16() {
  fn-train --device cpu --precision bf16 --val "$D/val.fns" -o /dev/null /dev/null 2>&1 | grep -q "needs a CPU with bf16" && return 1
  return 0
}

@test "--precision bf16: best validation Dice near fp32's over 4 seeds, bit-reproducible, recorded, kept by --resume" {
  have_bf16 || skip "no bf16 instructions on this CPU (as oneDNN finds them)"
  fn-synth -n 64 --size 32x32 --seed 1 -o t64.fns
  fn-synth -n 16 --size 32x32 --seed 2 -o v16.fns
  local cfg=("${TINY[@]}" --epochs 8 --seed 3 --bn-recompute --val v16.fns)
  local s
  for s in 3 4 5 6; do
    fn-train "${cfg[@]}" --seed "$s" -o "f-$s.safetensors" --log "f-$s.tsv" <t64.fns
    fn-train "${cfg[@]}" --seed "$s" --precision bf16 -o "b-$s.safetensors" --log "b-$s.tsv" <t64.fns
  done
  cp f-3.safetensors f.safetensors
  cp f-3.safetensors.state f.safetensors.state
  cp b-3.safetensors b.safetensors
  # the best validation Dice of each run (column 5's largest), averaged over the seeds. On 16 frames of a
  # width-0.125 net one seed's best differs between the precisions by up to 0.055 either way (Intel Xeon
  # (AMX), seeds 3 to 6: -0.018, +0.010, -0.055, +0.011; a trial build whose sums added in another order
  # moved them to +0.026, -0.019, -0.025, -0.007), while the 4-seed means were 0.013 and 0.006 apart: one
  # seed against a bound of 0.02 passed or failed by the luck of its trajectory. The recipe-scale
  # comparison (within 0.005) is in pipelines/RESULTS.md
  run awk -F'\t' 'FNR > 1 && $5 > m[FILENAME] { m[FILENAME] = $5 }
                  END { for (f in m) { s[f ~ /^b/] += m[f]; n[f ~ /^b/]++ }
                        d = s[0] / n[0] - s[1] / n[1]; printf "fp32 %.4f bf16 %.4f\n", s[0] / n[0], s[1] / n[1]
                        exit !(n[0] == 4 && n[1] == 4 && (d <= 0.03 && d >= -0.03)) }' f-3.tsv f-4.tsv f-5.tsv f-6.tsv \
                  b-3.tsv b-4.tsv b-5.tsv b-6.tsv
  assert_success
  ! cmp -s f.safetensors b.safetensors || fail "bf16 wrote fp32's model"
  fn-train "${cfg[@]}" --precision bf16 --epochs 2 -o b2.safetensors <t64.fns
  fn-train "${cfg[@]}" --precision bf16 --epochs 2 -o b3.safetensors <t64.fns
  cmp b2.safetensors b3.safetensors
  run st_meta b2.safetensors.state precision
  assert_output bf16
  run st_meta f.safetensors.state precision
  assert_output fp32
  run st_meta b2.safetensors options
  assert_output --partial "precision=bf16"
  # the model file stays F32
  run py -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); print(sorted({v['dtype'] for k, v in h.items() if k != '__metadata__'}))" b2.safetensors
  assert_output "['F32']"
  # a resume keeps bf16 (2 + 6 epochs = the 8-epoch run, bit for bit) and refuses fp32
  run --separate-stderr fn-train --device cpu --precision fp32 --val v16.fns --resume b2.safetensors.state <t64.fns
  assert_failure 1
  [[ "$stderr" == *"--precision differs from the resumed run's"* ]] || fail "stderr: $stderr"
  fn-train --device cpu --threads 1 --epochs 8 --val v16.fns --resume b2.safetensors.state <t64.fns
  cmp b2.safetensors b.safetensors
}

@test "--precision bf16 without bf16 instructions (ONEDNN_MAX_CPU_ISA=AVX2): one line, exit 1, nothing written" {
  run --separate-stderr env ONEDNN_MAX_CPU_ISA=AVX2 fn-train "${TINY[@]}" --epochs 1 --precision bf16 \
    --val "$D/val.fns" -o m.safetensors "$D/train.fns"
  assert_failure 1
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "stderr: $stderr"
  [[ "$stderr" == "fn-train: --precision bf16 needs a CPU with bf16 instructions"* ]] || fail "stderr: $stderr"
  [ ! -e m.safetensors ]
  # tf32 is CUDA's: the CPU backend refuses it in one line (a usage error only for a name fn does not know)
  run --separate-stderr fn-train "${TINY[@]}" --precision tf32 --val "$D/val.fns" -o m.safetensors "$D/train.fns"
  assert_failure 1
  assert_output ""
  assert_equal "$stderr" "fn-train: --precision tf32 is not available on the CPU (fp32 or bf16)"
  [ ! -e m.safetensors ]
  run --separate-stderr fn-train "${TINY[@]}" --precision fp16 --val "$D/val.fns" -o m.safetensors "$D/train.fns"
  assert_failure 2
  [[ "$stderr" == "fn-train: --precision takes fp32, tf32 or bf16, not 'fp16'"* ]] || fail "stderr: $stderr"
  [ ! -e m.safetensors ]
  run env ONEDNN_MAX_CPU_ISA=AVX2 fn-train "${TINY[@]}" --epochs 1 --precision fp32 --val "$D/val.fns" -o m.safetensors "$D/train.fns"
  assert_success
}

# the data part of a safetensors file (what follows the header): the tensors, without the metadata
st_data() { py -c "import struct,sys,hashlib; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; f.read(n); print(hashlib.sha256(f.read()).hexdigest())" "$1"; }

@test "--deterministic: accepted on the CPU and changes nothing there (always deterministic); recorded, kept by --resume" {
  fn-train "${TINY[@]}" --epochs 1 --val "$D/val.fns" -o a.safetensors "$D/train.fns"
  fn-train "${TINY[@]}" --epochs 1 --deterministic --val "$D/val.fns" -o b.safetensors "$D/train.fns"
  assert_equal "$(st_data a.safetensors)" "$(st_data b.safetensors)"
  run st_meta b.safetensors.state deterministic
  assert_output 1
  run st_meta a.safetensors.state deterministic
  assert_output 0
  run st_meta b.safetensors options
  assert_output --partial "deterministic=on"
  # a resume keeps it (and may turn it on); the result is the 2-epoch run's either way on the CPU
  fn-train "${TINY[@]}" --epochs 2 --val "$D/val.fns" -o c.safetensors "$D/train.fns"
  fn-train --device cpu --threads 1 --epochs 2 --val "$D/val.fns" --resume b.safetensors.state "$D/train.fns"
  run st_meta b.safetensors.state deterministic
  assert_output 1
  fn-train --device cpu --threads 1 --epochs 2 --deterministic --val "$D/val.fns" --resume a.safetensors.state "$D/train.fns"
  run st_meta a.safetensors.state deterministic
  assert_output 1
  assert_equal "$(st_data a.safetensors)" "$(st_data c.safetensors)"
  assert_equal "$(st_data b.safetensors)" "$(st_data c.safetensors)"
  run --separate-stderr fn-train "${TINY[@]}" --deterministic=yes --val "$D/val.fns" -o d.safetensors "$D/train.fns"
  assert_failure 2
  [ ! -e d.safetensors ]
}
