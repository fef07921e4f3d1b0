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
#   1. gpu-check parity          every op, CUDA against the CPU backend (tolerance 1e-4 for fp32 conv)
#   2. gpu-check golden          the whole FocusNet on the CUDA backend against the golden file, then
#                                tests/golden/*: FocusNet 3-channel and each fn-train --arch network
#   3. gpu-check bench           fn's training (batch 8) and inference (batch 32) img/s, FocusNet 3ch
#                                256x256, fp32 (TF32 off), then the same with FN_CUDA_TF32=1
#   4. python3 $REF/torch_bench.py   the PyTorch anchor in the same run (its fp32 and TF32 rows)
# each under a time limit (500 s in all, FN_CHECK_DEADLINE), the full outputs in $OUT (the device tool's folder
# that comes back; else a temporary folder), and a summary table last. Exit 1 when anything failed
# (parity, golden, the backend not opening, a benchmark crashing); the PyTorch anchor is informative.
# To try this script itself without a GPU: FN_CHECK_DEVICE=cpu FN_CHECK_BENCH='--size 32 --repeats 1'.
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
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
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
unset FN_CUDA_TF32 FN_CUDA_NONDET FN_CUDA_FIND
FAIL=0
declare -A RES

DEADLINE=${FN_CHECK_DEADLINE:-500} # seconds for the whole script; each step is cut to what is left
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

say "1. parity: every op, CUDA against CPU (full table in parity.txt)"
timeout -k 10 "$(lim 240)" "$GC" parity --device "$DEV" > "$LOG/parity.txt" 2>&1
rc=$?
grep -E 'FAIL|worst|parity:|kept' "$LOG/parity.txt" | head -60
if [ $rc = 0 ]; then
    RES[parity]="ok ($(grep -o '[0-9]* checks' "$LOG/parity.txt" | tail -1))"
else
    FAIL=1
    RES[parity]="FAIL (rc $rc: $(grep -c FAIL "$LOG/parity.txt") rows; parity.txt)"
    tail -5 "$LOG/parity.txt"
    if command -v compute-sanitizer > /dev/null && [ $(($(date +%s) - T0)) -lt 200 ]; then
        echo "-- memcheck of a quick parity run (sanitizer.txt)"
        timeout -k 10 "$(lim 120)" compute-sanitizer --tool memcheck --print-limit 20 "$GC" parity --quick > "$LOG/sanitizer.txt" 2>&1
        grep -E 'ERROR SUMMARY|Invalid|out of bounds|at 0x' "$LOG/sanitizer.txt" | head -20
    fi
fi

say "2. golden check on the CUDA backend"
if [ -f "$GOLDEN" ]; then
    timeout -k 10 "$(lim 120)" "$GC" golden --device "$DEV" "$GOLDEN" tests/golden/*.safetensors > "$LOG/golden.txt" 2>&1
    rc=$?
    cat "$LOG/golden.txt"
    if [ $rc = 0 ]; then RES[golden]=ok; else FAIL=1; RES[golden]="FAIL (rc $rc)"; fi
else
    echo "golden file $GOLDEN not found"
    FAIL=1
    RES[golden]="FAIL (no golden file $GOLDEN)"
fi

bench() { # name, env..., then the arguments
    local name=$1
    shift
    timeout -k 10 "$@" > "$LOG/bench-$name.txt" 2>&1
    local rc=$?
    grep -E '^(bench|fn )' "$LOG/bench-$name.txt"
    if grep -q '^fn: CUDA conv' "$LOG/bench-$name.txt"; then
        echo "cuDNN algorithm choices: $(grep -c '^fn: CUDA conv' "$LOG/bench-$name.txt"), of which fallbacks (no" \
            "acceptable algorithm found): $(grep -c '(fallback)' "$LOG/bench-$name.txt")"
    fi
    local r
    r=$(grep '^RESULT' "$LOG/bench-$name.txt" | tail -1)
    if [ $rc != 0 ] || [ -z "$r" ]; then
        FAIL=1
        tail -5 "$LOG/bench-$name.txt"
        RES[fn_train_$name]="FAIL"
        RES[fn_infer_$name]="FAIL"
        return
    fi
    RES[fn_train_$name]=$(sed -n 's/.* train_img_s=\([0-9.]*\).*/\1/p' <<< "$r")
    RES[fn_infer_$name]=$(sed -n 's/.* infer_img_s=\([0-9.]*\).*/\1/p' <<< "$r")
    RES[fn_mib_$name]=$(sed -n 's/.* train_mib=\([0-9.]*\).*/\1/p' <<< "$r")
}

say "3. fn speed: FocusNet 3ch 256x256, train batch 8, inference batch 32"
bench fp32 "$(lim 120)" env FN_CUDA_VERBOSE=1 "$GC" bench --device "$DEV" "${BARGS[@]}"
bench tf32 "$(lim 100)" env FN_CUDA_TF32=1 "$GC" bench --device "$DEV" --repeats 6 "${BARGS[@]}"

say "4. PyTorch anchor: $REF/torch_bench.py"
RES[torch_train_fp32]="-"; RES[torch_infer_fp32]="-"; RES[torch_train_tf32]="-"; RES[torch_infer_tf32]="-"
if [ -f "$REF/torch_bench.py" ]; then
    left=$(lim 240)
    if [ "$left" -lt 60 ]; then
        echo "skipped: too little time left"
    else
        TB_OUT=$LOG
        OUT=$TB_OUT timeout -k 10 "$left" python3 "$REF/torch_bench.py" > "$LOG/torch.txt" 2>&1
        echo "rc $? (torch.txt, torch_bench.json)"
        if [ -f "$TB_OUT/torch_bench.json" ]; then
            eval "$(python3 - "$TB_OUT/torch_bench.json" << 'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = {"torch_train_fp32": "train_fp32_bs8_cin3_img_s", "torch_infer_fp32": "infer_fp32_bs32_cin3_img_s",
        "torch_train_tf32": "train_tf32_bs8_cin3_img_s", "torch_infer_tf32": "infer_tf32_bs32_cin3_img_s",
        "torch_mem_fp32": "train_fp32_bs8_cin3_peakGiB"}
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
printf '%-26s %s\n' "parity (CUDA vs CPU)" "${RES[parity]:-not run}"
printf '%-26s %s\n' "golden (CUDA)" "${RES[golden]:-not run}"
printf '%-26s %14s %14s\n' "img/s" "fn" "PyTorch"
printf '%-26s %14s %14s\n' "train fp32 (batch 8)" "${RES[fn_train_fp32]:--}" "${RES[torch_train_fp32]}"
printf '%-26s %14s %14s\n' "infer fp32 (batch 32)" "${RES[fn_infer_fp32]:--}" "${RES[torch_infer_fp32]}"
printf '%-26s %14s %14s\n' "train TF32 (batch 8)" "${RES[fn_train_tf32]:--}" "${RES[torch_train_tf32]}"
printf '%-26s %14s %14s\n' "infer TF32 (batch 32)" "${RES[fn_infer_tf32]:--}" "${RES[torch_infer_tf32]}"
printf '%-26s %14s %14s\n' "train memory fp32" "${RES[fn_mib_fp32]:--} MiB" "${RES[torch_mem_fp32]:--} GiB"
echo "logs: $LOG"; (cd "$LOG" && echo ./*)
if [ $FAIL = 0 ]; then echo "check.sh: all passed ($(($(date +%s) - T0)) s)"; else echo "check.sh: FAILED ($(($(date +%s) - T0)) s)"; fi
return $FAIL
}

main 2>&1 | tee "$LOG/check.log"
exit "${PIPESTATUS[0]}"
