/*
 * Chorus nn kernels: a packed, register-blocked single-precision GEMM, a fused Adam step and the
 * factor-scoring GEMV (score_rows, the serving hot loop),
 * exported through plain N-API (no npm or system library needed; node-gyp builds it at install).
 * Vector code uses GCC/Clang vector extensions, so no intrinsics tie it to one ISA. On x86-64
 * the GEMM micro-kernel is compiled twice (target_clones): for x86-64-v3 (AVX2 + FMA) and for the baseline,
 * and the loader picks the one the CPU supports at run time — so a binary built on one machine
 * never dies with SIGILL on an older one. Loops run in a fixed order, so results are
 * deterministic for a given machine.
 */
#include <node_api.h>
#include "napi_glue.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

#define MR 6
#define NR 16
#define KC 256
#define MC 120

static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

/* op(A)[i][k] for row-major A with leading dimension lda. */
#define OPA(i, k) (transA ? A[(size_t)(k) * lda + (i)] : A[(size_t)(i) * lda + (k)])
#define OPB(k, j) (transB ? B[(size_t)(j) * ldb + (k)] : B[(size_t)(k) * ldb + (j)])

/* Pack a kc x n slab of op(B) into NR-wide column panels, zero padded. */
static void pack_b(int transB, const float *B, int ldb, int k0, int kc, int n, float *Bp) {
  for (int j0 = 0; j0 < n; j0 += NR) {
    int nr = n - j0 < NR ? n - j0 : NR;
    for (int k = 0; k < kc; k++) {
      float *dst = Bp + (size_t)k * NR;
      if (!transB && nr == NR) {
        memcpy(dst, B + (size_t)(k0 + k) * ldb + j0, NR * sizeof(float));
      } else {
        int j = 0;
        for (; j < nr; j++) dst[j] = OPB(k0 + k, j0 + j);
        for (; j < NR; j++) dst[j] = 0.0f;
      }
    }
    Bp += (size_t)kc * NR;
  }
}

/* Pack an mc x kc block of op(A) into MR-tall row panels, zero padded. */
static void pack_a(int transA, const float *A, int lda, int i0, int mc, int k0, int kc, float *Ap) {
  for (int ii = 0; ii < mc; ii += MR) {
    int mr = mc - ii < MR ? mc - ii : MR;
    for (int k = 0; k < kc; k++) {
      float *dst = Ap + (size_t)k * MR;
      int i = 0;
      for (; i < mr; i++) dst[i] = OPA(i0 + ii + i, k0 + k);
      for (; i < MR; i++) dst[i] = 0.0f;
    }
    Ap += (size_t)kc * MR;
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* acc[MR][NR] = sum_k a[k][:] outer b[k][:] — 12 vector accumulators stay in registers. */
CLONES static void ukernel(int kc, const float *restrict a, const float *restrict b, float *restrict C, int ldc, int mr, int nr,
                           float alpha) {
  v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
  v8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
  for (int k = 0; k < kc; k++) {
    v8 b0 = load8(b), b1 = load8(b + 8);
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
    c00 += a0 * b0; c01 += a0 * b1;
    c10 += a1 * b0; c11 += a1 * b1;
    c20 += a2 * b0; c21 += a2 * b1;
    c30 += a3 * b0; c31 += a3 * b1;
    c40 += a4 * b0; c41 += a4 * b1;
    c50 += a5 * b0; c51 += a5 * b1;
    a += MR;
    b += NR;
  }
  v8 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      float *row = C + (size_t)i * ldc;
      store8(row, load8(row) + alpha * acc[i][0]);
      store8(row + 8, load8(row + 8) + alpha * acc[i][1]);
    }
  } else {
    float tmp[MR][NR];
    for (int i = 0; i < MR; i++) { store8(tmp[i], acc[i][0]); store8(tmp[i] + 8, acc[i][1]); }
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) C[(size_t)i * ldc + j] += alpha * tmp[i][j];
  }
}

/* Packing buffers, one set per thread: worker threads load this addon into the same process and
 * may multiply at the same time. Freed by an env cleanup hook when the thread's env ends. */
static _Thread_local float *g_ap = NULL, *g_bp = NULL;
static _Thread_local size_t g_ap_cap = 0, g_bp_cap = 0;

