/* golden.c: tests/tools/check-golden.c inside gpu-check (as `gpu-check golden ...`), compiled in its own
 * translation unit with its main renamed, so that the GPU machine needs one self-contained program. */
#include "gpu.h"
#define main gpu_golden_main
#include "../tools/check-golden.c"
