/*
 * labels.c - the querier's minimal label-set helpers over struct label
 * arrays (include/thanosc/query.h), until labels.h from the tsdb branch
 * is on main.
 */
#include "thanosc/query.h"

#include <string.h>

int qlabels_compare(const struct label *a, size_t na, const struct label *b,
                    size_t nb) {
  size_t n = na < nb ? na : nb;
  for (size_t i = 0; i < n; i++) {
    int c = strcmp(a[i].name, b[i].name);
    if (c)
      return c;
    c = strcmp(a[i].value, b[i].value);
    if (c)
      return c;
  }
  return (na > nb) - (na < nb);
}
