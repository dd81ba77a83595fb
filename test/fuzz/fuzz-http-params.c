/*
 * fuzz-http-params: query strings and urlencoded forms (http_params.c):
 * any bytes parse or fail with TC_EPARSE, and every value of every key is
 * reachable through http_params_next().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/error.h"
#include "thanosc/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct http_params p = HTTP_PARAMS_INIT;
  int rc = http_params_parse(&p, (const char *)data, size);
  if (rc != 0 && rc != TC_EPARSE)
    abort();
  for (size_t i = 0; i < p.n; i++) {
    size_t pos = 0, seen = 0;
    while (http_params_next(&p, p.v[i].key, &pos))
      seen++;
    if (seen != http_params_count(&p, p.v[i].key) || seen == 0)
      abort();
  }
  http_params_release(&p);
  return 0;
}
