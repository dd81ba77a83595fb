/*
 * selector.c - the small series-selector parser used by the tools
 * (`--match='up{job=~"a|b"}'`): an optional metric name followed by an
 * optional brace list of matchers. Quoted values accept Go string escapes
 * in "..." and '...' and are raw in `...`. The PromQL engine has its own
 * full parser; this one only serves flags and tests.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/labels.h"

struct sel {
  const char *s;
  size_t i;
  const char *src;
};

static void sel_ws(struct sel *p) {
  while (p->s[p->i] && isspace((unsigned char)p->s[p->i]))
    p->i++;
}

static int sel_err(struct sel *p, const char *what) {
  return tc_error(TC_EPARSE, "selector '%s': %s at position %zu", p->src,
                  what, p->i);
}

static bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':';
}

static bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9');
}

static char *sel_ident(struct sel *p, bool colons) {
  size_t st = p->i;
  if (!ident_start(p->s[p->i]) || (!colons && p->s[p->i] == ':'))
    return NULL;
  while (ident_char(p->s[p->i]) && (colons || p->s[p->i] != ':'))
    p->i++;
  return xstrndup(p->s + st, p->i - st);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)tolower((unsigned char)c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static void put_utf8(struct tc_buf *b, uint32_t c) {
  char u[4];
  size_t n;
  if (c < 0x80) {
    u[0] = (char)c, n = 1;
  } else if (c < 0x800) {
    u[0] = (char)(0xc0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3f)), n = 2;
  } else if (c < 0x10000) {
    u[0] = (char)(0xe0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    u[2] = (char)(0x80 | (c & 0x3f)), n = 3;
  } else {
    u[0] = (char)(0xf0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3f)), u[3] = (char)(0x80 | (c & 0x3f));
    n = 4;
  }
  tc_buf_add(b, u, n);
}

/* Parses a quoted string at p->i into *out (owned). */
static int sel_string(struct sel *p, char **out) {
  char q = p->s[p->i];
  struct tc_buf b;
  int rc = 0;
  if (q != '"' && q != '\'' && q != '`')
    return sel_err(p, "expected a quoted string");
  tc_buf_init(&b, 0);
  tc_buf_add(&b, "", 0);
  p->i++;
  for (;;) {
    char c = p->s[p->i];
    if (!c) {
      rc = sel_err(p, "unterminated string");
      goto out;
    }
    p->i++;
    if (c == q)
      break;
    if (c != '\\' || q == '`') {
      tc_buf_addc(&b, c);
      continue;
    }
    char e = p->s[p->i++];
    int digits = 0;
    switch (e) {
    case 'a': tc_buf_addc(&b, '\a'); break;
    case 'b': tc_buf_addc(&b, '\b'); break;
    case 'f': tc_buf_addc(&b, '\f'); break;
    case 'n': tc_buf_addc(&b, '\n'); break;
    case 'r': tc_buf_addc(&b, '\r'); break;
    case 't': tc_buf_addc(&b, '\t'); break;
    case 'v': tc_buf_addc(&b, '\v'); break;
    case '\\': case '"': case '\'': tc_buf_addc(&b, e); break;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default:
      if (e >= '0' && e <= '7') {
        int v = e - '0';
        for (int k = 0; k < 2; k++) {
          char d = p->s[p->i];
          if (d < '0' || d > '7') {
            rc = sel_err(p, "bad octal escape");
            goto out;
          }
          v = v * 8 + (d - '0');
          p->i++;
        }
        if (v > 255) {
          rc = sel_err(p, "bad octal escape");
          goto out;
        }
        tc_buf_addc(&b, (char)v);
        break;
      }
      p->i--;
      rc = sel_err(p, "unknown escape");
      goto out;
    }
    if (digits) {
      uint32_t v = 0;
      for (int k = 0; k < digits; k++) {
        int h = hexval(p->s[p->i]);
        if (h < 0) {
          rc = sel_err(p, "bad hex escape");
          goto out;
        }
        v = v * 16 + (uint32_t)h;
        p->i++;
      }
      if (e == 'x')
        tc_buf_addc(&b, (char)v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        rc = sel_err(p, "bad unicode escape");
        goto out;
      } else
        put_utf8(&b, v);
    }
  }
out:
  if (rc) {
    tc_buf_release(&b);
    return rc;
  }
  *out = tc_buf_detach(&b, NULL);
  return 0;
}

