/*
 * query.h - small types shared by the querier's library pieces
 * (query_api.h, query_params.h, query_iter.h, query_merge.h).
 *
 * struct qlabel has the same layout as struct label of labels.h (tsdb
 * branch: { const char *name; const char *value; }), so a sorted label
 * array from there can be passed where a qlabel array is asked for once
 * both are on main. TODO(query): switch to struct labels when labels.h
 * lands on main.
 */
#ifndef THANOSC_QUERY_H
#define THANOSC_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* One label; strings are borrowed from whoever owns the label set. */
struct qlabel {
  const char *name;
  const char *value;
};

/* One float sample: t in milliseconds since the epoch. */
struct qsample {
  int64_t t;
  double v;
};

/* Prometheus labels.Compare over two sorted label arrays. */
int qlabels_compare(const struct qlabel *a, size_t na, const struct qlabel *b,
                    size_t nb);

#endif
