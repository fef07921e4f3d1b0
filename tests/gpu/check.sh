#!/usr/bin/env bash
# check.sh: the one script for a GPU machine. From the repository root:
#
#   bash tests/gpu/check.sh --prepare          # here, on the development machine (no GPU needed)
#   bash tests/gpu/check.sh [GOLDEN=FILE] [REF=DIR]   # there, on the GPU machine
#
# --prepare builds the CUDA backend and the self-contained test program and puts them, with copies of
# ../shared/golden and ../shared/reference, into the git-ignored folder ext/:
#   ext/gpu/libfn-cuda.so   ext/gpu/gpu-check   ext/golden/...   ext/reference/...
# (gpu-check links its third-party libraries statically, because the GPU machine lacks the -dev
# packages that `make tools` needs). Then, with the device tool, copy-ready:
#   run  command: bash tests/gpu/check.sh GOLDEN=ext/golden/focusnet_c1_2x32x32.safetensors REF=ext/reference
#        carry:   ["ext"]      timeout_s: 560
#
# On the GPU machine it: prints the GPU; uses ext/gpu/* (or, without them, builds with make there;
# if the prebuilt library does not load, it rebuilds it there with nvcc and the system cuDNN); runs
#   1. gpu-check parity    every op, CUDA against the CPU backend: fp32 with deterministic algorithms (1e-4
#                          for convolutions, bitwise determinism rows), then tf32 against the CPU's fp32
#                          and bf16 against the CPU's bf16 (its fp32 where gpu-check has no oneDNN, as the
#                          prepared one) with the bounds derived in parity.c, the weight cache, adam_segs,
#                          FocusNet in each precision, and FocusNet with non-deterministic algorithms
#   2. gpu-check golden    the golden file and tests/golden/* on CUDA in fp32; FocusNet's in tf32 and bf16
#                          with lib/nn/golden.h's widened bounds (u = 2^-10 for tf32, 2^-8 for bf16)
#   3. gpu-check train     300 steps of FocusNet on fn-synth's data (64x64, batch 8), fp32 and bf16: the
#                          validation Dice within 0.01
#   4. gpu-check bench     fn's training (batch 8) and inference (batch 32) img/s, FocusNet 3ch 256x256,
#                          in bf16, tf32, fp32 (the default, fastest algorithms) and fp32 --deterministic
#   5. tests/gpu/torch_rows.py $REF   PyTorch's best per precision (and deterministic) in the same run
# each under a time limit (450 s in all, FN_CHECK_DEADLINE), the full outputs in $OUT (the device tool's
# folder that comes back; else a temporary folder), and a summary table last. Exit 1 when anything failed
# (parity, golden, the training Dice, the backend not opening, a benchmark crashing); PyTorch's rows are
# informative.
# To try this script itself without a GPU (on the development machine, after --prepare):
#   FN_CHECK_DEVICE=cpu FN_CHECK_BENCH='--size 32 --repeats 1 --warmup 1 --train-batch 2 --infer-batch 2' \
#   FN_CHECK_TRAIN='--steps 3 --size 32 --width 0.125 --ntrain 16 --nval 4' bash tests/gpu/check.sh
set -u
cd "$(dirname "$0")/../.." || exit 1

