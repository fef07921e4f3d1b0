#!/usr/bin/env bash
# FocusNet speed on the CPU: images/s of inference at 256x256 (batch 1 and 8) and of a training step
# at 128x128 (batch 8: forward, Dice loss, backward, Adam), the paper's network (width 1, 3 input
# channels), on $THREADS threads (default 2), for fn (tests/tools/bench-net) and, in the same run, for
# the PyTorch reference ../shared/reference/torch_focusnet.py under Debian's python3-torch (skipped,
# with a note, when it is not installed). Then the same for each comparison network of fn-train --arch
# ($ARCHS) against tests/golden/torch_unets.py's definition of it, at $ARCH_WIDTH (default 0.5, both
# sides) on $ARCH_CASES (default inference at 128x128, batch 1 and 8, and a 128x128 training step of
# batch 8): sizes that a shared 2-core machine runs in a few minutes. ARCHS=focusnet runs FocusNet only;
# FOCUSNET_WIDTH (default 1) runs FocusNet's $CASES at another width (both sides; the recipes' scale,
# e.g. FOCUSNET_WIDTH=0.25 CASES=train128b8 for pipelines/lungct.mk's runs in pipelines/RESULTS.md). Each case runs in its own process: one warm-up, then
# $REPEATS timed runs (default 3), the median; peak memory is that process's maximum resident set size
# (/usr/bin/time -v). Ratios > 1 mean fn is faster (speed) or smaller (memory: torch / fn).
# The machine may be noisy: the two sides alternate case by case.
# TORCH_PY (default /usr/bin/python3) is the interpreter of the torch side, e.g. a virtual environment
# with PyTorch 2 and onnxruntime from PyPI; RUNTIMES (default eager) the ways torch_net.py runs the
# model (RUNTIME=): eager, cl (channels_last), compile (torch.compile), cl-bf16 and compile-bf16 (the
# same under torch.autocast("cpu", torch.bfloat16): PyTorch's CPU bf16) and ort (ONNX Runtime, inference
# only: n/a on a training case). FN_PRECISION (default fp32) is fn's --precision (bf16: on a CPU with
# bf16 instructions), e.g. FN_PRECISION=bf16 RUNTIMES="cl compile cl-bf16 compile-bf16". With several, the table has one column per runtime, the best img/s
# of the case and which runtime gave it, fn's speed against that best, and memory against the smallest
# of their peaks (a compile or ort process also holds the compiler or the exporter). A runtime the
# interpreter lacks (torch, onnxruntime) is skipped with a note.
# ROUNDS (default 1): each case runs that many times on every side, the sides taking turns, and each
# side's best img/s is kept (its largest peak memory for fn, the smallest for the runtimes): on a VM
# whose speed changes for seconds at a time, one slow spell then does not decide the ratio.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)

TESTBIN=${FN_TESTBIN:-$(cd "$(dirname "$0")/../../build/tests" && pwd)}
SHARED=${FN_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-3}
CASES=${CASES:-infer256b1 infer256b8 train128b8}
ARCHS=${ARCHS:-focusnet unet resunet runet r2unet attunet}
ARCH_CASES=${ARCH_CASES:-infer128b1 infer128b8 train128b8}
ARCH_WIDTH=${ARCH_WIDTH:-0.5}
FOCUSNET_WIDTH=${FOCUSNET_WIDTH:-1}
TORCH_PY=${TORCH_PY:-/usr/bin/python3}
RUNTIMES=${RUNTIMES:-eager}
ROUNDS=${ROUNDS:-1}
FN_PRECISION=${FN_PRECISION:-fp32}
export FN_SHARED="$SHARED" THREADS
# both sides on THREADS threads: OpenMP, OpenBLAS's own pool, torch.set_num_threads
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

if [ ! -x "$TESTBIN/bench-net" ]; then
  echo "no $TESTBIN/bench-net: build it with make tools"
  exit 1
fi
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "net: /usr/bin/time is needed for peak memory (Debian package time)"; exit 1; }
for r in $RUNTIMES; do
  case $r in eager|cl|compile|cl-bf16|compile-bf16|ort) ;;
  *) echo "net: unknown runtime $r in RUNTIMES (eager cl compile cl-bf16 compile-bf16 ort)"; exit 1 ;; esac
