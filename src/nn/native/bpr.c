/*
 * BPR-MF's SGD loop (src/recommenders/bpr.ts) as one native call per epoch (per chunk of samples
 * in the Hogwild mode): the seeded sampler, the negative check and the factor updates, with no
 * JS↔C crossing per sample.
 *
 * Reproducibility is the point of the layout below. The pure-JS fallback (src/nn/bpr-kernel.ts)
 * performs the same operations in the same order, so the two give the same factors:
 * - sampler: sfc32 on the caller's 4-word state, index = floor(t / 2^32 · n) in double, exactly
 *   as src/util/rng.ts's Rng.int;
 * - arithmetic in double, as JavaScript's, on float32 factors: each updated value is rounded to
 *   float32 once, when stored (as a Float32Array store does). Contraction into fused
 *   multiply-adds is switched off for this file (the addon's -ffp-contract=fast would fuse
 *   differently in the AVX2 clone and the baseline one, and differently from JS);
 * - score x = u · (p − n) over 8 lanes (lane f mod 8), the lanes summed as
 *   ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7));
 * - z = 1 / (1 + exp(x)). libm's exp and V8's may differ in the last bit; such a difference
 *   reaches the float32 factors only if it moves a product across a float32 rounding boundary
 *   (about 2^-29 of the time), so native and JS agree bit for bit in practice (the tests allow
 *   a small tolerance).
 *
 * Hogwild (Niu et al. 2011): worker threads call this on the same factor matrices (in
 * SharedArrayBuffers) at once, each with its own sampler state, without locks. Those unsynchronised
 * float reads and writes are the method; a lost update costs a little progress, never memory
 * safety (every index is checked before it is used).
 */
#include <node_api.h>
#include "napi_glue.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BPR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BPR_CLONES
#endif

typedef struct {
  float *U, *V;
  const int32_t *user_of, *items, *sorted, *indptr, *active;
  int F, factors, nnz, n_active, uniform, verify;
  int n_users, n_items;
  double lr, reg;
} bpr_ctx;

/* sfc32, as Rng.nextUint32. */
static inline uint32_t sfc32(uint32_t *s) {
  uint32_t t = s[0] + s[1] + s[3];
  s[3] = s[3] + 1;
  s[0] = s[1] ^ (s[1] >> 9);
  s[1] = s[2] + (s[2] << 3);
  s[2] = (s[2] << 21) | (s[2] >> 11);
  s[2] = s[2] + t;
  return t;
}

/* floor(t / 2^32 · n) in double, as Rng.int(n). */
static inline int draw(uint32_t t, int n) { return (int)((double)t / 4294967296.0 * (double)n); }

/* Whether x is in the ascending a[lo, hi). Branch-free (the comparison feeds a conditional move):
 * whether a sampled negative is one of the user's items is a coin flip to the branch predictor, and
 * the mispredictions of a branching search cost a fifth of a step. */
static inline int contains(const int32_t *a, int lo, int hi, int x) {
  int len = hi - lo;
  if (len <= 0) return 0;
  const int32_t *base = a + lo;
  while (len > 1) {
    int half = len >> 1;
    base = base[half] <= x ? base + half : base;
    len -= half;
  }
  return *base == x;
}

/* One sample's two draws, as Rng.int: the interaction, and the negative's slot in active (uniform)
 * or in items (popularity). */
typedef struct {
  int li, ni;
} bpr_draw;

static inline bpr_draw next_draw(const bpr_ctx *c, uint32_t *s) {
  bpr_draw d;
  d.li = draw(sfc32(s), c->nnz);
  d.ni = draw(sfc32(s), c->uniform ? c->n_active : c->nnz);
  return d;
}

static inline void prefetch_row(const float *p, int F) {
  for (int f = 0; f < F; f += 16) __builtin_prefetch(p + f, 1, 3);
  __builtin_prefetch(p + F - 1, 1, 3);
}

/* u · (p − n) over F values in double, 8 lanes, fixed reduction order (see the file comment);
 * the lane loop is vectorised (two 4-wide accumulators under AVX2). */
static inline double score(const float *u, const float *p, const float *n, int F) {
  double a[8] = {0};
  int f = 0;
  for (; f + 8 <= F; f += 8)
    for (int l = 0; l < 8; l++) a[l] += (double)u[f + l] * ((double)p[f + l] - (double)n[f + l]);
  for (int l = 0; f < F; f++, l++) a[l] += (double)u[f] * ((double)p[f] - (double)n[f]);
  double b0 = a[0] + a[4], b1 = a[1] + a[5], b2 = a[2] + a[6], b3 = a[3] + a[7];
  return (b0 + b2) + (b1 + b3);
}