GOLDEN=${GOLDEN:-ext/golden/focusnet_c1_2x32x32.safetensors}
REF=${REF:-ext/reference}
SHARED=${SHARED:-../shared}
PREPARE=0
for a in "$@"; do
    case "$a" in
    --prepare) PREPARE=1 ;;
    GOLDEN=*) GOLDEN=${a#GOLDEN=} ;;
    REF=*) REF=${a#REF=} ;;
    SHARED=*) SHARED=${a#SHARED=} ;;
    -h | --help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done

# --- on the development machine ------------------------------------------------------------------
if [ "$PREPARE" = 1 ]; then
    set -e
    make -j"$(nproc)" BUILD=build-gpu DNNL=0 cuda build-gpu/tests/gpu-check
    mkdir -p ext/gpu
    cp build-gpu/libfn-cuda.so build-gpu/tests/gpu-check ext/gpu/
    for d in golden reference; do
        if [ ! -d "ext/$d" ]; then
            if [ -d "$SHARED/$d" ]; then cp -r "$SHARED/$d" "ext/$d"; else echo "check.sh: $SHARED/$d not found: copy it into ext/$d" >&2; fi
        fi
    done
    chmod -R u+w ext
    if ldd ext/gpu/gpu-check | grep -v -E 'linux-vdso|libc\.so|libm\.so|ld-linux|libdl\.so|libpthread\.so|librt\.so' | grep -q .; then
        echo "check.sh: warning: ext/gpu/gpu-check needs more than glibc:" >&2
        ldd ext/gpu/gpu-check >&2
    fi
    ls -la ext/gpu ext/golden ext/reference
    du -sh ext
    echo "prepared. On the GPU machine (device tool: command below, carry [\"ext\"], timeout_s 560):"
    echo "  bash tests/gpu/check.sh GOLDEN=$GOLDEN REF=$REF"
    exit 0
fi

# --- on the GPU machine ----------------------------------------------------------------------------
T0=$(date +%s)
LOG=${OUT:-}
if [ -z "$LOG" ]; then LOG=$(mktemp -d /tmp/fn-gpu-check.XXXXXX); fi
mkdir -p "$LOG"

TMPD=$(mktemp -d /tmp/fn-gpu-tmp.XXXXXX) # what need not come back ($OUT takes at most 8 files)

main() {
export PATH="$PATH:/usr/local/cuda/bin"
unset FN_CUDA_FIND FN_CUDA_VERBOSE
FAIL=0
declare -A RES

DEADLINE=${FN_CHECK_DEADLINE:-450} # seconds for the whole script; each step is cut to what is left
lim() {                             # min(the step's own limit, what is left before the deadline)
    local left=$((DEADLINE - ($(date +%s) - T0)))
    if [ "$left" -gt "$1" ]; then echo "$1"; elif [ "$left" -gt 20 ]; then echo "$left"; else echo 20; fi
}
say() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - T0)); }

