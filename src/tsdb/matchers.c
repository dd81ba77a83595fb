/*
 * matchers.c - label matchers (=, !=, =~, !~) with Prometheus's regex
 * semantics on PCRE2.
 *
 * Prometheus compiles `^(?s:<re>)$`: fully anchored, dot matches newline.
 * We get the same with PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL
 * (plus DOLLAR_ENDONLY so `$` inside the pattern means end of text, as in
 * RE2), JIT-compiled when the JIT is available. Common shapes are
 * recognised up front and never reach PCRE2: a literal, `prefix.*`, `.*`,
 * `.+` and alternations of literals. The index readers use the literal set
 * to go straight to postings lists.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/labels.h"

enum re_kind {
  RE_PCRE,    /* general regex */
  RE_SET,     /* alternation of literals (1 or more) */
  RE_PREFIX,  /* literal prefix followed by .* */
  RE_ALL,     /* .* */
  RE_NONEMPTY /* .+ */
};

struct matcher__re {
  enum re_kind kind;
  char **lits; /* RE_SET: owned literals; RE_PREFIX: lits[0] */
  size_t *lens;
  size_t nlits;
  const char **view; /* lits as const, for matcher_set_values() */
  pcre2_code *code;
  bool jit;
};

static bool is_meta(char c) {
  return strchr("\\.+*?()|[]{}^$", c) != NULL;
}

/* Unescapes literal text [s, s+n) into out (n+1 bytes); false when it is
 * not a plain literal. */
static bool literal_of(const char *s, size_t n, char *out, size_t *outn) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 >= n)
        return false;
      char e = s[i + 1];
      if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
          (e >= '0' && e <= '9') || (unsigned char)e >= 0x80)
        return false;
      out[o++] = e;
      i++;
      continue;
    }
    if (is_meta(c))
      return false;
    out[o++] = c;
  }
  out[o] = '\0';
  *outn = o;
  return true;
}

static void re_add_lit(struct matcher__re *re, const char *s, size_t n) {
  re->lits = xrealloc(re->lits, (re->nlits + 1) * sizeof(char *));
  re->lens = xrealloc(re->lens, (re->nlits + 1) * sizeof(size_t));
  re->lits[re->nlits] = xstrndup(s, n);
  re->lens[re->nlits] = n;
  re->nlits++;
}

/* Tries the fast shapes; true when re was filled without PCRE2. */
static bool re_classify(struct matcher__re *re, const char *p) {
  size_t n = strlen(p);
  if (!strcmp(p, ".*")) {
    re->kind = RE_ALL;
    return true;
  }
  if (!strcmp(p, ".+")) {
    re->kind = RE_NONEMPTY;
    return true;
  }
  char *tmp = xmalloc(n + 1);
  size_t tn;
  bool ok = false;
  if (n >= 2 && !strcmp(p + n - 2, ".*") && literal_of(p, n - 2, tmp, &tn)) {
    re->kind = RE_PREFIX;
    re_add_lit(re, tmp, tn);
    ok = true;
    goto out;
  }
  /* Strip one outer group "(...)" without nested groups. */
  const char *s = p;
  size_t sn = n;
  if (sn >= 2 && s[0] == '(' && s[sn - 1] == ')' && s[1] != '?') {
    s++;
    sn -= 2;
  }
  size_t start = 0;
  for (size_t i = 0; i <= sn; i++) {
    if (i < sn && s[i] == '\\') {
      i++;
      continue;
    }
    if (i == sn || s[i] == '|') {
      if (!literal_of(s + start, i - start, tmp, &tn))
        goto out;
      re_add_lit(re, tmp, tn);
      start = i + 1;
    }
  }
  re->kind = RE_SET;
  ok = true;
out:
  free(tmp);
  if (!ok) {
    for (size_t i = 0; i < re->nlits; i++)
      free(re->lits[i]);
    free(re->lits);
    free(re->lens);
    re->lits = NULL;
    re->lens = NULL;
    re->nlits = 0;
  }
  return ok;
}

static void re_free(struct matcher__re *re) {
  if (!re)
    return;
  for (size_t i = 0; i < re->nlits; i++)
    free(re->lits[i]);
  free(re->lits);
  free(re->lens);
  free(re->view);
  if (re->code)
    pcre2_code_free(re->code);
  free(re);
}

