/*
 * ALS half-sweep kernel (src/recommenders/als.ts): one N-API call solves every row of one side
 * against the other side's fixed factors, with the Gram YᵀY computed here too, so there is no
 * JS↔C crossing per row and no allocation per row.
 *
 * Per row u with entries e (columns i_e of Y, weights c1_e = c − 1 = α·r) it solves
 *
 *   (G + Σ_e c1_e·y_e·y_eᵀ) · x_u = Σ_e (1 + c1_e)·y_e,   G = YᵀY + λI,
 *
 * either by `cgSteps` conjugate-gradient steps warm-started from the current x_u (implicit's
 * least_squares_cg, step for step, including its 1e-20 stopping rule) or exactly (Cholesky, float64).
 * Vectors are float32 like implicit's, but the CG scalars (‖r‖², pᵀAp, alpha, beta) are float64:
 * see cg_rows. The JS path (als-solve.ts) does the same arithmetic in lock-step over all rows; the
 * two agree to float rounding (~3e-5 relative after 5 iterations, test/recommenders/als-native.test.ts).
 *
 * Threads: `threads` − 1 extra pthreads join the calling thread for the call's duration. Work is
 * handed out in chunks of rows of about equal cost (entries, not row counts) from an atomic
 * counter. Every row's solve reads only G, Y and its own row, and G is summed over a fixed
 * partition of Y's rows in a fixed order, so the result does not depend on the thread count or on
 * which thread ran which chunk: 1 and 2 threads give bit-identical factors.
 *
 * Vector code uses GCC/Clang vector extensions; the row kernels are compiled for x86-64-v3 (AVX2 +
 * FMA) and for the baseline, picked at load time (target_clones), as in chorus_nn.c.
 */
#include <node_api.h>
#include "napi_glue.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

#define AI static inline __attribute__((always_inline))

