/*
 * Item-kNN similarity rows (src/recommenders/knn-rows.ts, `itemSimRows`) in C: for each item i in
 * [from, to), co-occurrence weights with every item j sharing a user are accumulated in one dense
 * float64 buffer, divided by ‖i‖‖j‖ + shrink, and the k best kept (higher first, ties to the lower
 * index: util/topk.ts's `heapOffer`, ported exactly). It is the same arithmetic in the same order
 * as the JS kernel, so the two give bit-identical rows: the products of two float32 weights are
 * exact in float64 (fusing them changes nothing), and the one inexact product, ‖i‖·‖j‖, is kept
 * unfused (see `denominator`). The JS kernel spends ~97 % of item-kNN's fit in that loop on P1.
 */
#include <node_api.h>
#include "napi_glue.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * ‖i‖·‖j‖ + shrink rounded twice, as JS does: binding.gyp compiles with -ffp-contract=fast, which
 * would fuse it into one FMA and move a similarity by an ulp (enough to reorder ties).
 */
#if defined(__clang__)
static double denominator(double a, double b, double shrink) {
#pragma clang fp contract(off)
  return a * b + shrink;
}
#elif defined(__GNUC__)
__attribute__((optimize("fp-contract=off"))) static double denominator(double a, double b, double shrink) { return a * b + shrink; }
#else
static double denominator(double a, double b, double shrink) { return a * b + shrink; }
#endif

static inline int better(double s1, int i1, double s2, int i2) { return s1 > s2 || (s1 == s2 && i1 < i2); }

/* util/topk.ts heapOffer: bounded min-heap of capacity k, worst at the root. */
static int heap_offer(int32_t *hi, double *hv, int k, int size, double s, int i) {
  if (size < k) {
    int j = size++;
    while (j > 0) {
      int p = (j - 1) >> 1;
      if (better(hv[p], hi[p], s, i)) {
        hv[j] = hv[p];
        hi[j] = hi[p];
        j = p;
      } else break;
    }
    hv[j] = s;
    hi[j] = i;
  } else if (k > 0 && better(s, i, hv[0], hi[0])) {
    int j = 0;
    for (;;) {
      int l = 2 * j + 1;
      if (l >= size) break;
      int r = l + 1;
      int m = r < size && better(hv[l], hi[l], hv[r], hi[r]) ? r : l;
      if (better(s, i, hv[m], hi[m])) {
        hv[j] = hv[m];
        hi[j] = hi[m];
        j = m;
      } else break;
    }
    hv[j] = s;
    hi[j] = i;
  }
  return size;
}


/*
 * knnSimRows(uIndptr, uIndices, uWeights, iIndptr, iUsers, iWeights, norms, k, shrink, from, to,
 *            counts, outIdx, outVal) → nnz. Rows from..to−1: counts[r − from] neighbours each,
 * written one row after another (unordered within a row, as the JS kernel) into outIdx/outVal,
 * which must hold (to − from)·min(k, nItems) entries. Every index is checked as it is read.
 */
