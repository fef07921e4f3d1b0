#!/usr/bin/env bash
# Inference at any size (tests/tools/bench-tile): 565x584 DRIVE-sized images (reflect-padded to
# 576x592) against 576x592 images, and a 1024x1024 image in 256x256 tiles at overlap 0.5 against the
# tile count times one 256x256 forward; both sides alternate in one process, medians and their ratio.
# FocusNet at width $WIDTH (default 0.25) with random weights on $THREADS threads (default 1).
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
TESTBIN=${FN_TESTBIN:-$(cd "$(dirname "$0")/../../build/tests" && pwd)}
THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
[ -x "$TESTBIN/bench-tile" ] || { echo "no $TESTBIN/bench-tile: build it with make tools"; exit 1; }
bench_machine
"$TESTBIN/bench-tile" --threads "$THREADS" --repeats "${REPEATS:-3}" --width "${WIDTH:-0.25}"