static void free_buffers(void *arg) {
  (void)arg;
  free(g_ap);
  free(g_bp);
  g_ap = g_bp = NULL;
  g_ap_cap = g_bp_cap = 0;
}

static int ensure(float **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  free(*buf);
  *buf = (float *)aligned_alloc(64, ((need * sizeof(float) + 63) / 64) * 64);
  *cap = *buf ? need : 0;
  return *buf != NULL;
}


/* C = alpha * op(A) * op(B) + beta * C, row-major, op(A) is M x K, op(B) is K x N. */
static int sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++) {
    float *row = C + (size_t)i * ldc;
    if (beta == 0.0f) memset(row, 0, (size_t)N * sizeof(float));
    else if (beta != 1.0f) for (int j = 0; j < N; j++) row[j] *= beta;
  }
  if (K == 0 || alpha == 0.0f) return 1;
  int npad = (N + NR - 1) / NR * NR;
  if (!ensure(&g_bp, &g_bp_cap, (size_t)KC * npad)) return 0;
  if (!ensure(&g_ap, &g_ap_cap, (size_t)KC * (MC + MR))) return 0;
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    pack_b(transB, B, ldb, k0, kc, N, g_bp);
    for (int i0 = 0; i0 < M; i0 += MC) {
      int mc = M - i0 < MC ? M - i0 : MC;
      pack_a(transA, A, lda, i0, mc, k0, kc, g_ap);
      for (int j0 = 0; j0 < N; j0 += NR) {
        int nr = N - j0 < NR ? N - j0 : NR;
        const float *bp = g_bp + (size_t)(j0 / NR) * kc * NR;
        for (int ii = 0; ii < mc; ii += MR) {
          int mr = mc - ii < MR ? mc - ii : MR;
          ukernel(kc, g_ap + (size_t)(ii / MR) * kc * MR, bp, C + (size_t)(i0 + ii) * ldc + j0, ldc, mr, nr, alpha);
        }
      }
    }
  }
  return 1;
}

/* The GEMM for the addon's other C files (seqtrain.c): the same code the JS `sgemm` export runs. */
int chorus_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
  return sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- factor scoring: out[i] = base + bias[i] + items[i, :] . user (one user, every row) ----
 *
 * The server's hot loop (10,000 rows x 65 dims per uncached request). A GEMV, not a GEMM: for one
 * user the packed sgemm spends as long packing B as multiplying, so this streams the rows once,
 * straight from the caller's array. Four rows at a time share each user vector load and give four
 * independent FMA chains; 8-wide partial sums per row are reduced once at the end of the row.
 * Compiled for x86-64-v3 (AVX2 + FMA) and the baseline (SSE2), picked by the CPU at load time
 * like the GEMM micro-kernel. Accumulation is float32 in 8 lanes, so results differ from the JS
 * kernel's float64 sequential sums in the last bits (tests compare within a tolerance). */

typedef float v4f __attribute__((vector_size(16)));

static inline float hsum8(v8 v) {
  v4f lo, hi;
  memcpy(&lo, &v, sizeof lo);
  memcpy(&hi, (const char *)&v + sizeof lo, sizeof hi);
  v4f s = lo + hi;
  return (s[0] + s[2]) + (s[1] + s[3]);
}

