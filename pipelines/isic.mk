# isic.mk: FocusNet on the ISIC 2017 skin-lesion images, with the paper's protocol (its Table 2):
# 256x256 RGB, one scalar z-score fitted on the training part, 3 samples per training image
# (the original and two copies, each mirrored and/or channel-reversed with probability 1/2),
# Dice loss, Adam 1e-3 halved on a 5-epoch plateau, 80 epochs, batch 8, best by validation loss.
# The paper's experiment: all 2000 training images (3 samples each: 6000) train, the validation
# images validate:
#
#   make -f pipelines/isic.mk DATA=../shared/data/isic2017 VAL=../shared/data/isic2017-sample OUT=runs/isic2017
#   make -f pipelines/isic.mk DATA=../shared/data/isic2017-sample OUT=runs/isic   # an 80/20 split of DATA
#   make -f pipelines/isic.mk DATA=... OUT=... EPOCHS=30 WIDTH=0.5 SIZE=128x128 THREADS=16
#
# DATA (and VAL, TEST) hold images/ID.jpg and masks/ID_segmentation.png or masks/ID.png (255 = lesion):
# each folder's mask suffix is _segmentation when its masks are so named. Scored at each image's own
# resolution against its original mask, with ISIC 2018's thresholded Jaccard (JI < 0.65 counts 0)
# and bootstrap intervals; POST="--largest 1 --fill-holes" post-processes first (one lesion per
# image). See common.mk for the stages and every variable.
NAME        ?= isic
seg_suffix   = $(if $(wildcard $1/*_segmentation.png),_segmentation)
MASK_SUFFIX ?= $(call seg_suffix,$(MASKS))
VAL_MASK_SUFFIX  ?= $(call seg_suffix,$(VAL_MASKS))
TEST_MASK_SUFFIX ?= $(call seg_suffix,$(TEST_MASKS))
CHANNELS    ?= rgb
SIZE        ?= 256x256
AUG         ?= -n 2 --keep-original --hflip 0.5 --channel-shift 0.5
SCORE_OPTS  ?= --hd95 --ci --jaccard-threshold 0.65
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
