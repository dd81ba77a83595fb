/*
 * plan.c - which blocks of a group to compact next: Thanos's default
 * (TSDB-based) planner. Overlapping blocks are compacted first; otherwise
 * blocks are bucketed into aligned ranges (8h, 2d, 14d) and a bucket is
 * picked once it is full, or lies before the newest block, so that a
 * range still growing is left alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "thanosc/common.h"
#include "thanosc/compact.h"

#define HOUR_MS (3600 * 1000LL)

const int64_t compact_default_ranges[4] = {2 * HOUR_MS, 8 * HOUR_MS,
                                           48 * HOUR_MS, 14 * 24 * HOUR_MS};

/* The first run of overlapping blocks among idx[0..n) (by min time). */
static size_t overlapping(const struct plan_block *b, const size_t *idx,
                          size_t n, size_t *out) {
  size_t k = 0;
  if (n < 2)
    return 0;
  int64_t maxt = b[idx[0]].max_time;
  for (size_t i = 1; i < n; i++) {
    const struct plan_block *m = &b[idx[i]];
    if (m->min_time < maxt) {
      if (k == 0)
        out[k++] = idx[i - 1];
      out[k++] = idx[i];
    } else if (k > 0) {
      break;
    }
    if (m->max_time > maxt)
      maxt = m->max_time;
  }
  return k;
}

/* Start of the range of size tr holding t (floor division). */
static int64_t range_start(int64_t t, int64_t tr) {
  return t >= 0 ? tr * (t / tr) : tr * ((t - tr + 1) / tr);
}

/* The first aligned range of ranges[1..] worth compacting, from idx[0..n)
 * (by min time, newest block already left out). */
static size_t select_range(const struct plan_block *b, const size_t *idx,
                           size_t n, const int64_t *ranges, size_t nranges,
                           size_t *out) {
  if (n < 1)
    return 0;
  int64_t high = b[idx[n - 1]].min_time;
  for (size_t r = 1; r < nranges; r++) {
    int64_t tr = ranges[r];
    size_t i = 0;
    while (i < n) {
      int64_t t0 = range_start(b[idx[i]].min_time, tr);
      if (b[idx[i]].max_time > t0 + tr) { /* does not fit this range */
        i++;
        continue;
      }
      size_t from = i;
      while (i < n && b[idx[i]].max_time <= t0 + tr)
        i++;
      /* The part is idx[from..i). */
      bool failed = false;
      for (size_t j = from; j < i; j++)
        failed |= b[idx[j]].failed;
      if (failed || i - from < 2)
        continue;
      int64_t mint = b[idx[from]].min_time, maxt = b[idx[i - 1]].max_time;
      if (maxt - mint != tr && maxt > high)
        continue;
      /* Blocks marked no-compact split the part; the first run of two or
       * more unmarked blocks is picked. */
      size_t start = from;
      for (size_t j = from; j <= i; j++) {
        if (j < i && !b[idx[j]].no_compact)
          continue;
        if (j - start > 1) {
          for (size_t k = start; k < j; k++)
            out[k - start] = idx[k];
          return j - start;
        }
        start = j + 1;
      }
    }
  }
  return 0;
}

size_t compact_plan(const struct plan_block *b, size_t n, const int64_t *ranges,
                    size_t nranges, size_t *out, bool *overlap) {
  if (overlap)
    *overlap = false;
  if (n == 0)
    return 0;
  size_t *idx = xcalloc(n, sizeof(size_t)), nidx = 0;
  for (size_t i = 0; i < n; i++)
    if (!b[i].no_compact)
      idx[nidx++] = i;
  size_t k = overlapping(b, idx, nidx, out);
  if (k) {
    if (overlap)
      *overlap = true;
  } else {
    /* Leave out the newest block: another one of the same size may still
     * join its range (Thanos keeps a full block range of slack). */
    for (size_t i = 0; i + 1 < n; i++)
      idx[i] = i;
    k = select_range(b, idx, n - 1, ranges, nranges, out);
  }
  free(idx);
  return k;
}
