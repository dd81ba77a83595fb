/*
 * Tests of src/query/selector.c: match[] selectors checked with the
 * messages Prometheus 3.5 printed for the same inputs (collected from
 * /api/v1/series?match[]=...).
 */
#include "test.h"
#include "thanosc/labels.h"
#include "thanosc/query_params.h"

TEST(selector_check) {
  static const struct {
    const char *in;
    const char *err; /* NULL: valid */
    int nonempty;
  } cases[] = {
      {"up", NULL, 1},
      {"  up  ", NULL, 1},
      {"sum", NULL, 1},
      {"offset", NULL, 1},
      {"a:b:c{x=\"y\"}", NULL, 1},
      {"up{a=\"b\",}", NULL, 1},
      {"up #c", NULL, 1},
      {"{a=\"\"}", NULL, 0},
      {"{__name__=~\".*\"}", NULL, 0},
      {"{a=~\"x|\"}", NULL, 0},
      {"{a!=\"\"}", NULL, 1},
      {"up + 1", "1:4: parse error: unexpected <op:+>", 0},
      {"rate(x[5m])", "1:5: parse error: unexpected \"(\"", 0},
      {"x[5m]", "1:2: parse error: unexpected \"[\"", 0},
      {"up offset 5m", "1:4: parse error: unexpected <offset>", 0},
      {"1", "1:1: parse error: unexpected number \"1\"", 0},
      {"up @ 10",
       "1:4: parse error: unexpected \"<Item 57400>\" <op:@>", 0},
      {"\"foo\"", "1:1: parse error: unexpected string \"\\\"foo\\\"\"", 0},
      {"sum(x)", "1:4: parse error: unexpected \"(\"", 0},
      {"-up", "1:1: parse error: unexpected <op:->", 0},
      {"(up)", "1:1: parse error: unexpected \"(\"", 0},
      {"up == 1", "1:4: parse error: unexpected <op:==>", 0},
      {"up and x", "1:4: parse error: unexpected <op:and>", 0},
      {"up{a=\"b\"}[5m]", "1:10: parse error: unexpected \"[\"", 0},
      {"up{a=\"b\"} offset 5m", "1:11: parse error: unexpected <offset>",
       0},
      {"up atan2 x", "1:4: parse error: unexpected <op:atan2>", 0},
      /* Not checked here: "{" and "up{" (Prometheus: "unexpected end of
       * input inside braces") and "up}" ("unexpected character: '}'"),
       * whose messages come from the PromQL parser, which words them
       * differently today. */
      {"up;", "1:3: parse error: unexpected character: ';'", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int nonempty = -1;
    int rc = query_check_selector(NULL, cases[i].in, &nonempty);
    if (!cases[i].err) {
      if (rc)
        TEST_FAIL_("%s: %s", cases[i].in, tc_errmsg(rc));
      if (nonempty != cases[i].nonempty)
        TEST_FAIL_("%s: nonempty %d", cases[i].in, nonempty);
      continue;
    }
    if (rc != TC_EPARSE || strcmp(tc_errmsg(rc), cases[i].err))
      TEST_FAIL_("%s: rc %d \"%s\", want \"%s\"", cases[i].in, rc,
                 tc_errmsg(rc), cases[i].err);
  }
}

TEST(selector_in_series_params) {
  struct qparam v[] = {{"match[]", "up", 2}, {"match[]", "{a=\"\"}", 6}};
  struct qparams p = {v, 2};
  struct query_defaults d = {.check_selector = query_check_selector};
  struct query_meta_req m;
  ASSERT_EQ(query_parse_series(&p, &d, &m), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL),
               "match[] must contain at least one non-empty matcher");
  v[1].value = "up + 1";
  v[1].value_len = 6;
  ASSERT_EQ(query_parse_series(&p, &d, &m), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "1:4: parse error: unexpected <op:+>");
  v[1].value = "{job=\"x\"}";
  v[1].value_len = 9;
  ASSERT_OK(query_parse_series(&p, &d, &m));
  ASSERT_EQ(m.matchers.n, 2);
  query_meta_req_release(&m);
  /* storeMatch[] goes through the same check, empty matchers allowed */
  struct qparam w[] = {{"storeMatch[]", "{a=\"\"}", 6}};
  struct qparams p2 = {w, 1};
  ASSERT_OK(query_parse_labels(&p2, &d, &m));
  ASSERT_EQ(m.store_matchers.n, 1);
  query_meta_req_release(&m);
}

TEST(selector_matchers) {
  struct matchers ms = {0};
  ASSERT_OK(query_selector_matchers("up{job=~\"a|b\",x!=\"\"}", &ms));
  ASSERT_EQ(ms.n, 3);
  ASSERT_STREQ(ms.v[0].name, "__name__");
  ASSERT_STREQ(ms.v[0].value, "up");
  ASSERT_EQ(ms.v[1].type, MATCH_RE);
  ASSERT_STREQ(ms.v[1].name, "job");
  ASSERT_TRUE(matcher_matches_str(&ms.v[1], "b"));
  ASSERT_EQ(ms.v[2].type, MATCH_NEQ);
  matchers_release(&ms);

  ASSERT_OK(query_selector_matchers("sum", &ms));
  ASSERT_EQ(ms.n, 1);
  ASSERT_STREQ(ms.v[0].value, "sum");
  matchers_release(&ms);

  ASSERT_OK(query_selector_matchers("{a=\"\"}", &ms));
  ASSERT_EQ(ms.n, 1);
  ASSERT_STREQ(ms.v[0].name, "a");
  ASSERT_STREQ(ms.v[0].value, "");
  matchers_release(&ms);

  ASSERT_EQ(query_selector_matchers("up + 1", &ms), TC_EPARSE);
  ASSERT_STREQ(tc_errmsg(TC_EPARSE), "1:4: parse error: unexpected <op:+>");
  matchers_release(&ms);
}
