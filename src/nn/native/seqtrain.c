/*
 * Training kernels of the sequence models (SASRec, GRU4Rec), each the C twin of a JS loop that a
 * CPU profile of P1 training put on top:
 * - the sampled-softmax item head (nn/seq/item-head.ts): gather the positions' states and the
 *   batch's shared negatives, score them (the GEMM), softmax cross-entropy over [positive,
 *   negatives] with accidental hits left out, gradients into dH and the item table's gradient.
 *   With 1,024 negatives the JS head was ~55 % of a SASRec epoch (Math.exp alone 17 %);
 * - the GRU's forward and backward passes (nn/seq/gru.ts): per step the recurrent GEMM and the
 *   gates, and back through time;
 * - the weight average's step (recommenders/sequence.ts).
 *
 * Each is bit-identical to its JS twin, so every published figure of the sequence models still
 * reproduces: the GEMMs are the addon's own (the JS code calls the same function); every other
 * sum runs in float64 in the JS order and is rounded to float32 where JS stores into a
 * Float32Array; nothing is fused (fp-contract off below: binding.gyp's -ffp-contract=fast would
 * turn a·b + c into one FMA); exp and tanh are fdlibm's, the code V8's Math.exp and Math.tanh run
 * (glibc's exp differs from it in ~10 % of last bits), four lanes at a time where the argument is
 * in the common range. The head's loss needs a log per row; the caller takes it from `stats` with
 * Math.log, so no further libm function has to match.
 */
#include <node_api.h>
#include "napi_glue.h"
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* Whether a JS number argument is an integer in [lo, hi] (checked in that order: casting an
   out-of-range double to int is undefined). */
static inline int int_in(double v, double lo, double hi) { return v >= lo && v <= hi && v == (double)(int)v; }

static inline uint32_t hi_word(double x) { uint64_t u; memcpy(&u, &x, 8); return (uint32_t)(u >> 32); }
static inline uint32_t lo_word(double x) { uint64_t u; memcpy(&u, &x, 8); return (uint32_t)u; }
static inline double from_words(uint32_t hi, uint32_t lo) {
  uint64_t u = ((uint64_t)hi << 32) | lo;
  double x;
  memcpy(&x, &u, 8);
  return x;
}

/*
 * exp, expm1 and tanh below are ported from fdlibm (e_exp.c, s_expm1.c, s_tanh.c), as V8's
 * src/base/ieee754.cc ports them, under this notice:
 *
 * ====================================================
 * Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *
 * Developed at SunSoft, a Sun Microsystems, Inc. business.
 * Permission to use, copy, modify, and distribute this
 * software is freely granted, provided that this notice
 * is preserved.
 * ====================================================
 */

/*
 * exp(x) as e_exp.c, with V8's one change: exp(1) returns E exactly. Argument reduction
 * x = k·ln2 + r, then a rational approximation of exp(r).
 */