/* The factor updates, each computed in double and rounded once when stored. Plain loops: GCC
 * vectorises the float↔double conversions better from these than from vector-extension code. */
static inline void update(float *restrict ur, float *restrict pr, float *restrict nr, int K, double z, double lr, double reg) {
  for (int f = 0; f < K; f++) {
    double uf = ur[f], pf = pr[f], nf = nr[f];
    ur[f] = (float)(uf + lr * (z * (pf - nf) - reg * uf));
    pr[f] = (float)(pf + lr * (z * uf - reg * pf));
    nr[f] = (float)(nf + lr * (-z * uf - reg * nf));
  }
}

/* `samples` SGD steps; adds to counts[0] (pairs ranked right before their update) and counts[1]
 * (skipped samples: the negative was the positive or one of the user's items). Returns 0, or -1
 * when a sample's user or item index (from userOf, items, active or indptr) is out of range: the
 * indices are checked as they are used, a few well-predicted comparisons per sample, so that a
 * call costs nothing in proportion to the data (Hogwild threads make many short calls). */
BPR_CLONES static int bpr_run(const bpr_ctx *c, uint32_t *state, int samples, double *counts) {
  float *U = c->U, *V = c->V;
  const int F = c->F, K = c->factors;
  const double lr = c->lr, reg = c->reg;
  uint32_t s[4] = {state[0], state[1], state[2], state[3]};
  long correct = 0, skipped = 0;
  /* The draws do not depend on the factors, so they run ahead of the updates: sample k+2 is drawn
   * (and its interaction's entries prefetched) and sample k+1's rows are prefetched while sample
   * k is computed. The same samples in the same order, with the random memory reads (the cost of
   * a step once the arithmetic is vectorised) overlapped. */
  const int32_t *user_of = c->user_of, *items = c->items, *neg_from = c->uniform ? c->active : c->items;
  bpr_draw ahead = {0, 0};
  int nu = 0, npos = 0, nneg = 0;
  if (samples > 0) {
    ahead = next_draw(c, s);
    nu = user_of[ahead.li], npos = items[ahead.li], nneg = neg_from[ahead.ni];
  }
  if (samples > 1) ahead = next_draw(c, s);
  for (int k = 0; k < samples; k++) {
    int u = nu, pos = npos, neg = nneg;
    if ((unsigned)u >= (unsigned)c->n_users || (unsigned)pos >= (unsigned)c->n_items || (unsigned)neg >= (unsigned)c->n_items ||
        c->indptr[u] < 0 || c->indptr[u + 1] > c->nnz) {
      memcpy(state, s, sizeof s);
      return -1;
    }
    if (k + 1 < samples) {
      nu = user_of[ahead.li], npos = items[ahead.li], nneg = neg_from[ahead.ni];
      if ((unsigned)nu < (unsigned)c->n_users && (unsigned)npos < (unsigned)c->n_items && (unsigned)nneg < (unsigned)c->n_items) {
        prefetch_row(U + (size_t)nu * F, F);
        prefetch_row(V + (size_t)npos * F, F);
        prefetch_row(V + (size_t)nneg * F, F);
        __builtin_prefetch(c->sorted + (((int64_t)c->indptr[nu] + c->indptr[nu + 1]) >> 1), 0, 3);
      }
    }
    if (k + 2 < samples) {
      ahead = next_draw(c, s);
      __builtin_prefetch(user_of + ahead.li, 0, 3);
      __builtin_prefetch(items + ahead.li, 0, 3);
      __builtin_prefetch(neg_from + ahead.ni, 0, 3);
    }
    if (neg == pos || (c->verify && contains(c->sorted, c->indptr[u], c->indptr[u + 1], neg))) {
      skipped++;
      continue;
    }
    float *ur = U + (size_t)u * F, *pr = V + (size_t)pos * F, *nr = V + (size_t)neg * F;
    double x = score(ur, pr, nr, F);
    /* z = σ(−x): the gradient weight of −ln σ(x). */
    double z = 1.0 / (1.0 + exp(x));
    if (z < 0.5) correct++;
    update(ur, pr, nr, K, z, lr, reg);
    /* Column K: the item bias (the user's entry there is the constant 1). */
    pr[K] = (float)(pr[K] + lr * (z - reg * pr[K]));
    nr[K] = (float)(nr[K] + lr * (-z - reg * nr[K]));
  }
  memcpy(state, s, sizeof s);
  counts[0] += (double)correct;
  counts[1] += (double)skipped;
  return 0;
}

