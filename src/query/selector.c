/*
 * selector.c - checks match[] and storeMatch[] selectors as Prometheus's
 * parser.ParseMetricSelector does, on top of the PromQL engine's parser
 * (see query_check_selector() in include/thanosc/query_params.h).
 *
 * A selector is a PromQL expression that is a bare vector selector. The
 * full parser gives Prometheus's messages for everything that is not valid
 * PromQL at all; for valid PromQL that is not a bare selector (up + 1,
 * rate(x[5m]), up offset 5m) ParseMetricSelector stops at the first token
 * after the leading selector, so this file finds that token with a small
 * scanner and describes it the way Prometheus's lexer items print
 * ("unexpected <op:+>", "unexpected \"(\"", "unexpected number \"1\"").
 */
#include "thanosc/query_params.h"

#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/promql.h"

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) { return is_alpha(c) || is_digit(c); }

static const char *skip_space(const char *p) {
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
    if (*p != '#')
      return p;
    while (*p && *p != '\n')
      p++;
  }
}

static int word_in(const char *w, size_t n, const char *const *list) {
  for (; *list; list++) {
    if (strlen(*list) != n)
      continue;
    size_t i = 0;
    while (i < n && (w[i] | 0x20) == (*list)[i])
      i++;
    if (i == n)
      return 1;
  }
  return 0;
}

static const char *const aggregators[] = {
    "avg", "bottomk", "count", "count_values", "group", "max", "min",
    "quantile", "stddev", "stdvar", "sum", "topk", "limitk", "limit_ratio",
    NULL};
static const char *const keywords[] = {"bool", "by", "group_left",
                                       "group_right", "ignoring", "offset",
                                       "on", "without", NULL};
static const char *const word_ops[] = {"and", "or", "unless", "atan2", NULL};
/* Keywords and aggregators usable as metric names in a selector. */
static const char *const metric_words[] = {
    "avg", "bottomk", "by", "count", "count_values", "group", "and", "or",
    "unless", "max", "min", "offset", "quantile", "stddev", "stdvar", "sum",
    "topk", "without", "start", "end", "limitk", "limit_ratio", NULL};

/* End of a quoted string starting at p (its quote char), or NULL. */
static const char *skip_string(const char *p) {
  char q = *p++;
  while (*p && *p != q) {
    if (*p == '\\' && q != '`' && p[1])
      p++;
    p++;
  }
  return *p ? p + 1 : NULL;
}

/* Whether [s, s+n) is a PromQL duration: (digits unit)+. */
static int is_duration(const char *s, size_t n) {
  size_t i = 0;
  if (!n)
    return 0;
  while (i < n) {
    size_t d = i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == d)
      return 0;
    if (i + 1 < n + 1 && i + 2 <= n && s[i] == 'm' && s[i + 1] == 's')
      i += 2;
    else if (i < n && strchr("smhdwy", s[i]))
      i++;
    else
      return 0;
  }
  return 1;
}

/* Appends Prometheus's description of the token at p ("<op:+>" ...). */
static void describe_token(struct tc_buf *b, const char *p) {
  static const char *const ops2[] = {"==", "!=", ">=", "<=", "=~", "!~",
                                     NULL};
  const char *q;
  size_t n;
  for (size_t i = 0; ops2[i]; i++)
    if (!strncmp(p, ops2[i], 2)) {
      tc_buf_addf(b, "<op:%s>", ops2[i]);
      return;
    }
  if (*p && strchr("+-*/%^=<>", *p)) {
    tc_buf_addf(b, "<op:%c>", *p);
    return;
  }
  if (*p == '@') {
    tc_buf_adds(b, "\"<Item 57400>\" <op:@>");
    return;
  }
  if (*p && strchr("()[]{},:", *p)) {
    tc_buf_addf(b, "\"%c\"", *p);
    return;
  }
  if (*p == '"' || *p == '\'' || *p == '`') {
    q = skip_string(p);
    n = q ? (size_t)(q - p) : strlen(p);
    tc_buf_adds(b, "string ");
  } else if (is_digit(*p) || (*p == '.' && is_digit(p[1]))) {
    for (n = 0; is_alnum(p[n]) || p[n] == '.'; n++)
      ;
    tc_buf_adds(b, is_duration(p, n) ? "duration " : "number ");
  } else if (is_alpha(*p) || *p == ':') {
    int colon = 0;
    for (n = 0; is_alnum(p[n]) || p[n] == ':'; n++)
      colon |= p[n] == ':';
    if (!colon && word_in(p, n, aggregators)) {
      tc_buf_addf(b, "<aggr:%.*s>", (int)n, p);
      return;
    }
    if (!colon && word_in(p, n, keywords)) {
      tc_buf_addf(b, "<%.*s>", (int)n, p);
      return;
    }
    if (!colon && word_in(p, n, word_ops)) {
      tc_buf_addf(b, "<op:%.*s>", (int)n, p);
      return;
    }
    static const char *const special[] = {"start", "end", NULL};
    static const char *const numbers[] = {"inf", "nan", NULL};
    if (!colon && word_in(p, n, special)) {
      query_go_quote(b, p, n);
      return;
    }
    if (!colon && word_in(p, n, numbers)) {
      tc_buf_adds(b, "number ");
    } else {
      tc_buf_adds(b, colon ? "metric identifier " : "identifier ");
      query_go_quote(b, p, n);
      return;
    }
  } else {
    n = 1;
  }
  /* Go: %.10q for long values, then "..." */
  if (n > 10) {
    query_go_quote(b, p, 10);
    tc_buf_adds(b, "...");
  } else {
    query_go_quote(b, p, n);
  }
}

