# membrane.mk: FocusNet on the ISBI 2012 electron-microscopy slices (cell interiors, mask 255, against
# the membranes, 0). The slices are 512x512: they are used at that size, since halving them would
# thin the membranes to a pixel. 24 slices only, so 8 samples per training slice: flips both ways
# and a mild zoom. Otherwise the paper's training defaults.
#
#   make -f pipelines/membrane.mk DATA=../shared/data/isbi2012_membrane OUT=runs/membrane
#
# DATA holds images/N.png and masks/N.png. See common.mk for every variable.
# The cell interiors are 78% of the pixels, so predicting "all foreground" already gives Dice 0.88
# and the Dice loss tends to stop there (pipelines/RESULTS.md); MASK_VALUES=0 makes the membranes
# (22%, the ISBI challenge's target) the foreground instead.
NAME        ?= membrane
CHANNELS    ?= gray
SIZE        ?= 512x512
AUG         ?= -n 7 --keep-original --hflip 0.5 --vflip 0.5 --zoom 0.9,1.1
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk
