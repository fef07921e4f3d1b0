# common.mk: the stages every experiment recipe shares. A recipe (isic.mk, jsrt-lung.mk, ...) sets
# its data set's defaults with ?= and includes this file; the user overrides any variable on the
# command line:
#
#   make -f pipelines/isic.mk DATA=../shared/data/isic2017-sample OUT=runs/isic EPOCHS=40 WIDTH=0.5
#
# Stages are real files, so re-running redoes only what changed, a changed variable included (each
# stage's options are kept in OUT/.opts/STAGE, rewritten only when they change):
#
#   OUT/all.fns          read DATA (IMAGES, MASKS) or the stream INPUT, resize to SIZE
#   OUT/train.fns, val.fns        split by id hash (RATIO, SEED); with VAL=DIR (VAL/images, VAL/masks)
#                        all of DATA trains and VAL is read as the validation set (VAL_READ_OPTS)
#   OUT/stats.json, train.aug.fns normalisation fitted on the training part only (NORM: fn-normalize's
#                        options; NORM=ct is --ct, nnU-Net's CT scheme), then AUG
#   OUT/val.n.fns        validation normalised with the training statistics
#   OUT/model.safetensors fn-train (ARCH: focusnet unet resunet runet r2unet attunet; EPOCHS, BATCH, LR,
#                        DEVICE, THREADS, PRECISION, WIDTH, BN, TRAIN_OPTS, TIME_LIMIT: stop after that many
#                        seconds, keeping the best model so far; the same command again continues it);
#                        its log: OUT/train.tsv (per epoch), OUT/train.log (stderr), OUT/train.time
#   OUT/val.pred.fns     fn-infer (INFER_OPTS)
#   OUT/scores.json      fn-score (SCORE_OPTS), and OUT/val.scores.tsv, one line per image; with NATIVE=1
#                        (the default) at each image's own resolution against its original mask (the
#                        read keeps it, fn-resize --keep-native; fn-score --restore puts it back, or
#                        fn-resize --restore when POST is given), inside
#                        the ROI folder's masks when ROI is given; POST= runs fn-post with those options
#                        first (e.g. POST="--largest 1 --fill-holes")
#   OUT/test.*           the same for the folder TEST (TEST/images, TEST/masks, TEST_READ_OPTS), when given
#   OUT/report.md        scores, training time and device, OUT/curve.png, OUT/overlays/
#
# Phony aliases: prepare train infer score report (the default), clean.

RECIPE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

# ---- variables (the recipe's defaults are set before the include; the command line wins) ---------
NAME        ?= experiment
OUT         ?= runs/$(NAME)
DATA        ?=
INPUT       ?=
IMAGES      ?= $(DATA)/images
MASKS       ?= $(DATA)/masks
MASK_SUFFIX ?=
MASK_VALUES ?=
ROI         ?=
TEST_ROI    ?= $(if $(ROI),$(TEST)/$(notdir $(ROI)))
NATIVE      ?= 1
POST        ?=
CHANNELS    ?=
# $(call read_opts,MASK_SUFFIX): fn-read's options for a folder whose masks have that suffix
read_opts    = $(if $1,--mask-suffix $1) $(if $(MASK_VALUES),--mask-values $(MASK_VALUES)) \
               $(if $(filter gray,$(CHANNELS)),--gray) $(if $(filter rgb,$(CHANNELS)),--rgb)
READ_OPTS   ?= $(call read_opts,$(MASK_SUFFIX))
VAL         ?=
VAL_IMAGES  ?= $(VAL)/images
VAL_MASKS   ?= $(VAL)/masks
VAL_MASK_SUFFIX  ?= $(MASK_SUFFIX)
VAL_READ_OPTS    ?= $(call read_opts,$(VAL_MASK_SUFFIX))
VAL_ROI     ?= $(if $(ROI),$(VAL)/$(notdir $(ROI)))
TEST_MASK_SUFFIX ?= $(MASK_SUFFIX)
TEST_READ_OPTS   ?= $(call read_opts,$(TEST_MASK_SUFFIX))
PARALLEL    ?=
SIZE        ?= 256x256
RATIO       ?= 0.8
SEED        ?= 0
NORM        ?=
AUG         ?=
EPOCHS      ?= 80
BATCH       ?= 8
LR          ?= 1e-3
DEVICE      ?= auto
THREADS     ?=
PRECISION   ?=
WIDTH       ?=
ARCH        ?= focusnet
# BN=recompute (default): batch-norm statistics recomputed over the training set before each
# validation (fn-train --bn-recompute), so that validation curves and the kept model are those of the
# current weights; BN=running: the paper's running averages (pipelines/RESULTS.md, "Stable validation")
BN          ?= recompute
TRAIN_OPTS  ?=
TIME_LIMIT  ?=
INFER_OPTS  ?=
SCORE_OPTS  ?= --hd95 --ci
TEST        ?=
TEST_IMAGES ?= $(TEST)/images
TEST_MASKS  ?= $(TEST)/masks

