# fn: FocusNet segmentation as composable Unix filters.
#   make            build every tool into build/bin
#   make test       unit tests, gradient checks, golden check, Bats CLI tests (no GPU needed)
#   make test-valgrind  the finished tools under valgrind on small inputs (~1 min; not in make test)
#   make demo       synthetic data through the whole pipeline
#   make bench      benchmarks that print figures
#   make install PREFIX=/usr/local
# Switches: WERROR=1 (warnings are errors, as in CI), SANITIZE=1 (ASan + UBSan), DEBUG=1 (-O0).

PREFIX ?= /usr/local
BUILD  ?= build
CC     ?= cc
SHARED ?= ../shared
GOLDEN ?= $(SHARED)/golden/focusnet_c1_2x32x32.safetensors

PKGS    := msgpack jansson libpng libjpeg openblas zlib
PKGCFLAGS := $(shell pkg-config --cflags $(PKGS) libtiff-4 2>/dev/null)
PKGLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libtiff only in libfn-tiff.so (see "DICOM and TIFF" below)
TIFF_LIBS := $(shell pkg-config --libs libtiff-4 2>/dev/null)

OPT     := $(if $(DEBUG),-O0,-O2)
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow -fopenmp -Ilib $(PKGCFLAGS)
CFLAGS  += -MMD -MP
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
override BUILD := $(BUILD)-san
# oneDNN 2.6's AMX code generator reads a member array of its own past its end as it makes some brgemm
# kernels (libdnnl.so.2 +0x6bf1ef: an 8-byte element at index 240): harmless with the C library's
# allocator, a segfault in 2 of 8 runs of test_cpu_ops where ASan's allocator puts that array at the end
# of the 64 KB it has mapped. So the sanitizer runs take oneDNN's AVX-512 bf16 kernels without AMX (a Zen
# 4/5's; 0 of 8 runs faulted), unless ONEDNN_MAX_CPU_ISA is set; the plain `make test` runs AMX's.
export ONEDNN_MAX_CPU_ISA ?= AVX512_CORE_BF16
endif
# the libFuzzer build of `make fuzz` (clang): the library instrumented for coverage, ASan + UBSan; the
# stream reader reads 4 KiB at a time (its buffer grows more often, an input costs less)
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-pass-failed \
           -DFN_READ_CHUNK=4096
LDFLAGS += -fsanitize=address,undefined
override BUILD := build-fuzz
endif
LDFLAGS += -fopenmp
LDLIBS  += $(PKGLIBS) -lmsgpackc -lgif -lm -ldl -lpthread
# oneDNN's SGEMM beside OpenBLAS's in the CPU backend (lib/cpu/sgemm.c); DNNL=0 builds without it (the
# self-contained GPU check program, which links its libraries statically: Debian has no static oneDNN)
DNNL    ?= 1
ifeq ($(DNNL),1)
CFLAGS  += -DFN_DNNL
LDLIBS  += -ldnnl
endif

# medical volumes (lib/data/volume.c): NIfTI-1/2 through nifticlib (Debian libnifti2-dev)
CFLAGS  += -isystem /usr/include/nifti
LDLIBS  += -lnifti2 -lznz

