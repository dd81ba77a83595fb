/*
 * fuzz-meta.c - libFuzzer target for meta.json, marker and tombstones
 * parsing: whatever parses must format and parse again to the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/tsdb/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct block_meta m;
  if (block_meta_parse(&m, (const char *)data, size, "fuzz") == 0) {
    struct tc_buf a, b;
    tc_buf_init(&a, 0);
    tc_buf_init(&b, 0);
    block_meta_format(&m, &a);
    struct block_meta m2;
    if (block_meta_parse(&m2, a.data, a.len, "again") != 0)
      abort();
    block_meta_format(&m2, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
      abort();
    block_meta_release(&m2);
    tc_buf_release(&a);
    tc_buf_release(&b);
  }
  block_meta_release(&m);
  for (int k = 0; k < 3; k++) {
    struct block_marker mk;
    if (block_marker_parse(&mk, (enum marker_kind)k, (const char *)data,
                           size) == 0) {
      struct tc_buf a;
      tc_buf_init(&a, 0);
      block_marker_format(&mk, &a);
      tc_buf_release(&a);
    }
    block_marker_release(&mk);
  }
  struct tombstones t;
  if (tombstones_parse(&t, data, size, "fuzz") == 0) {
    size_t first;
    tombstones_for(&t, 3, &first);
  }
  tombstones_release(&t);
  return 0;
}