static double fdlibm_exp(double x) {
  static const double one = 1.0, halF[2] = {0.5, -0.5}, huge = 1.0e+300, twom1000 = 9.33263618503218878990e-302,
                      o_threshold = 7.09782712893383973096e+02, u_threshold = -7.45133219101941108420e+02,
                      ln2HI[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01},
                      ln2LO[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10}, invln2 = 1.44269504088896338700e+00,
                      P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                      P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08, E = 2.718281828459045,
                      two1023 = 8.988465674311579539e307;
  double y, hi = 0.0, lo = 0.0, c, t, twopk;
  int32_t k = 0;
  uint32_t hx = hi_word(x);
  int xsb = (int)((hx >> 31) & 1);
  hx &= 0x7fffffff;
  if (hx >= 0x40862E42) { /* |x| >= 709.78...: overflow, underflow, inf or NaN */
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | lo_word(x)) != 0) return x + x;
      return xsb == 0 ? x : 0.0;
    }
    if (x > o_threshold) return huge * huge;
    if (x < u_threshold) return twom1000 * twom1000;
  }
  if (hx > 0x3fd62e42) { /* |x| > 0.5 ln2 */
    if (hx < 0x3FF0A2B2) { /* and |x| < 1.5 ln2 */
      if (x == 1.0) return E;
      hi = x - ln2HI[xsb];
      lo = ln2LO[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = (int32_t)(invln2 * x + halF[xsb]);
      t = k;
      hi = x - t * ln2HI[0];
      lo = t * ln2LO[0];
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) { /* |x| < 2^-28 */
    if (huge + x > one) return one + x;
  } else {
    k = 0;
  }
  t = x * x;
  if (k >= -1021) twopk = from_words(0x3ff00000 + ((uint32_t)k << 20), 0);
  else twopk = from_words(0x3ff00000 + ((uint32_t)(k + 1000) << 20), 0);
  c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return one - ((x * c) / (c - 2.0) - x);
  y = one - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}

/* Four lanes of fdlibm_exp at once (see fdlibm_exp): the same operations per lane, so the same bits. */
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4d v4d_of(v4l m) { v4d r; memcpy(&r, &m, sizeof r); return r; }
static inline v4l v4l_of(v4d d) { v4l r; memcpy(&r, &d, sizeof r); return r; }
static inline v4d v4_blend(v4l mask, v4d a, v4d b) { return v4d_of((mask & v4l_of(a)) | (~mask & v4l_of(b))); }

/* s_expm1.c: expm1(x) = exp(x) − 1 without cancellation near 0. */
static double fdlibm_expm1(double x) {
  static const double one = 1.0, huge = 1.0e+300, tiny = 1.0e-300, o_threshold = 7.09782712893383973096e+02,
                      ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10, invln2 = 1.44269504088896338700e+00,
                      Q1 = -3.33333333333331316428e-02, Q2 = 1.58730158725481460165e-03, Q3 = -7.93650757867487942473e-05,
                      Q4 = 4.00821782732936239552e-06, Q5 = -2.01099218183624371326e-07, two1023 = 8.988465674311579539e307;
  double y, hi, lo, c = 0, t, e, hxs, hfx, r1, twopk;
  int32_t k;
  uint32_t hx = hi_word(x);
  const uint32_t xsb = hx & 0x80000000;
  hx &= 0x7fffffff;
  if (hx >= 0x4043687A) { /* |x| >= 56 ln2 */
    if (hx >= 0x40862E42) {
      if (hx >= 0x7ff00000) {
        if (((hx & 0xfffff) | lo_word(x)) != 0) return x + x;
        return xsb == 0 ? x : -1.0;
      }
      if (x > o_threshold) return huge * huge;
    }
    if (xsb != 0) {
      if (x + tiny < 0.0) return tiny - one;
    }
  }
  if (hx > 0x3fd62e42) { /* |x| > 0.5 ln2 */
    if (hx < 0x3FF0A2B2) {
      if (xsb == 0) {
        hi = x - ln2_hi;
        lo = ln2_lo;
        k = 1;
      } else {
        hi = x + ln2_hi;
        lo = -ln2_lo;
        k = -1;
      }
    } else {
      k = (int32_t)(invln2 * x + (xsb == 0 ? 0.5 : -0.5));
      t = k;
      hi = x - t * ln2_hi;
      lo = t * ln2_lo;
    }
    x = hi - lo;
    c = (hi - x) - lo;
  } else if (hx < 0x3c900000) { /* |x| < 2^-54 */
    t = huge + x;
    return x - (t - (huge + x));
  } else {
    k = 0;
  }
  hfx = 0.5 * x;
  hxs = x * hfx;
  r1 = one + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  t = 3.0 - r1 * hfx;
  e = hxs * ((r1 - t) / (6.0 - x * t));
  if (k == 0) return x - (x * e - hxs);
  twopk = from_words(0x3ff00000 + ((uint32_t)k << 20), 0);
  e = (x * (e - c) - c);
  e -= hxs;
  if (k == -1) return 0.5 * (x - e) - 0.5;
  if (k == 1) {
    if (x < -0.25) return -2.0 * (e - (x + 0.5));
    return one + 2.0 * (x - e);
  }
  if (k <= -2 || k > 56) {
    y = one - (e - x);
    if (k == 1024) y = y * 2.0 * two1023;
    else y = y * twopk;
    return y - one;
  }
  if (k < 20) {
    t = from_words(0x3ff00000 - (0x200000 >> k), 0); /* 1 − 2^−k */
    y = t - (e - x);
    y = y * twopk;
  } else {
    t = from_words((uint32_t)(0x3ff - k) << 20, 0); /* 2^−k */
    y = x - (e + t);
    y += one;
    y = y * twopk;
  }
  return y;
}

/* s_tanh.c, which V8's Math.tanh runs. */
static double fdlibm_tanh(double x) {
  static const double one = 1.0, two = 2.0, tiny = 1.0e-300, huge = 1.0e300;
  double t, z;
  const int32_t jx = (int32_t)hi_word(x);
  const int32_t ix = jx & 0x7fffffff;
  if (ix >= 0x7ff00000) return jx >= 0 ? one / x + one : one / x - one;
  if (ix < 0x40360000) { /* |x| < 22 */
    if (ix < 0x3e300000) { /* |x| < 2^-28 */
      if (huge + x > one) return x;
    }
    if (ix >= 0x3ff00000) { /* |x| >= 1 */
      t = fdlibm_expm1(two * fabs(x));
      z = one - two / (t + two);
    } else {
      t = fdlibm_expm1(-two * fabs(x));
      z = -t / (t + two);
    }
  } else {
    z = one - tiny;
  }
  return jx >= 0 ? z : -z;
}

/*
 * exp of four lanes: the vector path for lanes with 2^-28 <= |x| < 709.78 and a normal result
 * (tiny |x| gives 1 + x, as fdlibm); any other lane sends the four to the scalar function.
 */
static inline __attribute__((always_inline)) v4d exp4(v4d v) {
  const v4d one = {1, 1, 1, 1}, two = {2, 2, 2, 2}, half = {0.5, 0.5, 0.5, 0.5};
  const v4d P1 = {1.66666666666666019037e-01, 1.66666666666666019037e-01, 1.66666666666666019037e-01, 1.66666666666666019037e-01};
  const v4d P2 = {-2.77777777770155933842e-03, -2.77777777770155933842e-03, -2.77777777770155933842e-03, -2.77777777770155933842e-03};
  const v4d P3 = {6.61375632143793436117e-05, 6.61375632143793436117e-05, 6.61375632143793436117e-05, 6.61375632143793436117e-05};
  const v4d P4 = {-1.65339022054652515390e-06, -1.65339022054652515390e-06, -1.65339022054652515390e-06, -1.65339022054652515390e-06};
  const v4d P5 = {4.13813679705723846039e-08, 4.13813679705723846039e-08, 4.13813679705723846039e-08, 4.13813679705723846039e-08};
  const double LN2HI = 6.93147180369123816490e-01, LN2LO = 1.90821492927058770002e-10, INVLN2 = 1.44269504088896338700e+00;
  const v4d ln2HI = {LN2HI, LN2HI, LN2HI, LN2HI}, ln2LO = {LN2LO, LN2LO, LN2LO, LN2LO}, invln2 = {INVLN2, INVLN2, INVLN2, INVLN2};
  v4l bits = v4l_of(v);
  v4l hx = (bits >> 32) & 0x7fffffff;
  v4l neg = bits < 0; /* -1 where the sign bit is set (xsb = 1) */
  v4l tiny = hx < 0x3e300000;
  v4l low = hx <= 0x3fd62e42;         /* k = 0 (tiny lanes included; blended out below) */
  v4l mid = (hx < 0x3FF0A2B2) & ~low; /* |x| < 1.5 ln2: k = ±1 */
  v4l far = hx >= 0x40862E42;
  /* k for the general branch: (int)(invln2·x + halF[xsb]), truncated toward zero. */
  v4d kg = invln2 * v + v4_blend(neg, -half, half);
  v4l kl = __builtin_convertvector(kg, v4l);
  v4l kmid = (v4l){1, 1, 1, 1} + (neg & (v4l){-2, -2, -2, -2}); /* 1 − 2·xsb */
  v4l k = (mid & kmid) | (~low & ~mid & kl);
  /* Scalar lanes: huge |x| (or NaN, inf), exp(1) (E exactly), or a subnormal or overflowing result. */
  v4l slow = far | (bits == v4l_of(one)) | (~low & ((k < -1021) | (k > 1023)));
  if (slow[0] | slow[1] | slow[2] | slow[3]) return (v4d){fdlibm_exp(v[0]), fdlibm_exp(v[1]), fdlibm_exp(v[2]), fdlibm_exp(v[3])};
  v4d t = __builtin_convertvector(k, v4d);
  /* mid: hi = x − ln2HI[xsb], lo = ln2LO[xsb]; general: hi = x − t·ln2HI, lo = t·ln2LO. */
  v4d hi = v4_blend(mid, v - v4_blend(neg, -ln2HI, ln2HI), v - t * ln2HI);
  v4d lo = v4_blend(mid, v4_blend(neg, -ln2LO, ln2LO), t * ln2LO);
  v4d xr = v4_blend(low, v, hi - lo);
  v4d tt = xr * xr;
  v4d c = xr - tt * (P1 + tt * (P2 + tt * (P3 + tt * (P4 + tt * P5))));
  v4d r0 = one - ((xr * c) / (c - two) - xr);
  v4d twopk = v4d_of((k + 1023) << 52);
  v4d rk = (one - ((lo - (xr * c) / (two - c)) - hi)) * twopk;
  return v4_blend(tiny, one + v, v4_blend(low, r0, rk));
}

/* out[i] = fdlibm_exp((double)x[i] − shift) for i < n, four at a time. */
CLONES static void exp_shifted(const float *x, int n, double shift, double *out) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v4d r = exp4((v4d){(double)x[i] - shift, (double)x[i + 1] - shift, (double)x[i + 2] - shift, (double)x[i + 3] - shift});
    memcpy(out + i, &r, sizeof r);
  }
  for (; i < n; i++) out[i] = fdlibm_exp((double)x[i] - shift);
}

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

