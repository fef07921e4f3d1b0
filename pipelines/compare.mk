# compare.mk: every architecture trained by the same recipe on the same data, for the comparison
# table of pipelines/RESULTS.md: JSRT lung (jsrt-lung.mk) and the ISIC sample (isic.mk), each
# architecture with the same split, augmentation, size, width, epochs, device and threads, then
# OUT/compare.md: validation DI, JI, AC, SE, SP, parameters and training images/s per run.
#
#   make -f pipelines/compare.mk JSRT=../shared/data/jsrt_lung ISIC=../shared/data/isic2017-sample
#   make -f pipelines/compare.mk -j2 ARCHS="focusnet unet" SETS=isic EPOCHS_isic=20 OUT=runs/cmp2
#
# Each run is the recipe's own OUT (OUT/SET-ARCH, with its report.md), made by a sub-make, so a
# second make redoes only what a changed variable touches. Runs go one after the other, each with
# THREADS threads (make -j2 runs two at once). EPOCHS_SET and AUG_SET (empty: the recipe's) set
# each data set's epochs and augmentation; RECIPE_OPTS is passed to every recipe.
RECIPE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
ARCHS       ?= focusnet unet resunet runet r2unet attunet
SETS        ?= jsrt-lung isic
JSRT        ?= ../shared/data/jsrt_lung
ISIC        ?= ../shared/data/isic2017-sample
OUT         ?= runs/compare
# the defaults fit 12 trainings into about an hour of a shared 2-core machine (pipelines/RESULTS.md):
# 64x64, width 0.25, 4 epochs (JSRT with 2 samples per image instead of the recipe's 8: 312 frames
# an epoch, 156 Adam steps in all; ISIC with its recipe's 3: 153 frames an epoch, 80 steps)
SIZE        ?= 64x64
WIDTH       ?= 0.25
EPOCHS_jsrt-lung ?= 4
EPOCHS_isic ?= 4
AUG_jsrt-lung ?= -n 1 --keep-original --hflip 0.5 --zoom 0.9,1.1
AUG_isic    ?=
DEVICE      ?= cpu
THREADS     ?= 1
# NATIVE=0: scored at the training size, as the table in RESULTS.md (NATIVE=1: at each image's own
# resolution, the recipes' default)
NATIVE      ?= 0
RECIPE_OPTS ?=
DATA_jsrt-lung := $(JSRT)
DATA_isic   := $(ISIC)
# the tools, as in common.mk: BIN, else the checkout's build/bin, else PATH
BIN ?= $(if $(wildcard $(RECIPE_DIR)../build/bin/fn-read),$(abspath $(RECIPE_DIR)../build/bin))
ifneq ($(BIN),)
export PATH := $(BIN):$(PATH)
endif

.PHONY: all runs
all: $(OUT)/compare.md

# one phony target per run, SET-ARCH
RUNS := $(foreach s,$(SETS),$(foreach a,$(ARCHS),$(s)-$(a)))
.PHONY: $(RUNS)
define run_rule
$(1)-$(2):
	$$(MAKE) --no-print-directory -f $(RECIPE_DIR)$(1).mk DATA=$$(DATA_$(1)) OUT=$(OUT)/$(1)-$(2) ARCH=$(2) BIN=$(BIN) \
	  SIZE=$(SIZE) WIDTH=$(WIDTH) EPOCHS=$$(EPOCHS_$(1)) $$(if $$(AUG_$(1)),AUG="$$(AUG_$(1))") DEVICE=$(DEVICE) \
	  THREADS=$(THREADS) NATIVE=$(NATIVE) $(RECIPE_OPTS)
endef
$(foreach s,$(SETS),$(foreach a,$(ARCHS),$(eval $(call run_rule,$(s),$(a)))))
runs: $(RUNS)

$(OUT)/compare.md: $(RUNS) $(RECIPE_DIR)compare.sh $(RECIPE_DIR)st.sh
	{ echo "Every run: SIZE=$(SIZE) WIDTH=$(WIDTH) DEVICE=$(DEVICE) THREADS=$(THREADS) NATIVE=$(NATIVE) $(RECIPE_OPTS);" \
	    $(foreach s,$(SETS),"$(s): EPOCHS=$(EPOCHS_$(s))$(if $(AUG_$(s)), AUG='$(AUG_$(s))');") \
	    "otherwise the recipes' split, augmentation and defaults."; echo; \
	  bash $(RECIPE_DIR)compare.sh $(OUT) "$(SETS)" "$(ARCHS)"; } > $@.tmp
	mv $@.tmp $@
	@cat $@