static int re_compile(struct matcher__re *re, const char *pattern) {
  int errcode;
  PCRE2_SIZE erroff;
  uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL |
                  PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY;
  re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
                           &errcode, &erroff, NULL);
  if (!re->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(errcode, msg, sizeof(msg));
    return tc_error(TC_EPARSE, "regex '%s': %s at offset %zu", pattern,
                    (char *)msg, (size_t)erroff);
  }
  re->kind = RE_PCRE;
  re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
  return 0;
}

int matcher_init(struct matcher *m, enum matcher_type type, const char *name,
                 const char *value) {
  memset(m, 0, sizeof(*m));
  m->type = type;
  m->name = xstrdup(name);
  m->value = xstrdup(value);
  if (type != MATCH_RE && type != MATCH_NRE)
    return 0;
  m->re = xcalloc(1, sizeof(*m->re));
  if (re_classify(m->re, value)) {
    /* The fast shapes are always valid regexes. The literal view is built
     * here so that matching never writes to the matcher (threads). */
    if (m->re->kind == RE_SET) {
      m->re->view = xcalloc(m->re->nlits, sizeof(char *));
      for (size_t i = 0; i < m->re->nlits; i++)
        m->re->view[i] = m->re->lits[i];
    }
    return 0;
  }
  int rc = re_compile(m->re, value);
  if (rc)
    matcher_release(m);
  return rc;
}

void matcher_release(struct matcher *m) {
  free(m->name);
  free(m->value);
  re_free(m->re);
  memset(m, 0, sizeof(*m));
}

static _Thread_local pcre2_match_data *tl_md;

static bool re_match(const struct matcher__re *re, const char *s, size_t n) {
  switch (re->kind) {
  case RE_ALL:
    return true;
  case RE_NONEMPTY:
    return n > 0;
  case RE_PREFIX:
    return n >= re->lens[0] && !memcmp(s, re->lits[0], re->lens[0]);
  case RE_SET:
    for (size_t i = 0; i < re->nlits; i++)
      if (re->lens[i] == n && !memcmp(s, re->lits[i], n))
        return true;
    return false;
  case RE_PCRE:
    break;
  }
  if (!tl_md)
    tl_md = pcre2_match_data_create(1, NULL);
  int r = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, 0, tl_md,
                                    NULL)
                  : pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, tl_md, NULL);
  return r >= 0;
}

bool matcher_matches(const struct matcher *m, const char *s, size_t n) {
  switch (m->type) {
  case MATCH_EQ:
    return strlen(m->value) == n && !memcmp(m->value, s, n);
  case MATCH_NEQ:
    return !(strlen(m->value) == n && !memcmp(m->value, s, n));
  case MATCH_RE:
    return re_match(m->re, s, n);
  case MATCH_NRE:
    return !re_match(m->re, s, n);
  }
  return false;
}

size_t matcher_set_values(const struct matcher *m, const char *const **vals) {
  if (m->type == MATCH_EQ) {
    *vals = (const char *const *)&m->value;
    return 1;
  }
  if (m->type != MATCH_RE || m->re->kind != RE_SET)
    return 0;
  *vals = m->re->view;
  return m->re->nlits;
}

const char *matcher_prefix(const struct matcher *m, size_t *n) {
  if ((m->type != MATCH_RE && m->type != MATCH_NRE) ||
      m->re->kind != RE_PREFIX)
    return NULL;
  *n = m->re->lens[0];
  return m->re->lits[0];
}

const char *matcher_type_str(enum matcher_type t) {
  static const char *s[] = {"=", "!=", "=~", "!~"};
  return (unsigned)t < 4 ? s[t] : "?";
}

void matchers_release(struct matchers *ms) {
  for (size_t i = 0; i < ms->n; i++)
    matcher_release(&ms->v[i]);
  free(ms->v);
  memset(ms, 0, sizeof(*ms));
}

int matchers_add(struct matchers *ms, enum matcher_type type,
                 const char *name, const char *value) {
  TC_GROW(ms->v, ms->cap, ms->n + 1);
  int rc = matcher_init(&ms->v[ms->n], type, name, value);
  if (!rc)
    ms->n++;
  return rc;
}

bool matchers_match_labels(const struct matchers *ms,
                           const struct labels *ls) {
  for (size_t i = 0; i < ms->n; i++) {
    const char *v = labels_get(ls, ms->v[i].name);
    if (!v)
      v = "";
    if (!matcher_matches_str(&ms->v[i], v))
      return false;
  }
  return true;
}