AI v8 ld(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
AI void st(float *p, v8 v) { memcpy(p, &v, sizeof v); }
AI float hsum(v8 v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* implicit's CG stopping rule on ‖r‖². */
#define CG_TOL 1e-20

/* ---- f-length vector helpers (f need not be a multiple of 8: scalar tails) ---- */

AI float dot(const float *restrict a, const float *restrict b, int f) {
  v8 s0 = {0}, s1 = {0};
  int k = 0;
  for (; k + 16 <= f; k += 16) {
    s0 += ld(a + k) * ld(b + k);
    s1 += ld(a + k + 8) * ld(b + k + 8);
  }
  for (; k + 8 <= f; k += 8) s0 += ld(a + k) * ld(b + k);
  float t = hsum(s0 + s1);
  for (; k < f; k++) t += a[k] * b[k];
  return t;
}

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

/* a·b with exact products summed in double, for CG's step lengths (see cg_rows). */
AI double dotd(const float *restrict a, const float *restrict b, int f) {
  v4d s0 = {0}, s1 = {0};
  int k = 0;
  for (; k + 8 <= f; k += 8) {
    v4f a0, a1, b0, b1;
    memcpy(&a0, a + k, 16); memcpy(&a1, a + k + 4, 16);
    memcpy(&b0, b + k, 16); memcpy(&b1, b + k + 4, 16);
    s0 += __builtin_convertvector(a0, v4d) * __builtin_convertvector(b0, v4d);
    s1 += __builtin_convertvector(a1, v4d) * __builtin_convertvector(b1, v4d);
  }
  v4d s = s0 + s1;
  double t = (s[0] + s[2]) + (s[1] + s[3]);
  for (; k < f; k++) t += (double)a[k] * b[k];
  return t;
}

/* out += w·y */
AI void axpy(float w, const float *restrict y, float *restrict out, int f) {
  int k = 0;
  for (; k + 8 <= f; k += 8) st(out + k, ld(out + k) + w * ld(y + k));
  for (; k < f; k++) out[k] += w * y[k];
}

/*
 * out = G·v for symmetric row-major G (f×f): out = Σ_j v[j]·G[j, :] (row j is column j), with
 * 8, 4 or 1 vector accumulators per column block so that the FMA chains overlap.
 */
AI void symv(const float *restrict G, const float *restrict v, float *restrict out, int f) {
  int b = 0;
  for (; b + 64 <= f; b += 64) {
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
    for (int j = 0; j < f; j++) {
      const float *g = G + (size_t)j * f + b;
      float s = v[j];
      a0 += s * ld(g); a1 += s * ld(g + 8); a2 += s * ld(g + 16); a3 += s * ld(g + 24);
      a4 += s * ld(g + 32); a5 += s * ld(g + 40); a6 += s * ld(g + 48); a7 += s * ld(g + 56);
    }
    st(out + b, a0); st(out + b + 8, a1); st(out + b + 16, a2); st(out + b + 24, a3);
    st(out + b + 32, a4); st(out + b + 40, a5); st(out + b + 48, a6); st(out + b + 56, a7);
  }
  for (; b + 32 <= f; b += 32) {
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int j = 0; j < f; j++) {
      const float *g = G + (size_t)j * f + b;
      float s = v[j];
      a0 += s * ld(g); a1 += s * ld(g + 8); a2 += s * ld(g + 16); a3 += s * ld(g + 24);
    }
    st(out + b, a0); st(out + b + 8, a1); st(out + b + 16, a2); st(out + b + 24, a3);
  }
  for (; b + 8 <= f; b += 8) {
    v8 a0 = {0};
    for (int j = 0; j < f; j++) a0 += v[j] * ld(G + (size_t)j * f + b);
    st(out + b, a0);
  }
  for (; b < f; b++) {
    float s = 0;
    for (int j = 0; j < f; j++) s += G[(size_t)j * f + b] * v[j];
    out[b] = s;
  }
}

/* ---- the job shared by the threads of one call ---- */

typedef struct {
  int f, rows, yRows, solver, cgSteps;
  const int32_t *indptr, *indices;
  const float *cm1, *y;
  float *x;
  /* Gram phase: Y's rows in `nblocks` fixed blocks, one f×f float partial each. */
  int nblocks, blockRows;
  float *partials;
  /* Solve phase: G in float (CG) and double (exact); rows handed out in `nchunks` chunks. */
  const float *g32;
  const double *g64;
  int nchunks;
  const int32_t *chunkStart;
  int next; /* atomic: next block or chunk to take */
  int failed; /* atomic: 1 = out of memory, 2 = not positive definite */
} Job;

/* Partial Gram of rows [r0, r1) of Y into P (f×f, full square), four rows at a time. */
CLONES static void gram_block(const float *restrict y, int f, int r0, int r1, float *restrict P) {
  memset(P, 0, (size_t)f * f * sizeof(float));
  int f8 = f - f % 8;
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    const float *y0 = y + (size_t)r * f, *y1 = y0 + f, *y2 = y1 + f, *y3 = y2 + f;
    for (int i = 0; i < f; i++) {
      float a0 = y0[i], a1 = y1[i], a2 = y2[i], a3 = y3[i];
      float *p = P + (size_t)i * f;
      int j = 0;
      for (; j < f8; j += 8) st(p + j, ld(p + j) + a0 * ld(y0 + j) + a1 * ld(y1 + j) + a2 * ld(y2 + j) + a3 * ld(y3 + j));
      for (; j < f; j++) p[j] += a0 * y0[j] + a1 * y1[j] + a2 * y2[j] + a3 * y3[j];
    }
  }
  for (; r < r1; r++) {
    const float *y0 = y + (size_t)r * f;
    for (int i = 0; i < f; i++) axpy(y0[i], y0, P + (size_t)i * f, f);
  }
}

static void *gram_worker(void *arg) {
  Job *job = arg;
  for (;;) {
    int b = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
    if (b >= job->nblocks) break;
    int r0 = b * job->blockRows;
    int r1 = r0 + job->blockRows < job->yRows ? r0 + job->blockRows : job->yRows;
    gram_block(job->y, job->f, r0, r1, job->partials + (size_t)b * job->f * job->f);
  }
  return NULL;
}