# The tools: BIN if given, else the checkout's build/bin beside this folder when built, else PATH.
BIN ?= $(if $(wildcard $(RECIPE_DIR)../build/bin/fn-read),$(abspath $(RECIPE_DIR)../build/bin))
ifneq ($(BIN),)
export PATH := $(BIN):$(PATH)
endif

ifeq ($(strip $(OUT)),)
$(error OUT must not be empty)
endif

# ---- the options of each stage, as files that change only when the options do ---------------------
# $(call opts,STAGE,TEXT) -> OUT/.opts/STAGE, holding TEXT, rewritten (new mtime) only when TEXT changed
opts = $(shell mkdir -p $(OUT)/.opts && t='$(subst ','\'',$(strip $2))' && \
  { [ "$$(cat $(OUT)/.opts/$1 2>/dev/null)" = "$$t" ] || printf '%s\n' "$$t" >$(OUT)/.opts/$1; } && \
  echo $(OUT)/.opts/$1)

THREADS_OPT := $(if $(THREADS),--threads $(THREADS))
# $(call read_cmd,IMAGES,MASKS,ROI[,OPTS]): the command that reads a folder pair (and rois) with fn-read's
# OPTS (default READ_OPTS) and resizes, on stdout
RESIZE      := fn-resize $(if $(filter 1,$(NATIVE)),--keep-native )$(SIZE)
read_cmd = $(if $(PARALLEL),fn-parallel $(PARALLEL) 'fn-read -j 1 {} --masks $2 $(if $3,--roi $3 )$(strip $(or $4,$(READ_OPTS))) | $(RESIZE)' $1/*,\
  fn-read $(if $(THREADS),-j $(THREADS)) $1 --masks $2 $(if $3,--roi $3 )$(strip $(or $4,$(READ_OPTS))) | $(RESIZE))
READ_CMD    := $(if $(INPUT),$(RESIZE) $(INPUT),$(call read_cmd,$(IMAGES),$(MASKS),$(ROI)))
VAL_CMD     := $(if $(strip $(VAL)),$(call read_cmd,$(VAL_IMAGES),$(VAL_MASKS),$(VAL_ROI),$(VAL_READ_OPTS)))
TEST_CMD    := $(if $(strip $(TEST)),$(call read_cmd,$(TEST_IMAGES),$(TEST_MASKS),$(TEST_ROI),$(TEST_READ_OPTS)))
NORM_OPTS   := $(if $(filter ct,$(NORM)),--ct,$(NORM))
# ARCH and PRECISION go to fn-train only when set, and only if this fn-train has the option (an fn-train
# without --arch trains FocusNet: any other ARCH is an error)
train_has = $(shell $(if $(BIN),$(BIN)/)fn-train --help 2>/dev/null | grep -q -e '--$1 ' && echo y)
opt_if_supported = $(if $2,$(if $(call train_has,$1),--$1 $2,$(warning fn-train has no --$1: $1 $2 ignored)))
HAS_ARCH    := $(call train_has,arch)
ifneq ($(filter-out focusnet,$(ARCH)),)
ifeq ($(HAS_ARCH),)
$(error ARCH=$(ARCH): this fn-train has no --arch (it trains FocusNet only))
endif
endif
ifeq ($(filter recompute running,$(BN)),)
$(error BN=$(BN): want recompute or running)
endif
ARCH_OPT    := $(if $(HAS_ARCH),--arch $(ARCH))
TRAIN_ARGS  := $(ARCH_OPT) --epochs $(EPOCHS) --batch $(BATCH) --lr $(LR) --seed $(SEED) --device $(DEVICE) \
  $(THREADS_OPT) $(if $(WIDTH),--width $(WIDTH)) $(if $(filter recompute,$(BN)),--bn-recompute) \
  $(call opt_if_supported,precision,$(PRECISION)) $(TRAIN_OPTS)
INFER_ARGS  := --device $(DEVICE) $(THREADS_OPT) $(INFER_OPTS)
# the settings that make a run (fn-train resumes a state only with these): a change starts a new run,
# while EPOCHS, DEVICE and THREADS may change between two invocations and the run goes on (OUT/train.run)
RUN_ARGS    := $(ARCH_OPT) --batch $(BATCH) --lr $(LR) --seed $(SEED) $(if $(WIDTH),--width $(WIDTH)) \
  $(if $(filter recompute,$(BN)),--bn-recompute) $(call opt_if_supported,precision,$(PRECISION)) $(TRAIN_OPTS)

O_READ  := $(call opts,read,$(READ_CMD))
O_SPLIT := $(call opts,split,$(if $(strip $(VAL)),all of DATA trains; validation: $(VAL_CMD),--ratio $(RATIO) --seed $(SEED)))
O_TEST  := $(call opts,test,$(TEST_CMD))
O_PREP  := $(call opts,prep,fn-normalize --fit stats.json $(NORM_OPTS)$(if $(strip $(AUG)), | fn-augment $(AUG) --seed $(SEED)))
O_TRAIN := $(call opts,train,$(TRAIN_ARGS))
O_INFER := $(call opts,infer,$(INFER_ARGS))
O_SCORE := $(call opts,score,$(SCORE_OPTS)$(if $(filter 1,$(NATIVE)), (native resolution))$(if $(strip $(POST)), (fn-post $(POST))))

# ---- stages ---------------------------------------------------------------------------------------
.PHONY: all prepare train infer score report clean
all: report
prepare: $(OUT)/train.aug.fns $(OUT)/val.n.fns $(if $(TEST),$(OUT)/test.n.fns)
train: $(OUT)/model.safetensors
infer: $(OUT)/val.pred.fns $(if $(TEST),$(OUT)/test.pred.fns)
score: $(OUT)/scores.json $(if $(TEST),$(OUT)/test.scores.json)
report: $(OUT)/report.md
clean:
	rm -rf $(OUT)

# the data: a file is added, removed or changed -> the folder or the file is newer
DATA_DEPS := $(if $(INPUT),$(INPUT),$(wildcard $(IMAGES) $(MASKS) $(IMAGES)/* $(MASKS)/*))

$(OUT)/all.fns: $(DATA_DEPS) $(O_READ)
	@$(if $(INPUT),test -f $(INPUT) || { echo "$(NAME): INPUT=$(INPUT) is not a file" >&2; exit 1; },\
	  test -d $(IMAGES) -a -d $(MASKS) || { echo "$(NAME): no $(IMAGES) or $(MASKS): give DATA=folder (with images/ and masks/) or INPUT=stream" >&2; exit 1; })
	$(READ_CMD) > $@

ifneq ($(strip $(VAL)),)
# VAL=DIR: every frame of DATA trains, the folder VAL validates
$(OUT)/train.fns: $(OUT)/all.fns $(O_SPLIT)
	cp $< $@
$(OUT)/val.fns: $(wildcard $(VAL_IMAGES) $(VAL_MASKS) $(VAL_IMAGES)/* $(VAL_MASKS)/*) $(O_SPLIT)
	@test -d $(VAL_IMAGES) -a -d $(VAL_MASKS) || { echo "$(NAME): no $(VAL_IMAGES) or $(VAL_MASKS): VAL=folder wants images/ and masks/" >&2; exit 1; }
	$(VAL_CMD) > $@
else
$(OUT)/train.fns $(OUT)/val.fns &: $(OUT)/all.fns $(O_SPLIT)
	fn-split --ratio $(RATIO) --seed $(SEED) $(OUT)/train.fns $(OUT)/val.fns $<
	@test -s $(OUT)/train.fns -a -s $(OUT)/val.fns || { rm -f $(OUT)/train.fns $(OUT)/val.fns; \
	  echo "$(NAME): RATIO=$(RATIO) SEED=$(SEED) leave a part of the split empty" >&2; exit 1; }
endif

# normalisation is fitted on the training part only, before augmentation
$(OUT)/stats.json $(OUT)/train.aug.fns &: $(OUT)/train.fns $(O_PREP)
	fn-normalize --fit $(OUT)/stats.json $(NORM_OPTS) $< \
	  $(if $(strip $(AUG)),| fn-augment $(AUG) --seed $(SEED)) -o $(OUT)/train.aug.fns

$(OUT)/%.n.fns: $(OUT)/%.fns $(OUT)/stats.json
	fn-normalize --stats $(OUT)/stats.json -o $@ $<

# An interrupted training resumes from OUT/train.state if the state is newer than its inputs and was
# made with the same RUN_ARGS (OUT/train.run; without it, as before it existed: the state newer than
# every training option).
# TIME_LIMIT=S stops fn-train after S seconds, keeping the best model of the epochs done, and leaves
# OUT/train.unfinished: the same command again (any TIME_LIMIT) continues the run from its state.
UNFINISHED := $(wildcard $(OUT)/train.unfinished)
$(OUT)/model.safetensors: $(OUT)/train.aug.fns $(OUT)/val.n.fns $(O_TRAIN) $(UNFINISHED)
	@state=$(OUT)/train.state run='$(subst ','\'',$(strip $(RUN_ARGS)))' chk='$(filter-out $(UNFINISHED),$^)'; \
	if [ -f $(OUT)/train.run ]; then \
	  [ "$$(cat $(OUT)/train.run)" = "$$run" ] || rm -f "$$state" $(OUT)/train.log; chk='$(filter-out $(UNFINISHED) $(O_TRAIN),$^)'; \
	fi; \
	for f in $$chk; do [ "$$state" -nt "$$f" ] || rm -f "$$state" $(OUT)/train.log; done; \
	printf '%s\n' "$$run" > $(OUT)/train.run
	@echo "fn-train $(strip $(TRAIN_ARGS)) --val $(OUT)/val.n.fns --log $(OUT)/train.tsv < $<"
	@start=$$(date +%s%N); set +e; \
	$(if $(TIME_LIMIT),timeout $(TIME_LIMIT)) fn-train $(TRAIN_ARGS) --val $(OUT)/val.n.fns --log $(OUT)/train.tsv \
	  --resume $(OUT)/train.state --out $@ < $< 2>&1 | tee -a $(OUT)/train.log >&2; \
	rc=$${PIPESTATUS[0]}; set -e; \
	if [ $$rc = 124 ] && [ -n "$(TIME_LIMIT)" ] && [ -f $@ ]; then \
	  echo "$(NAME): fn-train stopped at TIME_LIMIT=$(TIME_LIMIT) s; the best model so far is kept; the same command continues" | tee -a $(OUT)/train.log >&2; \
	  touch $(OUT)/train.unfinished; \
	elif [ $$rc != 0 ]; then exit $$rc; else rm -f $(OUT)/train.unfinished; fi; \
	ms=$$(( ($$(date +%s%N) - start) / 1000000 )); \
	printf 'seconds\t%d.%03d\nhost\t%s, %s CPUs, %s\n' $$((ms / 1000)) $$((ms % 1000)) "$$(uname -n)" "$$(nproc)" \
	  "$$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)" > $(OUT)/train.time

$(OUT)/%.pred.fns: $(OUT)/%.n.fns $(OUT)/model.safetensors $(O_INFER)
	fn-infer -m $(OUT)/model.safetensors $(INFER_ARGS) -o $@ $<

# fn-score: the JSON target, and one TSV line per image in OUT/PART.scores.tsv; NATIVE=1: the prediction
# back at each image's own size, the original mask (and roi) put back; POST: fn-post first. Without
# POST, fn-score --restore does the restore itself (no native-size pred through a pipe: the same scores)
score_in = $(if $(strip $(POST)),$(if $(filter 1,$(NATIVE)),fn-resize --restore --drop-image $<,cat $<) | fn-post $(POST) |)
score_opts = $(if $(and $(filter 1,$(NATIVE)),$(if $(strip $(POST)),,1)),--restore )$(SCORE_OPTS) --json --per-image $(OUT)/$1.scores.tsv
score = $(score_in) fn-score $(score_opts) $(if $(strip $(POST)),,$<) > $@
$(OUT)/scores.json: $(OUT)/val.pred.fns $(O_SCORE)
	$(call score,val)
$(OUT)/test.scores.json: $(OUT)/test.pred.fns $(O_SCORE)
	$(call score,test)

$(OUT)/test.fns: $(wildcard $(TEST_IMAGES) $(TEST_MASKS) $(TEST_IMAGES)/* $(TEST_MASKS)/*) $(O_TEST)
	$(TEST_CMD) > $@

$(OUT)/report.md: $(OUT)/scores.json $(OUT)/val.pred.fns $(OUT)/model.safetensors \
    $(if $(TEST),$(OUT)/test.scores.json) $(RECIPE_DIR)report.sh $(RECIPE_DIR)st.sh
	bash $(RECIPE_DIR)report.sh $(OUT) "$(NAME)" "$(if $(INPUT),$(INPUT),$(DATA))" "$(SIZE)" "$(NATIVE)" "$(POST)" "$(ROI)" "$(ARCH)"
