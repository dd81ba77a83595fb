/*
 * fuzz-indexheader: the store gateway's index-header path
 * (src/store/indexheader.c) on arbitrary bytes. The first byte chooses the
 * mode: even - the bytes are a block's index object in a memory bucket,
 * built into an index-header, opened as a virtual index by the TSDB index
 * reader and by the store's sampled reader, and read (postings of the
 * first names, their series, a regex selection); odd - the bytes are an
 * index-header file opened against an empty index. Any input builds, opens
 * and reads or fails with an error code; nothing crashes or leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thanosc/error.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(struct index_reader *r) {
  struct index_series s = {0};
  for (size_t i = 0; i < r->nnames && i < 4; i++) {
    const struct index_pname *pn = &r->names[i];
    for (size_t k = 0; k < pn->n && k < 8; k++) {
      uint64_t *ids;
      size_t n;
      if (postings_expand(index_reader_postings(r, pn->name, pn->v[k].value),
                          &ids, &n) == 0) {
        for (size_t j = 0; j < n && j < 16; j++)
          (void)index_reader_series(r, ids[j], &s);
        free(ids);
      }
    }
  }
  index_series_release(&s);
}

static int count_value(void *data, const char *v, size_t n, uint64_t off) {
  (void)v, (void)n, (void)off;
  ++*(size_t *)data;
  return 0;
}

static void read_lazy(struct lazy_index *x) {
  struct lazy_arena a = {0};
  struct index_series s = {0};
  struct matchers ms = {0};
  for (size_t i = 0; i < x->nnames && i < 4; i++) {
    size_t nv = 0;
    (void)lazy_index_values(x, &x->names[i], count_value, &nv);
  }
  if (matchers_add(&ms, MATCH_RE, "__name__", ".+") == 0) {
    uint64_t *ids;
    size_t n;
    if (postings_expand(lazy_index_select(x, &ms), &ids, &n) == 0) {
      for (size_t j = 0; j < n && j < 16; j++)
        (void)lazy_index_series(x, ids[j], &a, &s);
      free(ids);
    }
  }
  matchers_release(&ms);
  index_series_release(&s);
  lazy_arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char path[64];
  snprintf(path, sizeof path, "/tmp/fuzz-ih-%d", (int)getpid());
  struct objstore *os = objstore_mem_new();
  int rc;
  if (data[0] % 2 == 0) {
    objstore_upload_buf(os, "B/index", data + 1, size - 1);
    rc = indexheader_build(os, "B/index", path);
  } else {
    FILE *f = fopen(path, "wb");
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    objstore_upload_buf(os, "B/index", "", 0);
    rc = 0;
  }
  if (rc == 0) {
    struct tsdb_bytes src;
    struct index_reader r;
    if (indexheader_open(path, os, "B/index", NULL, "B", &src) == 0 &&
        index_reader_open(&r, &src) == 0) {
      read_all(&r);
      index_reader_close(&r);
    }
    struct lazy_index x;
    if (indexheader_open(path, os, "B/index", NULL, "B", &src) == 0 &&
        lazy_index_open(&x, &src) == 0) {
      read_lazy(&x);
      lazy_index_close(&x);
    }
  }
  unlink(path);
  objstore_close(os);
  return 0;
}
