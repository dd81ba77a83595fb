/*
 * Tests of src/core/fmtfloat.c: known outputs of Go's strconv.FormatFloat
 * (v, fmt, -1, 64), and a randomized check against the C library, whose
 * printf and strtod are exact: the digits must read back as the double,
 * must be the fewest that do, and must be the closest of that length.
 * THANOSC_FMTFLOAT_N sets the number of random doubles (default 1000000).
 */
#include <float.h>
#include <stdbool.h>

#include "test.h"
#include "thanosc/fmtfloat.h"

static const char *fmt(double v, char f) {
  static char out[FMTFLOAT_MAX];
  size_t n = fmtfloat_write(out, v, f);
  if (n != strlen(out))
    return "(bad length)";
  return out;
}

TEST(fmtfloat_go_outputs) {
  static const struct {
    double v;
    const char *e, *f, *g;
  } cases[] = {
      {0, "0e+00", "0", "0"},
      {-0.0, "-0e+00", "-0", "-0"},
      {1, "1e+00", "1", "1"},
      {-1, "-1e+00", "-1", "-1"},
      {100, "1e+02", "100", "100"},
      {123456, "1.23456e+05", "123456", "123456"},
      {1e6, "1e+06", "1000000", "1e+06"},
      {123456789, "1.23456789e+08", "123456789", "1.23456789e+08"},
      {0.0001, "1e-04", "0.0001", "0.0001"},
      {0.00001, "1e-05", "0.00001", "1e-05"},
      {0.1, "1e-01", "0.1", "0.1"},
      {0.3, "3e-01", "0.3", "0.3"},
      {0.1 + 0.2, "3.0000000000000004e-01", "0.30000000000000004",
       "0.30000000000000004"},
      {1.0 / 3, "3.333333333333333e-01", "0.3333333333333333",
       "0.3333333333333333"},
      {2.0 / 3, "6.666666666666666e-01", "0.6666666666666666",
       "0.6666666666666666"},
      {1.5, "1.5e+00", "1.5", "1.5"},
      {-2.5, "-2.5e+00", "-2.5", "-2.5"},
      {1234567.125, "1.234567125e+06", "1234567.125", "1.234567125e+06"},
      {1e21, "1e+21", "1000000000000000000000", "1e+21"},
      {1e23, "1e+23", "100000000000000000000000", "1e+23"},
      {1e-7, "1e-07", "0.0000001", "1e-07"},
      {1.5e-7, "1.5e-07", "0.00000015", "1.5e-07"},
      {123456789012345680000.0, "1.2345678901234568e+20",
       "123456789012345680000", "1.2345678901234568e+20"},
      {9.999999999999999e20, "9.999999999999999e+20", "999999999999999900000",
       "9.999999999999999e+20"},
      {9007199254740992.0, "9.007199254740992e+15", "9007199254740992",
       "9.007199254740992e+15"},
      {9007199254740994.0, "9.007199254740994e+15", "9007199254740994",
       "9.007199254740994e+15"},
      {1e15, "1e+15", "1000000000000000", "1e+15"},
      {1e100, "1e+100", NULL, "1e+100"},
      {1e-300, "1e-300", NULL, "1e-300"},
      {5e-324, "5e-324", NULL, "5e-324"},
      {1.5e-323, "1.5e-323", NULL, "1.5e-323"},
      {DBL_MIN, "2.2250738585072014e-308", NULL, "2.2250738585072014e-308"},
      {2.225073858507201e-308, "2.225073858507201e-308", NULL,
       "2.225073858507201e-308"},
      {DBL_MAX, "1.7976931348623157e+308", NULL, "1.7976931348623157e+308"},
      {0.016666666666666666, "1.6666666666666666e-02", "0.016666666666666666",
       "0.016666666666666666"},
      {1700000000.123, "1.700000000123e+09", "1700000000.123",
       "1.700000000123e+09"},
      {0.005, "5e-03", "0.005", "0.005"},
      {2.5e-5, "2.5e-05", "0.000025", "2.5e-05"},
      /* a power of two: the nearest 16 digits (...062) fall outside its
       * narrower lower half-interval, ...063 does not (17 digits before) */
      {0x1p-24, "5.960464477539063e-08", "0.00000005960464477539063",
       "5.960464477539063e-08"},
      {NAN, "NaN", "NaN", "NaN"},
      {INFINITY, "+Inf", "+Inf", "+Inf"},
      {-INFINITY, "-Inf", "-Inf", "-Inf"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_STREQ(fmt(cases[i].v, 'e'), cases[i].e);
    if (cases[i].f)
      ASSERT_STREQ(fmt(cases[i].v, 'f'), cases[i].f);
    ASSERT_STREQ(fmt(cases[i].v, 'g'), cases[i].g);
  }
  /* 'f' of the extremes: every zero written out */
  char want[FMTFLOAT_MAX];
  memcpy(want, "0.", 2);
  memset(want + 2, '0', 323);
  memcpy(want + 325, "5", 2);
  ASSERT_STREQ(fmt(5e-324, 'f'), want);
  memcpy(want, "17976931348623157", 17);
  memset(want + 17, '0', 292);
  want[309] = '\0';
  ASSERT_STREQ(fmt(DBL_MAX, 'f'), want);
  want[0] = '-';
  memcpy(want + 1, "17976931348623157", 17);
  memset(want + 18, '0', 292);
  want[310] = '\0';
  ASSERT_STREQ(fmt(-DBL_MAX, 'f'), want);
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(fmtfloat_add(&b, 0.25, 'f'));
  ASSERT_OK(fmtfloat_add(&b, 1e6, 'g'));
  ASSERT_STREQ(b.data, "0.251e+06");
  tc_buf_release(&b);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15;

static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rnd_state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

static double from_bits(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof(v));
  return v;
}

/* A random decimal with 1..17 digits, mostly of a metric's magnitude. */
static double rnd_decimal(void) {
  char s[64];
  int nd = 1 + (int)(rnd() % 17);
  uint64_t m = rnd() % 100000000000000000ULL;
  for (int i = nd; i < 17; i++)
    m /= 10;
  int x = rnd() % 4 ? (int)(rnd() % 41) - 25 : (int)(rnd() % 640) - 330;
  snprintf(s, sizeof(s), "%" PRIu64 "e%d", m, x);
  return strtod(s, NULL);
}

static int nshorter; /* values whose shortest is not the nearest printf one */

/* Checks the three layouts of a finite v against printf and strtod. */
static void check_one(double v) {
  char e[FMTFLOAT_MAX], f[FMTFLOAT_MAX], g[FMTFLOAT_MAX], ref[FMTFLOAT_MAX];
  fmtfloat_write(e, v, 'e');
  fmtfloat_write(f, v, 'f');
  fmtfloat_write(g, v, 'g');
  if (strtod(e, NULL) != v || strtod(f, NULL) != v)
    TEST_FAIL_("%a: %s / %s do not read back", v, e, f);
  /* digits and exponent of the 'e' layout */
  const char *p = e + (e[0] == '-');
  int nd = 0;
  for (; *p != 'e'; p++)
    nd += *p != '.';
  int x = (int)strtol(p + 1, NULL, 10);
  if (nd > 1) {
    snprintf(ref, sizeof(ref), "%.*e", nd - 2, v);
    if (strtod(ref, NULL) == v)
      TEST_FAIL_("%a: %s is shorter than %s", v, ref, e);
  }
  snprintf(ref, sizeof(ref), "%.*e", nd - 1, v);
  if (strtod(ref, NULL) != v) {
    /* A power of two: the interval is narrower below v, and a decimal
     * above it can be shorter than the nearest one. */
    nshorter++;
  } else {
    if (strcmp(ref, e) != 0)
      TEST_FAIL_("%a: 'e' %s, printf %s", v, e, ref);
    /* (where Go pads the digits with zeros, printf has exact digits) */
    int prec = nd - (x + 1);
    if (prec >= 0 && snprintf(ref, sizeof(ref), "%.*f", prec, v) &&
        strcmp(ref, f) != 0)
      TEST_FAIL_("%a: 'f' %s, printf %s", v, f, ref);
  }
  if (strcmp(g, x < -4 || x >= 6 ? e : f) != 0)
    TEST_FAIL_("%a: 'g' %s, 'e' %s, 'f' %s", v, g, e, f);
}

TEST(fmtfloat_random_vs_libc) {
  const char *s = getenv("THANOSC_FMTFLOAT_N");
  long n = s ? strtol(s, NULL, 10) : 1000000;
  /* every binade's edges: powers of two, their neighbours, the extremes */
  for (uint64_t ex = 0; ex < 2047; ex++) {
    uint64_t ms[] = {0, 1, 2, 3, (1ULL << 52) - 1, (1ULL << 51)};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
      check_one(from_bits(ex << 52 | ms[i]));
      check_one(-from_bits(ex << 52 | ms[i]));
    }
  }
  for (uint64_t i = 0; i < 100000; i++) {
    check_one((double)i);
    check_one((double)i / 1000);
    check_one((double)i / 60);
  }
  for (long i = 0; i < n; i++) {
    double v = i % 2 ? from_bits(rnd()) : rnd_decimal();
    if (isfinite(v))
      check_one(v);
  }
  /* rare but real: Ryu's and Go's shortest beats the nearest-digits one */
  if (getenv("THANOSC_FMTFLOAT_N"))
    fprintf(stderr, "  %ld random, %d shorter than printf's nearest\n", n,
            nshorter);
  ASSERT(nshorter < 1000);
}
