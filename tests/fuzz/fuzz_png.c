/* fuzz_png.c: the PNG decoder (see fuzz_decode.h) */
#include "data/codec_png.h"
#define FUZZ_DECODE fn_png_decode
#include "fuzz_decode.h"