napi_value chorus_knn_sim_rows(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 14) {
    napi_throw_type_error(env, NULL, "knnSimRows takes 14 arguments");
    return NULL;
  }
  int32_t *uIndptr, *uIndices, *iIndptr, *iUsers, *counts, *outIdx;
  float *uWeights, *iWeights, *outVal;
  double *norms;
  size_t nUp, nUi, nUw, nIp, nIu, nIw, nNorms, nCounts, nOutIdx, nOutVal;
  if (!chorus_typed(env, argv[0], napi_int32_array, "knnSimRows: uIndptr must be an Int32Array", (void **)&uIndptr, &nUp) ||
      !chorus_typed(env, argv[1], napi_int32_array, "knnSimRows: uIndices must be an Int32Array", (void **)&uIndices, &nUi) ||
      !chorus_typed(env, argv[2], napi_float32_array, "knnSimRows: uWeights must be a Float32Array", (void **)&uWeights, &nUw) ||
      !chorus_typed(env, argv[3], napi_int32_array, "knnSimRows: iIndptr must be an Int32Array", (void **)&iIndptr, &nIp) ||
      !chorus_typed(env, argv[4], napi_int32_array, "knnSimRows: iUsers must be an Int32Array", (void **)&iUsers, &nIu) ||
      !chorus_typed(env, argv[5], napi_float32_array, "knnSimRows: iWeights must be a Float32Array", (void **)&iWeights, &nIw) ||
      !chorus_typed(env, argv[6], napi_float64_array, "knnSimRows: norms must be a Float64Array", (void **)&norms, &nNorms) ||
      !chorus_typed(env, argv[11], napi_int32_array, "knnSimRows: counts must be an Int32Array", (void **)&counts, &nCounts) ||
      !chorus_typed(env, argv[12], napi_int32_array, "knnSimRows: outIdx must be an Int32Array", (void **)&outIdx, &nOutIdx) ||
      !chorus_typed(env, argv[13], napi_float32_array, "knnSimRows: outVal must be a Float32Array", (void **)&outVal, &nOutVal))
    return NULL;
  double kd = 0, shrink = 0, fromd = 0, tod = 0;
  napi_get_value_double(env, argv[7], &kd);
  napi_get_value_double(env, argv[8], &shrink);
  napi_get_value_double(env, argv[9], &fromd);
  napi_get_value_double(env, argv[10], &tod);
  const int nItems = (int)nNorms;
  const int nUsers = nUp > 0 ? (int)nUp - 1 : 0;
  const int kk = kd < nItems ? (int)kd : nItems;
  const int from = (int)fromd, to = (int)tod;
  if (kk < 0 || from < 0 || to < from || to > nItems || nIp != (size_t)nItems + 1 || nUw < nUi || nIw < nIu ||
      nCounts < (size_t)(to - from) || nOutIdx < (size_t)(to - from) * kk || nOutVal < (size_t)(to - from) * kk) {
    napi_throw_range_error(env, NULL, "knnSimRows: bad k, row range or array sizes");
    return NULL;
  }
  double *acc = calloc((size_t)nItems + 1, sizeof(double));
  int32_t *touched = malloc(((size_t)nItems + 1) * sizeof(int32_t));
  uint8_t *mark = calloc((size_t)nItems + 1, 1);
  int32_t *hi = malloc(((size_t)kk + 1) * sizeof(int32_t));
  double *hv = malloc(((size_t)kk + 1) * sizeof(double));
  const char *err = NULL;
  size_t nnz = 0;
  if (!acc || !touched || !mark || !hi || !hv) {
    err = "knnSimRows: out of memory";
    goto done;
  }
  for (int i = from; i < to && !err; i++) {
    int nt = 0;
    const int p0 = iIndptr[i], p1 = iIndptr[i + 1];
    if (p0 < 0 || p1 < p0 || (size_t)p1 > nIu) {
      err = "knnSimRows: bad item row";
      break;
    }
    for (int p = p0; p < p1; p++) {
      const int u = iUsers[p];
      if ((unsigned)u >= (unsigned)nUsers) {
        err = "knnSimRows: user index out of range";
        break;
      }
      const double w1 = iWeights[p];
      const int q0 = uIndptr[u], q1 = uIndptr[u + 1];
      if (q0 < 0 || q1 < q0 || (size_t)q1 > nUi) {
        err = "knnSimRows: bad user row";
        break;
      }
      for (int q = q0; q < q1; q++) {
        const int j = uIndices[q];
        if ((unsigned)j >= (unsigned)nItems) {
          err = "knnSimRows: item index out of range";
          break;
        }
        if (!mark[j]) {
          mark[j] = 1;
          touched[nt++] = j;
        }
        acc[j] += w1 * (double)uWeights[q];
      }
      if (err) break;
    }
    if (!err) {
      const double ni = norms[i];
      for (int t = 0; t < nt; t++) {
        const int j = touched[t];
        const double d = denominator(ni, norms[j], shrink);
        acc[j] = d > 0 ? acc[j] / d : 0;
      }
      int size = 0;
      for (int t = 0; t < nt; t++) size = heap_offer(hi, hv, kk, size, acc[touched[t]], touched[t]);
      for (int t = 0; t < size; t++) {
        outIdx[nnz + t] = hi[t];
        outVal[nnz + t] = (float)hv[t];
      }
      nnz += size;
      counts[i - from] = size;
    }
    for (int t = 0; t < nt; t++) {
      acc[touched[t]] = 0;
      mark[touched[t]] = 0;
    }
  }
done:
  free(acc);
  free(touched);
  free(mark);
  free(hi);
  free(hv);
  if (err) {
    napi_throw_range_error(env, NULL, err);
    return NULL;
  }
  napi_value out;
  napi_create_double(env, (double)nnz, &out);
  return out;
}