/*
 * softmaxCrossEntropy (seq-losses.ts) for one row of C logits, target column 0, column sc (≥ 0)
 * left out: gr gets dLoss/dLogits, *mx the row's max and *sum its Σ exp(logit − max). The same
 * bits as the JS loop, with the element-wise passes on vectors:
 * - the max: lane-wise, then across lanes. Max is exact, so only equal values can disagree on which
 *   one wins, and equal floats have equal bits except +0 and −0, which the head's logits never
 *   are: each is a sum that starts from +0 (the GEMM's cleared output, the dot's 0.0), and a sum
 *   that is exactly zero rounds to +0. Lanes start at −∞, so a NaN is skipped as JS skips it;
 * - Σ exp: the exps four at a time (exp_shifted), their float64 sum in JS's order;
 * - the scaling gr·(inv/sum): each element on its own (float64 product, rounded to float32).
 */
CLONES static void softmax_row(float *lg, float *gr, int C, int sc, double *ex, double inv, double *outMx, double *outSum) {
  float saved = 0;
  if (sc >= 0) {
    saved = lg[sc];
    lg[sc] = -INFINITY;
  }
  v8f mv = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    v8f x;
    memcpy(&x, lg + c, sizeof x);
    v8i gt = x > mv, xi, mi;
    memcpy(&xi, &x, sizeof x);
    memcpy(&mi, &mv, sizeof mv);
    mi = (gt & xi) | (~gt & mi);
    memcpy(&mv, &mi, sizeof mv);
  }
  float m = -INFINITY;
  for (int l = 0; l < 8; l++)
    if (mv[l] > m) m = mv[l];
  for (; c < C; c++)
    if (lg[c] > m) m = lg[c];
  if (sc >= 0) lg[sc] = saved;
  const double mx = m;
  exp_shifted(lg, C, mx, ex);
  double sum = 0;
  for (c = 0; c < C; c++) sum += ex[c];
  for (c = 0; c + 4 <= C; c += 4) {
    v4d e;
    memcpy(&e, ex + c, sizeof e);
    v4f f = __builtin_convertvector(e, v4f);
    memcpy(gr + c, &f, sizeof f);
  }
  for (; c < C; c++) gr[c] = (float)ex[c];
  if (sc >= 0) {
    sum -= (double)gr[sc];
    gr[sc] = 0.0f;
  }
  const double is = inv / sum;
  const v4d isv = {is, is, is, is};
  for (c = 0; c + 4 <= C; c += 4) {
    v4f f;
    memcpy(&f, gr + c, sizeof f);
    v4f r = __builtin_convertvector(__builtin_convertvector(f, v4d) * isv, v4f);
    memcpy(gr + c, &r, sizeof r);
  }
  for (; c < C; c++) gr[c] = (float)((double)gr[c] * is);
  gr[0] = (float)((double)gr[0] - inv);
  *outMx = mx;
  *outSum = sum;
}

