/*
 * json.c - the streaming JSON writer behind every HTTP API response of the
 * querier (see include/thanosc/json.h).
 *
 * The goal is byte equality with Prometheus/Thanos output, so the number
 * and string formats reproduce Go's: floats are strconv.FormatFloat's
 * shortest 'f' or 'e' (core/fmtfloat.c), timestamps jsonutil's fixed three
 * decimals; strings follow jsoniter's two escaping paths. Commas are placed
 * by the writer from a bit per nesting level, so callers only say
 * begin/key/value/end.
 */
#include "thanosc/json.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/error.h"
#include "thanosc/fmtfloat.h"

static const char hexdig[] = "0123456789abcdef";

void jsonw_init(struct jsonw *w, struct tc_buf *b) {
  memset(w, 0, sizeof(*w));
  w->b = b;
}

int jsonw_finish(struct jsonw *w) {
  if (w->err)
    return w->err;
  if (w->depth != 0 || w->after_key)
    return tc_error(TC_ESTATE, "json writer: %d containers left open",
                    w->depth);
  return 0;
}

/* Appends n bytes; the common case, when there is room, is inline (a
 * response is millions of these small appends). */
static void put(struct jsonw *w, const char *s, size_t n) {
  struct tc_buf *b = w->b;
  if (!w->err && b->len + n < b->cap && (!b->max || b->len + n <= b->max)) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return;
  }
  if (w->err)
    return;
  int rc = tc_buf_add(b, s, n);
  if (rc)
    w->err = rc;
}

static void putc_(struct jsonw *w, char c) { put(w, &c, 1); }

/* put() for a number's text in a buffer of at least NUM_COPY bytes: a
 * fixed-size copy, a few moves instead of a memcpy call. */
#define NUM_COPY 32
static void put_num(struct jsonw *w, const char *s, size_t n) {
  struct tc_buf *b = w->b;
  if (n <= NUM_COPY && !w->err && b->len + NUM_COPY < b->cap &&
      (!b->max || b->len + n <= b->max)) {
    memcpy(b->data + b->len, s, NUM_COPY);
    b->len += n;
    b->data[b->len] = '\0';
    return;
  }
  put(w, s, n);
}

/* Called before every value and key: writes the separating comma. */
static void sep(struct jsonw *w) {
  if (w->after_key) {
    w->after_key = 0;
    return;
  }
  if (w->depth > 0) {
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    if (w->nonempty & bit)
      putc_(w, ',');
    w->nonempty |= bit;
  }
}

static void open_(struct jsonw *w, char c) {
  sep(w);
  if (w->err)
    return;
  if (w->depth >= JSONW_MAX_DEPTH) {
    w->err = tc_error(TC_ELIMIT, "json writer: nesting deeper than %d",
                      JSONW_MAX_DEPTH);
    return;
  }
  putc_(w, c);
  w->depth++;
  w->nonempty &= ~((uint64_t)1 << (w->depth - 1));
}

static void close_(struct jsonw *w, char c) {
  if (w->err)
    return;
  if (w->depth == 0 || w->after_key) {
    w->err = tc_error(TC_ESTATE, "json writer: unbalanced '%c'", c);
    return;
  }
  putc_(w, c);
  w->depth--;
}

void jsonw_obj_begin(struct jsonw *w) { open_(w, '{'); }
void jsonw_obj_end(struct jsonw *w) { close_(w, '}'); }
void jsonw_arr_begin(struct jsonw *w) { open_(w, '['); }
void jsonw_arr_end(struct jsonw *w) { close_(w, ']'); }

/* ---- strings ---- */

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, v = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, v = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return len;
}

static int escape_ctl(struct tc_buf *b, unsigned char c, int go122) {
  if (go122 && c == '\b')
    return tc_buf_add(b, "\\b", 2);
  if (go122 && c == '\f')
    return tc_buf_add(b, "\\f", 2);
  switch (c) {
  case '"': return tc_buf_add(b, "\\\"", 2);
  case '\\': return tc_buf_add(b, "\\\\", 2);
  case '\n': return tc_buf_add(b, "\\n", 2);
  case '\r': return tc_buf_add(b, "\\r", 2);
  case '\t': return tc_buf_add(b, "\\t", 2);
  default: {
    char u[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
    return tc_buf_add(b, u, 6);
  }
  }
}

int json_escape_plain(struct tc_buf *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = 0;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
      return rc;
    if ((rc = escape_ctl(b, c, 0)))
      return rc;
    start = i + 1;
  }
  if (n > start)
    rc = tc_buf_add(b, s + start, n - start);
  return rc;
}

static int escape_std(struct tc_buf *b, const char *s, size_t n, int go122) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = 0, i = 0;
  int rc = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' &&
          c != '&') {
        i++;
        continue;
      }
      if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
        return rc;
      rc = escape_ctl(b, c, go122);
      if (rc)
        return rc;
      i++;
      start = i;
      continue;
    }
    uint32_t cp;
    size_t len = utf8_valid(p + i, n - i, &cp);
    if (len && cp != 0x2028 && cp != 0x2029) {
      i += len;
      continue;
    }
    if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
      return rc;
    if (!len) {
      rc = tc_buf_add(b, "\\ufffd", 6);
      i++;
    } else {
      rc = tc_buf_add(b, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
      i += len;
    }
    if (rc)
      return rc;
    start = i;
  }
  if (n > start)
    rc = tc_buf_add(b, s + start, n - start);
  return rc;
}

