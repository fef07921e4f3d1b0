#!/usr/bin/env bats
# The experiment recipes (pipelines/*.mk) end to end on tiny inputs: a DATA folder laid out like the
# real set (file names, formats, mask labels), written from fn-synth frames; 32x32, a narrow network,
# two epochs. Then: a second `make` has nothing to do, and a changed variable redoes only its stages.
load test_helper
RECIPES="$BATS_TEST_DIRNAME/../../pipelines"
PY=/usr/bin/python3

# make_set LAYOUT N CHANNELS: $T/data laid out as LAYOUT (isic|jsrt|membrane|drive|lungct), N pairs of 40x36
# (N=14 leaves 2 or 3 ids to validation with the recipes' split, seed 0, for each naming)
make_set() {
  local layout=$1 n=$2 c=$3 f id
  fn-synth -n "$n" -s 40x36 -c "$c" --seed 5 | fn-write $([ "$layout" = drive ] && echo --format tiff) w
  mkdir -p data/images data/masks
  for f in w/*_image.*; do
    id=$(basename "$f"); id=${id%_image.*}
    case $layout in
    isic) mv "$f" "data/images/$id.png"; mv "w/${id}_mask.png" "data/masks/${id}_segmentation.png" ;;
    jsrt|lungct) mv "$f" "data/images/$id.png"; mv "w/${id}_mask.png" "data/masks/$id.png" ;;
    membrane) mv "$f" "data/images/${id#synth_}.png"; mv "w/${id}_mask.png" "data/masks/${id#synth_}.png" ;;
    drive) # DRIVE's numbers start at 21
      local nn=$((10#${id#synth_} + 21))
      mv "$f" "data/images/${nn}_training.tif"; mv "w/${id}_mask.tif" "data/masks/${nn}_training.tif" ;;
    esac
  done
  case $layout in
  jsrt) # multi-class as SCR: the target split into 150 (left half) and 200 (right half), a "heart" of 250
    $PY - data/masks/*.png <<'EOF'
import sys, numpy as np
from PIL import Image
for p in sys.argv[1:]:
    m = np.asarray(Image.open(p)) > 0
    out = np.zeros(m.shape, np.uint8)
    out[:, : m.shape[1] // 2][m[:, : m.shape[1] // 2]] = 150
    out[:, m.shape[1] // 2 :][m[:, m.shape[1] // 2 :]] = 200
    heart = np.zeros_like(m); heart[-6:, -6:] = True
    out[heart & ~m] = 250
    Image.fromarray(out).save(p)
EOF
    ;;
  lungct) # signed 16-bit TIFF slices (-2619..5556, as the real set's) and {0,1} 8-bit TIFF masks
    PYTHONPATH="$BATS_TEST_DIRNAME" $PY - data/images/*.png <<'EOF'
import os, sys, fnframes, numpy as np
from PIL import Image
for p in sys.argv[1:]:
    x = np.asarray(Image.open(p)).astype(np.int32) * 24 - 2600
    x[0, 0], x[-1, -1] = -2619, 5556
    fnframes.write_tiff_s16(p[:-4] + ".tif", x)
    m = p.replace("/images/", "/masks/")
    Image.fromarray((np.asarray(Image.open(m)) > 0).astype(np.uint8)).save(m[:-4] + ".tif", compression="tiff_lzw")
    os.remove(p); os.remove(m)
EOF
    ;;
  drive) # GIF masks and field-of-view masks, as DRIVE has
    mkdir -p data/fov
    $PY - data/masks/*.tif <<'EOF'
import os, sys, numpy as np
from PIL import Image
for p in sys.argv[1:]:
    m = np.asarray(Image.open(p))
    base = os.path.splitext(p)[0]
    Image.fromarray(m).save(base + ".gif")
    y, x = np.mgrid[0:m.shape[0], 0:m.shape[1]]   # an elliptic field of view, as DRIVE's
    fov = ((y - 20) ** 2 / 400 + (x - 18) ** 2 / 324) < 1
    Image.fromarray((fov * 255).astype(np.uint8)).save(base.replace("/masks/", "/fov/") + ".gif")
    os.remove(p)
EOF
    ;;
  esac
}

# the tiny settings every recipe test uses
TINY="SIZE=32x32 EPOCHS=2 BATCH=4 WIDTH=0.125 THREADS=1"

run_recipe() { # RECIPE [VAR=VALUE...]
  local mk=$1
  shift
  make -s -f "$RECIPES/$mk" DATA="$T/data" OUT="$T/out" BIN="$FN_BIN" $TINY "$@"
}

check_outputs() {
  local f
  for f in all.fns train.fns val.fns stats.json train.aug.fns val.n.fns model.safetensors \
    val.pred.fns scores.json report.md train.tsv; do
    [ -s "out/$f" ] || fail "no out/$f"
  done
  grep -q '^| validation |' out/report.md || fail "no score row in report.md: $(cat out/report.md)"
  if command -v gnuplot >/dev/null; then [ -s out/curve.png ] || fail "no curve.png"; fi
  for f in best median worst; do [ -s "out/overlays/$f.png" ] || fail "no overlay $f"; done
}

@test "recipes: isic.mk end to end, with a TEST folder; a second make does nothing" {
  make_set isic 14 3
  run_recipe isic.mk TEST="$T/data" >log 2>&1 || { cat log; false; }
  check_outputs
  [ -s out/test.scores.json ] || fail "no test scores"
  grep -q '^| test |' out/report.md
  # masks paired through the _segmentation suffix, RGB kept
  run fn-info out/all.fns
  assert_line --partial "image u8 [3,32,32]"
  assert_line --partial "mask u8 [1,32,32]"
  # the paper's 3 samples per training image
  [ "$(fn-info out/train.aug.fns | tail -n 1 | cut -d' ' -f1)" -eq $((3 * $(fn-info out/train.fns | tail -n 1 | cut -d' ' -f1))) ]
  run_recipe isic.mk TEST="$T/data" -q
}

@test "recipes: jsrt-lung.mk end to end: mask values 150,200, gray, 8 samples per image" {
  make_set jsrt 14 1
  run_recipe jsrt-lung.mk >log 2>&1 || { cat log; false; }
  check_outputs
  # the foreground is both "lungs" and not the "heart": the masks equal fn-synth's after resizing
  fn-synth -n 14 -s 40x36 -c 1 --seed 5 | fn-resize 32x32 | fn-info >want.txt
  fn-info out/all.fns >got.txt
  diff <(grep -o 'mask u8 [^	]*' want.txt) <(grep -o 'mask u8 [^	]*' got.txt)
  [ "$(fn-info out/train.aug.fns | tail -n 1 | cut -d' ' -f1)" -eq $((8 * $(fn-info out/train.fns | tail -n 1 | cut -d' ' -f1))) ]
  run_recipe jsrt-lung.mk -q
}

@test "recipes: lungct.mk end to end: signed 16-bit TIFF kept as f32, masks > 0, 10 samples per image; NORM=ct" {
  make_set lungct 14 1
  run_recipe lungct.mk TEST="$T/data" >log 2>&1 || { cat log; false; }
  check_outputs
  [ -s out/test.scores.json ] || fail "no test scores"
  run fn-info out/all.fns
  assert_line --partial "image f32 [1,32,32]"
  [[ "$output" == *" min -2"* ]] || fail "no value below -2000 read: $output"
  # the masks equal fn-synth's after resizing (1 read as foreground)
  fn-synth -n 14 -s 40x36 -c 1 --seed 5 | fn-resize 32x32 | fn-info >want.txt
  fn-info out/all.fns >got.txt
  diff <(grep -o 'mask u8 [^	]*' want.txt) <(grep -o 'mask u8 [^	]*' got.txt)
  [ "$(fn-info out/train.aug.fns | tail -n 1 | cut -d' ' -f1)" -eq $((10 * $(fn-info out/train.fns | tail -n 1 | cut -d' ' -f1))) ]
  run_recipe lungct.mk TEST="$T/data" -q
  # NORM=ct: nnU-Net's scheme, fitted on the lung pixels, kept in the statistics; only the stages after the split redone
  t_all=$(stat -c %y out/all.fns)
  run_recipe lungct.mk NORM=ct >log 2>&1 || { cat log; false; }
  grep -q -e '--ct' out/.opts/prep
  $PY -c 'import json; s = json.load(open("out/stats.json")); assert s["foreground"] and s["clip_percentile"] == [0.5, 99.5], s'
  [ "$(stat -c %y out/all.fns)" = "$t_all" ] || fail "all.fns was redone"
}

@test "recipes: isic.mk with VAL=DIR: all of DATA trains (masks ID.png), VAL validates (ID_segmentation.png), TEST too" {
  make_set isic 14 3
  mv data val
  make_set isic 10 3
  for f in data/masks/*_segmentation.png; do mv "$f" "${f%_segmentation.png}.png"; done
  run_recipe isic.mk VAL="$T/val" TEST="$T/val" >log 2>&1 || { cat log; false; }
  check_outputs
  [ "$(fn-info out/train.fns | tail -n 1 | cut -d' ' -f1)" -eq 10 ]
  [ "$(fn-info out/val.fns | tail -n 1 | cut -d' ' -f1)" -eq 14 ]
  [ "$(fn-info out/test.fns | tail -n 1 | cut -d' ' -f1)" -eq 14 ]
  [ "$(fn-info out/train.aug.fns | tail -n 1 | cut -d' ' -f1)" -eq 30 ]
  cmp out/all.fns out/train.fns
  run_recipe isic.mk VAL="$T/val" TEST="$T/val" -q
  run make -s -f "$RECIPES/isic.mk" DATA="$T/data" VAL="$T/nothing" OUT="$T/out2" BIN="$FN_BIN" $TINY prepare
  assert_failure
  assert_output --partial "isic: no $T/nothing/images or $T/nothing/masks"
}

@test "recipes: lungct.mk on 12 real slices (../shared/data/lungct), 1 epoch" {
  need_data lungct
  mkdir -p data/images data/masks
  for f in $(ls "$FN_DATA/lungct/images" | head -n 12); do
    ln -s "$FN_DATA/lungct/images/$f" data/images/; ln -s "$FN_DATA/lungct/masks/$f" data/masks/
  done
  run_recipe lungct.mk EPOCHS=1 RATIO=0.5 AUG="-n 1 --keep-original --hflip 0.5 --zoom 0.9,1.1" >log 2>&1 || { cat log; false; }
  check_outputs
  run fn-info out/all.fns
  assert_line --partial "image f32 [1,32,32]"
  grep -q '^| validation |' out/report.md
}

@test "recipes: membrane.mk end to end" {
  make_set membrane 14 1
  run_recipe membrane.mk >log 2>&1 || { cat log; false; }
  check_outputs
  run_recipe membrane.mk -q
}

@test "recipes: drive.mk end to end (TIFF images, GIF masks), scored in the FOV at native resolution" {
  make_set drive 14 3
  run_recipe drive.mk >log 2>&1 || { cat log; false; }
  check_outputs
  run_recipe drive.mk -q
  # every validation frame scored inside its field of view, at 40x36: TP+FP+FN+TN = the FOV's pixels
  fov=$($PY -c 'import numpy as np; from PIL import Image; print(int((np.asarray(Image.open("data/fov/21_training.gif")) > 0).sum()))')
  [ "$fov" -gt 800 ] && [ "$fov" -lt 1400 ]
  n=$(tail -n +2 out/val.scores.tsv | wc -l)
  grep -q "\"roi_frames\":$n" out/scores.json || fail "$(cat out/scores.json)"
  grep -q '"dice_ci_lo"' out/scores.json
  run awk -F'\t' -v f="$fov" 'NR > 1 && $4 + $5 + $6 + $7 != f { print "bad", $0 }' out/val.scores.tsv
  assert_output ""
  grep -q "own resolution against its original mask" out/report.md
  grep -q "region of interest" out/report.md
  # POST= redoes the scores only; NATIVE=0 scores at the network's size (the FOV resized to 32x32)
  model=$(stat -c %y out/model.safetensors)
  run_recipe drive.mk POST="--largest 1 --fill-holes" >log 2>&1 || { cat log; false; }
  [ "$(stat -c %y out/model.safetensors)" = "$model" ] || fail "the model was retrained"
  grep -q 'fn-post --largest 1 --fill-holes' out/report.md
  run_recipe drive.mk NATIVE=0 >log 2>&1 || { cat log; false; }
  run awk -F'\t' 'NR > 1 { print $4 + $5 + $6 + $7 }' out/val.scores.tsv
  [ "${lines[0]}" -lt 1024 ] && [ "${lines[0]}" -gt 400 ] || fail "$output"
}

@test "recipes: a changed variable redoes only the stages it touches" {
  make_set isic 14 3
  run_recipe isic.mk >log 2>&1 || { cat log; false; }
  run_recipe isic.mk -q
  t_all=$(stat -c %y out/all.fns)
  t_aug=$(stat -c %y out/train.aug.fns)
  # the epochs touch training and what follows, not the data preparation
  run run_recipe isic.mk EPOCHS=3 -q
  assert_failure
  run_recipe isic.mk EPOCHS=3 -q prepare
  run_recipe isic.mk EPOCHS=3 >log 2>&1 || { cat log; false; }
  [ "$(grep -c '^[0-9]' out/train.tsv)" -eq 3 ] || fail "$(cat out/train.tsv)"
  run_recipe isic.mk EPOCHS=3 -q
  [ "$(stat -c %y out/train.aug.fns)" = "$t_aug" ] || fail "train.aug.fns was redone"
  # the augmentation touches the training stream, not the read or the split
  run run_recipe isic.mk EPOCHS=3 AUG="-n 1 --keep-original --hflip 1" -q train
  assert_failure
  run_recipe isic.mk EPOCHS=3 AUG="-n 1 --keep-original --hflip 1" prepare >log 2>&1 || { cat log; false; }
  [ "$(stat -c %y out/train.aug.fns)" != "$t_aug" ] || fail "train.aug.fns was not redone"
  [ "$(stat -c %y out/all.fns)" = "$t_all" ] || fail "all.fns was redone"
}

@test "recipes: batch-norm statistics recomputed by default (BN=running for the paper's); ARCH reaches fn-train" {
  make_set isic 14 3
  run_recipe isic.mk >log 2>&1 || { cat log; false; }
  grep -q -e '--bn-recompute' out/.opts/train || fail "$(cat out/.opts/train)"
  grep -q 'bn=recompute' out/report.md || fail "$(cat out/report.md)"
  grep -q '^Network: focusnet, [0-9]* parameters' out/report.md || fail "$(cat out/report.md)"
  grep -q '^Training speed: [0-9.]* images/s' out/report.md || fail "$(cat out/report.md)"
  run run_recipe isic.mk BN=running -n train
  assert_success
  [[ "$output" != *--bn-recompute* ]] || fail "$output"
  run run_recipe isic.mk BN=sometimes -n train
  assert_failure
  assert_output --partial "BN=sometimes: want recompute or running"
  if fn-train --help | grep -q -e '--arch '; then
    run run_recipe isic.mk ARCH=unet -n train
    assert_success
    assert_output --partial "fn-train --arch unet "
  else
    run run_recipe isic.mk ARCH=unet -n train
    assert_failure
    assert_output --partial "ARCH=unet: this fn-train has no --arch"
  fi
}

@test "recipes: PARALLEL= reads through fn-parallel, with the same stream" {
  make_set isic 14 3
  run_recipe isic.mk "$T/out/all.fns" >log 2>&1 || { cat log; false; }
  mv out/all.fns serial.fns
  run_recipe isic.mk PARALLEL="-j 2" "$T/out/all.fns" >log 2>&1 || { cat log; false; }
  grep -q "fn-parallel -j 2" out/.opts/read
  cmp serial.fns out/all.fns
}

@test "recipes: INPUT= takes a ready stream instead of a DATA folder" {
  fn-synth -n 10 -s 48x48 -c 1 --seed 2 >in.fns
  make -s -f "$RECIPES/membrane.mk" INPUT="$T/in.fns" OUT="$T/out" BIN="$FN_BIN" $TINY >log 2>&1 || { cat log; false; }
  check_outputs
  make -s -f "$RECIPES/membrane.mk" INPUT="$T/in.fns" OUT="$T/out" BIN="$FN_BIN" $TINY -q
}

@test "recipes: TIME_LIMIT stops training keeping the best model; the same command (any TIME_LIMIT) continues the run" {
  fn-synth -n 12 -s 32x32 -c 1 --seed 2 >in.fns
  tl() { make -s -f "$RECIPES/membrane.mk" INPUT="$T/in.fns" OUT="$T/out" BIN="$FN_BIN" $TINY EPOCHS=200 TIME_LIMIT=$1; }
  tl 12 >log 2>&1 || { cat log; false; }
  grep -q "stopped at TIME_LIMIT=12 s; the best model so far is kept; the same command continues" log || fail "$(cat log)"
  [ -e out/train.unfinished ] && [ -s out/model.safetensors ] && [ -s out/report.md ]
  n1=$(grep -c '^[0-9]' out/train.tsv)
  head -n $((n1 + 1)) out/train.tsv >first.tsv
  tl 13 >log 2>&1 || { cat log; false; }
  n2=$(grep -c '^[0-9]' out/train.tsv)
  [ "$n2" -gt "$n1" ] || fail "no epoch added: $n1 then $n2"
  cmp first.tsv <(head -n $((n1 + 1)) out/train.tsv)   # the same run, continued: its first epochs kept
  # (the report is remade only when the continued run improved the kept model: no check of its age)
  [ -s out/report.md ]
}

@test "recipes: a larger EPOCHS (or other THREADS) continues the run; another LR starts a new one" {
  fn-synth -n 12 -s 32x32 -c 1 --seed 2 >in.fns
  ep() { make -s -f "$RECIPES/membrane.mk" INPUT="$T/in.fns" OUT="$T/out" BIN="$FN_BIN" $TINY "$@"; }
  ep EPOCHS=1 >log 2>&1 || { cat log; false; }
  [ "$(grep -c '^[0-9]' out/train.tsv)" = 1 ] && [ -s out/train.state ] && [ -s out/train.run ]
  cp out/train.tsv first.tsv
  ep EPOCHS=2 THREADS=2 >log 2>&1 || { cat log; false; }
  [ "$(grep -c '^[0-9]' out/train.tsv)" = 2 ] || fail "$(cat out/train.tsv)"
  cmp first.tsv <(head -n 2 out/train.tsv)   # epoch 1 kept: the same run, continued
  ep EPOCHS=2 LR=5e-4 >log 2>&1 || { cat log; false; }
  [ "$(grep -c '^[0-9]' out/train.tsv)" = 2 ] && ! cmp -s first.tsv <(head -n 2 out/train.tsv) # a new run
}

@test "recipes: a missing DATA folder is a clear error" {
  run make -s -f "$RECIPES/isic.mk" DATA="$T/nothing" OUT="$T/out" BIN="$FN_BIN" prepare
  assert_failure
  assert_output --partial "isic: no $T/nothing/images or $T/nothing/masks"
  [ ! -e out/all.fns ]
}
