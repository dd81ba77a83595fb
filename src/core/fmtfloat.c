/*
 * fmtfloat.c - shortest round-trip decimal of a double, laid out like Go's
 * strconv.FormatFloat with precision -1 (see fmtfloat.h).
 *
 * The digits come from one of three paths, cheapest first:
 *
 *  - integers below 2^53 are their own shortest decimal;
 *  - "short decimals" (0.1, 1234.25, 1e-10: at most as many digits after
 *    the point as the double's spacing allows to tell apart) are found by
 *    one exact 128-bit multiplication: the rounding interval of v is then
 *    narrower than 10^-k, so it holds at most one multiple of 10^-k, and
 *    if the one nearest v reads back as v it is the answer;
 *  - everything else goes through Ryu (Ulf Adams, "Ryu: fast float-to-
 *    string conversion", PLDI 2018): v's rounding interval is scaled by a
 *    power of 10 with 128-bit multipliers, then digits are dropped while
 *    the interval still holds a shorter decimal, keeping the one closest
 *    to v (ties to even), as Go's ryuFtoaShortest does.
 *
 * Ryu's multiplier tables (5^i and 2^j / 5^q, cut to 125 bits) are
 * computed once with a small bignum instead of being spelled out.
 */
#include "thanosc/fmtfloat.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

/* ---- Ryu's tables -------------------------------------------------------- */

#define POW5_BITS 125
#define POW5_N 326     /* 5^i for the negative binary exponents */
#define POW5_INV_N 342 /* 2^j / 5^q for the positive ones */
#define BIG_LIMBS 17   /* 2^1024 in 64-bit limbs */

static uint64_t pow5[POW5_N][2];         /* {low, high} */
static uint64_t pow5_inv[POW5_INV_N][2]; /* {low, high} */
static uint64_t pow5_small[23];          /* 5^k exactly, k <= 22 */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Bit length of 5^e (floor(e * log2(5)) + 1), 0 <= e <= 3528. */
static int pow5bits(int e) { return (int)(((uint32_t)e * 1217359) >> 19) + 1; }
/* floor(e * log10(2)), 0 <= e <= 1650. */
static int log10_pow2(int e) { return (int)(((uint32_t)e * 78913) >> 18); }
/* floor(e * log10(5)), 0 <= e <= 2620. */
static int log10_pow5(int e) { return (int)(((uint32_t)e * 732923) >> 20); }

/* x >> shift for a little-endian bignum x, where the result fits 128 bits;
 * a negative shift shifts left (x is then below 2^128 too). */
static u128 big_bits(const uint64_t *x, int shift) {
  if (shift < 0)
    return ((u128)x[1] << 64 | x[0]) << -shift;
  int w = shift / 64, b = shift % 64;
  uint64_t l0 = x[w];
  uint64_t l1 = w + 1 < BIG_LIMBS ? x[w + 1] : 0;
  uint64_t l2 = w + 2 < BIG_LIMBS ? x[w + 2] : 0;
  if (b == 0)
    return (u128)l1 << 64 | l0;
  return (u128)(l1 >> b | l2 << (64 - b)) << 64 | (l0 >> b | l1 << (64 - b));
}

static void big_mul5(uint64_t *x) {
  u128 carry = 0;
  for (int i = 0; i < BIG_LIMBS; i++) {
    carry += (u128)x[i] * 5;
    x[i] = (uint64_t)carry;
    carry >>= 64;
  }
}

static void big_div5(uint64_t *x) {
  u128 rem = 0;
  for (int i = BIG_LIMBS - 1; i >= 0; i--) {
    rem = rem << 64 | x[i];
    x[i] = (uint64_t)(rem / 5);
    rem %= 5;
  }
}

static void tables_init(void) {
  uint64_t x[BIG_LIMBS] = {1}; /* 5^i */
  for (int i = 0; i < POW5_N; i++) {
    /* the top POW5_BITS bits of 5^i */
    u128 t = big_bits(x, pow5bits(i) - POW5_BITS);
    pow5[i][0] = (uint64_t)t;
    pow5[i][1] = (uint64_t)(t >> 64);
    if (i < (int)(sizeof(pow5_small) / sizeof(pow5_small[0])))
      pow5_small[i] = x[0];
    big_mul5(x);
  }
  /* floor(2^1024 / 5^q), so that floor(2^j / 5^q) is a shift away */
  uint64_t y[BIG_LIMBS] = {0};
  y[BIG_LIMBS - 1] = 1;
  for (int q = 0; q < POW5_INV_N; q++) {
    int j = pow5bits(q) - 1 + POW5_BITS;
    u128 t = big_bits(y, 1024 - j) + 1;
    pow5_inv[q][0] = (uint64_t)t;
    pow5_inv[q][1] = (uint64_t)(t >> 64);
    big_div5(y);
  }
}

