#!/usr/bin/env bash
# fn-read decode throughput on the ISIC 2017 sample (../shared/data/isic2017-sample): the 4
# full-resolution 3024x2016 JPEGs, the 64 1024-px ones, and all 68 with their PNG masks; full decode
# and --size-hint 256x256 (DCT-domain downscale); 1 thread and 2. Output to /dev/null, files
# page-cached, best of 3. images/s (wall); MB/s of JPEG file bytes read and of stream bytes written;
# images per CPU second (user + system), which a busy machine disturbs less than wall time.
# Skipped (exit 0) when the data is absent.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
SHARED=${FN_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
export PATH="$BIN:$PATH"
D="$SHARED/data/isic2017-sample"
if [ ! -d "$D/images" ]; then
  echo "no $D: fn-read benchmark skipped"
  exit 0
fi

mapfile -t all < <(ls "$D/images"/*.jpg)
full=() small=()
for f in "${all[@]}"; do
  if [ "$(stat -c %s "$f")" -gt 1500000 ]; then full+=("$f"); else small+=("$f"); fi
done

best() { # "wall cpu": the best of 3 runs of fn-read with the given arguments, output discarded
  local b="" c="" r TIMEFORMAT='%R %U %S'
  for _ in 1 2 3; do
    r=$( { time fn-read "$@" > /dev/null; } 2>&1 )
    b=$(awk -v r="$r" -v b="$b" 'BEGIN { split(r, a, " "); print (b == "" || a[1] < b) ? a[1] : b }')
    c=$(awk -v r="$r" -v c="$c" 'BEGIN { split(r, a, " "); t = a[2] + a[3]; print (c == "" || t < c) ? t : c }')
  done
  echo "$b $c"
}
row() { # name, files..., --, fn-read options...
  local name=$1 files=() opts=() in=0 n out t
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
  shift
  opts=("$@")
  n=${#files[@]}
  in=$(stat -c %s "${files[@]}" | awk '{ s += $1 } END { print s }')
  out=$(fn-read "${opts[@]}" "${files[@]}" | wc -c)
  t=$(best "${opts[@]}" "${files[@]}")
  awk -v name="$name" -v t="$t" -v n="$n" -v i="$in" -v o="$out" \
    'BEGIN { split(t, a, " "); w = a[1]; c = a[2] > 0 ? a[2] : 1e-9
             printf "%-34s %6d %9.1f %9.1f %10.1f %8.3f %10.1f\n", name, n, n / w, i / w / 1e6, o / w / 1e6, w, n / c }'
}

bench_machine
echo "ISIC 2017 sample: ${#full[@]} full-resolution JPEGs, ${#small[@]} 1024-px JPEGs"
printf '%-34s %6s %9s %9s %10s %8s %10s\n' "fn-read" "images" "images/s" "in MB/s" "out MB/s" "best s" "img/CPU-s"
for j in 1 2; do
  row "full-res, -j$j" "${full[@]}" -- -j "$j"
  row "full-res --size-hint 256x256, -j$j" "${full[@]}" -- -j "$j" --size-hint 256x256
  row "1024-px, -j$j" "${small[@]}" -- -j "$j"
  row "1024-px --size-hint 256x256, -j$j" "${small[@]}" -- -j "$j" --size-hint 256x256
  row "all 68 + masks, -j$j" "${all[@]}" -- -j "$j" --masks "$D/masks" --mask-suffix _segmentation
done