say "GPU"
date -u '+%Y-%m-%d %H:%M UTC'
timeout 30 nvidia-smi -L || echo "nvidia-smi failed"
GPU_NAME=$(timeout 30 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
echo "GPU: ${GPU_NAME:-unknown}; system cuDNN: $(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name 'libcudnn.so.9.*' 2> /dev/null | head -1)"

say "binaries"
GC=ext/gpu/gpu-check
export FN_CUDA_LIB=$PWD/ext/gpu/libfn-cuda.so
[ -f "$GC" ] && [ ! -x "$GC" ] && chmod +x "$GC"
if [ ! -x "$GC" ] || [ ! -f "$FN_CUDA_LIB" ]; then
    echo "no prebuilt ext/gpu (run tests/gpu/check.sh --prepare on the development machine): building here"
    if timeout 400 make -j16 BUILD=build-gpu DNNL=0 cuda build-gpu/tests/gpu-check > "$TMPD/build.txt" 2>&1; then
        GC=build-gpu/tests/gpu-check
        FN_CUDA_LIB=$PWD/build-gpu/libfn-cuda.so
    else
        tail -20 "$TMPD/build.txt"
        echo "check.sh: the build failed"
        return 1
    fi
fi
ls -la "$GC" "$FN_CUDA_LIB"
ldd "$FN_CUDA_LIB" | grep -E 'cudnn|not found'

# the backend must open; when the library is the problem (it does not load, or has no code for this
# GPU), try one built here with nvcc and the system cuDNN, then a libcudnn.so.9 found elsewhere
DEV=${FN_CHECK_DEVICE:-cuda}
read -r -a BARGS <<< "${FN_CHECK_BENCH:-}"
open_cuda() { timeout 120 "$GC" open "$DEV" 2>&1 | tee "$TMPD/open.txt"; [ "${PIPESTATUS[0]}" = 0 ]; }
if ! open_cuda; then
    if grep -q -E 'libcudnn|\.so|symbol|kernel image|first kernel|PTX|cuDNN' "$TMPD/open.txt" && command -v nvcc > /dev/null; then
        echo "rebuilding libfn-cuda.so here with $(command -v nvcc)"
        if timeout 300 make -j16 BUILD=build-gpu-here cuda > "$TMPD/build-cuda.txt" 2>&1; then
            export FN_CUDA_LIB=$PWD/build-gpu-here/libfn-cuda.so
        else
            tail -20 "$TMPD/build-cuda.txt"
        fi
        open_cuda || true
    fi
    if grep -q 'libcudnn' "$TMPD/open.txt"; then
        lib=$(timeout 60 find / -xdev -name 'libcudnn.so.9' 2> /dev/null | head -1)
        if [ -n "$lib" ]; then
            echo "trying cuDNN at $lib"
            LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            export LD_LIBRARY_PATH
        fi
    fi
    if ! open_cuda; then
        echo "check.sh: the CUDA backend does not open: nothing else to check"
        return 1
    fi
fi

say "1. parity: every op, CUDA against CPU, in fp32 (deterministic), tf32 and bf16 (full table in parity.txt)"
timeout -k 10 "$(lim 150)" "$GC" parity --device "$DEV" > "$LOG/parity.txt" 2>&1
rc=$?
grep -E 'FAIL|worst|parity|kept|^-- ' "$LOG/parity.txt" | head -80
n_of() { grep -c -E "$1" "$LOG/parity.txt"; }
if [ $rc = 0 ]; then
    RES[parity]="ok ($(grep -o '[0-9]* checks' "$LOG/parity.txt" | tail -1))"
else
    FAIL=1
    RES[parity]="FAIL (rc $rc: $(grep -c FAIL "$LOG/parity.txt") rows; parity.txt)"
    tail -5 "$LOG/parity.txt"
    if command -v compute-sanitizer > /dev/null && [ $(($(date +%s) - T0)) -lt 200 ]; then
        echo "-- memcheck of a quick parity run (sanitizer.txt)"
        timeout -k 10 "$(lim 90)" compute-sanitizer --tool memcheck --print-limit 20 "$GC" parity --quick > "$LOG/sanitizer.txt" 2>&1
        grep -E 'ERROR SUMMARY|Invalid|out of bounds|at 0x' "$LOG/sanitizer.txt" | head -20
    fi
fi
# per precision: the rows of each section (fp32 runs from the top to the tf32 section)
for sec in tf32 bf16; do
    RES[parity_$sec]=$(awk -v s="-- precision $sec" '$0 ~ /^-- precision/ { on = ($0 == s) } on && / (ok|FAIL)$/ { n++; if ($NF == "FAIL") f++ }
        END { if (!n) print "not run"; else printf "%d checks, %d failed\n", n, f }' "$LOG/parity.txt")
done

say "2. golden check on the CUDA backend: fp32 (every file), tf32 and bf16 (FocusNet, widened bounds)"
if [ -f "$GOLDEN" ]; then
    timeout -k 10 "$(lim 40)" "$GC" golden --device "$DEV" "$GOLDEN" tests/golden/*.safetensors > "$LOG/golden.txt" 2>&1
    rc=$?
    cat "$LOG/golden.txt"
    if [ $rc = 0 ]; then RES[golden]=ok; else FAIL=1; RES[golden]="FAIL (rc $rc)"; fi
    for pr in tf32 bf16; do
        if [ "$DEV" = cpu ] && [ $pr = tf32 ]; then RES[golden_$pr]="- (CUDA only)"; continue; fi
        # on the CPU (FN_CHECK_DEVICE=cpu) bf16 needs oneDNN, which the prepared gpu-check lacks: skipped there
        timeout -k 10 "$(lim 30)" "$GC" golden --device "$DEV" --precision $pr $([ "$DEV" = cpu ] && echo --if-supported) \
            "$GOLDEN" >> "$LOG/golden.txt" 2>&1
        rc=$?
        grep -E "precision|$pr|FAIL|passed|skipped" "$LOG/golden.txt" | tail -3
        if [ $rc = 0 ]; then RES[golden_$pr]=ok; else FAIL=1; RES[golden_$pr]="FAIL (rc $rc)"; fi
    done
else
    echo "golden file $GOLDEN not found"
    FAIL=1
    RES[golden]="FAIL (no golden file $GOLDEN)"
fi

say "3. a ${TRAIN_STEPS:-300}-step training on fn-synth's data, fp32 and bf16: validation Dice within 0.01"
read -r -a TARGS <<< "${FN_CHECK_TRAIN:-}"
for pr in fp32 bf16; do
    timeout -k 10 "$(lim 45)" env FN_CUDA_FIND=0 "$GC" train --device "$DEV" --precision $pr "${TARGS[@]}" > "$LOG/train-$pr.txt" 2>&1
    rc=$?
    cat "$LOG/train-$pr.txt"
    RES[dice_$pr]=$(sed -n 's/^RESULT.* val_dice=\([0-9.]*\).*/\1/p' "$LOG/train-$pr.txt")
    if [ $rc != 0 ] || [ -z "${RES[dice_$pr]}" ]; then
        if [ "$DEV" = cpu ] && grep -q -E 'oneDNN|bf16 instructions' "$LOG/train-$pr.txt"; then RES[dice_$pr]="- (no bf16 here)"
        else FAIL=1; RES[dice_$pr]="FAIL (rc $rc)"; fi
    fi
done
RES[dice]="-"
if [[ "${RES[dice_fp32]}" =~ ^[0-9.]+$ ]] && [[ "${RES[dice_bf16]}" =~ ^[0-9.]+$ ]]; then
    if awk -v a="${RES[dice_fp32]}" -v b="${RES[dice_bf16]}" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }'; then
        RES[dice]="ok"
    else
        FAIL=1
        RES[dice]="FAIL (differ by more than 0.01)"
    fi
fi

bench() { # name, limit, then the arguments of gpu-check bench
    local name=$1
    shift
    local l=$1
    shift
    timeout -k 10 "$l" "$GC" bench --device "$DEV" "$@" "${BARGS[@]}" > "$LOG/bench-$name.txt" 2>&1
    local rc=$?
    grep -E '^(bench|fn |profile)' "$LOG/bench-$name.txt"
    if grep -q '^fn: CUDA conv' "$LOG/bench-$name.txt"; then
        echo "cuDNN algorithm choices: $(grep -c '^fn: CUDA conv.*algo' "$LOG/bench-$name.txt"), fallbacks (no" \
            "acceptable algorithm found): $(grep -c '(fallback)' "$LOG/bench-$name.txt"), bf16 emulated: $(grep -c 'bf16 emulated' "$LOG/bench-$name.txt")"
    fi
    local r
    r=$(grep '^RESULT' "$LOG/bench-$name.txt" | tail -1)
    if [ $rc != 0 ] || [ -z "$r" ]; then
        if [ "$DEV" = cpu ] && grep -q -E 'oneDNN|bf16 instructions|not available on the CPU' "$LOG/bench-$name.txt"; then
            RES[fn_train_$name]="-"; RES[fn_infer_$name]="-"; return
        fi
        FAIL=1
        tail -5 "$LOG/bench-$name.txt"
        RES[fn_train_$name]="FAIL"
        RES[fn_infer_$name]="FAIL"
        return
    fi
    RES[fn_train_$name]=$(sed -n 's/.* train_img_s=\([0-9.]*\).*/\1/p' <<< "$r")
    RES[fn_infer_$name]=$(sed -n 's/.* infer_img_s=\([0-9.]*\).*/\1/p' <<< "$r")
    RES[fn_mib_$name]=$(sed -n 's/.* train_mib=\([0-9.]*\).*/\1/p' <<< "$r")
    RES[fn_used_$name]=$(sed -n 's/.* train_used_mib=\([0-9.]*\).*/\1/p' <<< "$r")
}

say "4. fn speed: FocusNet 3ch 256x256, train batch 8, inference batch 32, per precision and --deterministic"
FN_CUDA_VERBOSE=1 bench bf16 "$(lim 50)" --precision bf16 --repeats 5 --warmup 2
bench tf32 "$(lim 45)" --precision tf32 --repeats 5 --warmup 2
bench fp32 "$(lim 45)" --precision fp32 --repeats 5 --warmup 2
FN_CUDA_VERBOSE=1 bench det "$(lim 50)" --precision fp32 --deterministic --repeats 5 --warmup 2 --infer-batch 0

say "5. PyTorch's best per precision in the same run: tests/gpu/torch_rows.py over $REF/torch_bench.py"
for k in train_fp32 infer_fp32 train_tf32 infer_tf32 train_bf16 infer_bf16 train_det mem_fp32 mem_bf16; do RES[torch_$k]="-"; done
if [ -f "$REF/torch_bench.py" ]; then
    left=$(lim 130)
    if [ "$left" -lt 40 ]; then
        echo "skipped: too little time left"
    else
        OUT=$LOG timeout -k 10 "$left" python3 tests/gpu/torch_rows.py "$REF" > "$LOG/torch.txt" 2>&1
        echo "rc $? (torch.txt, torch_bench.json)"
        if [ -f "$LOG/torch_bench.json" ]; then
            eval "$(python3 - "$LOG/torch_bench.json" << 'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = {"torch_train_fp32": "train_fp32_bs8_cin3_img_s", "torch_infer_fp32": "infer_fp32_bs32_cin3_img_s",
        "torch_train_tf32": "train_tf32_cl_bs8_cin3_img_s", "torch_infer_tf32": "infer_tf32_bs32_cin3_img_s",
        "torch_train_bf16": "train_bf16_cl_bs8_cin3_img_s", "torch_infer_bf16": "infer_bf16_cl_bs32_cin3_img_s",
        "torch_train_det": "train_fp32_det_bs8_cin3_img_s",
        "torch_mem_fp32": "train_fp32_bs8_cin3_peakGiB", "torch_mem_bf16": "train_bf16_cl_bs8_cin3_peakGiB"}
