/* fuzz_jpeg.c: the JPEG decoder (see fuzz_decode.h) */
#include "data/codec_jpeg.h"
#define FUZZ_DECODE fn_jpeg_decode
#include "fuzz_decode.h"
