#!/usr/bin/env bash
# FocusNet speed on the CPU: images/s of inference at 256x256 (batch 1 and 8) and of a training step
# at 128x128 (batch 8: forward, Dice loss, backward, Adam), the paper's network (width 1, 3 input
# channels), on $THREADS threads (default 2), for fn (tests/tools/bench-net) and, in the same run, for
# the PyTorch reference ../shared/reference/torch_focusnet.py under Debian's python3-torch (skipped,
# with a note, when it is not installed). Then the same for each comparison network of fn-train --arch
# ($ARCHS) against tests/golden/torch_unets.py's definition of it, at $ARCH_WIDTH (default 0.5, both
# sides) on $ARCH_CASES (default inference at 128x128, batch 1 and 8, and a 128x128 training step of
# batch 8): sizes that a shared 2-core machine runs in a few minutes. ARCHS=focusnet runs FocusNet only. Each case runs in its own process: one warm-up, then
# $REPEATS timed runs (default 3), the median; peak memory is that process's maximum resident set size
# (/usr/bin/time -v). Ratios > 1 mean fn is faster (speed) or smaller (memory: torch / fn).
# The machine may be noisy: the two sides alternate case by case.
set -euo pipefail

TESTBIN=${FN_TESTBIN:-$(cd "$(dirname "$0")/../../build/tests" && pwd)}
SHARED=${FN_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-3}
CASES=${CASES:-infer256b1 infer256b8 train128b8}
ARCHS=${ARCHS:-focusnet unet resunet runet r2unet attunet}
ARCH_CASES=${ARCH_CASES:-infer128b1 infer128b8 train128b8}
ARCH_WIDTH=${ARCH_WIDTH:-0.5}
export FN_SHARED="$SHARED" THREADS
# both sides on THREADS threads: OpenMP, OpenBLAS's own pool, torch.set_num_threads
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

if [ ! -x "$TESTBIN/bench-net" ]; then
  echo "no $TESTBIN/bench-net: build it with make tools"
  exit 1
fi
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "net: /usr/bin/time is needed for peak memory (Debian package time)"; exit 1; }
torch=1
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  torch=0
  echo "python3-torch not installed: the PyTorch anchor is skipped (apt-get install python3-torch)"
elif [ ! -f "$SHARED/reference/torch_focusnet.py" ]; then
  torch=0
  echo "no $SHARED/reference/torch_focusnet.py: the PyTorch anchor is skipped"
fi
tv=$([ $torch = 1 ] && /usr/bin/python3 -c 'import torch; print(torch.__version__)' || echo -)
echo "FocusNet (width 1) and $ARCHS (width $ARCH_WIDTH), 3 channels, $THREADS threads, median of $REPEATS after a warm-up; $(nproc) CPUs:" \
  "$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1); torch $tv"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run COMMAND... under /usr/bin/time -v: prints "OUTPUT-LAST-LINE MAXRSS_KB" (empty on failure)
measure() {
  if ! "$TIME" -v -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err"; then
    sed 's/^/    /' "$tmp/err" >&2
    return 1
  fi
  echo "$(tail -n 1 "$tmp/out") $(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time")"
}

printf '%-9s %-11s %12s %12s %8s %10s %10s %8s\n' arch case "fn img/s" "torch img/s" speed "fn MB" "torch MB" memory
fail=0
for a in $ARCHS; do
 if [ "$a" = focusnet ]; then cases=$CASES w=1; else cases=$ARCH_CASES w=$ARCH_WIDTH; fi
 for c in $cases; do
  f=$(measure "$TESTBIN/bench-net" --arch "$a" --width "$w" --threads "$THREADS" --repeats "$REPEATS" --tsv "$c") ||
    { fail=1; f=""; }
  fi=$(awk '{ print $4 }' <<<"$f") fm=$(awk '{ print $6 }' <<<"$f")
  ti="" tm=""
  if [ $torch = 1 ]; then
    t=$(ARCH=$a WIDTH=$w measure /usr/bin/python3 "$HERE/torch_net.py" "$c" "$REPEATS") || { fail=1; t=""; }
    ti=$(awk '{ print $2 }' <<<"$t") tm=$(awk '{ print $3 }' <<<"$t")
  fi
  awk -v a="$a" -v c="$c" -v fi="$fi" -v fm="$fm" -v ti="$ti" -v tm="$tm" 'BEGIN {
    s = (fi != "" && ti != "") ? sprintf("%.2fx", fi / ti) : "-"
    m = (fm != "" && tm != "") ? sprintf("%.2fx", tm / fm) : "-"
    printf "%-9s %-11s %12s %12s %8s %10s %10s %8s\n", a, c, fi == "" ? "-" : sprintf("%.3f", fi),
      ti == "" ? "-" : sprintf("%.3f", ti), s, fm == "" ? "-" : sprintf("%.0f", fm / 1024),
      tm == "" ? "-" : sprintf("%.0f", tm / 1024), m }'
 done
done
echo "speed: fn img/s / torch img/s; memory: torch peak RSS / fn peak RSS (targets: inference >= 1.2x at"
echo "batch 1 and >= 1.5x at batch 8, training >= 1.2x, memory >= 1x)"
exit $fail