/*
 * The head (see item-head.ts, whose JS twin this follows line by line). Scratch `f` holds
 * hRows (P·d), dhRows (P·d), negEmb (N·d), dneg (N·d), logits (P·C), dlogits (P·C), C = N + 1.
 * negCol (nTokens) is all zero on entry and left so. stats[3p..3p+3) = the row's max logit, its
 * sum of exp(logit − max) and its positive logit: loss_p = max + log(sum) − positive. `ex`
 * holds one row's exps (N + 1 doubles).
 */
static int sampled_softmax_head(const float *H, float *dH, const int32_t *rows, const int32_t *targets, int P,
                                 const int32_t *negatives, int N, const float *E, float *gE, int d, float *f,
                                 int32_t *negCol, double *stats, double *ex) {
  const int C = N + 1;
  float *hRows = f, *dhRows = hRows + (size_t)P * d, *negEmb = dhRows + (size_t)P * d, *dneg = negEmb + (size_t)N * d;
  float *logits = dneg + (size_t)N * d, *dlogits = logits + (size_t)P * C;
  for (int p = 0; p < P; p++) memcpy(hRows + (size_t)p * d, H + (size_t)rows[p] * d, (size_t)d * sizeof(float));
  for (int n = 0; n < N; n++) {
    negCol[negatives[n]] = n + 1;
    memcpy(negEmb + (size_t)n * d, E + (size_t)negatives[n] * d, (size_t)d * sizeof(float));
  }
  if (!chorus_sgemm(0, 1, P, N, d, 1.0f, hRows, d, negEmb, d, 0.0f, logits + 1, C)) {
    for (int n = 0; n < N; n++) negCol[negatives[n]] = 0;
    return 0;
  }
  const double inv = 1.0 / P;
  for (int p = 0; p < P; p++) {
    const int32_t t = targets[p];
    const float *e = E + (size_t)t * d, *h = hRows + (size_t)p * d;
    double dot = 0;
    for (int j = 0; j < d; j++) dot += (double)h[j] * (double)e[j];
    float *lg = logits + (size_t)p * C, *gr = dlogits + (size_t)p * C;
    lg[0] = (float)dot;
    /* The accidental hit: t among the negatives. The column is trusted only if it points back at t. */
    const int32_t col = negCol[t];
    const int sc = col > 0 && col <= N && negatives[col - 1] == t ? col : -1;
    double mx, sum;
    softmax_row(lg, gr, C, sc, ex, inv, &mx, &sum);
    stats[3 * (size_t)p] = mx;
    stats[3 * (size_t)p + 1] = sum;
    stats[3 * (size_t)p + 2] = lg[0];
  }
  for (int n = 0; n < N; n++) negCol[negatives[n]] = 0;
  /* dH = dL[:, 1:]·E_neg + dL[:, 0]·E_pos; dE_neg = dL[:, 1:]ᵀ·H; dE_pos += dL[:, 0]·h. */
  if (!chorus_sgemm(0, 0, P, d, N, 1.0f, dlogits + 1, C, negEmb, d, 0.0f, dhRows, d) ||
      !chorus_sgemm(1, 0, N, d, P, 1.0f, dlogits + 1, C, hRows, d, 0.0f, dneg, d))
    return 0;
  for (int n = 0; n < N; n++) {
    float *g = gE + (size_t)negatives[n] * d;
    const float *s = dneg + (size_t)n * d;
    for (int j = 0; j < d; j++) g[j] = (float)((double)g[j] + (double)s[j]);
  }
  for (int p = 0; p < P; p++) {
    const double g0 = dlogits[(size_t)p * C];
    const size_t s = (size_t)targets[p] * d;
    float *dh = dhRows + (size_t)p * d;
    const float *h = hRows + (size_t)p * d;
    for (int j = 0; j < d; j++) {
      dh[j] = (float)((double)dh[j] + g0 * (double)E[s + j]);
      gE[s + j] = (float)((double)gE[s + j] + g0 * (double)h[j]);
    }
  }
  for (int p = 0; p < P; p++) {
    float *dst = dH + (size_t)rows[p] * d;
    const float *src = dhRows + (size_t)p * d;
    for (int j = 0; j < d; j++) dst[j] = (float)((double)dst[j] + (double)src[j]);
  }
  return 1;
}

