/*
 * fuzz-index.c - libFuzzer target for the index v2 reader: the input is an
 * index file; open it, read every series listed in the all-postings list,
 * walk label values and run a few selections. Must never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "thanosc/labels.h"
#include "thanosc/tsdb/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tsdb_bytes src;
  struct index_reader r;
  tsdb_bytes_open_mem(&src, data, size, "fuzz");
  if (index_reader_open(&r, &src) != 0)
    return 0;
  struct index_series s = {0};
  struct postings *p = index_reader_postings(&r, "", "");
  int n = 0;
  while (postings_next(p) && n++ < 10000)
    index_reader_series(&r, postings_at(p), &s);
  postings_free(p);
  index_series_release(&s);
  const char **names;
  size_t nn;
  index_reader_label_names(&r, &names, &nn);
  for (size_t i = 0; i < nn && i < 16; i++) {
    const struct index_pname *pn = index_reader_label_values(&r, names[i]);
    for (size_t k = 0; pn && k < pn->n && k < 16; k++) {
      p = index_reader_postings(&r, names[i], pn->v[k].value);
      while (postings_next(p)) {
      }
      postings_free(p);
    }
  }
  free(names);
  static const char *sels[] = {"{job=\"a\"}", "{__name__=~\"u.*\",job!=\"b\"}",
                               "{x=\"\"}", "{job=~\"a|b\"}"};
  for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
    struct matchers ms = {0};
    if (selector_parse(sels[i], &ms) == 0) {
      uint64_t *ids;
      size_t cnt;
      postings_expand(index_reader_select(&r, &ms), &ids, &cnt);
      free(ids);
    }
    matchers_release(&ms);
  }
  index_reader_close(&r);
  return 0;
}
