/*
 * tools-promql.c - `thanosc tools promql ...`: flags and wiring only. The
 * parser, printer and conformance runner live in src/promql/.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/buf.h"
#include "thanosc/error.h"
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

/* One query: prints the API body; returns 0, or 1 when the query failed. */
static int eval_one(struct promql_engine_opts *eo, struct promql_queryable *qb,
                    const char *start, const char *end, const char *step,
                    const char *expr) {
  struct promql_query q = {0};
  struct promql_result r;
  struct tc_buf b;
  char *err = NULL;
  int rc;
  q.expr = expr;
  q.start_ms = llround(strtod(start, NULL) * 1000);
  q.end_ms = llround(strtod(end, NULL) * 1000);
  q.step_ms = llround(strtod(step, NULL) * 1000);
  tc_buf_init(&b, 0);
  rc = promql_exec(eo, qb, &q, &r, &err);
  if (rc < 0) {
    promql_error_json(rc, err, &b);
    free(err);
  } else {
    promql_result_json(&r, &b);
    promql_result_release(&r);
  }
  fwrite(b.data, 1, b.len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  tc_buf_release(&b);
  return rc < 0;
}

int cmd_tools_promql_eval(int argc, char **argv) {
  struct promql_engine_opts eo;
  struct promql_memstore *ms = promql_memstore_new();
  struct promql_blockstore *bs = NULL;
  struct promql_queryable *qb = promql_memstore_queryable(ms);
  const char *blocks = NULL;
  int i = 0, rc = 0;
  promql_engine_opts_default(&eo);
  for (; i < argc; i++) {
    if (strncmp(argv[i], "--load=", 7) == 0) {
      int n = promql_memstore_load_text(ms, argv[i] + 7, 0);
      if (n < 0) {
        fprintf(stderr, "%s\n", tc_errmsg(n));
        rc = 1;
        goto out;
      }
    } else if (strncmp(argv[i], "--blocks=", 9) == 0) {
      blocks = argv[i] + 9;
    } else if (strcmp(argv[i],
                      "--enable-feature=promql-experimental-functions") == 0) {
      eo.experimental_functions = true;
    } else if (strncmp(argv[i], "--query.lookback-delta=", 23) == 0) {
      if (promql_parse_duration(argv[i] + 23, strlen(argv[i] + 23),
                                &eo.lookback_ms) < 0) {
        fprintf(stderr, "bad --query.lookback-delta\n");
        rc = 2;
        goto out;
      }
    } else if (strncmp(argv[i], "--query.max-samples=", 20) == 0) {
      eo.max_samples = strtoll(argv[i] + 20, NULL, 10);
    } else if (strncmp(argv[i], "--", 2) == 0) {
      fprintf(stderr,
              "usage: thanosc tools promql eval [--load=FILE.om]... "
              "[--blocks=DIR] [--query.lookback-delta=D] "
              "[--query.max-samples=N] "
              "[--enable-feature=promql-experimental-functions] "
              "[[BLOCKS_DIR] START END STEP QUERY]\n"
              "Without a query, reads START<TAB>END<TAB>STEP<TAB>QUERY lines "
              "from stdin and prints one API body per line (STEP 0: instant "
              "query at START).\n");
      rc = 2;
      goto out;
    } else {
      break;
    }
  }
  if (argc - i == 5) {
    /* the compliance engine contract: BLOCKS START END STEP QUERY */
    blocks = argv[i++];
  }
  if (blocks) {
    if ((rc = promql_blockstore_open(blocks, &bs)) < 0) {
      fprintf(stderr, "%s\n", tc_errmsg(rc));
      rc = 1;
      goto out;
    }
    qb = promql_blockstore_queryable(bs);
  }
  if (argc - i == 4) {
    rc = eval_one(&eo, qb, argv[i], argv[i + 1], argv[i + 2], argv[i + 3]);
  } else if (argc == i) {
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
      char *f[4];
      char *p = line;
      size_t n = strlen(line);
      if (n && line[n - 1] == '\n')
        line[n - 1] = 0;
      for (int k = 0; k < 3; k++) {
        f[k] = p;
        p = strchr(p, '\t');
        if (!p)
          break;
        *p++ = 0;
      }
      if (!p) {
        fprintf(stderr, "eval: bad input line\n");
        continue;
      }
      f[3] = p;
      eval_one(&eo, qb, f[0], f[1], f[2], f[3]);
    }
    free(line);
  } else {
    fprintf(stderr, "eval: expected START END STEP QUERY\n");
    rc = 2;
  }
out:
  promql_blockstore_free(bs);
  promql_memstore_free(ms);
  return rc;
}
