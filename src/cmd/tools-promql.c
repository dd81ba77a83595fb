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

int cmd_tools_promql_bench(int argc, char **argv) {
  size_t series = 2000, samples = 5760; /* 11.5M samples, one day at 15s */
  int64_t step = 60000;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "--series=", 9) == 0)
      series = strtoul(argv[i] + 9, NULL, 10);
    else if (strncmp(argv[i], "--samples=", 10) == 0)
      samples = strtoul(argv[i] + 10, NULL, 10);
    else if (strncmp(argv[i], "--step=", 7) == 0)
      step = (int64_t)strtoul(argv[i] + 7, NULL, 10) * 1000;
    else {
      fprintf(stderr, "usage: thanosc tools promql bench [--series=N] "
                      "[--samples=N] [--step=SECONDS]\n");
      return 2;
    }
  }
  if (!series || samples < 10 || step <= 0) {
    fprintf(stderr, "bench: bad sizes\n");
    return 2;
  }
  return promql_bench_run(series, samples, step);
}
