/*
 * labels.c - label sets: building, sorting, comparing, hashing and printing
 * them the way Prometheus's model/labels package does. Every other part of
 * thanosc that carries series identities (index, store, query, PromQL)
 * builds on these. Matchers live in matchers.c, the selector parser in
 * selector.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmtfloat.h"
#include "thanosc/labels.h"

void labels_init(struct labels *ls) { memset(ls, 0, sizeof(*ls)); }

static void labels_free_strings(struct labels *ls) {
  if (ls->flags & LABELS_BORROWED)
    return;
  for (size_t i = 0; i < ls->n; i++) {
    free((char *)ls->v[i].name);
    free((char *)ls->v[i].value);
  }
}

void labels_release(struct labels *ls) {
  labels_free_strings(ls);
  free(ls->v);
  memset(ls, 0, sizeof(*ls));
}

void labels_reset(struct labels *ls) {
  labels_free_strings(ls);
  ls->n = 0;
}

void labels_add(struct labels *ls, const char *name, const char *value) {
  if (!value || !*value)
    return;
  TC_GROW(ls->v, ls->cap, ls->n + 1);
  ls->v[ls->n].name = xstrdup(name);
  ls->v[ls->n].value = xstrdup(value);
  ls->n++;
}

void labels_add_borrowed(struct labels *ls, const char *name,
                         const char *value) {
  if (!value || !*value)
    return;
  TC_GROW(ls->v, ls->cap, ls->n + 1);
  ls->v[ls->n].name = name;
  ls->v[ls->n].value = value;
  ls->n++;
}

/* Index of the first label with name >= name in a sorted set. */
static size_t labels_lower_bound(const struct labels *ls, const char *name) {
  size_t lo = 0, hi = ls->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(ls->v[mid].name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void labels_del(struct labels *ls, const char *name) {
  size_t i = labels_lower_bound(ls, name);
  if (i == ls->n || strcmp(ls->v[i].name, name))
    return;
  if (!(ls->flags & LABELS_BORROWED)) {
    free((char *)ls->v[i].name);
    free((char *)ls->v[i].value);
  }
  memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
  ls->n--;
}

void labels_set(struct labels *ls, const char *name, const char *value) {
  if (!value || !*value) {
    labels_del(ls, name);
    return;
  }
  size_t i = labels_lower_bound(ls, name);
  if (i < ls->n && !strcmp(ls->v[i].name, name)) {
    free((char *)ls->v[i].value);
    ls->v[i].value = xstrdup(value);
    return;
  }
  TC_GROW(ls->v, ls->cap, ls->n + 1);
  memmove(&ls->v[i + 1], &ls->v[i], (ls->n - i) * sizeof(ls->v[0]));
  ls->v[i].name = xstrdup(name);
  ls->v[i].value = xstrdup(value);
  ls->n++;
}

static int label_cmp_name(const void *a, const void *b) {
  return strcmp(((const struct label *)a)->name,
                ((const struct label *)b)->name);
}

int labels_sort(struct labels *ls) {
  if (ls->n > 1)
    qsort(ls->v, ls->n, sizeof(ls->v[0]), label_cmp_name);
  for (size_t i = 1; i < ls->n; i++)
    if (!strcmp(ls->v[i - 1].name, ls->v[i].name))
      return tc_error(TC_EINVAL, "label set has duplicate label name '%s'",
                      ls->v[i].name);
  return 0;
}

void labels_copy(struct labels *dst, const struct labels *src) {
  labels_init(dst);
  if (!src->n)
    return;
  dst->v = xcalloc(src->n, sizeof(dst->v[0]));
  dst->cap = src->n;
  for (size_t i = 0; i < src->n; i++) {
    dst->v[i].name = xstrdup(src->v[i].name);
    dst->v[i].value = xstrdup(src->v[i].value);
  }
  dst->n = src->n;
}

const char *labels_get(const struct labels *ls, const char *name) {
  for (size_t i = 0; i < ls->n; i++)
    if (!strcmp(ls->v[i].name, name))
      return ls->v[i].value;
  return NULL;
}

int labels_compare(const struct labels *a, const struct labels *b) {
  size_t n = a->n < b->n ? a->n : b->n;
  for (size_t i = 0; i < n; i++) {
    int c = strcmp(a->v[i].name, b->v[i].name);
    if (c)
      return c;
    c = strcmp(a->v[i].value, b->v[i].value);
    if (c)
      return c;
  }
  return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool labels_equal(const struct labels *a, const struct labels *b) {
  return a->n == b->n && labels_compare(a, b) == 0;
}

uint64_t labels_hash(const struct labels *ls) {
  static const uint8_t sep = 0xff;
  XXH64_state_t st;
  XXH64_reset(&st, 0);
  for (size_t i = 0; i < ls->n; i++) {
    XXH64_update(&st, ls->v[i].name, strlen(ls->v[i].name));
    XXH64_update(&st, &sep, 1);
    XXH64_update(&st, ls->v[i].value, strlen(ls->v[i].value));
    XXH64_update(&st, &sep, 1);
  }
  return XXH64_digest(&st);
}

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  uint32_t c = s[0];
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, c &= 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, c &= 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, c &= 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

/* Close to Go's unicode.IsPrint for the non-ASCII range: everything but
 * C1 controls, non-ASCII spaces, separators and format characters that
 * commonly occur. */
static bool rune_printable(uint32_t c) {
  if (c < 0xa0)
    return false;
  if (c == 0xa0 || c == 0xad || c == 0x1680 || (c >= 0x2000 && c <= 0x200f) ||
      (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) ||
      c == 0x3000 || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb) ||
      (c >= 0xe000 && c <= 0xf8ff) || c >= 0xf0000 ||
      (c & 0xfffe) == 0xfffe)
    return false;
  return true;
}

int tc_go_quote(struct tc_buf *out, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  int rc = tc_buf_addc(out, '"');
  for (size_t i = 0; i < n && !rc;) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      switch (c) {
      case '"': rc = tc_buf_adds(out, "\\\""); break;
      case '\\': rc = tc_buf_adds(out, "\\\\"); break;
      case '\a': rc = tc_buf_adds(out, "\\a"); break;
      case '\b': rc = tc_buf_adds(out, "\\b"); break;
      case '\f': rc = tc_buf_adds(out, "\\f"); break;
      case '\n': rc = tc_buf_adds(out, "\\n"); break;
      case '\r': rc = tc_buf_adds(out, "\\r"); break;
      case '\t': rc = tc_buf_adds(out, "\\t"); break;
      case '\v': rc = tc_buf_adds(out, "\\v"); break;
      default:
        if (c < 0x20 || c == 0x7f)
          rc = tc_buf_addf(out, "\\x%02x", c);
        else
          rc = tc_buf_addc(out, (char)c);
      }
      continue;
    }
    uint32_t cp;
    size_t len = utf8_decode(s + i, n - i, &cp);
    if (!len) {
      rc = tc_buf_addf(out, "\\x%02x", c);
      i++;
    } else if (rune_printable(cp)) {
      rc = tc_buf_add(out, s + i, len);
      i += len;
    } else {
      rc = cp < 0x10000 ? tc_buf_addf(out, "\\u%04x", cp)
                        : tc_buf_addf(out, "\\U%08x", cp);
      i += len;
    }
  }
  return rc ? rc : tc_buf_addc(out, '"');
}

/* [a-zA-Z_][a-zA-Z0-9_]*: names Prometheus 3 prints without quotes. */
static bool legacy_name(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

int labels_format(const struct labels *ls, struct tc_buf *out) {
  int rc = tc_buf_addc(out, '{');
  for (size_t i = 0; i < ls->n && !rc; i++) {
    const char *name = ls->v[i].name;
    if (i)
      rc = tc_buf_adds(out, ", ");
    if (!rc)
      rc = legacy_name(name) ? tc_buf_adds(out, name)
                             : tc_go_quote(out, name, strlen(name));
    if (!rc)
      rc = tc_buf_addc(out, '=');
    if (!rc)
      rc = tc_go_quote(out, ls->v[i].value, strlen(ls->v[i].value));
  }
  return rc ? rc : tc_buf_addc(out, '}');
}

int tc_format_float(struct tc_buf *out, double f) {
  return fmtfloat_add(out, f, 'g');
}