/* sampledSoftmaxHead(H, dH, rows, targets, P, negatives, E, gE, d, nTokens, scratch, negCol, stats) */
napi_value chorus_sampled_softmax_head(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 13) {
    napi_throw_type_error(env, NULL, "sampledSoftmaxHead takes 13 arguments");
    return NULL;
  }
  float *H, *dH, *E, *gE, *scratch;
  int32_t *rows, *targets, *negatives, *negCol;
  double *stats;
  size_t nH, ndH, nE, ngE, nScratch, nRows, nTargets, nNeg, nNegCol, nStats;
  if (!chorus_typed(env, argv[0], napi_float32_array, "sampledSoftmaxHead: H must be a Float32Array", (void **)&H, &nH) ||
      !chorus_typed(env, argv[1], napi_float32_array, "sampledSoftmaxHead: dH must be a Float32Array", (void **)&dH, &ndH) ||
      !chorus_typed(env, argv[2], napi_int32_array, "sampledSoftmaxHead: rows must be an Int32Array", (void **)&rows, &nRows) ||
      !chorus_typed(env, argv[3], napi_int32_array, "sampledSoftmaxHead: targets must be an Int32Array", (void **)&targets, &nTargets) ||
      !chorus_typed(env, argv[5], napi_int32_array, "sampledSoftmaxHead: negatives must be an Int32Array", (void **)&negatives, &nNeg) ||
      !chorus_typed(env, argv[6], napi_float32_array, "sampledSoftmaxHead: E must be a Float32Array", (void **)&E, &nE) ||
      !chorus_typed(env, argv[7], napi_float32_array, "sampledSoftmaxHead: gE must be a Float32Array", (void **)&gE, &ngE) ||
      !chorus_typed(env, argv[10], napi_float32_array, "sampledSoftmaxHead: scratch must be a Float32Array", (void **)&scratch, &nScratch) ||
      !chorus_typed(env, argv[11], napi_int32_array, "sampledSoftmaxHead: negCol must be an Int32Array", (void **)&negCol, &nNegCol) ||
      !chorus_typed(env, argv[12], napi_float64_array, "sampledSoftmaxHead: stats must be a Float64Array", (void **)&stats, &nStats))
    return NULL;
  const double Pd = chorus_num(env, argv[4]), dd = chorus_num(env, argv[8]), nTokd = chorus_num(env, argv[9]);
  if (!int_in(Pd, 0, INT_MAX) || !int_in(dd, 1, INT_MAX) || !int_in(nTokd, 1, INT_MAX)) {
    napi_throw_range_error(env, NULL, "sampledSoftmaxHead: P, d and nTokens must be integers (P >= 0, d and nTokens >= 1)");
    return NULL;
  }
  if (nNeg >= INT_MAX) {
    napi_throw_range_error(env, NULL, "sampledSoftmaxHead: too many negatives");
    return NULL;
  }
  const int P = (int)Pd, d = (int)dd, nTokens = (int)nTokd, N = (int)nNeg;
  const size_t C = (size_t)N + 1;
  const size_t need = 2 * (size_t)P * d + 2 * (size_t)N * d + 2 * (size_t)P * C;
  if (N < 1 || (size_t)P > nRows || (size_t)P > nTargets || (size_t)nTokens * d > nE || ngE < nE || nNegCol < (size_t)nTokens ||
      nScratch < need || nStats < 3 * (size_t)P) {
    napi_throw_range_error(env, NULL, "sampledSoftmaxHead: array too small for P, d, nTokens or the negatives");
    return NULL;
  }
  for (int p = 0; p < P; p++) {
    if (rows[p] < 0 || ((size_t)rows[p] + 1) * d > nH || ((size_t)rows[p] + 1) * d > ndH || targets[p] < 0 || targets[p] >= nTokens) {
      napi_throw_range_error(env, NULL, "sampledSoftmaxHead: a row or target is out of range");
      return NULL;
    }
  }
  for (int n = 0; n < N; n++) {
    if (negatives[n] < 0 || negatives[n] >= nTokens || negCol[negatives[n]] != 0) {
      napi_throw_range_error(env, NULL, "sampledSoftmaxHead: a negative is out of range or repeated, or negCol is not zero");
      for (int m = 0; m < n; m++) negCol[negatives[m]] = 0;
      return NULL;
    }
    negCol[negatives[n]] = 1; /* repeat check only; the head sets the real columns */
  }
  for (int n = 0; n < N; n++) negCol[negatives[n]] = 0;
  /*
   * The checked indices are copied: were an output array a view of the same memory as rows,
   * targets or negatives, the head's writes could otherwise change an index after its check.
   */
  double *ex = malloc(C * sizeof(double));
  int32_t *idx = malloc((2 * (size_t)P + N) * sizeof(int32_t));
  if (ex && idx) {
    memcpy(idx, rows, (size_t)P * sizeof(int32_t));
    memcpy(idx + P, targets, (size_t)P * sizeof(int32_t));
    memcpy(idx + 2 * (size_t)P, negatives, (size_t)N * sizeof(int32_t));
  }
  if (!ex || !idx || !sampled_softmax_head(H, dH, idx, idx + P, P, idx + 2 * (size_t)P, N, E, gE, d, scratch, negCol, stats, ex))
    napi_throw_error(env, NULL, "sampledSoftmaxHead: out of memory");
  free(ex);
  free(idx);
  return NULL;
}

/*
 * The weight average's step (recommenders/sequence.ts, `emaStep`): avg = β·avg + (1 − β)·params
 * in float64, rounded to float32, unfused, as the JS loop; every element on its own, so the
 * vector code gives the same bits.
 */
CLONES static void ema_step(float *restrict avg, const float *restrict params, size_t n, double beta) {
  const double rest = 1 - beta;
  for (size_t i = 0; i < n; i++) avg[i] = (float)(beta * (double)avg[i] + rest * (double)params[i]);
}

