/*
 * http_params.c - percent-decoding and the query-string / urlencoded-form
 * parser behind every HTTP API parameter (see http.h). It follows Go's
 * net/url rules so that thanosc accepts and rejects what Thanos does:
 * '&'-separated pairs, '+' as space, strict %XX escapes, ';' rejected.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/http.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int http_unescape(const char *s, size_t n, int plus_space, char **out,
                  size_t *out_len) {
  char *d = xmalloc(n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
        int show = (int)TC_MIN(n - i, (size_t)3);
        free(d);
        return tc_error(TC_EPARSE, "invalid URL escape \"%.*s\"", show, s + i);
      }
      d[j++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_space) {
      d[j++] = ' ';
    } else {
      d[j++] = c;
    }
  }
  d[j] = '\0';
  *out = d;
  if (out_len)
    *out_len = j;
  return 0;
}

int http_params_parse(struct http_params *p, const char *s, size_t len) {
  const char *end = s + len;
  while (s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *pend = amp ? amp : end;
    const char *semi = memchr(s, ';', (size_t)(pend - s));
    if (semi)
      return tc_error(TC_EPARSE, "invalid semicolon separator in query");
    if (pend > s) {
      const char *eq = memchr(s, '=', (size_t)(pend - s));
      const char *kend = eq ? eq : pend;
      char *key = NULL, *val = NULL;
      size_t vlen = 0;
      int rc = http_unescape(s, (size_t)(kend - s), 1, &key, NULL);
      if (rc == 0 && eq)
        rc = http_unescape(eq + 1, (size_t)(pend - eq - 1), 1, &val, &vlen);
      else if (rc == 0)
        val = xstrdup("");
      if (rc < 0) {
        free(key);
        return rc;
      }
      TC_GROW(p->v, p->cap, p->n + 1);
      p->v[p->n++] = (struct http_param){key, val, vlen};
    }
    s = amp ? amp + 1 : end;
  }
  return 0;
}

const char *http_params_next(const struct http_params *p, const char *key,
                             size_t *pos) {
  for (size_t i = *pos; i < p->n; i++) {
    if (!strcmp(p->v[i].key, key)) {
      *pos = i + 1;
      return p->v[i].value;
    }
  }
  *pos = p->n;
  return NULL;
}

const char *http_params_get(const struct http_params *p, const char *key) {
  size_t pos = 0;
  return http_params_next(p, key, &pos);
}

size_t http_params_count(const struct http_params *p, const char *key) {
  size_t n = 0;
  for (size_t i = 0; i < p->n; i++)
    n += !strcmp(p->v[i].key, key);
  return n;
}

void http_params_release(struct http_params *p) {
  for (size_t i = 0; i < p->n; i++) {
    free(p->v[i].key);
    free(p->v[i].value);
  }
  free(p->v);
  *p = (struct http_params)HTTP_PARAMS_INIT;
}
