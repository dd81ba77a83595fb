/* Tests of src/core/flags.c. */
#include "test.h"
#include "thanosc/flags.h"

struct opts {
  char *addr;
  struct strlist eps;
  int dedup;
  int64_t grace, t;
  uint64_t size;
  char *fmt;
};

static int parse(struct opts *o, int argc, char **argv) {
  struct flag_def defs[] = {
      {"http-address", FLAG_STRING, &o->addr, "0.0.0.0:10902", "addr"},
      {"endpoint", FLAG_STRINGS, &o->eps, NULL, "endpoints"},
      {"query.dedup", FLAG_BOOL, &o->dedup, "true", "dedup"},
      {"grace", FLAG_DURATION, &o->grace, "2m", "grace"},
      {"min-time", FLAG_TIME, &o->t, "0000-01-01T00:00:00Z", "t"},
      {"cache", FLAG_BYTES, &o->size, "250MB", "size"},
      {"log.format", FLAG_ENUM, &o->fmt, "logfmt", "fmt", "logfmt|json"},
      {0}};
  const struct flag_def *tables[] = {defs, NULL};
  return flags_parse(tables, "thanosc test", NULL, argc, argv, NULL);
}

TEST(flags_forms) {
  struct opts o = {0};
  char *argv[] = {"--endpoint=a:1", "--endpoint", "b:2", "--no-query.dedup",
                  "--grace=1h30m", "--cache", "2GiB", "--log.format=json"};
  ASSERT_EQ(parse(&o, 8, argv), 0);
  ASSERT_STREQ(o.addr, "0.0.0.0:10902");
  ASSERT_EQ(o.eps.n, 2);
  ASSERT_STREQ(o.eps.v[1], "b:2");
  ASSERT_EQ(o.dedup, 0);
  ASSERT_EQ(o.grace, 5400000);
  ASSERT_UEQ(o.size, 2ULL << 30);
  ASSERT_STREQ(o.fmt, "json");
  ASSERT_EQ(o.t, -62167219200000LL);
}

TEST(flags_errors) {
  struct opts o = {0};
  char *bad1[] = {"--nope=1"};
  char *bad2[] = {"--grace=soon"};
  char *bad3[] = {"--log.format=xml"};
  char *bad4[] = {"--http-address"};
  ASSERT_EQ(parse(&o, 1, bad1), 2);
  ASSERT_EQ(parse(&o, 1, bad2), 2);
  ASSERT_EQ(parse(&o, 1, bad3), 2);
  ASSERT_EQ(parse(&o, 1, bad4), 2);
}

TEST(flags_durations_bytes_times) {
  int64_t ms;
  uint64_t b;
  char out[32];
  ASSERT_OK(parse_duration_ms("5m", &ms));
  ASSERT_EQ(ms, 300000);
  ASSERT_OK(parse_duration_ms("1d2h", &ms));
  ASSERT_EQ(ms, 93600000);
  ASSERT_OK(parse_duration_ms("1.5s", &ms));
  ASSERT_EQ(ms, 1500);
  ASSERT_OK(parse_duration_ms("250ms", &ms));
  ASSERT_EQ(ms, 250);
  ASSERT_NE(parse_duration_ms("5x", &ms), 0);
  format_duration_ms(5400000, out, sizeof out);
  ASSERT_STREQ(out, "1h30m");
  format_duration_ms(0, out, sizeof out);
  ASSERT_STREQ(out, "0s");
  ASSERT_OK(parse_bytes("250MB", &b));
  ASSERT_UEQ(b, 250ULL << 20);
  ASSERT_OK(parse_bytes("512", &b));
  ASSERT_UEQ(b, 512);
  ASSERT_OK(parse_time_ms("2026-11-24T02:15:52Z", &ms));
  ASSERT_EQ(ms, 1795486552000LL);
  ASSERT_OK(parse_time_ms("2026-11-24T02:15:52.5+01:00", &ms));
  ASSERT_EQ(ms, 1795486552000LL - 3600000 + 500);
  ASSERT_OK(parse_time_ms("1700000000.123", &ms));
  ASSERT_EQ(ms, 1700000000123LL);
  ASSERT_OK(parse_time_ms("9999-12-31T23:59:59Z", &ms));
  ASSERT_EQ(ms, 253402300799000LL);
  ASSERT_NE(parse_time_ms("yesterday", &ms), 0);
}

TEST(flags_short_alias) {
  char *out = NULL;
  int verbose = 0;
  const struct flag_def t[] = {
      {"output", FLAG_ENUM, &out, "", "format", "|wide|json", 0, NULL, 'o'},
      {"verbose", FLAG_BOOL, &verbose, NULL, "more", NULL, 0, NULL, 'v'},
      {0}};
  const struct flag_def *const tables[] = {t, NULL};
  char *a1[] = {"-o", "wide", "-v"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 3, a1, NULL), 0);
  ASSERT_STREQ(out, "wide");
  ASSERT_EQ(verbose, 1);
  char *a2[] = {"-ojson"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 1, a2, NULL), 0);
  ASSERT_STREQ(out, "json");
  char *a3[] = {"--output=wide"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 1, a3, NULL), 0);
  ASSERT_STREQ(out, "wide");
  char *a4[] = {"-q"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 1, a4, NULL), 2);
  char *a5[] = {"-o"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 1, a5, NULL), 2);
  char *a6[] = {"-o", "xml"};
  ASSERT_EQ(flags_parse(tables, "x", NULL, 2, a6, NULL), 2);
  free(out);
}