done
case $ROUNDS in ''|*[!0-9]*|0) echo "net: ROUNDS must be a whole number of rounds, 1 or more (not '$ROUNDS')"; exit 1 ;; esac
torch=1
if ! "$TORCH_PY" -c 'import torch' 2>/dev/null; then
  torch=0
  if [ "$TORCH_PY" = /usr/bin/python3 ]; then
    echo "python3-torch not installed: the PyTorch anchor is skipped (apt-get install python3-torch)"
  else
    echo "$TORCH_PY has no torch: the PyTorch anchor is skipped"
  fi
elif [ ! -f "$SHARED/reference/torch_focusnet.py" ]; then
  torch=0
  echo "no $SHARED/reference/torch_focusnet.py: the PyTorch anchor is skipped"
fi
rts="" ov=""
if [ $torch = 1 ]; then
  for r in $RUNTIMES; do
    if [ "$r" = ort ]; then
      if ! ov=$("$TORCH_PY" -c 'import onnxruntime; print(onnxruntime.__version__)' 2>/dev/null); then
        echo "$TORCH_PY has no onnxruntime: the ort runtime is skipped"
        continue
      fi
    fi
    rts="$rts${rts:+ }$r"
  done
  [ -n "$rts" ] || torch=0
fi
nrt=$(wc -w <<<"$rts")
tv=$([ $torch = 1 ] && "$TORCH_PY" -c 'import torch; print(torch.__version__)' || echo -)
[ $torch = 1 ] && [ "$rts" != eager ] && tv="$tv${ov:+, onnxruntime $ov}; runtimes: $rts"
rounds=""
[ "$ROUNDS" -gt 1 ] && rounds=", the best of $ROUNDS rounds taken in turns"
bench_machine
echo "FocusNet (width $FOCUSNET_WIDTH) and $ARCHS (width $ARCH_WIDTH), 3 channels, $THREADS threads, median of $REPEATS" \
  "after a warm-up$rounds; fn $FN_PRECISION; torch $tv"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run COMMAND... under /usr/bin/time -v: prints "OUTPUT-LAST-LINE MAXRSS_KB" (empty on failure, which
# returns COMMAND's status: 3 is torch_net.py's "not applicable", quietly)
measure() {
  local rc=0
  "$TIME" -v -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ $rc != 0 ]; then
    [ $rc = 3 ] || sed 's/^/    /' "$tmp/err" >&2
    return $rc
  fi
  echo "$(tail -n 1 "$tmp/out") $(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time")"
}

if [ "$nrt" -gt 1 ]; then
  printf '%-9s %-11s %12s' arch case "fn img/s"
  for r in $rts; do printf ' %13s' "$r img/s"; done
  printf ' %12s %-7s %8s %10s %10s %8s\n' "best img/s" by speed "fn MB" "torch MB" memory
else
  printf '%-9s %-11s %12s %12s %8s %10s %10s %8s\n' arch case "fn img/s" "torch img/s" speed "fn MB" "torch MB" memory
fi
# the larger (max) or smaller (min) of two figures, either of which may be empty or not a number
pick() { awk -v k="$1" -v a="$2" -v b="$3" 'BEGIN {
  na = a ~ /^[0-9.]+$/; nb = b ~ /^[0-9.]+$/
  if (!na) print (nb ? b : (a != "" ? a : b)); else if (!nb) print a
  else print ((k == "max") == (b + 0 > a + 0) ? b : a) }'; }

