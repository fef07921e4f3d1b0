# drive.mk: FocusNet on the DRIVE retinal images, the vessels as the target. The 584x565 images are
# resized to 576x576 (a multiple of 16 close to the native size, so that thin vessels survive).
# 20 images only, so 8 samples per training image (flips, rotation and a mild zoom) and batch 2, so
# that batch norm's running statistics get enough steps: with batch 8 the validation Dice stayed at 0
# (pipelines/RESULTS.md). The paper's batch 8 works with BATCH=8 TRAIN_OPTS=--bn-recompute.
# Scores are in-FOV, as DRIVE is scored: DATA/fov's field-of-view masks are read as each frame's roi
# (ROI=) and fn-score counts only the pixels inside it (ROI= with nothing scores the whole image,
# where the dark surround counts as true negatives and raises AC and SP), at native resolution.
#
#   make -f pipelines/drive.mk DATA=../shared/data/drive OUT=runs/drive
#
# DATA holds images/NN_training.tif, masks/NN_training.gif (255 = vessel) and fov/NN_training.gif.
# See common.mk.
NAME        ?= drive
ROI         ?= $(DATA)/fov
CHANNELS    ?= rgb
SIZE        ?= 576x576
BATCH       ?= 2
AUG         ?= -n 7 --keep-original --hflip 0.5 --vflip 0.5 --rotate 20 --zoom 0.9,1.1
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
