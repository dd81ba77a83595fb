/*
 * labels.c - label arrays as the querier passes them around (a borrowed
 * struct label array and its length, include/thanosc/query.h), compared
 * through labels.h's Prometheus-compatible labels_compare().
 */
#include "thanosc/query.h"

int qlabels_compare(const struct label *a, size_t na, const struct label *b,
                    size_t nb) {
  /* Views only: labels_compare() reads, never frees. */
  const struct labels la = {(struct label *)a, na, na, LABELS_BORROWED};
  const struct labels lb = {(struct label *)b, nb, nb, LABELS_BORROWED};
  return labels_compare(&la, &lb);
}
