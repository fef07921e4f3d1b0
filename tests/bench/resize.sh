#!/usr/bin/env bash
# Read + resize to 256x256, images/s on 1 and 2 cores, side by side in the same run:
#   fn      fn-read --size-hint 256x256 | fn-resize 256x256 (JPEG shrink-on-load in the DCT domain,
#           then Pillow-style antialiased bilinear, in fixed point for u8); 2 cores: one pipeline with
#           fn-read -j 2 (what fn-read does by default on 2 CPUs: the documented way), and two
#           pipelines on half the files each (the "procs" rows). The fn rows count everything: the
#           shell that runs the pipeline, both processes' start-up, the pipe.
#   pil     Pillow: Image.draft() (DCT-domain downscale) + resize(BILINEAR)
#   cv      OpenCV: imread(IMREAD_REDUCED_COLOR_4 for JPEG) + resize(INTER_AREA)
#   vips    vipsthumbnail -s 256x256! (one process for all files; 2 cores: two processes)
# Python tools are timed inside the interpreter (imports excluded) and use one process per core.
# Cores are pinned with taskset. Sets: ISIC 2017 sample full-resolution 3024x2016 JPEGs, its 1024-px
# JPEGs, DRIVE TIFFs, JSRT PNGs. Best of 3. The last column is the mean absolute difference (grey
# levels) from Pillow's full decode + BILINEAR resize. images/s is wall-clock throughput; img/CPU-s
# divides by the CPU time of all the processes instead (user + system), which a busy machine disturbs
# less. Skipped (exit 0) when the data is absent.
set -euo pipefail
. "$(dirname "$0")/machine.sh" # bench_machine: the header's first line (CPU, generation, ISA)
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
SHARED=${FN_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
HERE=$(cd "$(dirname "$0")" && pwd)
export PATH="$BIN:$PATH"
D="$SHARED/data"
PY=${BENCH_PY:-/usr/bin/python3} # BENCH_PY: another interpreter (a virtual environment with Pillow, opencv-python)
REPS=${FN_BENCH_REPS:-3}
if [ ! -d "$D/isic2017-sample/images" ]; then
  echo "no $D/isic2017-sample: resize benchmark skipped"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

have_pil=0 have_cv=0 have_vips=0
$PY -c 'import PIL, numpy' 2> /dev/null && have_pil=1
$PY -c 'import cv2' 2> /dev/null && have_cv=1
command -v vipsthumbnail > /dev/null && have_vips=1
PIN1="" PIN2=""
if command -v taskset > /dev/null; then PIN1="taskset -c 0" PIN2="taskset -c 0,1"; fi

mapfile -t isic < <(ls "$D/isic2017-sample/images"/*.jpg)
full=() small=()
for f in "${isic[@]}"; do
  if [ "$(stat -c %s "$f")" -gt 1500000 ]; then full+=("$f"); else small+=("$f"); fi
done
drive=() jsrt=()
[ -d "$D/drive/images" ] && mapfile -t drive < <(ls "$D/drive/images"/*.tif)
[ -d "$D/jsrt_lung/images" ] && mapfile -t jsrt < <(ls "$D/jsrt_lung/images"/*.png)

best() { # "WALL CPU": the best wall seconds and the least CPU seconds (user + system, all processes) of $REPS runs
  # (the command runs from this shell: no extra shell of the harness's own is timed)
  local w="" c="" out
  for _ in $(seq "$REPS"); do
    out=$( { TIMEFORMAT='%3R %3U %3S'; time eval "$1" > /dev/null 2>&1; } 2>&1 | tail -n 1)
    w=$(awk -v o="$out" -v b="$w" 'BEGIN { split(o, a, " "); print (b == "" || a[1] < b) ? a[1] : b }')
    c=$(awk -v o="$out" -v b="$c" 'BEGIN { split(o, a, " "); t = a[2] + a[3]; print (b == "" || t < b) ? t : b }')
  done
  echo "$w $c"
}
row() { # set, method, cores, n, "wall cpu", mad
  awk -v s="$1" -v m="$2" -v c="$3" -v n="$4" -v t="$5" -v q="$6" \
    'BEGIN { split(t, a, " "); printf "%-16s %-34s %5s %7d %10.1f %10.1f %8s\n", s, m, c, n, n / a[1], n / (a[2] > 0 ? a[2] : 1e-9), q }'
}

one_set() { # name, files... (paths without spaces)
  local name=$1
  shift
  local n=$# all h1="" h2="" i=0 q t f
  [ "$n" -gt 0 ] || return 0
  all="$*"
  for f in "$@"; do if [ $((i++ % 2)) = 0 ]; then h1+=" $f"; else h2+=" $f"; fi; done
  local fn1="fn-read --size-hint 256x256 -j 1" rs1="OMP_NUM_THREADS=1 fn-resize 256x256"
  q=-
  fn-read --size-hint 256x256 -j 1 "$@" | fn-resize 256x256 > "$tmp/fn.fns"
  [ "$have_pil" = 1 ] && q=$($PY "$HERE/resize_ref.py" madfns "$tmp/fn.fns" "$@")
  t=$(best "$PIN1 bash -c '$fn1 $all | $rs1'")
  row "$name" "fn-read | fn-resize" 1 "$n" "$t" "$q"
  t=$(best "$PIN2 bash -c 'fn-read --size-hint 256x256 -j 2 $all | OMP_NUM_THREADS=2 fn-resize 256x256'")
  row "$name" "fn-read -j 2 | fn-resize" 2 "$n" "$t" "$q"
  t=$(best "$PIN2 bash -c '($fn1 $h1 | $rs1 > /dev/null) & ($fn1 $h2 | $rs1 > /dev/null); wait'")
  row "$name" "fn-read | fn-resize, 2 procs" 2 "$n" "$t" "$q"
  local m label
  for m in pil cv; do
    [ "$m" = pil ] && { [ "$have_pil" = 1 ] || continue; label="Pillow draft+resize"; }
    [ "$m" = cv ] && { [ "$have_cv" = 1 ] && [ "$have_pil" = 1 ] || continue; label="OpenCV REDUCED_4+INTER_AREA"; }
    q=$($PY "$HERE/resize_ref.py" mad "$m" "$@")
    t=$($PIN1 $PY "$HERE/resize_ref.py" time "$m" 1 "$REPS" "$@")
    row "$name" "$label" 1 "$n" "$t" "$q"
    t=$($PIN2 $PY "$HERE/resize_ref.py" time "$m" 2 "$REPS" "$@")
    row "$name" "$label, 2 procs" 2 "$n" "$t" "$q"
  done
  if [ "$have_vips" = 1 ]; then
    local vt="VIPS_CONCURRENCY=1 vipsthumbnail -s 256x256! -o $tmp/%s.v"
    t=$(best "$PIN1 bash -c '$vt $all'")
    row "$name" "vipsthumbnail" 1 "$n" "$t" -
    t=$(best "$PIN2 bash -c '$vt $h1 & $vt $h2; wait'")
    row "$name" "vipsthumbnail, 2 procs" 2 "$n" "$t" -
    printf '#!/bin/sh\nexec vips thumbnail "$1" "%s/$(basename "$1").v" 256 --height 256 --size force\n' "$tmp" > "$tmp/v1.sh"
    t=$(best "$PIN2 bash -c 'printf \"%s\\n\" $all | VIPS_CONCURRENCY=1 xargs -P 2 -n 1 sh $tmp/v1.sh'")
    row "$name" "vips thumbnail, a process per file" 2 "$n" "$t" -
  fi
}

bench_machine
echo "read + resize to 256x256; best of $REPS"
[ "$have_pil" = 1 ] || echo "(no python3-pil: Pillow rows and quality column skipped)"
[ "$have_cv" = 1 ] || echo "(no python3-opencv: OpenCV rows skipped)"
[ "$have_vips" = 1 ] || echo "(no libvips-tools: vips rows skipped)"
printf '%-16s %-34s %5s %7s %10s %10s %8s\n' "set" "method" "cores" "images" "images/s" "img/CPU-s" "MAD"
one_set "ISIC 3024x2016" "${full[@]}"
one_set "ISIC 1024-px" "${small[@]}"
one_set "DRIVE TIFF" "${drive[@]}"
one_set "JSRT PNG" "${jsrt[@]}"
