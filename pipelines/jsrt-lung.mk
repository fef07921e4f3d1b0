# jsrt-lung.mk: FocusNet on the JSRT chest radiographs, both lungs as the target (SCR mask values
# 150 and 200; the heart, 250, is background). The images are 224x224, already a multiple of 16, so
# they are used at their native size (SIZE=256x256 for the paper's size). As the paper did for its
# lung set: an 80/20 split, flips and zoom, 8 samples per training image (the original and 7
# copies). Dice loss, Adam 1e-3 with plateau halving, 80 epochs, batch 8.
#
#   make -f pipelines/jsrt-lung.mk DATA=../shared/data/jsrt_lung OUT=runs/jsrt
#
# DATA holds images/ID.png and masks/ID.png (multi-class). See common.mk for every variable.
NAME        ?= jsrt-lung
MASK_VALUES ?= 150,200
CHANNELS    ?= gray
SIZE        ?= 224x224
AUG         ?= -n 7 --keep-original --hflip 0.5 --zoom 0.9,1.1
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
