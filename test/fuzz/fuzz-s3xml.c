/*
 * fuzz-s3xml.c - libFuzzer target for the S3 XML answers (src/objstore/
 * s3xml.c): list pages, error documents and the raw leaf walker must take
 * any bytes without crashing or leaking.
 */
#include <stddef.h>
#include <stdint.h>

#include "objstore/s3.h"

static void count_leaf(void *data, const char *path, const char *text) {
  (void)path;
  (void)text;
  (*(size_t *)data)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct s3_list_page pg;
  struct s3_error e;
  size_t n = 0;
  if (s3xml_list((const char *)data, size, &pg) == 0)
    s3_list_page_release(&pg);
  s3xml_error((const char *)data, size, &e);
  s3xml_parse((const char *)data, size, count_leaf, &n);
  return 0;
}