/* CG rows [from, to): scratch holds r, p, ap (f floats each). */
CLONES static void cg_rows(const Job *job, int from, int to, float *restrict scratch) {
  const int f = job->f;
  const int32_t *indptr = job->indptr, *indices = job->indices;
  const float *cm1 = job->cm1, *y = job->y, *G = job->g32;
  float *r = scratch, *p = scratch + f, *ap = scratch + 2 * f;
  for (int u = from; u < to; u++) {
    float *x = job->x + (size_t)u * f;
    const int start = indptr[u], end = indptr[u + 1];
    if (start == end) {
      memset(x, 0, (size_t)f * sizeof(float));
      continue;
    }
    /* r = b − A·x = −G·x + Σ_e (1 + c1 − c1·(y_e·x))·y_e */
    symv(G, x, ap, f);
    for (int k = 0; k < f; k++) r[k] = -ap[k];
    for (int e = start; e < end; e++) {
      const float *ye = y + (size_t)indices[e] * f;
      const float c = cm1[e];
      axpy(1.0f + c - c * dot(ye, x, f), ye, r, f);
    }
    memcpy(p, r, (size_t)f * sizeof(float));
    double rsold = dotd(r, r, f);
    if (rsold < CG_TOL) continue;
    for (int step = 0; step < job->cgSteps; step++) {
      /* ap = A·p = G·p + Σ_e c1·(y_e·p)·y_e */
      symv(G, p, ap, f);
      for (int e = start; e < end; e++) {
        const float *ye = y + (size_t)indices[e] * f;
        axpy(cm1[e] * dot(ye, p, f), ye, ap, f);
      }
      const double pap = dotd(p, ap, f);
      if (!(pap > 0)) break;
      /*
       * alpha and beta stay float64 and the updates are rounded once: r = r − alpha·ap cancels
       * most of r in the first steps, so a float alpha (6e-8 off) moved the factors by ~1e-4.
       */
      const double alpha = rsold / pap;
      double rsnew = 0;
      for (int k = 0; k < f; k++) {
        x[k] = (float)(x[k] + alpha * p[k]);
        const double v = r[k] - alpha * ap[k];
        r[k] = (float)v;
        rsnew += v * v;
      }
      if (rsnew < CG_TOL) break;
      const double beta = rsnew / rsold;
      for (int k = 0; k < f; k++) p[k] = (float)(r[k] + beta * p[k]);
      rsold = rsnew;
    }
  }
}

/*
 * In-place Cholesky A = UᵀU of the symmetric f×f matrix a (upper triangle read, U written there);
 * 0 when it is not positive definite. Right-looking and row-major, so every inner loop is a
 * contiguous axpy over a row that the compiler vectorises (a dot-product form would be a float
 * reduction, which it may not reorder).
 */
static inline __attribute__((always_inline)) int cholesky_upper(double *restrict a, int n) {
  for (int j = 0; j < n; j++) {
    double *rj = a + (size_t)j * n;
    const double s = rj[j];
    if (!(s > 0)) return 0;
    const double ujj = sqrt(s);
    const double inv = 1.0 / ujj;
    rj[j] = ujj;
    for (int k = j + 1; k < n; k++) rj[k] *= inv;
    for (int i = j + 1; i < n; i++) {
      const double uji = rj[i];
      double *restrict ri = a + (size_t)i * n;
      for (int k = i; k < n; k++) ri[k] -= uji * rj[k];
    }
  }
  return 1;
}

/* Exact rows [from, to): scratch holds A (f×f), b and y_e in double. 0 when a system is not PD. */
CLONES static int exact_rows(const Job *job, int from, int to, double *restrict scratch) {
  const int f = job->f;
  double *A = scratch, *b = scratch + (size_t)f * f, *yd = b + f;
  for (int u = from; u < to; u++) {
    float *x = job->x + (size_t)u * f;
    const int start = job->indptr[u], end = job->indptr[u + 1];
    if (start == end) {
      memset(x, 0, (size_t)f * sizeof(float));
      continue;
    }
    memcpy(A, job->g64, (size_t)f * f * sizeof(double));
    memset(b, 0, (size_t)f * sizeof(double));
    for (int e = start; e < end; e++) {
      const float *ye = job->y + (size_t)job->indices[e] * f;
      const double c1 = job->cm1[e];
      for (int i = 0; i < f; i++) {
        yd[i] = ye[i];
        b[i] += (1 + c1) * yd[i];
      }
      /* Upper triangle only: the factorisation reads no other. */
      for (int i = 0; i < f; i++) {
        const double w = c1 * yd[i];
        double *ai = A + (size_t)i * f;
        for (int j = i; j < f; j++) ai[j] += w * yd[j];
      }
    }
    if (!cholesky_upper(A, f)) return 0;
    /* Uᵀz = b (forward, column i of U is read down the rows), then U·x = z (backward, row-wise). */
    for (int i = 0; i < f; i++) {
      const double zi = b[i] / A[(size_t)i * f + i];
      b[i] = zi;
      const double *ri = A + (size_t)i * f;
      for (int k = i + 1; k < f; k++) b[k] -= ri[k] * zi;
    }
    for (int i = f - 1; i >= 0; i--) {
      const double *ri = A + (size_t)i * f;
      double s = b[i];
      for (int k = i + 1; k < f; k++) s -= ri[k] * b[k];
      b[i] = s / ri[i];
    }
    for (int i = 0; i < f; i++) x[i] = (float)b[i];
  }
  return 1;
}

