#!/usr/bin/env bash
# make test-valgrind: run each finished tool under valgrind on small inputs, good and bad, and print
# one line per run and a summary. A run fails when valgrind reports a memory error or a definite leak
# (OpenMP's "possibly lost" thread stacks are not counted) or when the tool's exit status is not the
# expected one. Real-data runs are skipped when $FN_SHARED/data is absent. Exit 1 on any failure.
# Environment: FN_BIN (the tools), FN_SHARED (for data), VALGRIND (default valgrind).
set -u
FN_BIN=${FN_BIN:-$(cd "$(dirname "$0")/../build/bin" && pwd)}
FN_DATA=${FN_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}/data
VALGRIND=${VALGRIND:-valgrind}
command -v "$VALGRIND" >/dev/null || { echo "test-valgrind: $VALGRIND not found: skipped"; exit 0; }
export PATH="$FN_BIN:$PATH"
export OMP_NUM_THREADS=2
# libjpeg-turbo's SIMD upsampling reads row padding that valgrind takes for uninitialised data
# (the output is the same bytes as with the plain C code): check the C code paths
export JSIMD_FORCENONE=1
T=$(mktemp -d "${TMPDIR:-/tmp}/fn-valgrind.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
VG="$VALGRIND -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
pass=0 fail=0

# check NAME EXPECTED_STATUS 'SHELL COMMAND with $VG before the tool under test'
check() {
  local name=$1 want=$2 cmd=$3 rc
  VG="$VG --log-file=$T/vg.log" bash -c "$cmd" >/dev/null 2>"$T/err.log"
  rc=$?
  if [ "$rc" -eq "$want" ] && ! grep -q 'definitely lost\|Invalid\|uninitialised\|Mismatched' "$T/vg.log"; then
    pass=$((pass + 1))
    printf 'ok   %-40s exit %d\n' "$name" "$rc"
  else
    fail=$((fail + 1))
    printf 'FAIL %-40s exit %d (want %d)\n' "$name" "$rc" "$want"
    sed 's/^/     /' "$T/vg.log" "$T/err.log" | head -40
  fi
}

# inputs, made without valgrind
fn-synth -n 3 --size 48x40 --seed 3 > s.fns
fn-synth -n 2 --size 32x32 --channels 3 > rgb.fns
head -c 700 s.fns > trunc.fns
head -c 4000 /dev/urandom > random.bin
/usr/bin/python3 - <<'PY' || { echo "test-valgrind: python3 with msgpack and numpy needed"; exit 1; }
import msgpack, numpy as np
out = open("pred.fns", "wb")
for fr in msgpack.Unpacker(open("s.fns", "rb"), raw=False):
    m = np.frombuffer(fr["mask"]["data"], np.uint8).astype(np.float32) * 0.8
    fr["pred"] = {"dtype": "f32", "shape": fr["mask"]["shape"], "data": m.tobytes()}
    out.write(msgpack.packb(fr, use_bin_type=True))
PY
mkdir -p imgs && printf 'not a png' > imgs/bad.png
printf '{"mean": 1' > bad.json
export VG

check "fn-synth"                  0 '$VG fn-synth -n 2 --size 40x30 -o o.fns'
check "fn-synth rgb"              0 '$VG fn-synth -n 1 --channels 3 > o.fns'
check "fn-synth bad option"       2 '$VG fn-synth --size 0x3'
check "fn-synth unwritable -o"    1 '$VG fn-synth -o /no/such/dir/x.fns'
check "fn-info"                   0 '$VG fn-info s.fns pred.fns'
check "fn-info --json"            0 '$VG fn-info --json rgb.fns'
# a tiny comparison network (fn-train --arch) through training, fn-info and fn-infer --tta
fn-synth -n 4 --size 32x32 --seed 5 > t32.fns
check "fn-train --arch attunet"   0 '$VG fn-train --device cpu --arch attunet --width 0.0625 --epochs 1 --batch 2 --val t32.fns -o att.safetensors t32.fns'
check "fn-info model"             0 '$VG fn-info att.safetensors'
check "fn-infer --tta attunet"    0 '$VG fn-infer --device cpu --tta -m att.safetensors -o o.fns t32.fns'
check "fn-info truncated"         1 '$VG fn-info trunc.fns'
check "fn-info random bytes"      1 '$VG fn-info random.bin'
check "fn-info missing file"      1 '$VG fn-info no-such.fns'
check "fn-write"                  0 '$VG fn-write w s.fns'
check "fn-write tiff"             0 '$VG fn-write -f tiff w rgb.fns'
check "fn-write --overlay"        0 '$VG fn-write --overlay w pred.fns'
check "fn-write truncated"        1 '$VG fn-write w trunc.fns'
check "fn-read own pngs"          0 '$VG fn-read -j 2 w > o.fns'
check "fn-read corrupt png"       1 '$VG fn-read imgs/bad.png > o.fns'
check "fn-read missing"           1 '$VG fn-read no-such.png > o.fns'
check "fn-read --list, -o"        0 'printf "w/synth_0001_image.png\tw/synth_0001_mask.png\n" > l.tsv && $VG fn-read --list l.tsv --mask-threshold 1 -o o.fns'
check "fn-read bad list"          1 'printf "a\tb\tc\td\n" > l2.tsv && $VG fn-read --list l2.tsv > o.fns'
check "fn-write into a file"      1 '$VG fn-write s.fns s.fns'
check "fn-resize"                 0 '$VG fn-resize 20x24 s.fns > o.fns'
check "fn-resize keep-aspect"     0 '$VG fn-resize -k --mask-mode bilinear 20x20 rgb.fns > o.fns'
check "fn-resize --restore"       0 'fn-resize -k 20x20 pred.fns > r.fns && $VG fn-resize --restore r.fns > o.fns'
check "fn-resize truncated"       1 '$VG fn-resize 20x20 trunc.fns > o.fns'
check "fn-resize bad size"        2 '$VG fn-resize 20y20 s.fns'
check "fn-normalize --fit"        0 '$VG fn-normalize --fit st.json s.fns > o.fns'
check "fn-normalize --fit clip"   0 '$VG fn-normalize --fit st2.json -c --clip-percentile 1,99 rgb.fns > o.fns'
check "fn-normalize --stats"      0 '$VG fn-normalize --stats st.json s.fns > o.fns'
check "fn-normalize --per-image"  0 '$VG fn-normalize --per-image s.fns > o.fns'
check "fn-normalize bad stats"    1 '$VG fn-normalize --stats bad.json s.fns > o.fns'
check "fn-normalize truncated"    1 '$VG fn-normalize --fit st3.json trunc.fns > o.fns'
check "fn-augment"                0 '$VG fn-augment -n 2 -k --hflip 0.5 --rotate 10 --zoom 0.9,1.1 --noise 0.01 --gamma 0.2 s.fns > o.fns'
check "fn-augment rgb"            0 '$VG fn-augment --channel-shift 1 --brightness 0.1 --contrast 0.2 rgb.fns > o.fns'
check "fn-augment truncated"      1 '$VG fn-augment trunc.fns > o.fns'
check "fn-augment bad option"     2 '$VG fn-augment --zoom 2 s.fns'
check "fn-split"                  0 '$VG fn-split --ratio 0.5 tr.fns va.fns s.fns'
check "fn-split --part"           0 '$VG fn-split --part val s.fns > o.fns'
check "fn-split truncated"        1 '$VG fn-split tr.fns va.fns trunc.fns'
check "fn-score"                  0 '$VG fn-score --hd95 -p per.tsv pred.fns'
check "fn-score --json"           0 '$VG fn-score --json pred.fns'
check "fn-score no pred"          1 '$VG fn-score s.fns'
check "fn-score --ci, thresholded" 0 '$VG fn-score --ci --ci-samples 200 --jaccard-threshold 0.65 pred.fns'
check "fn-post"                   0 '$VG fn-post -k 1 -f -s 3 -c 4 pred.fns > o.fns'
check "fn-post no pred"           1 '$VG fn-post s.fns > o.fns'
check "fn-resize --keep-native"   0 'fn-resize -n 20x24 pred.fns > n.fns && $VG fn-resize --restore --drop-image n.fns > o.fns'
check "fn-augment native keys"    0 '$VG fn-augment -n 1 --hflip 1 n.fns > o.fns'
check "fn-write --pred-suffix"    0 '$VG fn-write --pred-suffix _segmentation w pred.fns'

if [ -d "$FN_DATA" ]; then
  D=$FN_DATA
  check "fn-read isic jpeg+mask"    0 "\$VG fn-read -m $D/isic2017-sample/masks -s _segmentation --size-hint 256x256 \$(ls $D/isic2017-sample/images/*.jpg | head -2) > o.fns"
  check "fn-read jsrt --mask-values" 0 "\$VG fn-read -m $D/jsrt_lung/masks --mask-values 150,200 \$(ls $D/jsrt_lung/images/*.png | head -3) > o.fns"
  check "fn-read drive tiff+gif"    0 "\$VG fn-read -m $D/drive/masks -s _manual1 \$(ls $D/drive/images/* | head -1) > o.fns || \$VG fn-read --allow-missing-masks \$(ls $D/drive/images/* | head -1) > o.fns"
  check "fn-read kvasir jpeg mask"  0 "\$VG fn-read -m $D/kvasir_seg/masks --mask-threshold 128 \$(ls $D/kvasir_seg/images/* | head -1) > o.fns"
  check "fn-read drive --roi"       0 "\$VG fn-read -m $D/drive/masks --roi $D/drive/fov \$(ls $D/drive/images/* | head -1) > o.fns"
  check "fn-read missing mask"      1 "\$VG fn-read -m $T/imgs \$(ls $D/jsrt_lung/images/*.png | head -1) > o.fns"
else
  echo "skip real-data runs: no $FN_DATA"
fi

echo "test-valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
