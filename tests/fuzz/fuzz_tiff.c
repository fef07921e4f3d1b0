/* fuzz_tiff.c: the TIFF decoder (see fuzz_decode.h). The harnesses link the codecs' objects (Makefile), so
 * fn_tiff_decode runs codec_tiff.c's code linked in, instrumented, without loading libfn-tiff.so. */
#include "data/codec_tiff.h"
#define FUZZ_DECODE fn_tiff_decode
#include "fuzz_decode.h"