/* ---- shortest digits ----------------------------------------------------- */

/* |v| = m * 10^e with no trailing zeros in m; m is 0 for zero. */
struct dec {
  uint64_t m;
  int e;
};

/* (m * mul) >> j for a 125-bit mul, 64 <= j < 192. */
static uint64_t mul_shift(uint64_t m, const uint64_t *mul, int j) {
  u128 b0 = (u128)m * mul[0];
  u128 b2 = (u128)m * mul[1];
  return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

static bool multiple_of_pow5(uint64_t v, int p) {
  int n = 0;
  while (v % 5 == 0) {
    v /= 5;
    n++;
  }
  return n >= p;
}

static bool multiple_of_pow2(uint64_t v, int p) {
  return (v & (((uint64_t)1 << p) - 1)) == 0;
}

/*
 * Ryu for a double with mantissa bits ieee_m and biased exponent ieee_e.
 * The rounding interval of v, scaled by 4, is [mv - 1 - mm_shift, mv + 2]
 * (narrower below a power of two); vm, vr and vp are its ends and v
 * itself multiplied by 10^-e10 and truncated, with "trailing zeros" flags
 * saying whether the truncation dropped only zeros (the ends are part of
 * the interval when the mantissa is even, as strtod rounds ties to even).
 */
static void ryu(uint64_t ieee_m, int ieee_e, struct dec *d) {
  int e2;
  uint64_t m2;
  if (ieee_e == 0) {
    e2 = 1 - 1023 - 52 - 2;
    m2 = ieee_m;
  } else {
    e2 = ieee_e - 1023 - 52 - 2;
    m2 = (uint64_t)1 << 52 | ieee_m;
  }
  bool accept_bounds = (m2 & 1) == 0;
  uint64_t mv = 4 * m2;
  int mm_shift = ieee_m != 0 || ieee_e <= 1;
  uint64_t vr, vp, vm;
  int e10;
  bool vm_tz = false, vr_tz = false;
  if (e2 >= 0) {
    int q = log10_pow2(e2) - (e2 > 3);
    int j = -e2 + q + POW5_BITS + pow5bits(q) - 1;
    e10 = q;
    vr = mul_shift(mv, pow5_inv[q], j);
    vp = mul_shift(mv + 2, pow5_inv[q], j);
    vm = mul_shift(mv - 1 - (uint64_t)mm_shift, pow5_inv[q], j);
    if (q <= 21) {
      /* only here can the scaled values be exact integers */
      if (mv % 5 == 0)
        vr_tz = multiple_of_pow5(mv, q);
      else if (accept_bounds)
        vm_tz = multiple_of_pow5(mv - 1 - (uint64_t)mm_shift, q);
      else
        vp -= multiple_of_pow5(mv + 2, q);
    }
  } else {
    int q = log10_pow5(-e2) - (-e2 > 1);
    int i = -e2 - q;
    int j = q - (pow5bits(i) - POW5_BITS);
    e10 = q + e2;
    vr = mul_shift(mv, pow5[i], j);
    vp = mul_shift(mv + 2, pow5[i], j);
    vm = mul_shift(mv - 1 - (uint64_t)mm_shift, pow5[i], j);
    if (q <= 1) {
      vr_tz = true;
      if (accept_bounds)
        vm_tz = mm_shift == 1;
      else
        vp--;
    } else if (q < 63) {
      vr_tz = multiple_of_pow2(mv, q);
    }
  }
  int removed = 0;
  uint64_t out;
  if (vm_tz || vr_tz) {
    /* rare: an end or v itself may be exact, so track what was dropped */
    int last = 0;
    /* while the interval holds a shorter decimal, and then while an exact
     * lower end still has zeros to give (it is part of the interval) */
    while (vp / 10 > vm / 10 || (vm_tz && vm % 10 == 0)) {
      vm_tz &= vm % 10 == 0;
      vr_tz &= last == 0;
      last = (int)(vr % 10);
      vr /= 10;
      vp /= 10;
      vm /= 10;
      removed++;
    }
    if (vr_tz && last == 5 && vr % 2 == 0)
      last = 4; /* exactly halfway: round to even */
    out = vr + ((vr == vm && (!accept_bounds || !vm_tz)) || last >= 5);
  } else {
    bool round_up = false;
    if (vp / 100 > vm / 100) {
      round_up = vr % 100 >= 50;
      vr /= 100;
      vp /= 100;
      vm /= 100;
      removed += 2;
    }
    while (vp / 10 > vm / 10) {
      round_up = vr % 10 >= 5;
      vr /= 10;
      vp /= 10;
      vm /= 10;
      removed++;
    }
    out = vr + (vr == vm || round_up);
  }
  d->m = out;
  d->e = e10 + removed;
}

/*
 * v = m2 / 2^s1 (normal, not a power of two, so its rounding interval is
 * [v - h, v + h] with h = 2^-s1 / 2). With 10^k < 2^s1 the interval is
 * narrower than 10^-k: the nearest multiple of 10^-k is the only candidate
 * with at most k decimals, and when it is inside, nothing shorter is.
 */
static bool short_decimal(uint64_t m2, int s1, struct dec *d) {
  int k = log10_pow2(s1);
  if (k > 22)
    k = 22;
  if (k == 0)
    return false;
  int s = s1 - k;                      /* v * 10^k = mk / 2^s */
  u128 mk = (u128)m2 * pow5_small[k];  /* below 2^105 */
  u128 n = (mk + ((u128)1 << (s - 1))) >> s;
  u128 c = n << s;
  u128 r = c > mk ? c - mk : mk - c;   /* |v - n / 10^k| in units of 2^-s */
  u128 h2 = pow5_small[k];             /* 2h in the same units */
  if (n == 0 || 2 * r > h2 || (2 * r == h2 && (m2 & 1)))
    return false;
  d->m = (uint64_t)n; /* below 2^53: v * 10^k < 2^(53 - s1) * 2^s1 */
  d->e = -k;
  return true;
}

/* Divides p = 10^n out of d->m if it can; inlined, the constant divisor
 * becomes a multiplication. */
static inline bool drop_zeros(struct dec *d, uint64_t p, int n) {
  if (d->m % p)
    return false;
  d->m /= p;
  d->e += n;
  return true;
}

static void shortest(double v, struct dec *d) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof(bits));
  uint64_t ieee_m = bits & (((uint64_t)1 << 52) - 1);
  int ieee_e = (int)(bits >> 52 & 0x7ff);
  int s1 = 1075 - ieee_e; /* v = m2 / 2^s1 for normal v */
  uint64_t m2 = (uint64_t)1 << 52 | ieee_m;
  d->m = 0;
  d->e = 0;
  if (ieee_e == 0 && ieee_m == 0)
    return;
  if (ieee_e != 0 && s1 >= 0 && s1 <= 52 &&
      (m2 & (((uint64_t)1 << s1) - 1)) == 0) {
    d->m = m2 >> s1; /* an integer below 2^53 */
  } else {
    pthread_once(&tables_once, tables_init);
    if (ieee_e == 0 || ieee_m == 0 || s1 < 1 || s1 > 140 ||
        !short_decimal(m2, s1, d))
      ryu(ieee_m, ieee_e, d);
  }
  /* up to 15 trailing zeros after the short-decimal path: drop them by
   * halves */
  while (drop_zeros(d, 100000000, 8))
    ;
  drop_zeros(d, 10000, 4);
  drop_zeros(d, 100, 2);
  drop_zeros(d, 10, 1);
}

