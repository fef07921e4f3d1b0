/* fuzz_tiff.c: the TIFF decoder (see fuzz_decode.h) */
#include "data/codec_tiff.h"
#define FUZZ_DECODE fn_tiff_decode
#include "fuzz_decode.h"