LIB_DIRS := lib/base lib/data lib/imgproc lib/eval lib/backend
LIB_SRC  := $(filter-out lib/data/codec_tiff.c,$(wildcard $(LIB_DIRS:%=%/*.c) lib/cpu/*.c lib/nn/*.c lib/train/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# the hot loops fn writes itself, compiled once more per vector ISA level, each copy's names suffixed
# (lib/cpu/cpu.h, "Run-time dispatch"): FILE.avx2.o and FILE.avx512.o beside FILE.o
CPU_ISA_SRC := lib/cpu/winograd_f43.c lib/cpu/winograd_f32.c lib/cpu/winograd_rows.c lib/cpu/elementwise.c \
               lib/cpu/pool.c lib/cpu/se.c lib/cpu/loss.c lib/cpu/adam.c lib/cpu/layout.c lib/cpu/chsum.c \
               lib/cpu/norm_nhwc.c
ISA_X86     := $(filter x86_64,$(shell uname -m))
ISA_avx2    := -DCPU_ISA=1 $(if $(ISA_X86),-mavx2)
ISA_avx512  := -DCPU_ISA=2 $(if $(ISA_X86),-mavx512f)
LIB_OBJ  += $(foreach i,avx2 avx512,$(CPU_ISA_SRC:%.c=$(BUILD)/obj/%.$(i).o))
LIBFN    := $(BUILD)/libfn.a
CMD_SRC  := $(wildcard cmd/fn-*.c)
TOOLS    := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
SCRIPTS  := $(wildcard pipelines/fn-parallel)
SCRIPTS_B := $(SCRIPTS:pipelines/%=$(BUILD)/bin/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS_T  := $(wildcard tests/tools/*.c)
TOOLS_TB := $(TOOLS_T:tests/tools/%.c=$(BUILD)/tests/%)
MANS     := $(wildcard man/*.1 man/*.5 man/*.7)
# MPI for data-parallel fn-train, in a library that lib/train/dist.c loads only under mpirun, so that
# the tools link no MPI; built when mpicc is found (Debian: libopenmpi-dev)
MPICC  ?= $(shell command -v mpicc 2>/dev/null)
MPILIB := $(if $(MPICC),$(BUILD)/libfn-mpi.so)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
REPLAYS  := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz-%)

.PHONY: all tools test check-layout test-unit test-bats test-long test-valgrind check-golden demo bench install clean cuda test-gpu
.PHONY: test-fuzz fuzz fuzz-bins
all: tools
tools: $(BUILD)/.deps-ok $(TOOLS) $(TOOLS_TB) $(SCRIPTS_B) $(MPILIB)

$(BUILD)/libfn-mpi.so: mpi/fn-mpi.c lib/train/mpi.h
	@mkdir -p $(dir $@)
	$(MPICC) $(OPT) -g -std=c11 -Wall -Wextra -Wno-unused-parameter $(if $(filter 1,$(WERROR)),-Werror) -fPIC \
	  -shared -fvisibility=hidden -Ilib -o $@ $<

# install the missing Debian packages of .ci/deps (as root or with sudo -n), or say exactly what to
# apt-get install (.ci/check-deps). Included, so that make runs it before building anything and then
# reads this file again (pkg-config and mpicc are looked up after the install)
$(BUILD)/.deps-ok: .ci/deps
	@sh .ci/check-deps
	@mkdir -p $(dir $@) && touch $@
ifneq ($(MAKECMDGOALS),clean)
include $(BUILD)/.deps-ok
endif
$(LIB_OBJ): | $(BUILD)/.deps-ok

# scripts sit beside the tools in the build tree too, so tests and recipes find them on one PATH
$(SCRIPTS_B): $(BUILD)/bin/%: pipelines/%
	@mkdir -p $(dir $@)
	install -m 755 $< $@

# keep the objects of tools and tests (make would delete them as intermediates and recompile them
# on every relink)
.SECONDARY:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/obj/%.avx2.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ISA_avx2) -c $< -o $@
$(BUILD)/obj/%.avx512.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ISA_avx512) -c $< -o $@

$(LIBFN): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# DICOM and TIFF, in two libraries that lib/data/plugin.c loads with dlopen on the first DICOM or TIFF file
# read or written (lib/data/plugin.h), so that the tools start without DCMTK, libtiff and theirs:
# $(BUILD)/libfn-dicom.so (lib/data/dicom.cc, a thin C++ file over DCMTK; Debian libdcmtk-dev) and
# $(BUILD)/libfn-tiff.so (lib/data/codec_tiff.c over libtiff). Each holds position-independent copies of
# the few objects of lib/ that it uses, and of fn's names exports only its table (-fvisibility=hidden). The fuzz
# harnesses link the codecs' objects themselves (plugin.c then loads nothing). A plugin is linked with cc,
# so a sanitized build leaves out UBSan's C++-only checks in dicom.cc (vptr; clang: function), and under
# the sanitizers its names may stay undefined (their runtime is the program's)
comma      := ,
DCM_CXX    := $(if $(findstring clang,$(CC)),clang++,$(CXX))
DCM_LIBS   := -ldcmdata -loflog -lofstd -lstdc++
PIC        := $(BUILD)/pic
PIC_FLAGS  := -fPIC -fvisibility=hidden
DCM_OBJ    := $(PIC)/lib/data/dicom.o
TIFF_OBJ   := $(PIC)/lib/data/codec_tiff.o
PLUGIN_OBJ := $(DCM_OBJ) $(TIFF_OBJ)
PLUGINS    := $(BUILD)/libfn-dicom.so $(BUILD)/libfn-tiff.so
PLUGIN_LIBS := $(DCM_LIBS) $(TIFF_LIBS)
PLUGIN_LD  := $(filter-out -fopenmp,$(LDFLAGS)) -shared $(if $(findstring -fsanitize,$(LDFLAGS)),,-Wl$(comma)--no-undefined)
tools: $(PLUGINS)
# test_codec writes its TIFF inputs with libtiff itself
$(BUILD)/tests/test_codec: LDLIBS += $(TIFF_LIBS)

$(PIC)/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -c $< -o $@
$(DCM_OBJ): lib/data/dicom.cc | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(DCM_CXX) $(filter-out -std=c11 -Wshadow,$(CFLAGS)) -std=c++17 $(PIC_FLAGS) $(if $(findstring -fsanitize,$(CFLAGS)),-fno-sanitize=vptr$(if $(findstring clang,$(DCM_CXX)),$(comma)function)) \
	  -c $< -o $@

$(BUILD)/libfn-dicom.so: $(DCM_OBJ) $(PIC)/lib/base/err.o $(PIC)/lib/data/dcmfile.o
	$(CC) $(PLUGIN_LD) -o $@ $^ $(DCM_LIBS)
$(BUILD)/libfn-tiff.so: $(TIFF_OBJ) $(PIC)/lib/base/err.o $(PIC)/lib/base/tensor.o $(PIC)/lib/data/image.o
	$(CC) $(PLUGIN_LD) -o $@ $^ $(TIFF_LIBS) -lm

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBFN) $(LDLIBS)

# a fuzz harness built as a plain program that replays the files it is given (tests/fuzz/replay.c)
# (with the codecs' objects, see "DICOM and TIFF")
$(BUILD)/tests/fuzz-%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(PLUGIN_OBJ) $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/obj/tests/fuzz/fuzz_$*.o $(BUILD)/obj/tests/fuzz/replay.o $(PLUGIN_OBJ) $(LIBFN) \
	  $(LDLIBS) $(PLUGIN_LIBS)

# tests ------------------------------------------------------------------------------------------
test: check-layout test-unit check-golden test-fuzz test-bats

# the layers of lib/ (README, "Layout"): no include of a folder above a file's own, no include cycle, no
# two objects of lib/ using each other's names (tests/layout.py)
check-layout: $(LIBFN) $(PLUGIN_OBJ)
	@python3 tests/layout.py . $(LIB_OBJ) $(PLUGIN_OBJ)

# every input that fuzzing found a fault with, through its harness (tests/fuzz/regress/NAME/)
test-fuzz: $(REPLAYS)
	@for n in $(FUZZ_NAMES); do d=tests/fuzz/regress/$$n; [ -d $$d ] || continue; \
	  $(BUILD)/tests/fuzz-$$n $$d || exit 1; done

# the CPU ops again on oneDNN's AVX2 path (ONEDNN_MAX_CPU_ISA=AVX2): bf16 refused there in one line; and
# the ops and networks on its AVX-512 bf16 path without AMX (AVX512_CORE_BF16: an AMD Zen 4 or 5's, whose
# primitives take other layouts than AMX's), which on a CPU without AMX is the default run again
test-unit: $(UNITS) $(PLUGINS)
	@fail=0; for t in $(UNITS); do echo "== $$t"; $$t || fail=1; done; \
	  echo "== ONEDNN_MAX_CPU_ISA=AVX2 $(BUILD)/tests/test_cpu_ops"; \
	  ONEDNN_MAX_CPU_ISA=AVX2 $(BUILD)/tests/test_cpu_ops || fail=1; \
	  for t in test_cpu_ops test_nn; do echo "== ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 $(BUILD)/tests/$$t"; \
	    ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 $(BUILD)/tests/$$t || fail=1; done; exit $$fail

test-bats: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_TESTBIN=$(abspath $(BUILD)/tests) FN_SHARED=$(abspath $(SHARED)) \
	  bats tests/bats

test-long: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_TESTBIN=$(abspath $(BUILD)/tests) FN_SHARED=$(abspath $(SHARED)) \
	  FN_LONG=1 bats tests/bats

# every finished tool under valgrind on small good and bad inputs (not part of `make test`: ~1 minute)
test-valgrind: tools
	FN_BIN=$(abspath $(BUILD)/bin) FN_SHARED=$(abspath $(SHARED)) bash tests/valgrind.sh

# GOLDEN, then the repository's own files: FocusNet 3-channel non-square, and each --arch network
check-golden: $(BUILD)/tests/check-golden
	@if [ -f "$(GOLDEN)" ]; then $(BUILD)/tests/check-golden "$(GOLDEN)"; \
	 else echo "check-golden: $(GOLDEN) not found: skipped"; fi
	$(BUILD)/tests/check-golden tests/golden/*.safetensors
	$(BUILD)/tests/check-golden --precision bf16 --if-supported tests/golden/focusnet_*.safetensors \
	  tests/golden/resunet_*.safetensors tests/golden/attunet_*.safetensors
	FN_CPU_KEEP=bf16 $(BUILD)/tests/check-golden --precision bf16 --if-supported tests/golden/focusnet_*.safetensors \
	  tests/golden/attunet_*.safetensors

# the CUDA backend (optional, in no other target) ------------------------------------------------
#   make cuda      $(BUILD)/libfn-cuda.so from cuda/*.cu (needs nvcc and cuDNN, not a GPU)
#   make test-gpu  CUDA-vs-CPU parity of every op and the golden check on the GPU (tests/gpu/);
#                  without a usable GPU it checks that "auto" falls back to the CPU and says skipped
# NVCC, CUDNN_INCLUDE, CUDNN_LIB are found in /usr/local/cuda or /usr/{include,lib}/x86_64-linux-gnu,
# or given on the command line. tests/gpu/check.sh is the one script to run on a GPU machine.
NVCC          ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME     ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),/usr/local/cuda)
CUDNN_INCLUDE ?= $(firstword $(foreach d,$(CUDA_HOME)/include /usr/include/x86_64-linux-gnu /usr/include,$(if $(wildcard $(d)/cudnn.h),$(d))))
CUDNN_LIB     ?= $(firstword $(foreach d,$(CUDA_HOME)/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64,$(if $(wildcard $(d)/libcudnn.so $(d)/libcudnn.so.9),$(d))))
CUDNN_LINK    ?= $(if $(wildcard $(CUDNN_LIB)/libcudnn.so),-lcudnn,-l:libcudnn.so.9)
CUDA_ARCH     ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVFLAGS       ?= -O3 -std=c++17 --fmad=false -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Wno-unused-parameter
NVFLAGS       += $(if $(filter 1,$(WERROR)),-Werror all-warnings)
CU_SRC := $(wildcard cuda/*.cu)
CU_OBJ := $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
GPU_SRC := $(wildcard tests/gpu/*.c)
GPU_OBJ := $(GPU_SRC:%.c=$(BUILD)/obj/%.o)
# gpu-check links the third-party libraries statically: it runs on GPU machines without the -dev packages
# (check.sh --prepare builds it with DNNL=0: Debian has no static oneDNN; a DNNL=1 build links it dynamically)
GPU_LDLIBS ?= $(filter -L%,$(PKGLIBS)) -Wl,--as-needed -Wl,-Bstatic -ljansson -lmsgpackc -lz -lopenblas -lgfortran \
              -lquadmath -lgomp -Wl,-Bdynamic -lm -ldl -lpthread $(if $(filter 1,$(DNNL)),-ldnnl)

.PHONY: cuda-need
cuda: $(BUILD)/libfn-cuda.so

cuda-need:
	@test -n "$(NVCC)" || { echo "make cuda: nvcc not found: put CUDA's bin folder on PATH or set NVCC=/path/to/nvcc" >&2; exit 1; }
	@test -n "$(CUDNN_INCLUDE)" || { echo "make cuda: cudnn.h not found in $(CUDA_HOME)/include or /usr/include[/x86_64-linux-gnu]: set CUDNN_INCLUDE=DIR" >&2; exit 1; }
	@test -n "$(CUDNN_LIB)" || { echo "make cuda: libcudnn.so not found in $(CUDA_HOME)/lib64 or /usr/lib/x86_64-linux-gnu: set CUDNN_LIB=DIR" >&2; exit 1; }

$(BUILD)/obj/cuda/%.o: cuda/%.cu $(wildcard cuda/*.h) lib/backend/backend.h lib/base/err.h | cuda-need
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) $(CUDA_ARCH) -Ilib -I$(CUDNN_INCLUDE) -c $< -o $@

$(BUILD)/libfn-cuda.so: $(CU_OBJ) | cuda-need
	$(NVCC) -shared $(CUDA_ARCH) -cudart static -o $@ $(CU_OBJ) -L$(CUDNN_LIB) $(CUDNN_LINK) \
	  -Xlinker --exclude-libs,ALL -Xlinker --no-undefined -Xlinker -rpath,$(CUDNN_LIB)

$(BUILD)/tests/gpu-check: $(GPU_OBJ) $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fopenmp,$(LDFLAGS)) -o $@ $(GPU_OBJ) $(LIBFN) $(GPU_LDLIBS)

test-gpu: cuda $(BUILD)/tests/gpu-check
	@if $(BUILD)/tests/gpu-check open cuda; then \
	  $(BUILD)/tests/gpu-check parity && \
	  if [ -f "$(GOLDEN)" ]; then $(BUILD)/tests/gpu-check golden --device cuda "$(GOLDEN)"; \
	  else echo "test-gpu: $(GOLDEN) not found: golden check skipped"; fi; \
	else $(BUILD)/tests/gpu-check open auto && echo "test-gpu: no usable GPU: GPU checks skipped"; fi

# fuzzing (clang's libFuzzer, ASan + UBSan; not in make test) -----------------------------------------
#   make fuzz FUZZ_S=N   each harness of tests/fuzz/ in turn for N seconds (default 60; FUZZ_RUNS=N: until
#                        N executions instead; FUZZ_NAMES="a b": those harnesses only), from a seed
#                        corpus that tests/fuzz/seeds.sh builds at run time (test data, small files of
#                        $(SHARED)/data, small synthetic files); a finding stops the run, and its input
#                        goes under build-fuzz/findings/ (keep it in tests/fuzz/regress/NAME/ once fixed)
FUZZ_S ?= 60
fuzz: tools
	@$(MAKE) --no-print-directory FUZZ=1 CC=clang fuzz-bins
	FUZZ_S=$(FUZZ_S) FUZZ_RUNS=$(FUZZ_RUNS) FN_BIN=$(abspath $(BUILD)/bin) FN_SHARED=$(abspath $(SHARED)) bash tests/fuzz/run.sh $(FUZZ_NAMES)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(PLUGIN_OBJ) $(LIBFN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) $(PLUGIN_LIBS)

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
	install -m 755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/fn
	if [ -f $(BUILD)/libfn-cuda.so ]; then install -m 755 $(BUILD)/libfn-cuda.so $(DESTDIR)$(PREFIX)/lib/fn; fi
	if [ -f $(BUILD)/libfn-mpi.so ]; then install -m 755 $(BUILD)/libfn-mpi.so $(DESTDIR)$(PREFIX)/lib/fn; fi

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj $(PIC) -name '*.d' 2>/dev/null)
