#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/labels.h"

static const char *fmt_float(struct tc_buf *b, double f) {
  tc_buf_reset(b);
  tc_buf_add(b, "", 0);
  ASSERT_OK(tc_format_float(b, f));
  return b->data;
}

TEST(labels_compare_hash_format) {
  struct labels a = LABELS_INIT, b = LABELS_INIT;
  labels_add(&a, "job", "x");
  labels_add(&a, "__name__", "up");
  labels_add(&a, "empty", "");
  ASSERT_OK(labels_sort(&a));
  ASSERT_EQ(a.n, 2);
  ASSERT_STREQ(a.v[0].name, "__name__");
  labels_copy(&b, &a);
  ASSERT(labels_equal(&a, &b));
  ASSERT_UEQ(labels_hash(&a), labels_hash(&b));
  labels_add(&b, "zz", "1");
  ASSERT_LT(labels_compare(&a, &b), 0);
  ASSERT_GT(labels_compare(&b, &a), 0);
  ASSERT_STREQ(labels_get(&b, "zz"), "1");
  ASSERT(labels_get(&b, "nope") == NULL);
  labels_add(&b, "zz", "2");
  ASSERT_EQ(labels_sort(&b), TC_EINVAL);
  struct tc_buf out;
  tc_buf_init(&out, 0);
  labels_release(&b);
  labels_add(&b, "a", "x\"y\\z\n\x01\xff" "\xc3\xa9\xe6\x97\xa5");
  ASSERT_OK(labels_format(&b, &out));
  ASSERT_STREQ(out.data, "{a=\"x\\\"y\\\\z\\n\\x01\\xff\xc3\xa9\xe6\x97\xa5\"}");
  /* set / del keep the order. */
  labels_set(&b, "m", "1");
  labels_set(&b, "0", "z");
  labels_set(&b, "zz", "2");
  labels_set(&b, "a", "y");
  ASSERT_EQ(b.n, 4);
  ASSERT_STREQ(b.v[0].name, "0");
  ASSERT_STREQ(b.v[1].value, "y");
  ASSERT_STREQ(b.v[3].name, "zz");
  labels_set(&b, "m", "");
  labels_del(&b, "0");
  labels_del(&b, "nope");
  ASSERT_EQ(b.n, 2);
  ASSERT_STREQ(b.v[0].name, "a");
  ASSERT_STREQ(b.v[1].name, "zz");
  labels_release(&b);
  labels_add(&b, "a", "x\"y\\z\n\x01\xff" "\xc3\xa9\xe6\x97\xa5");
  /* XXH64 of empty input is the well-known constant. */
  struct labels e = LABELS_INIT;
  ASSERT_UEQ(labels_hash(&e), 0xEF46DB3751D8E999ull);
  labels_release(&a);
  labels_release(&b);
  tc_buf_release(&out);
}

TEST(labels_format_float_like_go) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  ASSERT_STREQ(fmt_float(&b, 1), "1");
  ASSERT_STREQ(fmt_float(&b, 1.5e10), "1.5e+10");
  ASSERT_STREQ(fmt_float(&b, 0.1), "0.1");
  ASSERT_STREQ(fmt_float(&b, 123456789012.0), "1.23456789012e+11");
  ASSERT_STREQ(fmt_float(&b, 1e-7), "1e-07");
  ASSERT_STREQ(fmt_float(&b, 0.0001), "0.0001");
  ASSERT_STREQ(fmt_float(&b, -0.0), "-0");
  ASSERT_STREQ(fmt_float(&b, 123456), "123456");
  ASSERT_STREQ(fmt_float(&b, 1234567), "1.234567e+06");
  ASSERT_STREQ(fmt_float(&b, 12.5), "12.5");
  ASSERT_STREQ(fmt_float(&b, NAN), "NaN");
  ASSERT_STREQ(fmt_float(&b, -INFINITY), "-Inf");
  ASSERT_STREQ(fmt_float(&b, INFINITY), "+Inf");
  ASSERT_STREQ(fmt_float(&b, 1e21), "1e+21");
  ASSERT_STREQ(fmt_float(&b, 5e-324), "5e-324");
  ASSERT_STREQ(fmt_float(&b, 1.7976931348623157e308), "1.7976931348623157e+308");
  tc_buf_release(&b);
}

TEST(labels_matchers) {
  struct matcher m;
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "foo|bar"));
  const char *const *vals;
  ASSERT_EQ(matcher_set_values(&m, &vals), 2);
  ASSERT_STREQ(vals[1], "bar");
  ASSERT(matcher_matches_str(&m, "foo"));
  ASSERT(!matcher_matches_str(&m, "foobar"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "fo+"));
  ASSERT(matcher_matches_str(&m, "fooo"));
  ASSERT(!matcher_matches_str(&m, "xfooo"));
  ASSERT(!matcher_matches_str(&m, "fooox"));
  ASSERT(!matcher_matches_str(&m, "fooo\n"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "a.b"));
  ASSERT(matcher_matches_str(&m, "a\nb"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_NRE, "a", "pre.*"));
  size_t n;
  ASSERT_STREQ(matcher_prefix(&m, &n), "pre");
  ASSERT(!matcher_matches_str(&m, "prefix"));
  ASSERT(matcher_matches_str(&m, "xpre"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "a\\.b|c"));
  ASSERT_EQ(matcher_set_values(&m, &vals), 2);
  ASSERT(matcher_matches_str(&m, "a.b"));
  ASSERT(!matcher_matches_str(&m, "axb"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "(x|y)z$"));
  ASSERT(matcher_matches_str(&m, "yz"));
  ASSERT(!matcher_matches_str(&m, "yz\n"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", ""));
  ASSERT(matcher_matches_str(&m, ""));
  ASSERT(!matcher_matches_str(&m, "x"));
  matcher_release(&m);
  ASSERT_OK(matcher_init(&m, MATCH_RE, "a", "\xe6\x97\xa5."));
  ASSERT(matcher_matches_str(&m, "\xe6\x97\xa5\xe6\x97\xa5"));
  ASSERT(!matcher_matches_str(&m, "\xe6\x97\xa5\xe6\x97"));
  matcher_release(&m);
  ASSERT_EQ(matcher_init(&m, MATCH_RE, "a", "(unclosed"), TC_EPARSE);
  ASSERT(strstr(tc_errmsg(TC_EPARSE), "(unclosed") != NULL);
  ASSERT_OK(matcher_init(&m, MATCH_NEQ, "a", "x"));
  ASSERT(matcher_matches_str(&m, ""));
  ASSERT(!matcher_matches_str(&m, "x"));
  matcher_release(&m);
}

TEST(labels_selector_parse) {
  struct matchers ms = {0};
  ASSERT_OK(selector_parse("up{job=~\"a|b\", x!='y\\n', z!~`\\d+`,}", &ms));
  ASSERT_EQ(ms.n, 4);
  ASSERT_STREQ(ms.v[0].name, "__name__");
  ASSERT_STREQ(ms.v[0].value, "up");
  ASSERT_EQ(ms.v[1].type, MATCH_RE);
  ASSERT_STREQ(ms.v[2].value, "y\n");
  ASSERT_EQ(ms.v[3].type, MATCH_NRE);
  ASSERT_STREQ(ms.v[3].value, "\\d+");
  struct labels ls = LABELS_INIT;
  labels_add(&ls, "__name__", "up");
  labels_add(&ls, "job", "a");
  labels_add(&ls, "z", "abc");
  ASSERT(matchers_match_labels(&ms, &ls));
  labels_release(&ls);
  matchers_release(&ms);
  ASSERT_OK(selector_parse(" {__name__=~'(?s:.*)'} ", &ms));
  ASSERT_EQ(ms.n, 1);
  matchers_release(&ms);
  ASSERT_OK(selector_parse("{a=\"\\u00e9\"}", &ms));
  ASSERT_STREQ(ms.v[0].value, "\xc3\xa9");
  matchers_release(&ms);
  struct labels pl;
  ASSERT_OK(labels_parse("up{job=\"a\", b='x'}", &pl));
  ASSERT_EQ(pl.n, 3);
  ASSERT_STREQ(pl.v[0].name, "__name__");
  ASSERT_STREQ(pl.v[1].name, "b");
  labels_release(&pl);
  ASSERT_EQ(labels_parse("{a!=\"b\"}", &pl), TC_EPARSE);
  ASSERT_EQ(labels_parse("{a=\"b\",a=\"c\"}", &pl), TC_EPARSE);
  ASSERT_EQ(pl.n, 0);
  const char *bad[] = {"", "{}", "{a}", "{a=b}", "{a=\"x}", "up{a=\"x\"",
                       "{a=~\"(\"}", "up}", "{a=\"\\q\"}", "{a=\"x\" b=\"y\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ASSERT_EQ(selector_parse(bad[i], &ms), TC_EPARSE);
    ASSERT_EQ(ms.n, 0);
  }
  matchers_release(&ms);
}
