/*
 * What the addon's C files share: the one typed-array getter of the N-API glue (chorus_nn.c) and
 * the kernels other files register in chorus_nn.c's module init.
 */
#ifndef CHORUS_NAPI_GLUE_H
#define CHORUS_NAPI_GLUE_H
#include <node_api.h>
#include <stddef.h>

/* The data and length of a typed array of the wanted type; throws a TypeError with `msg` and returns 0 otherwise. */
int chorus_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *msg, void **data, size_t *len);
/* A number argument (0 when it is not one; callers range-check what they read). */
double chorus_num(napi_env env, napi_value v);

napi_value chorus_bpr_epoch(napi_env env, napi_callback_info info); /* bpr.c */
napi_value chorus_als_sweep(napi_env env, napi_callback_info info); /* als.c */
napi_value chorus_knn_sim_rows(napi_env env, napi_callback_info info); /* knn.c */
napi_value chorus_sampled_softmax_head(napi_env env, napi_callback_info info); /* seqtrain.c */
napi_value chorus_ema_step(napi_env env, napi_callback_info info); /* seqtrain.c */
napi_value chorus_gru_forward(napi_env env, napi_callback_info info); /* seqtrain.c */
napi_value chorus_gru_backward(napi_env env, napi_callback_info info); /* seqtrain.c */
napi_value chorus_fdlibm_math(napi_env env, napi_callback_info info); /* seqtrain.c */
/* C = alpha·op(A)·op(B) + beta·C, row-major (chorus_nn.c's GEMM); 0 when out of memory. */
int chorus_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);

#endif