/* bias_kind: 0 none, 1 float32, 2 float64. */
CLONES static void score_rows(const float *restrict items, const float *restrict user, float *restrict out, int n, int dim, double base,
                              const void *bias, int bias_kind) {
  const int d8 = dim - dim % 8;
  const float *bf = (const float *)bias;
  const double *bd = (const double *)bias;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const float *r0 = items + (size_t)i * dim, *r1 = r0 + dim, *r2 = r1 + dim, *r3 = r2 + dim;
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int f = 0; f < d8; f += 8) {
      v8 u = load8(user + f);
      a0 += u * load8(r0 + f);
      a1 += u * load8(r1 + f);
      a2 += u * load8(r2 + f);
      a3 += u * load8(r3 + f);
    }
    float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
    for (int f = d8; f < dim; f++) {
      float u = user[f];
      s0 += u * r0[f];
      s1 += u * r1[f];
      s2 += u * r2[f];
      s3 += u * r3[f];
    }
    /* Base and bias added in double before the single rounding to float32, as the JS kernel does. */
    double b0 = base, b1 = base, b2 = base, b3 = base;
    if (bias_kind == 1) { b0 += bf[i]; b1 += bf[i + 1]; b2 += bf[i + 2]; b3 += bf[i + 3]; }
    else if (bias_kind == 2) { b0 += bd[i]; b1 += bd[i + 1]; b2 += bd[i + 2]; b3 += bd[i + 3]; }
    out[i] = (float)((double)s0 + b0);
    out[i + 1] = (float)((double)s1 + b1);
    out[i + 2] = (float)((double)s2 + b2);
    out[i + 3] = (float)((double)s3 + b3);
  }
  for (; i < n; i++) {
    const float *r = items + (size_t)i * dim;
    v8 a = {0};
    for (int f = 0; f < d8; f += 8) a += load8(user + f) * load8(r + f);
    float s = hsum8(a);
    for (int f = d8; f < dim; f++) s += user[f] * r[f];
    double b = base + (bias_kind == 1 ? bf[i] : bias_kind == 2 ? bd[i] : 0.0);
    out[i] = (float)((double)s + b);
  }
}

/* A[i*lda + j] -= c * u[i] * u[j] for i, j < d: the Sherman–Morrison downdate of the serving
 * bandit's d×d inverse (src/serve/sparse-regressor.ts), its O(d²) hot loop. */
CLONES static void rank1_sub(double *restrict A, int lda, const double *restrict u, int d, double c) {
  for (int i = 0; i < d; i++) {
    const double ui = c * u[i];
    if (ui == 0) continue;
    double *restrict row = A + (size_t)i * lda;
    for (int j = 0; j < d; j++) row[j] -= ui * u[j];
  }
}

/* out[r] = x_rᵀ A x_r for each row r, x_r sparse: slots idx[start[r] .. start[r+1]) with values
 * x[…] (symmetric A, row-major with leading dimension lda). The serving bandit's confidence widths
 * for every candidate of a request in one call. */
CLONES static void quad_forms(const double *restrict A, int lda, const int32_t *restrict idx, const double *restrict x,
                              const int32_t *restrict start, int rows, double *restrict out) {
  for (int r = 0; r < rows; r++) {
    const int b0 = start[r], b1 = start[r + 1];
    double q = 0;
    for (int a = b0; a < b1; a++) {
      const double *restrict row = A + (size_t)idx[a] * lda;
      double acc = 0.5 * row[idx[a]] * x[a];
      for (int b = a + 1; b < b1; b++) acc += row[idx[b]] * x[b];
      q += 2 * x[a] * acc;
    }
    out[r] = q;
  }
}

/* ---- N-API glue ---- */

/* The data and length of a typed array of the wanted type; throws a TypeError naming it otherwise (napi_glue.h). */
int chorus_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *msg, void **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  size_t n;
  if (napi_get_typedarray_info(env, v, &type, &n, &ptr, NULL, NULL) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *data = ptr;
  *len = n;
  return 1;
}

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  return chorus_typed(env, v, napi_float32_array, "expected a Float32Array", (void **)data, len);
}

static int get_f64(napi_env env, napi_value v, double **data, size_t *len) {
  return chorus_typed(env, v, napi_float64_array, "expected a Float64Array", (void **)data, len);
}

static int get_i32(napi_env env, napi_value v, int32_t **data, size_t *len) {
  return chorus_typed(env, v, napi_int32_array, "expected an Int32Array", (void **)data, len);
}

/* A number argument (0 when it is not one; callers range-check what they read). */
double chorus_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

/* sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 13) { napi_throw_type_error(env, NULL, "sgemm takes 13 arguments"); return NULL; }
  int tA = (int)chorus_num(env, argv[0]), tB = (int)chorus_num(env, argv[1]);
  int M = (int)chorus_num(env, argv[2]), N = (int)chorus_num(env, argv[3]), K = (int)chorus_num(env, argv[4]);
  float alpha = (float)chorus_num(env, argv[5]), beta = (float)chorus_num(env, argv[10]);
  int lda = (int)chorus_num(env, argv[7]), ldb = (int)chorus_num(env, argv[9]), ldc = (int)chorus_num(env, argv[12]);
  float *A, *B, *C;
  size_t la, lb, lc;
  if (!get_f32(env, argv[6], &A, &la) || !get_f32(env, argv[8], &B, &lb) || !get_f32(env, argv[11], &C, &lc)) return NULL;
  /* Bounds: the last element each operand touches must lie inside its array. */
  size_t needA = M == 0 || K == 0 ? 0 : (tA ? (size_t)(K - 1) * lda + M : (size_t)(M - 1) * lda + K);
  size_t needB = K == 0 || N == 0 ? 0 : (tB ? (size_t)(N - 1) * ldb + K : (size_t)(K - 1) * ldb + N);
  size_t needC = M == 0 || N == 0 ? 0 : (size_t)(M - 1) * ldc + N;
  if (M < 0 || N < 0 || K < 0 || needA > la || needB > lb || needC > lc) {
    napi_throw_range_error(env, NULL, "sgemm: operand too small for the given shape");
    return NULL;
  }
  if (!sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) napi_throw_error(env, NULL, "sgemm: out of memory");
  return NULL;
}

/* adam(p, g, m, v, lr, beta1, beta2, eps, bc1, bc2): bias corrections passed in as 1 - beta^t. */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 10) { napi_throw_type_error(env, NULL, "adam takes 10 arguments"); return NULL; }
  float *p, *g, *m, *v;
  size_t n, n2, n3, n4;
  if (!get_f32(env, argv[0], &p, &n) || !get_f32(env, argv[1], &g, &n2) || !get_f32(env, argv[2], &m, &n3) ||
      !get_f32(env, argv[3], &v, &n4))
    return NULL;
  if (n2 != n || n3 != n || n4 != n) { napi_throw_range_error(env, NULL, "adam: arrays differ in length"); return NULL; }
  float lr = (float)chorus_num(env, argv[4]), b1 = (float)chorus_num(env, argv[5]), b2 = (float)chorus_num(env, argv[6]);
  float eps = (float)chorus_num(env, argv[7]), bc1 = (float)chorus_num(env, argv[8]), bc2 = (float)chorus_num(env, argv[9]);
  float step = lr / bc1;
  float rbc2 = 1.0f / sqrtf(bc2);
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi) * rbc2 + eps);
  }
  return NULL;
}

/* ---- element-wise layer ops (activation codes: 0 linear, 1 relu, 2 tanh, 3 sigmoid) ---- */

CLONES static void bias_act(float *restrict y, const float *restrict b, int rows, int n, int act) {
  for (int r = 0; r < rows; r++) {
    float *row = y + (size_t)r * n;
    switch (act) {
      case 0: for (int j = 0; j < n; j++) row[j] += b[j]; break;
      case 1: for (int j = 0; j < n; j++) { float v = row[j] + b[j]; row[j] = v > 0.0f ? v : 0.0f; } break;
      case 2: for (int j = 0; j < n; j++) row[j] = tanhf(row[j] + b[j]); break;
      default: for (int j = 0; j < n; j++) row[j] = 1.0f / (1.0f + expf(-(row[j] + b[j]))); break;
    }
  }
}

/* dz = d * act'(y) over len values; gb[j] += column sums of dz (rows x n). */
CLONES static void act_grad(const float *restrict d, const float *restrict y, float *restrict dz, float *restrict gb, int rows, int n,
                            int act) {
  size_t len = (size_t)rows * n;
  switch (act) {
    case 0: for (size_t i = 0; i < len; i++) dz[i] = d[i]; break;
    case 1: for (size_t i = 0; i < len; i++) dz[i] = y[i] > 0.0f ? d[i] : 0.0f; break;
    case 2: for (size_t i = 0; i < len; i++) dz[i] = d[i] * (1.0f - y[i] * y[i]); break;
    default: for (size_t i = 0; i < len; i++) dz[i] = d[i] * y[i] * (1.0f - y[i]); break;
  }
  for (int r = 0; r < rows; r++) {
    const float *row = dz + (size_t)r * n;
    for (int j = 0; j < n; j++) gb[j] += row[j];
  }
}