/* emaStep(avg, params, beta): avg and params of one length. */
napi_value chorus_ema_step(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "emaStep takes 3 arguments");
    return NULL;
  }
  float *avg, *params;
  size_t na, np;
  if (!chorus_typed(env, argv[0], napi_float32_array, "emaStep: avg must be a Float32Array", (void **)&avg, &na) ||
      !chorus_typed(env, argv[1], napi_float32_array, "emaStep: params must be a Float32Array", (void **)&params, &np))
    return NULL;
  if (na != np) {
    napi_throw_range_error(env, NULL, "emaStep: avg and params differ in length");
    return NULL;
  }
  ema_step(avg, params, na, chorus_num(env, argv[2]));
  return NULL;
}

/*
 * GRU forward over a batch (nn/seq/gru.ts, `Gru.forward`, whose JS loop this follows): for each
 * step t, h_{t−1} into hprev, the recurrent GEMM hg = hprev·U, then the gates
 *   r = σ(xg_r + hg_r + b_r), z = σ(xg_z + hg_z + b_z), n = tanh(xg_n + r·(hg_n + b_n)),
 *   h = (1 − z)·n + z·h_{t−1},
 * in float64 as JS computes them (σ(a) = 1 / (1 + exp(−a)), exp and tanh as fdlibm), stored as
 * float32. Rows are batch-major (b·T + t); steps before start[b] are padding (h = 0, gates 0).
 */
CLONES static int gru_forward(const float *xg, float *h, float *hprev, float *hg, float *gates, const float *U, const float *bh,
                              const int32_t *start, int B, int T, int d) {
  const int d3 = 3 * d;
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < B; b++) {
      const size_t o = ((size_t)b * T + t) * d;
      if (t == 0 || t <= start[b]) memset(hprev + o, 0, (size_t)d * sizeof(float));
      else memcpy(hprev + o, h + o - d, (size_t)d * sizeof(float));
    }
    if (!chorus_sgemm(0, 0, B, d3, d, 1.0f, hprev + (size_t)t * d, T * d, U, d3, 0.0f, hg + (size_t)t * d3, T * d3)) return 0;
    for (int b = 0; b < B; b++) {
      const size_t row = (size_t)b * T + t, o = row * d, o3 = row * d3;
      if (t < start[b]) {
        memset(h + o, 0, (size_t)d * sizeof(float));
        memset(gates + o3, 0, (size_t)d3 * sizeof(float));
        continue;
      }
      const float *xr = xg + o3, *xz = xr + d, *xn = xz + d;
      float *gr = hg + o3, *gz = gr + d, *gn = gz + d;
      float *outR = gates + o3, *outZ = outR + d, *outN = outZ + d;
      const float *hp = hprev + o;
      float *ho = h + o;
      int j = 0;
      for (; j + 4 <= d; j += 4) {
        v4d hr = {(double)gr[j] + (double)bh[j], (double)gr[j + 1] + (double)bh[j + 1], (double)gr[j + 2] + (double)bh[j + 2], (double)gr[j + 3] + (double)bh[j + 3]};
        v4d hz = {(double)gz[j] + (double)bh[d + j], (double)gz[j + 1] + (double)bh[d + j + 1], (double)gz[j + 2] + (double)bh[d + j + 2], (double)gz[j + 3] + (double)bh[d + j + 3]};
        v4d hn = {(double)gn[j] + (double)bh[2 * d + j], (double)gn[j + 1] + (double)bh[2 * d + j + 1], (double)gn[j + 2] + (double)bh[2 * d + j + 2], (double)gn[j + 3] + (double)bh[2 * d + j + 3]};
        v4d ar = {(double)xr[j], (double)xr[j + 1], (double)xr[j + 2], (double)xr[j + 3]};
        v4d az = {(double)xz[j], (double)xz[j + 1], (double)xz[j + 2], (double)xz[j + 3]};
        const v4d one = {1, 1, 1, 1};
        v4d r = one / (one + exp4(-(ar + hr)));
        v4d z = one / (one + exp4(-(az + hz)));
        for (int l = 0; l < 4; l++) {
          gn[j + l] = (float)hn[l];
          const double n = fdlibm_tanh((double)xn[j + l] + r[l] * hn[l]);
          outR[j + l] = (float)r[l];
          outZ[j + l] = (float)z[l];
          outN[j + l] = (float)n;
          ho[j + l] = (float)((1 - z[l]) * n + z[l] * (double)hp[j + l]);
        }
      }
      for (; j < d; j++) {
        const double hr = (double)gr[j] + (double)bh[j], hz = (double)gz[j] + (double)bh[d + j], hn = (double)gn[j] + (double)bh[2 * d + j];
        gn[j] = (float)hn;
        const double r = 1 / (1 + fdlibm_exp(-((double)xr[j] + hr)));
        const double z = 1 / (1 + fdlibm_exp(-((double)xz[j] + hz)));
        const double n = fdlibm_tanh((double)xn[j] + r * hn);
        outR[j] = (float)r;
        outZ[j] = (float)z;
        outN[j] = (float)n;
        ho[j] = (float)((1 - z) * n + z * (double)hp[j]);
      }
    }
  }
  return 1;
}

/*
 * GRU backward (nn/seq/gru.ts, `Gru.backward` up to the input layer's backward, which stays in JS):
 * through time once, from the gates, h_{t−1} and the recurrent pre-activations the forward pass
 * kept; dxg and dhg get the pre-activation gradients, gU and gbh the recurrent weights' gradients
 * (added). Float64 in the JS order, four j at a time: each element's arithmetic is its own.
 */
