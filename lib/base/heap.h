/* heap.h: malloc settings for tools that handle big, short-lived frames. */
#ifndef FN_HEAP_H
#define FN_HEAP_H

#include <stddef.h>

/* Keep freed memory in the heap for the next frame (no unmapping and faulting fresh pages in again),
 * and back the first `reserve` bytes of the heap with transparent huge pages where the kernel offers
 * them on request (THP "madvise"): a 2 MiB page costs one fault instead of 512. Call it first in main. */
void fn_heap_for_frames(size_t reserve);

#endif