/* biasAct(y, b, rows, n, act) */
static napi_value js_bias_act(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) { napi_throw_type_error(env, NULL, "biasAct takes 5 arguments"); return NULL; }
  float *y, *b;
  size_t ly, lb;
  if (!get_f32(env, argv[0], &y, &ly) || !get_f32(env, argv[1], &b, &lb)) return NULL;
  int rows = (int)chorus_num(env, argv[2]), n = (int)chorus_num(env, argv[3]), act = (int)chorus_num(env, argv[4]);
  if (rows < 0 || n < 0 || (size_t)rows * n > ly || (size_t)n > lb) { napi_throw_range_error(env, NULL, "biasAct: array too small"); return NULL; }
  bias_act(y, b, rows, n, act);
  return NULL;
}

/* actGrad(d, y, dz, gb, rows, n, act) */
static napi_value js_act_grad(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) { napi_throw_type_error(env, NULL, "actGrad takes 7 arguments"); return NULL; }
  float *d, *y, *dz, *gb;
  size_t ld, ly, lz, lg;
  if (!get_f32(env, argv[0], &d, &ld) || !get_f32(env, argv[1], &y, &ly) || !get_f32(env, argv[2], &dz, &lz) || !get_f32(env, argv[3], &gb, &lg))
    return NULL;
  int rows = (int)chorus_num(env, argv[4]), n = (int)chorus_num(env, argv[5]), act = (int)chorus_num(env, argv[6]);
  size_t len = (size_t)rows * n;
  if (rows < 0 || n < 0 || len > ld || len > ly || len > lz || (size_t)n > lg) { napi_throw_range_error(env, NULL, "actGrad: array too small"); return NULL; }
  act_grad(d, y, dz, gb, rows, n, act);
  return NULL;
}

/* scoreRows(items, user, out, n, dim, base[, bias]): items is n x dim row-major; bias (optional,
 * Float32Array or Float64Array of at least n) is added per row. Writes out[0..n). */
static napi_value js_score_rows(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6 && argc != 7) { napi_throw_type_error(env, NULL, "scoreRows takes 6 or 7 arguments"); return NULL; }
  float *items, *user, *out;
  size_t li, lu, lo;
  if (!get_f32(env, argv[0], &items, &li) || !get_f32(env, argv[1], &user, &lu) || !get_f32(env, argv[2], &out, &lo)) return NULL;
  double n = chorus_num(env, argv[3]), dim = chorus_num(env, argv[4]), base = chorus_num(env, argv[5]);
  if (!(n >= 0) || !(dim >= 0) || n != (double)(int)n || dim != (double)(int)dim) {
    napi_throw_range_error(env, NULL, "scoreRows: n and dim must be non-negative integers");
    return NULL;
  }
  const void *bias = NULL;
  int bias_kind = 0;
  if (argc == 7) {
    napi_valuetype t;
    napi_typeof(env, argv[6], &t);
    if (t != napi_undefined && t != napi_null) {
      napi_typedarray_type type;
      size_t lb;
      void *ptr;
      if (napi_get_typedarray_info(env, argv[6], &type, &lb, &ptr, NULL, NULL) != napi_ok ||
          (type != napi_float32_array && type != napi_float64_array)) {
        napi_throw_type_error(env, NULL, "scoreRows: bias must be a Float32Array or a Float64Array");
        return NULL;
      }
      if (lb < (size_t)n) { napi_throw_range_error(env, NULL, "scoreRows: bias shorter than n"); return NULL; }
      bias = ptr;
      bias_kind = type == napi_float32_array ? 1 : 2;
    }
  }
  if ((size_t)n * (size_t)dim > li || (size_t)dim > lu || (size_t)n > lo) {
    napi_throw_range_error(env, NULL, "scoreRows: array too small for n x dim");
    return NULL;
  }
  score_rows(items, user, out, (int)n, (int)dim, base, bias, bias_kind);
  return NULL;
}