static inline __attribute__((always_inline)) v4d load4f(const float *p) {
  return (v4d){(double)p[0], (double)p[1], (double)p[2], (double)p[3]};
}
static inline __attribute__((always_inline)) void store4f(float *p, v4d v) {
  v4f f = __builtin_convertvector(v, v4f);
  memcpy(p, &f, sizeof f);
}

CLONES static int gru_backward(const float *dH, float *dxg, float *dhg, float *dhNext, const float *gates, const float *hprev,
                               const float *hg, const float *U, float *gU, float *gbh, const int32_t *start, int B, int T, int d) {
  const int d3 = 3 * d;
  const size_t rows = (size_t)B * T;
  memset(dhNext, 0, (size_t)B * d * sizeof(float));
  const v4d one = {1, 1, 1, 1};
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      const size_t row = (size_t)b * T + t, o = row * d, o3 = row * d3, on = (size_t)b * d;
      if (t < start[b]) {
        memset(dxg + o3, 0, (size_t)d3 * sizeof(float));
        memset(dhg + o3, 0, (size_t)d3 * sizeof(float));
        memset(dhNext + on, 0, (size_t)d * sizeof(float));
        continue;
      }
      const float *gr = gates + o3, *gz = gr + d, *gn = gz + d, *hn = hg + o3 + 2 * d, *hp = hprev + o, *dh0 = dH + o;
      float *xr = dxg + o3, *xz = xr + d, *xn = xz + d, *hr_ = dhg + o3, *hz_ = hr_ + d, *hn_ = hz_ + d, *next = dhNext + on;
      int j = 0;
      for (; j + 4 <= d; j += 4) {
        const v4d dh = load4f(dh0 + j) + load4f(next + j);
        const v4d r = load4f(gr + j), z = load4f(gz + j), n = load4f(gn + j);
        const v4d dn = dh * (one - z) * (one - n * n);
        const v4d dz = dh * (load4f(hp + j) - n) * z * (one - z);
        const v4d dr = dn * load4f(hn + j) * r * (one - r);
        store4f(xr + j, dr);
        store4f(xz + j, dz);
        store4f(xn + j, dn);
        store4f(hr_ + j, dr);
        store4f(hz_ + j, dz);
        store4f(hn_ + j, dn * r);
        store4f(next + j, dh * z);
      }
      for (; j < d; j++) {
        const double dh = (double)dh0[j] + (double)next[j];
        const double r = gr[j], z = gz[j], n = gn[j];
        const double dn = dh * (1 - z) * (1 - n * n);
        const double dz = dh * ((double)hp[j] - n) * z * (1 - z);
        const double dr = dn * (double)hn[j] * r * (1 - r);
        xr[j] = (float)dr;
        xz[j] = (float)dz;
        xn[j] = (float)dn;
        hr_[j] = (float)dr;
        hz_[j] = (float)dz;
        hn_[j] = (float)(dn * r);
        next[j] = (float)(dh * z);
      }
    }
    /* dh_{t−1} += dHg_t · Uᵀ, except where step t is a sequence's first (h_{t−1} was the constant 0). */
    if (t > 0) {
      if (!chorus_sgemm(0, 1, B, d, d3, 1.0f, dhg + (size_t)t * d3, T * d3, U, d3, 1.0f, dhNext, d)) return 0;
      for (int b = 0; b < B; b++)
        if (t <= start[b]) memset(dhNext + (size_t)b * d, 0, (size_t)d * sizeof(float));
    }
  }
  /* dU += Σ_t h_{t−1}ᵀ · dHg_t over all rows at once; db_h += Σ dHg. */
  if (rows > 0 && !chorus_sgemm(1, 0, d, d3, (int)rows, 1.0f, hprev, d, dhg, d3, 1.0f, gU, d3)) return 0;
  for (size_t r = 0; r < rows; r++)
    for (int j = 0; j < d3; j++) gbh[j] = (float)((double)gbh[j] + (double)dhg[r * d3 + j]);
  return 1;
}

/* gruBackward(dH, dxg, dhg, dhNext, gates, hprev, hg, U, gU, gbh, start, B, T, d) */
napi_value chorus_gru_backward(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 14) {
    napi_throw_type_error(env, NULL, "gruBackward takes 14 arguments");
    return NULL;
  }
  float *f[10];
  size_t n[10];
  static const char *msg[10] = {"gruBackward: dH must be a Float32Array",    "gruBackward: dxg must be a Float32Array",
                                "gruBackward: dhg must be a Float32Array",   "gruBackward: dhNext must be a Float32Array",
                                "gruBackward: gates must be a Float32Array", "gruBackward: hprev must be a Float32Array",
                                "gruBackward: hg must be a Float32Array",    "gruBackward: U must be a Float32Array",
                                "gruBackward: gU must be a Float32Array",    "gruBackward: gbh must be a Float32Array"};
  for (int a = 0; a < 10; a++)
    if (!chorus_typed(env, argv[a], napi_float32_array, msg[a], (void **)&f[a], &n[a])) return NULL;
  int32_t *start;
  size_t nst;
  if (!chorus_typed(env, argv[10], napi_int32_array, "gruBackward: start must be an Int32Array", (void **)&start, &nst)) return NULL;
  const double Bd = chorus_num(env, argv[11]), Td = chorus_num(env, argv[12]), dd = chorus_num(env, argv[13]);
  if (!int_in(Bd, 0, INT_MAX) || !int_in(Td, 0, INT_MAX) || !int_in(dd, 1, INT_MAX / 3) || Bd * Td > INT_MAX || Td * 3 * dd > INT_MAX) {
    napi_throw_range_error(env, NULL, "gruBackward: B, T and d must be integers (B, T >= 0, d >= 1)");
    return NULL;
  }
  const int B = (int)Bd, T = (int)Td, d = (int)dd;
  const size_t rows = (size_t)B * T, d3 = (size_t)3 * d;
  /* dH, dxg, dhg, dhNext, gates, hprev, hg, U, gU, gbh */
  const size_t need[10] = {rows * d, rows * d3, rows * d3, (size_t)B * d, rows * d3, rows * d, rows * d3, d * d3, d * d3, d3};
  for (int a = 0; a < 10; a++)
    if (n[a] < need[a]) {
      napi_throw_range_error(env, NULL, "gruBackward: array too small for B, T and d");
      return NULL;
    }
  if (nst < (size_t)B) {
    napi_throw_range_error(env, NULL, "gruBackward: start shorter than B");
    return NULL;
  }
  if (!gru_backward(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], start, B, T, d))
    napi_throw_error(env, NULL, "gruBackward: out of memory");
  return NULL;
}

