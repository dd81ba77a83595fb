/* Unit tests of src/promql/parse.c and printer.c. */
#include <stdlib.h>

#include "test.h"
#include "thanosc/common.h"
#include "thanosc/promql.h"

static void roundtrip(const char *in, const char *want) {
  struct promql_expr *e;
  char *err = NULL, *s;
  int rc = promql_parse(in, NULL, &e, &err);
  if (rc != 0)
    TEST_FAIL_("parse '%s': %s", in, err);
  s = promql_expr_string(e);
  ASSERT_STREQ(s, want);
  free(s);
  promql_expr_free(e);
}

static void fails(const char *in, const char *want) {
  struct promql_expr *e;
  char *err = NULL;
  ASSERT_EQ(promql_parse(in, NULL, &e, &err), TC_EPARSE);
  ASSERT_STREQ(err, want);
  free(err);
}

TEST(promql_parse_print) {
  roundtrip("foo", "foo");
  roundtrip("sum(rate(x{b=\"1\",a=~\"y\"}[5m])) by (job)",
            "sum by (job) (rate(x{a=~\"y\",b=\"1\"}[5m]))");
  roundtrip("-1^2", "-1 ^ 2");
  roundtrip("a + on(x) group_left(y) b", "a + on (x) group_left (y) b");
  roundtrip("foo @ 100 offset -5m", "foo @ 100.000 offset -5m");
  roundtrip("rate(foo[1h30m:10s] @ end())", "rate(foo[1h30m:10s] @ end())");
  roundtrip("1e3 + 0x1f + Inf", "1000 + 31 + +Inf");
  roundtrip("foo offset 90m", "foo offset 1h30m");
  roundtrip("a or b and c unless d", "a or b and c unless d");
  roundtrip("2 ^ 3 ^ 2", "2 ^ 3 ^ 2");
  roundtrip("count_values(\"v\", foo)", "count_values(\"v\", foo)");
  /* Keywords Prometheus also takes as metric names (the printed form
   * must parse again: the fuzzer found bY{} printing as bY). */
  roundtrip("bY{}", "bY");
  roundtrip("by + 1", "by + 1");
  roundtrip("offset offset 5m", "offset offset 5m");
  roundtrip("foo and and", "foo and and");
  roundtrip("or{a=\"b\"}", "or{a=\"b\"}");
  roundtrip("sum without (a) (without)", "sum without (a) (without)");
}

TEST(promql_parse_errors) {
  fails("1 +", "1:4: parse error: unexpected end of input");
  fails("1 < 2",
        "1:3: parse error: comparisons between scalars must use BOOL modifier");
  fails("foo{", "1:5: parse error: unexpected end of input inside braces");
  fails("sum(foo", "1:8: parse error: unclosed left parenthesis");
  fails(")", "1:2: parse error: unexpected right parenthesis ')'");
  fails("foo{a=\"b\" c=\"d\"}", "1:11: parse error: unexpected identifier "
                                   "\"c\" in label matching, expected \",\" "
                                   "or \"}\"");
  fails("topk(1, 2, foo)", "1:1: parse error: wrong number of arguments for "
                           "aggregate expression provided, expected 2, got 3");
  fails("foo offset 5m offset 1m",
        "1:1: parse error: offset may not be set multiple times");
  fails("rate(foo)[5m]",
        "1:10: parse error: ranges only allowed for vector selectors");
  fails("foo + \"a\"", "1:7: parse error: binary expression must contain "
                        "only scalar and instant vector types");
  fails("1.2.3", "1:1: parse error: bad number or duration syntax: \"1.2.\"");
  fails("foo[2d1w]",
        "1:5: parse error: not a valid duration string: \"2d1w\"");
  fails("rate(foo)", "1:6: parse error: expected type range vector in call "
                     "to function \"rate\", got instant vector");
  fails("{}", "1:1: parse error: vector selector must contain at least one "
              "non-empty matcher");
  fails("nosuch(foo)", "1:1: parse error: unknown function with name "
                       "\"nosuch\"");
  fails("on{}", "1:1: parse error: unexpected <on>");
  fails("bool", "1:1: parse error: unexpected <bool>");
  fails("group_left{}", "1:1: parse error: unexpected <group_left>");
  fails("by by", "1:4: parse error: unexpected <by>");
}

TEST(promql_duration_string) {
  char *s = promql_duration_string(5400000);
  ASSERT_STREQ(s, "1h30m");
  free(s);
  s = promql_duration_string(0);
  ASSERT_STREQ(s, "0s");
  free(s);
  s = promql_duration_string(7 * 86400000LL);
  ASSERT_STREQ(s, "1w");
  free(s);
}

/* Every line of test/promql/parse-cases.txt: a query, a TAB, and what
 * Prometheus 3.5 prints for it (the normalised form or the parse error). */
TEST(promql_parse_vs_prometheus) {
  char *path = xasprintf("%s/test/promql/parse-cases.txt", test_srcdir());
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  ASSERT(f != NULL);
  while (getline(&line, &cap, f) >= 0) {
    char *tab, *want, *got, *err = NULL;
    struct promql_expr *e;
    size_t len = strlen(line);
    if (line[0] == '#' || !(tab = strchr(line, '\t')))
      continue;
    if (len && line[len - 1] == '\n')
      line[len - 1] = 0;
    *tab = 0;
    want = tab + 1;
    if (promql_parse(line, NULL, &e, &err) == 0) {
      got = promql_expr_string(e);
      promql_expr_free(e);
    } else {
      got = err;
    }
    if (strcmp(got, want) != 0)
      TEST_FAIL_("'%s': want \"%s\", got \"%s\"", line, want, got);
    free(got);
    n++;
  }
  ASSERT_GT(n, 100);
  free(line);
  fclose(f);
  free(path);
}
