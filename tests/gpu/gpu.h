/* gpu.h: the parts of gpu-check, the one test program for the CUDA backend (tests/gpu/check.sh).
 *   gpu-check open DEVICE        open a backend as the tools do; print it, or the one-line reason
 *   gpu-check parity [options]   every op of lib/backend/backend.h on the CPU and the CUDA backend, compared
 *   gpu-check golden [args]      tests/tools/check-golden (use --device cuda)
 *   gpu-check bench [options]    FocusNet training and inference speed on a device
 *   gpu-check train [options]    a short FocusNet training on fn-synth's data set: the validation Dice
 * It is linked with the third-party libraries static, so that it runs on a GPU machine that lacks them. */
#ifndef FN_TESTS_GPU_H
#define FN_TESTS_GPU_H

#include <stddef.h>

int gpu_parity_main(int argc, char **argv);
int gpu_golden_main(int argc, char **argv);
int gpu_bench_main(int argc, char **argv);
int gpu_train_main(int argc, char **argv);

struct fn_backend;
/* the backend of DEV in precision prec, deterministic (when the backend has the setting) or not; NULL after
 * one line "gpu-check CMD: why" on stderr. note (may be NULL) gets fn_backend_open's note. */
struct fn_backend *gpu_open(const char *cmd, const char *dev, int prec, int det, char *note, size_t note_len);

#endif