/* ---- layouts ------------------------------------------------------------- */

/*
 * The layouts copy digits with a fixed DIGITS_COPY bytes, more than they
 * need (it compiles to a few moves instead of a memcpy call): the source
 * has that many bytes after any digit and out has room for them.
 */
#define DIGITS_COPY 20

static const char pairs[] = "00010203040506070809"
                            "10111213141516171819"
                            "20212223242526272829"
                            "30313233343536373839"
                            "40414243444546474849"
                            "50515253545556575859"
                            "60616263646566676869"
                            "70717273747576777879"
                            "80818283848586878889"
                            "90919293949596979899";

/* Two digits at a time of a 32-bit x, from end backwards. */
static char *put_pairs(char *p, uint32_t x) {
  while (x >= 100) {
    p -= 2;
    memcpy(p, pairs + 2 * (x % 100), 2);
    x /= 100;
  }
  if (x >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * x, 2);
  } else {
    *--p = (char)('0' + x);
  }
  return p;
}

/* Writes the digits of m to end at end; returns their count. Eight-digit
 * chunks keep the arithmetic 32-bit. */
static int put_digits(char *end, uint64_t m) {
  char *p = end;
  while (m >= 100000000) {
    uint32_t lo = (uint32_t)(m % 100000000);
    m /= 100000000;
    for (int i = 0; i < 4; i++) {
      p -= 2;
      memcpy(p, pairs + 2 * (lo % 100), 2);
      lo /= 100;
    }
  }
  return (int)(end - put_pairs(p, (uint32_t)m));
}