fail=0
declare -A bti btm
for a in $ARCHS; do
 if [ "$a" = focusnet ]; then cases=$CASES w=$FOCUSNET_WIDTH; else cases=$ARCH_CASES w=$ARCH_WIDTH; fi
 for c in $cases; do
  fi="" fm="" bti=() btm=()
  for ((k = 0; k < ROUNDS; k++)); do
    if f=$(measure "$TESTBIN/bench-net" --arch "$a" --width "$w" --precision "$FN_PRECISION" --threads "$THREADS" --repeats "$REPEATS" --tsv "$c"); then
      fi=$(pick max "$fi" "$(awk '{ print $4 }' <<<"$f")") fm=$(pick max "$fm" "$(awk '{ print $6 }' <<<"$f")")
    else
      fail=1
    fi
    for r in $rts; do
      rc=0
      t=$(RUNTIME=$r ARCH=$a WIDTH=$w measure "$TORCH_PY" "$HERE/torch_net.py" "$c" "$REPEATS") || rc=$?
      if [ $rc = 0 ]; then
        bti[$r]=$(pick max "${bti[$r]:-}" "$(awk '{ print $2 }' <<<"$t")")
        btm[$r]=$(pick min "${btm[$r]:-}" "$(awk '{ print $3 }' <<<"$t")")
      else
        [ $rc = 3 ] && bti[$r]=n/a || { fail=1; bti[$r]=$(pick max "${bti[$r]:-}" -); echo "    ($a $c: the $r runtime failed)" >&2; }
        btm[$r]=$(pick min "${btm[$r]:-}" -)
      fi
    done
  done
  ti="" tm="" tis="" tms=""
  for r in $rts; do
    ti=${bti[$r]} tm=${btm[$r]}
    tis="$tis $ti" tms="$tms $tm"
  done
  if [ "$nrt" -gt 1 ]; then
    awk -v a="$a" -v c="$c" -v fi="$fi" -v fm="$fm" -v rts="$rts" -v tis="$tis" -v tms="$tms" 'BEGIN {
      n = split(rts, r, " "); split(tis, ti, " "); split(tms, tm, " ")
      printf "%-9s %-11s %12s", a, c, fi == "" ? "-" : sprintf("%.3f", fi)
      b = 0; by = "-"; mm = 0
      for (i = 1; i <= n; i++) {
        printf " %13s", ti[i] ~ /^[0-9.]+$/ ? sprintf("%.3f", ti[i]) : ti[i]
        if (ti[i] ~ /^[0-9.]+$/ && ti[i] + 0 > b) { b = ti[i] + 0; by = r[i] }
        if (tm[i] ~ /^[0-9]+$/ && (mm == 0 || tm[i] + 0 < mm)) mm = tm[i] + 0
      }
      s = (fi != "" && b > 0) ? sprintf("%.2fx", fi / b) : "-"
      m = (fm != "" && mm > 0) ? sprintf("%.2fx", mm / fm) : "-"
      printf " %12s %-7s %8s %10s %10s %8s\n", (b > 0 ? sprintf("%.3f", b) : "-"), by, s,
        fm == "" ? "-" : sprintf("%.0f", fm / 1024), (mm > 0 ? sprintf("%.0f", mm / 1024) : "-"), m }'
    continue
  fi
  [ "$ti" = n/a ] && ti=""
  [ "$ti" = - ] && ti=""
  [ "$tm" = - ] && tm=""
  awk -v a="$a" -v c="$c" -v fi="$fi" -v fm="$fm" -v ti="$ti" -v tm="$tm" 'BEGIN {
    s = (fi != "" && ti != "") ? sprintf("%.2fx", fi / ti) : "-"
    m = (fm != "" && tm != "") ? sprintf("%.2fx", tm / fm) : "-"
    printf "%-9s %-11s %12s %12s %8s %10s %10s %8s\n", a, c, fi == "" ? "-" : sprintf("%.3f", fi),
      ti == "" ? "-" : sprintf("%.3f", ti), s, fm == "" ? "-" : sprintf("%.0f", fm / 1024),
      tm == "" ? "-" : sprintf("%.0f", tm / 1024), m }'
 done
done
if [ "$nrt" -gt 1 ]; then
  echo "speed: fn img/s / the best img/s of the runtimes; memory: the smallest of their peak RSS / fn peak RSS"
  echo "(n/a: a training step in ONNX Runtime). Targets: inference >= 1.2x at batch 1 and >= 1.5x at batch 8,"
  echo "training >= 1.2x, memory >= 1x"
  exit $fail
fi
echo "speed: fn img/s / torch img/s; memory: torch peak RSS / fn peak RSS (targets: inference >= 1.2x at"
echo "batch 1 and >= 1.5x at batch 8, training >= 1.2x, memory >= 1x)"
exit $fail
