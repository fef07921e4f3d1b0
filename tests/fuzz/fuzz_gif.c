/* fuzz_gif.c: the GIF decoder (see fuzz_decode.h) */
#include "data/codec_gif.h"
#define FUZZ_DECODE fn_gif_decode
#include "fuzz_decode.h"