/* End of the leading vector selector of s (which parsed as PromQL). */
static const char *selector_end(const char *s) {
  const char *p = skip_space(s);
  if (is_alpha(*p) || *p == ':') {
    size_t n = 0;
    int colon = 0;
    while (is_alnum(p[n]) || p[n] == ':')
      colon |= p[n++] == ':';
    int ident = colon || (!word_in(p, n, aggregators) &&
                          !word_in(p, n, keywords) &&
                          !word_in(p, n, word_ops));
    if (!ident && !word_in(p, n, metric_words))
      return p;
    if (!colon && word_in(p, n, (const char *const[]){"inf", "nan", NULL}))
      return p;
    p = skip_space(p + n);
  }
  if (*p == '{') {
    p++;
    while (*p && *p != '}') {
      if (*p == '"' || *p == '\'' || *p == '`') {
        const char *q = skip_string(p);
        if (!q)
          return p + strlen(p);
        p = q;
      } else {
        p++;
      }
    }
    if (*p == '}')
      p++;
  }
  return skip_space(p);
}

/* The ParseMetricSelector error for valid PromQL that is not a bare
 * selector: the first token after the leading selector. */
static int unexpected_token(const char *selector) {
  const char *p = selector_end(selector);
  /* Prometheus positions are line:column, columns counted in bytes from
   * the start of the line, 1-based. */
  size_t line = 1, col = 1;
  for (const char *q = selector; q < p; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  struct tc_buf b;
  tc_buf_init(&b, 0);
  describe_token(&b, p);
  int rc = tc_error(TC_EPARSE, "%zu:%zu: parse error: unexpected %s", line, col,
                b.data ? b.data : "");
  tc_buf_release(&b);
  return rc;
}

/*
 * Keywords and aggregation names are valid metric names in a selector
 * (offset, sum{job="x"}); for a parser that does not take them there,
 * rewrite `word{...}` as `{__name__="word",...}`. NULL if not applicable;
 * otherwise a new string the caller frees.
 */
static char *rewrite_keyword_metric(const char *s) {
  const char *p = skip_space(s);
  size_t n = 0;
  while (is_alnum(p[n]))
    n++;
  if (!n || p[n] == ':' || !word_in(p, n, metric_words))
    return NULL;
  const char *rest = skip_space(p + n);
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_addf(&b, "{__name__=\"%.*s\"", (int)n, p);
  if (*rest == '{')
    tc_buf_addf(&b, ",%s", rest + 1);
  else
    tc_buf_addf(&b, "}%s", rest);
  return tc_buf_detach(&b, NULL);
}

/* Parses selector; appends its matchers to out unless out is NULL. */
static int parse_selector(const char *selector, struct matchers *out,
                          int *has_nonempty) {
  struct promql_expr *e = NULL;
  char *msg = NULL;
  *has_nonempty = 0;
  int rc = promql_parse(selector, NULL, &e, &msg);
  if (rc) {
    char *alt = rewrite_keyword_metric(selector);
    char *msg2 = NULL;
    if (alt && !promql_parse(alt, NULL, &e, &msg2) &&
        e->kind == PROMQL_VECTOR_SEL) {
      rc = 0;
    } else {
      promql_expr_free(e);
      e = NULL;
    }
    free(msg2);
    free(alt);
  }
  if (rc && msg && strstr(msg, "must contain at least one non-empty matcher")) {
    /* The query parser refuses {a=""}; a metric selector is fine with it
     * and the API reports the missing non-empty matcher itself. Such a
     * selector has only empty-matching matchers, which the small
     * selector parser of labels.h reads. */
    free(msg);
    if (*selector_end(selector))
      return unexpected_token(selector);
    return out ? selector_parse(selector, out) : 0;
  }
  if (rc) {
    rc = tc_error(TC_EPARSE, "%s", msg ? msg : "parse error");
    free(msg);
    return rc;
  }
  free(msg);
  if (e->kind != PROMQL_VECTOR_SEL || e->offset_ms != 0 ||
      e->at != PROMQL_AT_NONE) {
    promql_expr_free(e);
    return unexpected_token(selector);
  }
  for (size_t i = 0; i < e->nmatchers && !rc; i++) {
    const struct matcher *m = &e->matchers[i];
    if (!matcher_matches_str(m, ""))
      *has_nonempty = 1;
    if (out)
      rc = matchers_add(out, m->type, m->name, m->value);
  }
  promql_expr_free(e);
  return rc;
}

int query_check_selector(void *ctx, const char *selector, int *has_nonempty) {
  (void)ctx;
  return parse_selector(selector, NULL, has_nonempty);
}

int query_selector_matchers(const char *selector, struct matchers *out) {
  int nonempty;
  return parse_selector(selector, out, &nonempty);
}
