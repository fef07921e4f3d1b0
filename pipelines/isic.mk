# isic.mk: FocusNet on the ISIC 2017 skin-lesion images, with the paper's protocol (its Table 2):
# 256x256 RGB, one scalar z-score fitted on the training part, 3 samples per training image
# (the original and two copies, each mirrored and/or channel-reversed with probability 1/2),
# Dice loss, Adam 1e-3 halved on a 5-epoch plateau, 80 epochs, batch 8, best by validation loss.
#
#   make -f pipelines/isic.mk DATA=../shared/data/isic2017-sample OUT=runs/isic
#   make -f pipelines/isic.mk DATA=... OUT=... EPOCHS=30 WIDTH=0.5 SIZE=128x128 THREADS=16
#
# DATA holds images/ID.jpg and masks/ID_segmentation.png (255 = lesion). Scored at each image's own
# resolution against its original mask, with ISIC 2018's thresholded Jaccard (JI < 0.65 counts 0)
# and bootstrap intervals; POST="--largest 1 --fill-holes" post-processes first (one lesion per
# image). See common.mk for the stages and every variable.
NAME        ?= isic
MASK_SUFFIX ?= _segmentation
CHANNELS    ?= rgb
SIZE        ?= 256x256
AUG         ?= -n 2 --keep-original --hflip 0.5 --channel-shift 0.5
SCORE_OPTS  ?= --hd95 --ci --jaccard-threshold 0.65
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
