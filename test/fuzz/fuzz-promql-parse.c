/*
 * fuzz-promql-parse.c - libFuzzer target for the PromQL parser and printer:
 * any input must parse or fail with a message, never crash; a parsed tree
 * must print, and the printed form must parse again. (Printing is not
 * always a fixed point, as in Prometheus: +Inf ^ x reprints as ++Inf ^ x.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct promql_parse_opts o = {true};
  struct promql_expr *e = NULL, *e2 = NULL;
  char *err = NULL, *s, *s2;
  char *in = malloc(size + 1);
  memcpy(in, data, size);
  in[size] = 0;
  if (promql_parse(in, &o, &e, &err) == 0) {
    s = promql_expr_string(e);
    if (promql_parse(s, &o, &e2, &err) != 0)
      abort();
    s2 = promql_expr_string(e2);
    free(s2);
    promql_expr_free(e2);
    free(s);
    promql_expr_free(e);
  } else {
    free(err);
  }
  free(in);
  return 0;
}
