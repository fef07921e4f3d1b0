# fn: FocusNet segmentation as composable Unix filters.
#   make            build every tool into build/bin
#   make test       unit tests, gradient checks, golden check, Bats CLI tests (no GPU needed)
#   make demo       synthetic data through the whole pipeline
#   make bench      benchmarks that print figures
#   make install PREFIX=/usr/local
# Switches: WERROR=1 (warnings are errors, as in CI), SANITIZE=1 (ASan + UBSan), DEBUG=1 (-O0).

PREFIX ?= /usr/local
BUILD  ?= build
CC     ?= cc
SHARED ?= ../shared
GOLDEN ?= $(SHARED)/golden/focusnet_c1_2x32x32.safetensors

PKGS    := msgpack jansson libpng libjpeg libtiff-4 openblas
PKGCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     := $(if $(DEBUG),-O0,-O2)
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow -fopenmp -Ilib $(PKGCFLAGS)
CFLAGS  += -MMD -MP
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
BUILD   := $(BUILD)-san
endif
LDFLAGS += -fopenmp
LDLIBS  += $(PKGLIBS) -lmsgpackc -lgif -lm -ldl -lpthread

LIB_SRC  := $(wildcard lib/*.c lib/cpu/*.c lib/nn/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBFN    := $(BUILD)/libfn.a
CMD_SRC  := $(wildcard cmd/fn-*.c)
TOOLS    := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
SCRIPTS  := $(wildcard pipelines/fn-parallel)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS_T  := $(wildcard tests/tools/*.c)
TOOLS_TB := $(TOOLS_T:tests/tools/%.c=$(BUILD)/tests/%)
MANS     := $(wildcard man/*.1 man/*.5 man/*.7)

.PHONY: all tools test test-unit test-bats test-long check-golden demo bench install clean cuda test-gpu
all: tools
tools: $(TOOLS) $(TOOLS_TB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBFN): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

# tests ------------------------------------------------------------------------------------------
test: test-unit check-golden test-bats

test-unit: $(UNITS)
	@fail=0; for t in $(UNITS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

test-bats: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_TESTBIN=$(abspath $(BUILD)/tests) FN_SHARED=$(abspath $(SHARED)) \
	  bats tests/bats

test-long: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_TESTBIN=$(abspath $(BUILD)/tests) FN_SHARED=$(abspath $(SHARED)) \
	  FN_LONG=1 bats tests/bats

check-golden: $(BUILD)/tests/check-golden
	@if [ -f "$(GOLDEN)" ]; then $(BUILD)/tests/check-golden "$(GOLDEN)"; \
	 else echo "check-golden: $(GOLDEN) not found: skipped"; fi

# the demo and the benchmarks ----------------------------------------------------------------------
demo: tools
	@$(MAKE) --no-print-directory -f pipelines/demo.mk BIN=$(abspath $(BUILD)/bin) OUT=runs/demo

bench: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_TESTBIN=$(abspath $(BUILD)/tests) FN_SHARED=$(abspath $(SHARED)) \
	  bash tests/bench/run.sh

# install ----------------------------------------------------------------------------------------
install: tools
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/lib/fn
	install -m 755 $(TOOLS) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s; done
	if [ -f $(BUILD)/libfn-cuda.so ]; then install -m 755 $(BUILD)/libfn-cuda.so $(DESTDIR)$(PREFIX)/lib/fn; fi

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
