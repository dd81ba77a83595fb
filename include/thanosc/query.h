/*
 * query.h - small types shared by the querier's library pieces
 * (query_api.h, query_params.h, query_dedup.h, query_merge.h).
 *
 * Label arrays are labels.h's struct label (name, value), sorted by name;
 * where an API takes "const struct label *ls, size_t n" the strings are
 * borrowed for the call.
 */
#ifndef THANOSC_QUERY_H
#define THANOSC_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/labels.h"

/* One float sample: t in milliseconds since the epoch. */
struct qsample {
  int64_t t;
  double v;
};

/* Prometheus labels.Compare over two sorted label arrays (labels_compare()
 * for bare arrays). */
int qlabels_compare(const struct label *a, size_t na, const struct label *b,
                    size_t nb);

#endif