static int sel_matcher(struct sel *p, struct matchers *ms) {
  char *name = NULL, *value = NULL;
  enum matcher_type t;
  int rc;
  sel_ws(p);
  if (p->s[p->i] == '"' || p->s[p->i] == '\'' || p->s[p->i] == '`') {
    rc = sel_string(p, &name); /* quoted label name (UTF-8 names) */
    if (rc)
      return rc;
  } else if (!(name = sel_ident(p, false))) {
    return sel_err(p, "expected a label name");
  }
  sel_ws(p);
  const char *s = p->s + p->i;
  if (!strncmp(s, "=~", 2))
    t = MATCH_RE, p->i += 2;
  else if (!strncmp(s, "!~", 2))
    t = MATCH_NRE, p->i += 2;
  else if (!strncmp(s, "!=", 2))
    t = MATCH_NEQ, p->i += 2;
  else if (*s == '=')
    t = MATCH_EQ, p->i += 1;
  else {
    rc = sel_err(p, "expected one of = != =~ !~");
    goto out;
  }
  sel_ws(p);
  rc = sel_string(p, &value);
  if (rc)
    goto out;
  rc = matchers_add(ms, t, name, value);
  if (rc)
    rc = tc_error_wrap(rc, "selector '%s'", p->src);
out:
  free(name);
  free(value);
  return rc;
}

int selector_parse(const char *s, struct matchers *ms) {
  struct sel p = {s, 0, s};
  int rc = 0;
  size_t before = ms->n;
  sel_ws(&p);
  char *metric = sel_ident(&p, true);
  if (metric) {
    rc = matchers_add(ms, MATCH_EQ, "__name__", metric);
    free(metric);
    if (rc)
      return rc;
    sel_ws(&p);
  }
  if (p.s[p.i] == '{') {
    p.i++;
    sel_ws(&p);
    while (p.s[p.i] != '}') {
      rc = sel_matcher(&p, ms);
      if (rc)
        goto out;
      sel_ws(&p);
      if (p.s[p.i] == ',') {
        p.i++;
        sel_ws(&p);
      } else if (p.s[p.i] != '}') {
        rc = sel_err(&p, "expected ',' or '}'");
        goto out;
      }
    }
    p.i++;
    sel_ws(&p);
  } else if (!metric) {
    return sel_err(&p, "expected a metric name or '{'");
  }
  if (p.s[p.i])
    rc = sel_err(&p, "unexpected trailing characters");
  else if (ms->n == before)
    rc = sel_err(&p, "selector has no matchers");
out:
  if (rc) {
    while (ms->n > before)
      matcher_release(&ms->v[--ms->n]);
  }
  return rc;
}

int labels_parse(const char *s, struct labels *out) {
  struct matchers ms = {0};
  labels_init(out);
  int rc = selector_parse(s, &ms);
  for (size_t i = 0; i < ms.n && !rc; i++) {
    if (ms.v[i].type != MATCH_EQ)
      rc = tc_error(TC_EPARSE, "label set '%s': '%s' is not an equality", s,
                    ms.v[i].name);
    else
      labels_add(out, ms.v[i].name, ms.v[i].value);
  }
  matchers_release(&ms);
  if (!rc && labels_sort(out))
    rc = tc_error(TC_EPARSE, "label set '%s': duplicate label name", s);
  if (rc)
    labels_release(out);
  return rc;
}
