# pipelines/demo.mk: the demo behind `make demo`: a synthetic data set through the tools.
#
#   make -f pipelines/demo.mk BIN=build/bin OUT=runs/demo [N=16 SIZE=64x64 CHANNELS=1 SEED=1]
#
# Each stage is a target writing into $(OUT); make reruns only what changed.
# A look at the data: fn-synth -> synth.fns, fn-info -> info.txt (also shown), fn-write -> png/.
# The whole pipeline (below): split, normalise, augment, train FocusNet (or ARCH=unet, resunet, runet,
# r2unet, attunet), infer, score, overlays.

BIN      ?= build/bin
OUT      ?= runs/demo
N        ?= 16
SIZE     ?= 64x64
CHANNELS ?= 1
SEED     ?= 1

export PATH := $(BIN):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DELETE_ON_ERROR:

.PHONY: all
all: $(OUT)/info.txt $(OUT)/png/.done
	@echo
	@echo "demo: outputs in $(OUT)/"
	@echo "  synth.fns   $(N) synthetic frames (fn-synth -n $(N) --size $(SIZE) --channels $(CHANNELS) --seed $(SEED))"
	@echo "  info.txt    fn-info's description of them"
	@if [ -x $(BIN)/fn-write ]; then echo "  png/        their images and masks as PNG (fn-write)"; fi

$(OUT)/synth.fns: $(BIN)/fn-synth
	@mkdir -p $(OUT)
	fn-synth -n $(N) --size $(SIZE) --channels $(CHANNELS) --seed $(SEED) -o $@

$(OUT)/info.txt: $(OUT)/synth.fns $(BIN)/fn-info
	fn-info $< | tee $@

# fn-write is optional until it exists in $(BIN)
$(OUT)/png/.done: $(OUT)/synth.fns $(wildcard $(BIN)/fn-write)
	@if [ -x $(BIN)/fn-write ]; then \
	  echo "rm -rf $(OUT)/png && fn-write $(OUT)/png < $<"; \
	  rm -rf $(OUT)/png && fn-write $(OUT)/png < $< && touch $@; \
	else \
	  echo "demo: no $(BIN)/fn-write yet: PNG step skipped"; \
	fi

# ---- the neural part: split, normalise, augment, train, infer, score, overlays ------------------------
# Its own, larger synthetic set (NN_N frames of NN_SIZE), so that the stages above stay quick:
#   nn.fns -> nn.train.fns, nn.val.fns (fn-split) -> nn.stats.json, nn.train.n.fns (fn-normalize --fit)
#   -> nn.val.n.fns (--stats) -> nn.train.aug.fns (fn-augment) -> model.safetensors (fn-train, log
#   train.tsv) -> val.pred.fns (fn-infer) -> scores.txt (fn-score) -> overlays/ (fn-write --overlay)
# A small network (WIDTH) on the CPU: 16 epochs of about 6 s on 2 idle cores (1 min 40 s for the whole
# demo on a 2-core AMD EPYC Zen 4; validation Dice 0.972 to 0.975, tests/bats/demo.bats). BN=recompute (the default, as the recipes): batch-norm statistics
# recomputed over the training set before each validation, so the kept model's statistics fit its
# weights; BN=running: the paper's running averages, whose lag makes the curve jump by 0.03 and more.
NN_N    ?= 160
NN_SIZE ?= 64x64
WIDTH   ?= 0.25
ARCH    ?= focusnet
EPOCHS  ?= 16
BATCH   ?= 8
DEVICE  ?= cpu
THREADS ?=
AUG     ?= -k -n 1 --hflip 0.5 --vflip 0.5
BN      ?= recompute
ifeq ($(filter recompute running,$(BN)),)
$(error BN=$(BN): want recompute or running)
endif
NN_THREADS := $(if $(THREADS),--threads $(THREADS))

all: neural
.PHONY: neural
neural: $(OUT)/scores.txt $(OUT)/overlays/.done
	@echo
	@echo "demo: $(ARCH) (width $(WIDTH), $(EPOCHS) epochs, $(DEVICE)) on $(NN_N) synthetic $(NN_SIZE) frames;"
	@echo "      scores of the held-out validation part (fn-score):"
	@sed 's/^/  /' $(OUT)/scores.txt
	@echo "  model:    $(OUT)/model.safetensors (training log $(OUT)/train.tsv)"
	@echo "  pictures: $(OUT)/overlays/ (input | truth | prediction per validation frame)"

$(OUT)/nn.fns: $(BIN)/fn-synth
	@mkdir -p $(OUT)
	fn-synth -n $(NN_N) --size $(NN_SIZE) --channels $(CHANNELS) --seed $(SEED) -o $@

$(OUT)/nn.train.fns $(OUT)/nn.val.fns &: $(OUT)/nn.fns $(BIN)/fn-split
	fn-split --ratio 0.8 --seed $(SEED) $(OUT)/nn.train.fns $(OUT)/nn.val.fns $<

$(OUT)/nn.stats.json $(OUT)/nn.train.n.fns &: $(OUT)/nn.train.fns $(BIN)/fn-normalize
	fn-normalize --fit $(OUT)/nn.stats.json -o $(OUT)/nn.train.n.fns $<

$(OUT)/nn.val.n.fns: $(OUT)/nn.val.fns $(OUT)/nn.stats.json
	fn-normalize --stats $(OUT)/nn.stats.json -o $@ $<

$(OUT)/nn.train.aug.fns: $(OUT)/nn.train.n.fns $(BIN)/fn-augment
	fn-augment $(AUG) --seed $(SEED) -o $@ $<

# the network (fn-train --arch) in a file that changes only with ARCH, so that another ARCH retrains
.PHONY: arch-changed
$(OUT)/arch: arch-changed
	@mkdir -p $(OUT)
	@echo $(ARCH) | cmp -s - $@ || echo $(ARCH) > $@

$(OUT)/model.safetensors: $(OUT)/nn.train.aug.fns $(OUT)/nn.val.n.fns $(BIN)/fn-train $(OUT)/arch
	rm -f $@.state
	fn-train --device $(DEVICE) $(NN_THREADS) --arch $(ARCH) --width $(WIDTH) --epochs $(EPOCHS) --batch $(BATCH) \
	  $(if $(filter recompute,$(BN)),--bn-recompute) --seed $(SEED) --progress --val $(OUT)/nn.val.n.fns --log $(OUT)/train.tsv -o $@ $<

$(OUT)/val.pred.fns: $(OUT)/nn.val.n.fns $(OUT)/model.safetensors $(BIN)/fn-infer
	fn-infer --device $(DEVICE) $(NN_THREADS) -m $(OUT)/model.safetensors -o $@ $<

$(OUT)/scores.txt: $(OUT)/val.pred.fns $(BIN)/fn-score
	fn-score $< > $@

$(OUT)/overlays/.done: $(OUT)/val.pred.fns $(BIN)/fn-write
	rm -rf $(OUT)/overlays
	fn-write --overlay $(OUT)/overlays $<
	touch $@
