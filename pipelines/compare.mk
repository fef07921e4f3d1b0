# compare.mk: every architecture trained by the same recipe on the same data, for the comparison
# table of pipelines/RESULTS.md: JSRT lung (jsrt-lung.mk) and the ISIC sample (isic.mk), each
# architecture with the same split, augmentation, size, width, epochs, device and threads, then
# OUT/compare.md: validation DI, JI, AC, SE, SP, parameters and training images/s per run.
#
#   make -f pipelines/compare.mk JSRT=../shared/data/jsrt_lung ISIC=../shared/data/isic2017-sample
#   make -f pipelines/compare.mk ARCHS="focusnet unet" SETS=isic EPOCHS=10 OUT=runs/cmp2
#
# Each run is the recipe's own OUT (OUT/SET-ARCH, with its report.md), made by a sub-make, so a
# second make redoes only what a changed variable touches. Runs go one after the other, each with
# THREADS threads (make -j2 THREADS=1 runs two at once). RECIPE_OPTS is passed to every recipe.
RECIPE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
ARCHS       ?= focusnet unet resunet runet r2unet attunet
SETS        ?= jsrt-lung isic
JSRT        ?= ../shared/data/jsrt_lung
ISIC        ?= ../shared/data/isic2017-sample
OUT         ?= runs/compare
SIZE        ?= 64x64
WIDTH       ?= 0.25
EPOCHS      ?= 4
EPOCHS_jsrt-lung ?= $(EPOCHS)
EPOCHS_isic ?= $(EPOCHS)
DEVICE      ?= cpu
THREADS     ?= 2
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
	  SIZE=$(SIZE) WIDTH=$(WIDTH) EPOCHS=$$(EPOCHS_$(1)) DEVICE=$(DEVICE) THREADS=$(THREADS) $(RECIPE_OPTS)
endef
$(foreach s,$(SETS),$(foreach a,$(ARCHS),$(eval $(call run_rule,$(s),$(a)))))
runs: $(RUNS)

$(OUT)/compare.md: $(RUNS) $(RECIPE_DIR)compare.sh $(RECIPE_DIR)st.sh
	{ echo "Every run: SIZE=$(SIZE) WIDTH=$(WIDTH) EPOCHS (jsrt-lung, isic)=$(EPOCHS_jsrt-lung), $(EPOCHS_isic)" \
	    "DEVICE=$(DEVICE) THREADS=$(THREADS) $(RECIPE_OPTS); the recipes' split, augmentation and defaults."; echo; \
	  bash $(RECIPE_DIR)compare.sh $(OUT) "$(SETS)" "$(ARCHS)"; } > $@.tmp
	mv $@.tmp $@
	@cat $@