static void *solve_worker(void *arg) {
  Job *job = arg;
  const int f = job->f;
  /* One scratch per thread per call: CG needs 3f floats, exact f² + 2f doubles. */
  void *scratch = job->solver == 0 ? malloc((size_t)3 * f * sizeof(float)) : malloc(((size_t)f * f + 2 * (size_t)f) * sizeof(double));
  if (!scratch) {
    __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  for (;;) {
    if (__atomic_load_n(&job->failed, __ATOMIC_RELAXED)) break;
    int c = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
    if (c >= job->nchunks) break;
    int from = job->chunkStart[c], to = job->chunkStart[c + 1];
    if (job->solver == 0) cg_rows(job, from, to, scratch);
    else if (!exact_rows(job, from, to, scratch)) __atomic_store_n(&job->failed, 2, __ATOMIC_RELAXED);
  }
  free(scratch);
  return NULL;
}

/* Run fn(job) on the calling thread and threads − 1 pthreads (fewer if pthread_create fails). */
static void run_threads(Job *job, void *(*fn)(void *), int threads) {
  pthread_t tid[15];
  int started = 0;
  job->next = 0;
  for (int t = 1; t < threads && t <= 15; t++) {
    if (pthread_create(&tid[started], NULL, fn, job) != 0) break;
    started++;
  }
  fn(job);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

/*
 * The whole half-sweep. G = YᵀY + λI from float partials over fixed blocks of Y's rows, summed
 * in block order in double; then every row solved. Returns 0 on success, 1 out of memory, 2 not PD.
 */
static int als_sweep(Job *job, double reg, int threads) {
  const int f = job->f;
  int rc = 0;
  /* At most 64 blocks of at least 1024 rows: few partials, yet enough blocks to share. */
  int nblocks = (job->yRows + 1023) / 1024;
  if (nblocks > 64) nblocks = 64;
  if (nblocks < 1) nblocks = 1;
  job->nblocks = nblocks;
  job->blockRows = (job->yRows + nblocks - 1) / nblocks;
  if (job->blockRows < 1) job->blockRows = 1;
  /* Solve chunks: 256 of about equal cost (one per row below that), taken dynamically. */
  int nchunks = job->rows < 256 ? (job->rows > 0 ? job->rows : 1) : 256;
  size_t ff = (size_t)f * f;
  float *partials = malloc((size_t)nblocks * ff * sizeof(float));
  float *g32 = malloc(ff * sizeof(float));
  double *g64 = malloc(ff * sizeof(double));
  int32_t *chunkStart = malloc(((size_t)nchunks + 1) * sizeof(int32_t));
  if (!partials || !g32 || !g64 || !chunkStart) {
    rc = 1;
    goto done;
  }
  job->partials = partials;
  run_threads(job, gram_worker, nblocks < threads ? nblocks : threads);
  for (size_t k = 0; k < ff; k++) {
    double s = 0;
    for (int b = 0; b < nblocks; b++) s += partials[(size_t)b * ff + k];
    g64[k] = s;
  }
  for (int i = 0; i < f; i++) {
    g64[(size_t)i * f + i] += reg;
    for (int j = i + 1; j < f; j++) g64[(size_t)j * f + i] = g64[(size_t)i * f + j];
  }
  for (size_t k = 0; k < ff; k++) g32[k] = (float)g64[k];
  job->g32 = g32;
  job->g64 = g64;
  /*
   * A row costs about f² for its dense product (G in L1) plus ~4f per entry (gathered y_e, a dot
   * and an axpy) per CG step: weight entries ×4 + f per row. Cut where the running weight crosses
   * each chunk's share.
   */
  {
    const double total = 4.0 * (job->indptr[job->rows] - job->indptr[0]) + (double)f * job->rows;
    int u = 0;
    chunkStart[0] = 0;
    for (int c = 1; c < nchunks; c++) {
      const double target = total * c / nchunks;
      while (u < job->rows && 4.0 * (job->indptr[u] - job->indptr[0]) + (double)f * u < target) u++;
      chunkStart[c] = u;
    }
    chunkStart[nchunks] = job->rows;
  }
  job->nchunks = nchunks;
  job->chunkStart = chunkStart;
  job->failed = 0;
  run_threads(job, solve_worker, nchunks < threads ? nchunks : threads);
  rc = job->failed;
done:
  free(partials);
  free(g32);
  free(g64);
  free(chunkStart);
  return rc;
}

/* ---- N-API glue ---- */



/*
 * alsSweep(f, indptr, indices, cm1, x, y, reg, solver, cgSteps, threads): solve every row of x
 * (rows = indptr.length − 1, rows×f) against y (y.length / f rows) in place. solver 0 = CG with
 * cgSteps steps warm-started from x, 1 = exact. Throws RangeError on bad shapes or indices, and
 * when an exact system is not positive definite.
 */
napi_value chorus_als_sweep(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 10) {
    napi_throw_type_error(env, NULL, "alsSweep takes 10 arguments");
    return NULL;
  }
  Job job;
  memset(&job, 0, sizeof job);
  size_t nIndptr, nIndices, nCm1, nX, nY;
  job.f = (int)chorus_num(env, argv[0]);
  if (!chorus_typed(env, argv[1], napi_int32_array, "alsSweep: indptr must be an Int32Array", (void **)&job.indptr, &nIndptr) ||
      !chorus_typed(env, argv[2], napi_int32_array, "alsSweep: indices must be an Int32Array", (void **)&job.indices, &nIndices) ||
      !chorus_typed(env, argv[3], napi_float32_array, "alsSweep: cm1 must be a Float32Array", (void **)&job.cm1, &nCm1) ||
      !chorus_typed(env, argv[4], napi_float32_array, "alsSweep: x must be a Float32Array", (void **)&job.x, &nX) ||
      !chorus_typed(env, argv[5], napi_float32_array, "alsSweep: y must be a Float32Array", (void **)&job.y, &nY))
    return NULL;
  const double reg = chorus_num(env, argv[6]);
  job.solver = (int)chorus_num(env, argv[7]);
  job.cgSteps = (int)chorus_num(env, argv[8]);
  int threads = (int)chorus_num(env, argv[9]);
  if (threads < 1) threads = 1;
  if (threads > 16) threads = 16;
  const int f = job.f;
  if (f < 1 || nIndptr < 1 || (job.solver != 0 && job.solver != 1) || job.cgSteps < 0 || nY % (size_t)f != 0) {
    napi_throw_range_error(env, NULL, "alsSweep: bad factors, solver or cgSteps, or y is not a whole number of rows");
    return NULL;
  }
  job.rows = (int)(nIndptr - 1);
  job.yRows = (int)(nY / (size_t)f);
  if ((size_t)job.rows * f != nX || job.indptr[0] < 0 || (size_t)job.indptr[job.rows] > nIndices || (size_t)job.indptr[job.rows] > nCm1) {
    napi_throw_range_error(env, NULL, "alsSweep: x, indices or cm1 does not match indptr");
    return NULL;
  }
  /* Memory safety: every row range ascending and every column inside y (O(nnz), cheap next to the solves). */
  for (int u = 0; u < job.rows; u++) {
    if (job.indptr[u + 1] < job.indptr[u]) {
      napi_throw_range_error(env, NULL, "alsSweep: indptr is not ascending");
      return NULL;
    }
  }
  for (int32_t e = job.indptr[0]; e < job.indptr[job.rows]; e++) {
    if ((uint32_t)job.indices[e] >= (uint32_t)job.yRows) {
      napi_throw_range_error(env, NULL, "alsSweep: a column index is outside y");
      return NULL;
    }
  }
  int rc = als_sweep(&job, reg, threads);
  if (rc == 1) napi_throw_error(env, NULL, "alsSweep: out of memory");
  else if (rc == 2) napi_throw_range_error(env, NULL, "ALS: normal equations are not positive definite (is regularization > 0?)");
  return NULL;
}
