/* isa.c: the vector ISA level of fn's own hot loops for a new context (declared in cpu.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cpu.h"

/* the level an environment value caps at, or -1 (no cap): FN_CPU_ISA's names, or oneDNN's
 * ONEDNN_MAX_CPU_ISA values (SSE41, AVX, AVX2, AVX2_VNNI, AVX512_CORE, ..., ALL, DEFAULT) */
static int cap_of(const char *v) {
    if (!v || !*v) return -1;
    if (!strcasecmp(v, "x86-64") || !strcasecmp(v, "sse41") || !strcasecmp(v, "avx")) return CPU_ISA_X86_64;
    if (!strncasecmp(v, "avx2", 4)) return CPU_ISA_AVX2;
    if (!strncasecmp(v, "avx512", 6) || !strncasecmp(v, "amx", 3)) return CPU_ISA_AVX512;
    return -1;
}

int cpu_isa_pick(void) {
    int isa = CPU_ISA_X86_64;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) isa = CPU_ISA_AVX2;
    if (__builtin_cpu_supports("avx512f")) isa = CPU_ISA_AVX512;
#endif
    int cap = cap_of(getenv("FN_CPU_ISA"));
    if (cap < 0) cap = cap_of(getenv("ONEDNN_MAX_CPU_ISA"));
    return cap >= 0 && cap < isa ? cap : isa;
}

const char *cpu_isa_name(int isa) {
    return isa == CPU_ISA_AVX512 ? "AVX-512" : isa == CPU_ISA_AVX2 ? "AVX2" : "x86-64";
}
