/*
 * tools-promql.c - `thanosc tools promql ...`: flags and wiring only. The
 * parser, printer and conformance runner live in src/promql/.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/promql.h"

static bool has_feature(int argc, char **argv, int *first) {
  bool exp = false;
  int i = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--enable-feature=promql-experimental-functions") == 0)
      exp = true;
    else if (strncmp(argv[i], "--enable-feature=", 17) == 0)
      continue;
    else
      break;
  }
  *first = i;
  return exp;
}

int cmd_tools_promql_parse(int argc, char **argv) {
  struct promql_parse_opts po = {0};
  struct promql_expr *e;
  char *err, *s;
  int first;
  po.experimental_functions = has_feature(argc, argv, &first);
  if (first + 1 != argc || strcmp(argv[first], "--help") == 0) {
    fprintf(stderr, "usage: thanosc tools promql parse "
                    "[--enable-feature=promql-experimental-functions] EXPR\n");
    return 2;
  }
  if (promql_parse(argv[first], &po, &e, &err) < 0) {
    fprintf(stderr, "%s\n", err);
    free(err);
    return 1;
  }
  s = promql_expr_string(e);
  printf("%s\n", s);
  free(s);
  promql_expr_free(e);
  return 0;
}

int cmd_tools_promql_test(int argc, char **argv) {
  struct promql_test_opts o = {0};
  int i = 0;
  for (; i < argc; i++) {
    if (strncmp(argv[i], "--known-failures=", 17) == 0)
      o.known_failures = argv[i] + 17;
    else if (strncmp(argv[i], "--update=", 9) == 0)
      o.update = argv[i] + 9;
    else if (strcmp(argv[i], "-v") == 0)
      o.verbose = true;
    else
      break;
  }
  if (i == argc) {
    fprintf(stderr, "usage: thanosc tools promql test [--known-failures=F] "
                    "[--update=F] [-v] FILE.test...\n");
    return 2;
  }
  return promql_test_run(argv + i, (size_t)(argc - i), &o);
}