static double thread_cpu_seconds(void) {
#ifdef CLOCK_THREAD_CPUTIME_ID
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
#endif
  return 0.0;
}


/*
 * bprEpoch(U, V, factors, lr, reg, userOf, items, sorted, indptr, active, flags, state, samples, stats)
 * U: nUsers × (factors+1), V: nItems × (factors+1) (Float32Array); userOf, items, sorted: nnz
 * (Int32Array; sorted = each user's items ascending, by indptr); indptr: nUsers+1; active: item
 * ids negatives are drawn from when flags bit 0 (uniform) is set, else negatives are items[draw];
 * flags bit 1: skip a negative the user has. state: Uint32Array(4) sfc32 state, advanced in place.
 * stats: Float64Array(3) += [correct, skipped, CPU seconds of this thread in the call].
 */
napi_value chorus_bpr_epoch(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 14) { napi_throw_type_error(env, NULL, "bprEpoch takes 14 arguments"); return NULL; }
  double t0 = thread_cpu_seconds();
  float *U, *V;
  int32_t *user_of, *items, *sorted, *indptr, *active;
  uint32_t *state;
  double *stats;
  size_t lu, lv, lo, li, ls, lp, la, lst, lstats;
  if (!chorus_typed(env, argv[0], napi_float32_array, "bprEpoch: U must be a Float32Array", (void **)&U, &lu) ||
      !chorus_typed(env, argv[1], napi_float32_array, "bprEpoch: V must be a Float32Array", (void **)&V, &lv) ||
      !chorus_typed(env, argv[5], napi_int32_array, "bprEpoch: userOf must be an Int32Array", (void **)&user_of, &lo) ||
      !chorus_typed(env, argv[6], napi_int32_array, "bprEpoch: items must be an Int32Array", (void **)&items, &li) ||
      !chorus_typed(env, argv[7], napi_int32_array, "bprEpoch: sorted must be an Int32Array", (void **)&sorted, &ls) ||
      !chorus_typed(env, argv[8], napi_int32_array, "bprEpoch: indptr must be an Int32Array", (void **)&indptr, &lp) ||
      !chorus_typed(env, argv[9], napi_int32_array, "bprEpoch: active must be an Int32Array", (void **)&active, &la) ||
      !chorus_typed(env, argv[11], napi_uint32_array, "bprEpoch: state must be a Uint32Array", (void **)&state, &lst) ||
      !chorus_typed(env, argv[13], napi_float64_array, "bprEpoch: stats must be a Float64Array", (void **)&stats, &lstats))
    return NULL;
  double factors = 0, lr = 0, reg = 0, flags = 0, samples = 0;
  napi_get_value_double(env, argv[2], &factors);
  napi_get_value_double(env, argv[3], &lr);
  napi_get_value_double(env, argv[4], &reg);
  napi_get_value_double(env, argv[10], &flags);
  napi_get_value_double(env, argv[12], &samples);
  if (!(factors >= 0) || factors != (double)(int)factors || !(samples >= 0) || samples != (double)(int)samples || lst < 4 || lstats < 3) {
    napi_throw_range_error(env, NULL, "bprEpoch: factors and samples must be non-negative integers, state 4 words, stats 3");
    return NULL;
  }
  const int F = (int)factors + 1;
  if (lp < 1 || lo != li || ls != li || li > INT32_MAX) { napi_throw_range_error(env, NULL, "bprEpoch: userOf, items and sorted differ in length"); return NULL; }
  const size_t n_users = lp - 1, n_items = lv / (size_t)F;
  if (n_users > INT32_MAX || n_items > INT32_MAX) { napi_throw_range_error(env, NULL, "bprEpoch: too many users or items"); return NULL; }
  if (lu < n_users * (size_t)F) { napi_throw_range_error(env, NULL, "bprEpoch: U smaller than nUsers × (factors+1)"); return NULL; }
  const int uniform = ((int)flags & 1) != 0;
  if (samples > 0 && (li == 0 || (uniform && la == 0))) { napi_throw_range_error(env, NULL, "bprEpoch: nothing to sample from"); return NULL; }
  bpr_ctx c = {U, V, user_of, items, sorted, indptr, active, F, (int)factors, (int)li, (int)la, uniform, ((int)flags & 2) != 0,
               (int)n_users, (int)n_items, lr, reg};
  if (bpr_run(&c, state, (int)samples, stats) != 0) {
    napi_throw_range_error(env, NULL, "bprEpoch: a user or item index is out of range");
    return NULL;
  }
  stats[2] += thread_cpu_seconds() - t0;
  return NULL;
}