/* rank1Sub(A, lda, u, d, c): A[i*lda + j] -= c*u[i]*u[j] for i, j < d (Float64Arrays). */
static napi_value js_rank1_sub(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) { napi_throw_type_error(env, NULL, "rank1Sub takes 5 arguments"); return NULL; }
  double *A, *u;
  size_t la, lu;
  if (!get_f64(env, argv[0], &A, &la) || !get_f64(env, argv[2], &u, &lu)) return NULL;
  double lda = chorus_num(env, argv[1]), d = chorus_num(env, argv[3]), c = chorus_num(env, argv[4]);
  if (!(d >= 0) || !(lda >= d) || d != (double)(int)d || lda != (double)(int)lda) {
    napi_throw_range_error(env, NULL, "rank1Sub: d and lda must be integers with 0 <= d <= lda");
    return NULL;
  }
  if ((size_t)d > lu || (d > 0 && ((size_t)d - 1) * (size_t)lda + (size_t)d > la)) {
    napi_throw_range_error(env, NULL, "rank1Sub: array too small for d x d");
    return NULL;
  }
  rank1_sub(A, (int)lda, u, (int)d, c);
  return NULL;
}

/* quadForms(A, lda, idx, x, start, rows, out): see quad_forms. Every index is checked first. */
static napi_value js_quad_forms(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) { napi_throw_type_error(env, NULL, "quadForms takes 7 arguments"); return NULL; }
  double *A, *x, *out;
  int32_t *idx, *start;
  size_t la, lx, lo, li, ls;
  if (!get_f64(env, argv[0], &A, &la) || !get_i32(env, argv[2], &idx, &li) || !get_f64(env, argv[3], &x, &lx) ||
      !get_i32(env, argv[4], &start, &ls) || !get_f64(env, argv[6], &out, &lo)) return NULL;
  double lda = chorus_num(env, argv[1]), rows = chorus_num(env, argv[5]);
  if (!(rows >= 0) || rows != (double)(int)rows || !(lda >= 1) || lda != (double)(int)lda || (size_t)rows + 1 > ls || (size_t)rows > lo) {
    napi_throw_range_error(env, NULL, "quadForms: bad rows or lda");
    return NULL;
  }
  const size_t n = (size_t)lda;
  for (int r = 0; r < (int)rows; r++) {
    if (start[r] < 0 || start[r] > start[r + 1] || (size_t)start[r + 1] > li || (size_t)start[r + 1] > lx) {
      napi_throw_range_error(env, NULL, "quadForms: bad row start");
      return NULL;
    }
  }
  for (int a = 0; a < start[(int)rows]; a++) {
    if (idx[a] < 0 || (size_t)idx[a] >= n || ((size_t)idx[a] + 1) * n > la) {
      napi_throw_range_error(env, NULL, "quadForms: slot out of range");
      return NULL;
    }
  }
  quad_forms(A, (int)lda, idx, x, start, (int)rows, out);
  return NULL;
}


static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, js_adam, NULL, NULL, NULL, napi_default, NULL},
      {"biasAct", NULL, js_bias_act, NULL, NULL, NULL, napi_default, NULL},
      {"actGrad", NULL, js_act_grad, NULL, NULL, NULL, napi_default, NULL},
      {"scoreRows", NULL, js_score_rows, NULL, NULL, NULL, napi_default, NULL},
      {"rank1Sub", NULL, js_rank1_sub, NULL, NULL, NULL, napi_default, NULL},
      {"quadForms", NULL, js_quad_forms, NULL, NULL, NULL, napi_default, NULL},
      {"bprEpoch", NULL, chorus_bpr_epoch, NULL, NULL, NULL, napi_default, NULL},
      {"alsSweep", NULL, chorus_als_sweep, NULL, NULL, NULL, napi_default, NULL},
      {"knnSimRows", NULL, chorus_knn_sim_rows, NULL, NULL, NULL, napi_default, NULL},
      {"sampledSoftmaxHead", NULL, chorus_sampled_softmax_head, NULL, NULL, NULL, napi_default, NULL},
      {"emaStep", NULL, chorus_ema_step, NULL, NULL, NULL, napi_default, NULL},
      {"gruForward", NULL, chorus_gru_forward, NULL, NULL, NULL, napi_default, NULL},
      {"gruBackward", NULL, chorus_gru_backward, NULL, NULL, NULL, napi_default, NULL},
      {"fdlibmMath", NULL, chorus_fdlibm_math, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_add_env_cleanup_hook(env, free_buffers, NULL);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
