# membrane.mk: FocusNet on the ISBI 2012 electron-microscopy slices: the membranes (mask value 0) as
# the target, as in the ISBI challenge. The slices are 512x512: they are used at that size, since
# halving them would thin the membranes to a pixel. 24 slices only, so 8 samples per training slice
# (flips both ways and a mild zoom) and batch 2, so that batch norm's running statistics get enough
# steps (pipelines/RESULTS.md). Otherwise the paper's training defaults.
#
#   make -f pipelines/membrane.mk DATA=../shared/data/isbi2012_membrane OUT=runs/membrane
#
# DATA holds images/N.png and masks/N.png. See common.mk for every variable.
# MASK_VALUES= (empty) takes the cell interiors (mask 255) instead; they are 78% of the pixels, so
# "all foreground" already gives Dice 0.88 and the Dice loss settled there in our runs.
NAME        ?= membrane
MASK_VALUES ?= 0
CHANNELS    ?= gray
SIZE        ?= 512x512
BATCH       ?= 2
AUG         ?= -n 7 --keep-original --hflip 0.5 --vflip 0.5 --zoom 0.9,1.1
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