/* gruForward(xg, h, hprev, hg, gates, U, bh, start, B, T, d) */
napi_value chorus_gru_forward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 11) {
    napi_throw_type_error(env, NULL, "gruForward takes 11 arguments");
    return NULL;
  }
  float *xg, *h, *hprev, *hg, *gates, *U, *bh;
  int32_t *start;
  size_t nxg, nh, nhp, nhg, ng, nU, nbh, nst;
  if (!chorus_typed(env, argv[0], napi_float32_array, "gruForward: xg must be a Float32Array", (void **)&xg, &nxg) ||
      !chorus_typed(env, argv[1], napi_float32_array, "gruForward: h must be a Float32Array", (void **)&h, &nh) ||
      !chorus_typed(env, argv[2], napi_float32_array, "gruForward: hprev must be a Float32Array", (void **)&hprev, &nhp) ||
      !chorus_typed(env, argv[3], napi_float32_array, "gruForward: hg must be a Float32Array", (void **)&hg, &nhg) ||
      !chorus_typed(env, argv[4], napi_float32_array, "gruForward: gates must be a Float32Array", (void **)&gates, &ng) ||
      !chorus_typed(env, argv[5], napi_float32_array, "gruForward: U must be a Float32Array", (void **)&U, &nU) ||
      !chorus_typed(env, argv[6], napi_float32_array, "gruForward: bh must be a Float32Array", (void **)&bh, &nbh) ||
      !chorus_typed(env, argv[7], napi_int32_array, "gruForward: start must be an Int32Array", (void **)&start, &nst))
    return NULL;
  const double Bd = chorus_num(env, argv[8]), Td = chorus_num(env, argv[9]), dd = chorus_num(env, argv[10]);
  if (!int_in(Bd, 0, INT_MAX) || !int_in(Td, 0, INT_MAX) || !int_in(dd, 1, INT_MAX / 3) || Td * 3 * dd > INT_MAX) {
    napi_throw_range_error(env, NULL, "gruForward: B, T and d must be integers (B, T >= 0, d >= 1)");
    return NULL;
  }
  const int B = (int)Bd, T = (int)Td, d = (int)dd;
  const size_t rows = (size_t)B * T;
  if (nxg < rows * 3 * d || nh < rows * d || nhp < rows * d || nhg < rows * 3 * d || ng < rows * 3 * d || nU < (size_t)d * 3 * d ||
      nbh < (size_t)3 * d || nst < (size_t)B) {
    napi_throw_range_error(env, NULL, "gruForward: array too small for B, T and d");
    return NULL;
  }
  if (!gru_forward(xg, h, hprev, hg, gates, U, bh, start, B, T, d)) napi_throw_error(env, NULL, "gruForward: out of memory");
  return NULL;
}

/* exp (0, scalar), exp (1, the four-lane path), tanh (2) and expm1 (3) of every x into out. */
CLONES static void math_ops(int op, const double *x, double *out, size_t n) {
  size_t i = 0;
  if (op == 1)
    for (; i + 4 <= n; i += 4) {
      v4d r = exp4((v4d){x[i], x[i + 1], x[i + 2], x[i + 3]});
      memcpy(out + i, &r, sizeof r);
    }
  for (; i < n; i++) out[i] = op == 2 ? fdlibm_tanh(x[i]) : op == 3 ? fdlibm_expm1(x[i]) : fdlibm_exp(x[i]);
}

/*
 * fdlibmMath(op, x, out): the kernels' exp, tanh and expm1 over Float64Arrays, so that the tests
 * can hold them to Math.exp, Math.tanh and Math.expm1 bit for bit on millions of values (the
 * float32 outputs of the head and the GRU round most last-bit differences away).
 */
napi_value chorus_fdlibm_math(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "fdlibmMath takes 3 arguments");
    return NULL;
  }
  double *x, *out;
  size_t nx, no;
  if (!chorus_typed(env, argv[1], napi_float64_array, "fdlibmMath: x must be a Float64Array", (void **)&x, &nx) ||
      !chorus_typed(env, argv[2], napi_float64_array, "fdlibmMath: out must be a Float64Array", (void **)&out, &no))
    return NULL;
  const double op = chorus_num(env, argv[0]);
  if (no < nx || !(op == 0 || op == 1 || op == 2 || op == 3)) {
    napi_throw_range_error(env, NULL, "fdlibmMath: op must be 0-3 and out as long as x");
    return NULL;
  }
  math_ops((int)op, x, out, nx);
  return NULL;
}
