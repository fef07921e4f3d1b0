/* sgemm.c: the matrix products of every CPU op: each kind of product on the library that measured
 * faster for it (declared in cpu.h). */
#include <omp.h>
#include <cblas.h>
#ifdef FN_DNNL
#include <dnnl.h>
#endif
#include "cpu.h"

/* Measured on the convolutions' shapes (bench-conv, one thread per call): oneDNN's SGEMM is 10-25%
 * faster than OpenBLAS's on C = A B and C = A^T B, OpenBLAS's about 10% faster on C = A B^T (the
 * filter gradients), so each takes its kind (FN_CPU_GEMM=openblas or onednn: one of them for all).
 * Every call comes from inside one of our parallel regions: oneDNN is kept to the calling thread, even
 * in a team of one, where it would otherwise start threads of its own. */
void cpu_sgemm_by(int lib, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
#ifdef FN_DNNL
    if (lib == 1 || (lib == 0 && !tb)) {
        if (omp_get_max_threads() != 1) omp_set_num_threads(1); /* this thread's setting, in this region */
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
}

void cpu_sgemm(const cpu_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (c->prec == FN_PREC_BF16 && K > 0 && alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
        cpu_gemm_bf16(c, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cpu_sgemm_by(c->gemm, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
