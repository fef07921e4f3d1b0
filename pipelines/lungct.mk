# lungct.mk: FocusNet on the paper's lung CT set (Kaggle "Finding and Measuring Lungs in CT Data",
# its Table 1): 2D axial slices, signed 16-bit TIFF (Hounsfield-like values; fn-read gives them as f32,
# exactly), lung masks {0,1} (foreground: any value > 0, fn-read's default). The paper's protocol: an
# 80/20 train/validation split, 256x256, random zooms and flips to about 1700 training images (the
# original and 9 copies of each training slice: 177 of the 214 train with SEED=0, 1770), one z-score
# over the training part, Dice loss, Adam 1e-3 halved on a 5-epoch plateau, 80 epochs, batch 8, best
# by validation loss.
#
#   make -f pipelines/lungct.mk DATA=../shared/data/lungct OUT=runs/lungct
#   make -f pipelines/lungct.mk DATA=... OUT=... NORM=ct        # nnU-Net's CT normalisation instead
#   make -f pipelines/lungct.mk DATA=... OUT=... NORM="--clip -1024,1500"   # a fixed window first
#
# DATA holds images/ID.tif and masks/ID.tif (same name). NORM=ct: clip to the 0.5 and 99.5
# percentiles of the lung pixels of the training part, then z-score with their mean and std
# (fn-normalize --ct). TEST=DIR scores a held-out folder laid out the same, at native resolution.
# See common.mk for the stages and every variable.
NAME        ?= lungct
CHANNELS    ?= gray
SIZE        ?= 256x256
AUG         ?= -n 9 --keep-original --hflip 0.5 --zoom 0.9,1.1
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