/* Go's fmtE with precision nd - 1: d[.ddd]e+XX or e-XX. */
static size_t layout_e(char *out, const char *d, int nd, int dp) {
  size_t n = 1;
  out[0] = nd ? d[0] : '0';
  if (nd > 1) {
    out[1] = '.';
    memcpy(out + 2, d + 1, DIGITS_COPY);
    n = (size_t)nd + 1;
  }
  int x = nd ? dp - 1 : 0;
  out[n++] = 'e';
  out[n++] = x < 0 ? '-' : '+';
  if (x < 0)
    x = -x;
  if (x >= 100)
    out[n++] = (char)('0' + x / 100);
  memcpy(out + n, pairs + 2 * (x % 100), 2);
  return n + 2;
}

/* Go's fmtF with precision max(nd - dp, 0): no exponent, all the zeros. */
static size_t layout_f(char *out, const char *d, int nd, int dp) {
  if (dp >= nd) { /* an integer */
    memcpy(out, d, DIGITS_COPY);
    memset(out + nd, '0', (size_t)(dp - nd));
    return nd ? (size_t)dp : (out[0] = '0', 1);
  }
  size_t n;
  if (dp > 0) {
    memcpy(out, d, DIGITS_COPY);
    out[dp] = '.';
    memcpy(out + dp + 1, d + dp, DIGITS_COPY);
    return (size_t)nd + 1;
  }
  out[0] = '0';
  out[1] = '.';
  n = 2 + (size_t)-dp;
  memset(out + 2, '0', (size_t)-dp);
  memcpy(out + n, d, DIGITS_COPY);
  return n + (size_t)nd;
}

size_t fmtfloat_write(char *out, double v, char fmt) {
  static const char *const special[] = {"NaN", "+Inf", "-Inf"};
  const char *sp = isnan(v)   ? special[0]
                   : isinf(v) ? special[v > 0 ? 1 : 2]
                              : NULL;
  if (sp) {
    size_t n = strlen(sp);
    memcpy(out, sp, n + 1);
    return n;
  }
  size_t n = 0;
  if (signbit(v))
    out[n++] = '-';
  struct dec d;
  shortest(v, &d);
  char digits[20 + DIGITS_COPY]; /* right-aligned in the first 20 */
  int nd = d.m ? put_digits(digits + 20, d.m) : 0;
  const char *dg = digits + 20 - nd;
  int dp = nd ? nd + d.e : 0; /* v = 0.digits * 10^dp */
  if (fmt == 'g') /* shortest %g: %e below 1e-4 and from 1e6 */
    fmt = (dp - 1 < -4 || dp - 1 >= 6) ? 'e' : 'f';
  n += fmt == 'e' ? layout_e(out + n, dg, nd, dp) : layout_f(out + n, dg, nd, dp);
  out[n] = '\0';
  return n;
}

size_t fmtfloat_uint(char *out, uint64_t u) {
  char tmp[20];
  int n = put_digits(tmp + sizeof(tmp), u);
  memcpy(out, tmp + sizeof(tmp) - n, (size_t)n);
  return (size_t)n;
}

int fmtfloat_add(struct tc_buf *b, double v, char fmt) {
  char tmp[FMTFLOAT_MAX];
  return tc_buf_add(b, tmp, fmtfloat_write(tmp, v, fmt));
}