for k, v in keys.items():
    print(f"RES[{k}]={r.get(v, '-')!s}")
print(f"TORCH_VER='{r.get('torch', '?')} cuDNN {r.get('cudnn', '?')}'")
EOF
)"
        else
            tail -5 "$LOG/torch.txt"
        fi
    fi
else
    echo "$REF/torch_bench.py not found: skipped"
fi

say "summary"
echo "GPU: ${GPU_NAME:-unknown}, $(date -u '+%Y-%m-%d'), PyTorch ${TORCH_VER:-not run}"
echo "backend: $("$GC" open "$DEV" 2> /dev/null | head -1)"
printf '%-30s %s\n' "parity fp32/tf32/bf16" "${RES[parity]:-not run}"
printf '%-30s %s\n' "  of which tf32" "${RES[parity_tf32]:-not run}"
printf '%-30s %s\n' "  of which bf16" "${RES[parity_bf16]:-not run}"
printf '%-30s %s\n' "golden fp32 (CUDA)" "${RES[golden]:-not run}"
printf '%-30s %s\n' "golden tf32, bf16 (widened)" "${RES[golden_tf32]:-not run}, ${RES[golden_bf16]:-not run}"
printf '%-30s %s\n' "synth training val Dice" "fp32 ${RES[dice_fp32]:-not run}, bf16 ${RES[dice_bf16]:-not run}: ${RES[dice]:-not run}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
row() { printf '%-30s %12s %12s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
printf '%-30s %12s %12s %8s\n' "img/s" "fn" "PyTorch" "ratio"
row "train fp32 (batch 8)" "${RES[fn_train_fp32]:--}" "${RES[torch_train_fp32]}"
row "train tf32" "${RES[fn_train_tf32]:--}" "${RES[torch_train_tf32]}"
row "train bf16" "${RES[fn_train_bf16]:--}" "${RES[torch_train_bf16]}"
row "train fp32 deterministic" "${RES[fn_train_det]:--}" "${RES[torch_train_det]}"
row "infer fp32 (batch 32)" "${RES[fn_infer_fp32]:--}" "${RES[torch_infer_fp32]}"
row "infer tf32" "${RES[fn_infer_tf32]:--}" "${RES[torch_infer_tf32]}"
row "infer bf16" "${RES[fn_infer_bf16]:--}" "${RES[torch_infer_bf16]}"
printf '%-30s %20s %12s\n' "train memory" "fn net / in use, MiB" "PyTorch peak"
for m in fp32 tf32 bf16 det; do
    printf '%-30s %20s %12s\n' "  $m" "${RES[fn_mib_$m]:--} / ${RES[fn_used_$m]:--}" \
        "$(case $m in fp32 | det) echo "${RES[torch_mem_fp32]:--} GiB" ;; bf16) echo "${RES[torch_mem_bf16]:--} GiB" ;; *) echo - ;; esac)"
done
echo "targets (issue 21, against PyTorch's best): train fp32 1.2x, tf32 1.5x, bf16 2x; infer 2x; deterministic 1x"
echo "logs: $LOG"; (cd "$LOG" && echo ./*)
if [ $FAIL = 0 ]; then echo "check.sh: all passed ($(($(date +%s) - T0)) s)"; else echo "check.sh: FAILED ($(($(date +%s) - T0)) s)"; fi
return $FAIL
}

main 2>&1 | tee "$LOG/check.log"
exit "${PIPESTATUS[0]}"
