#!/usr/bin/env bash
# fn-post and native-resolution scoring on 3024x2016 frames, one core (taskset -c 0, every process of
# the pipeline on it; OMP_NUM_THREADS=1), from a page-cached file to /dev/null, best of 3, frames/s.
# The frames: the ISIC sample's full-resolution originals (../shared/data/isic2017-sample, the images
# of 3024x2016; synthetic 3024x2016 frames when it is absent), resized to 256x256 with
# fn-resize --keep-native, with a prediction-like pred (the mask blurred, shifted, noisy) at 256x256;
# repeated to FN_BENCH_FRAMES frames (default 40).
#   fn-post -k 1 -f            on the restored (3024x2016) preds
#   fn-resize --restore --drop-image | fn-score     native-resolution scoring in two steps
#   fn-score --restore                               the same in one (the recipes' way without fn-post)
#   ... | fn-post -k 1 -f | fn-score                 the same with post-processing
# The anchor is cat of the 3024x2016 stream (the pipe's ceiling for 24 MB frames).
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
SHARED=${FN_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
export PATH="$BIN:$PATH" OMP_NUM_THREADS=1
N=${FN_BENCH_FRAMES:-40}
PIN=""
command -v taskset > /dev/null && PIN="taskset -c 0"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

D=$SHARED/data/isic2017-sample
if [ -d "$D" ]; then
  for f in "$D"/images/*.jpg; do
    [ "$(fn-read "$f" | fn-info | head -n 1 | grep -c '\[3,2016,3024\]')" = 1 ] && echo "$f"
  done > "$tmp/list.txt" || true
fi
if [ -s "$tmp/list.txt" ]; then
  src="ISIC full-resolution originals ($(wc -l < "$tmp/list.txt"))"
  fn-read --list "$tmp/list.txt" --masks "$D/masks" --mask-suffix _segmentation > "$tmp/orig.fns"
else
  src="synthetic (no $D)"
  fn-synth -n 4 --size 2016x3024 --channels 3 > "$tmp/orig.fns"
fi
fn-resize --keep-native 256x256 "$tmp/orig.fns" | /usr/bin/python3 -c '
import sys, msgpack, numpy as np
n = int(sys.argv[1]); r = np.random.default_rng(0)
frames = list(msgpack.Unpacker(sys.stdin.buffer, raw=False, max_buffer_size=1 << 31))
out = sys.stdout.buffer
for i in range(n):
    f = dict(frames[i % len(frames)]); f["id"] = "%s~%d" % (f["id"], i)
    m = np.frombuffer(f["mask"]["data"], np.uint8).reshape(256, 256).astype(np.float32)
    k = np.ones(9) / 9
    b = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 0, m)
    b = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 1, b)
    p = np.clip(np.roll(b, (i % 5 - 2, i % 3 - 1), (0, 1)) + r.normal(0, 0.2, b.shape), 0, 1).astype("<f4")
    f["pred"] = {"dtype": "f32", "shape": [1, 256, 256], "data": p.tobytes()}
    out.write(msgpack.packb(f, use_bin_type=True))
' "$N" > "$tmp/p256.fns"
fn-resize --restore --drop-image "$tmp/p256.fns" > "$tmp/native.fns"

best() { # least wall seconds of 3 runs, and the CPU seconds (user + system) of that run; "-" if it fails
  local b="" out
  bash -o pipefail -c "$1" > /dev/null 2>&1 || { echo -; return; }
  for _ in 1 2 3; do
    out=$( { TIMEFORMAT='%3R %3U %3S'; time bash -o pipefail -c "$1" > /dev/null 2>&1; } 2>&1 | tail -n 1)
    b=$(awk -v o="$out" -v b="$b" 'BEGIN { split(o, a, " "); split(b, c, " ");
          print (b == "" || a[1] < c[1]) ? a[1] " " a[2] + a[3] : b }')
  done
  echo "$b"
}
row() { # name, command
  local t
  t=$(best "$2")
  [ "$t" = - ] && { printf '%-58s %9s %12s %8s\n' "$1" - - "(fails)"; return; }
  awk -v n="$1" -v t="$t" -v f="$N" 'BEGIN { split(t, a, " "); if (a[2] <= 0) a[2] = 1e-9
    printf "%-58s %9.1f %12.1f %8.3f\n", n, f / a[1], f / a[2], a[1] }'
}
bench_machine
printf '%s frames from %s, 3024x2016 at native size; every process on one core\n' "$N" "$src"
printf '%-58s %9s %12s %8s\n' "stage" "frames/s" "frames/CPU-s" "best s"
row "cat of the native stream (anchor: the pipe)" "$PIN cat $tmp/native.fns"
row "fn-post -k 1 -f (24 MB f32 preds in and out)" "$PIN fn-post -k 1 -f $tmp/native.fns"
row "fn-score (native frames: pred f32 + mask, 30 MB)" "$PIN fn-score $tmp/native.fns"
row "fn-post -k 1 -f | fn-score" "$PIN fn-post -k 1 -f $tmp/native.fns | $PIN fn-score"
row "fn-resize --restore --drop-image | fn-score (from 256x256)" \
  "$PIN fn-resize --restore --drop-image $tmp/p256.fns | $PIN fn-score"
row "fn-score --restore (the same, restored in-process)" "$PIN fn-score --restore $tmp/p256.fns"
row "... | fn-post -k 1 -f | fn-score" \
  "$PIN fn-resize --restore --drop-image $tmp/p256.fns | $PIN fn-post -k 1 -f | $PIN fn-score"
echo "target: fn-post and the native-resolution scoring >= 50 frames/s; on a busy machine read frames/CPU-s"
echo "(the CPU time of every process of the pipeline, user + system, from bash's time)"