int json_escape(struct tc_buf *b, const char *s, size_t n) {
  return escape_std(b, s, n, 0);
}

int json_escape_go(struct tc_buf *b, const char *s, size_t n) {
  return escape_std(b, s, n, 1);
}

enum str_mode { STR_STD, STR_PLAIN, STR_GO };

static void str_(struct jsonw *w, const char *s, size_t n, enum str_mode m) {
  putc_(w, '"');
  if (!w->err) {
    int rc = m == STR_PLAIN ? json_escape_plain(w->b, s, n)
             : m == STR_GO  ? json_escape_go(w->b, s, n)
                            : json_escape(w->b, s, n);
    if (rc)
      w->err = rc;
  }
  putc_(w, '"');
}

void jsonw_key(struct jsonw *w, const char *k) {
  sep(w);
  str_(w, k, strlen(k), STR_STD);
  putc_(w, ':');
  w->after_key = 1;
}

void jsonw_key_plain(struct jsonw *w, const char *k, size_t n) {
  sep(w);
  str_(w, k, n, STR_PLAIN);
  putc_(w, ':');
  w->after_key = 1;
}

void jsonw_str(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_STD);
}

void jsonw_cstr(struct jsonw *w, const char *s) { jsonw_str(w, s, strlen(s)); }

void jsonw_str_plain(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_PLAIN);
}

void jsonw_str_go(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_GO);
}

void jsonw_int(struct jsonw *w, int64_t v) {
  char tmp[NUM_COPY];
  size_t n = 0;
  if (v < 0)
    tmp[n++] = '-';
  n += fmtfloat_uint(tmp + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
  sep(w);
  put_num(w, tmp, n);
}

void jsonw_bool(struct jsonw *w, int v) {
  sep(w);
  if (v)
    put(w, "true", 4);
  else
    put(w, "false", 5);
}

void jsonw_null(struct jsonw *w) {
  sep(w);
  put(w, "null", 4);
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  put(w, s, n);
}

/* ---- numbers ---- */

/* Prometheus's sample values (jsonutil.MarshalFloat): shortest 'f', or
 * 'e' below 1e-6 and from 1e21, quoted. */
void jsonw_sample_value(struct jsonw *w, double v) {
  char tmp[FMTFLOAT_MAX + 2];
  double a = fabs(v);
  char fmt = (v != 0 && (a < 1e-6 || a >= 1e21)) ? 'e' : 'f';
  tmp[0] = '"';
  size_t n = fmtfloat_write(tmp + 1, v, fmt);
  tmp[n + 1] = '"';
  sep(w);
  put_num(w, tmp, n + 2);
}

void jsonw_scalar_value(struct jsonw *w, double v) {
  char tmp[FMTFLOAT_MAX + 2];
  tmp[0] = '"';
  size_t n = fmtfloat_write(tmp + 1, v, 'f');
  tmp[n + 1] = '"';
  sep(w);
  put_num(w, tmp, n + 2);
}

/* Milliseconds as seconds with up to three decimals, every one kept
 * ("1700000000.120"), as jsonutil.MarshalTimestamp writes them. */
void jsonw_ts_ms(struct jsonw *w, int64_t t) {
  char tmp[NUM_COPY];
  size_t n = 0;
  uint64_t u;
  if (t < 0) {
    tmp[n++] = '-';
    u = (uint64_t)0 - (uint64_t)t;
  } else {
    u = (uint64_t)t;
  }
  n += fmtfloat_uint(tmp + n, u / 1000);
  unsigned ms = (unsigned)(u % 1000);
  if (ms) {
    tmp[n++] = '.';
    tmp[n++] = (char)('0' + ms / 100);
    tmp[n++] = (char)('0' + ms / 10 % 10);
    tmp[n++] = (char)('0' + ms % 10);
  }
  sep(w);
  put_num(w, tmp, n);
}

void jsonw_ts_float(struct jsonw *w, int64_t t) {
  jsonw_float(w, (double)t / 1000);
}

void jsonw_float(struct jsonw *w, double x) {
  /* encoding/json: 'f' unless 0 < |x| < 1e-6 or |x| >= 1e21, then 'e'
   * with the exponent's leading zero dropped (e-07 -> e-7). */
  char tmp[FMTFLOAT_MAX];
  double a = fabs(x);
  if (isnan(x) || isinf(x)) {
    jsonw_null(w);
    return;
  }
  size_t n;
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    n = fmtfloat_write(tmp, x, 'e');
    if (n >= 4 && tmp[n - 4] == 'e' && tmp[n - 3] == '-' &&
        tmp[n - 2] == '0') {
      tmp[n - 2] = tmp[n - 1];
      tmp[--n] = '\0';
    }
  } else {
    n = fmtfloat_write(tmp, x, 'f');
  }
  sep(w);
  put(w, tmp, n);
}
