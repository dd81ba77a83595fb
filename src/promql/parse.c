/*
 * parse.c - PromQL lexer and recursive-descent parser producing the AST of
 * promql.h, type-checked the way Prometheus's checkAST does, with
 * Prometheus's error messages ("1:5: parse error: ..."). Operator
 * precedence (low to high): or; and unless; comparisons; + -; * / % atan2
 * and unary minus; ^ (right-associative); then the postfix modifiers
 * [range], [range:step], offset and @.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

enum tok {
  T_EOF,
  T_IDENT,
  T_NUMBER,
  T_DURATION,
  T_STRING,
  T_LPAREN,
  T_RPAREN,
  T_LBRACE,
  T_RBRACE,
  T_LBRACKET,
  T_RBRACKET,
  T_COMMA,
  T_ASSIGN, /* = */
  T_COLON,
  T_AT,
  T_OP,  /* binary operator; see tok.op */
  T_EQL_RE, /* =~ */
  T_NEQ_RE, /* !~ */
  T_BAD,
};

struct token {
  enum tok t;
  enum promql_op op;
  int pos, len;
  double num;    /* T_NUMBER, T_DURATION (ms) */
  char *str;     /* T_STRING unquoted value (owned by the parser) */
};

struct parser {
  const char *in;
  int len;
  int pos;
  struct token tok; /* current */
  bool exp_funcs;
  char *err;    /* first syntax error message (owned) */
  char *terr;   /* first type-check error (reported when no syntax error) */
  int parens, brackets; /* open ( and [ for the lexer's balance errors */
  bool after_lbracket;  /* the previous token was '[' */
  bool braces;          /* inside { } */
  int errpos;
  int depth;
};

static void perr(struct parser *p, int pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, int pos, const char *fmt, ...) {
  va_list ap;
  char *msg;
  int line = 1, col;
  int last_nl = -1;
  if (p->err)
    return;
  if (pos > p->len)
    pos = p->len;
  for (int i = 0; i < pos; i++)
    if (p->in[i] == '\n') {
      line++;
      last_nl = i;
    }
  col = pos - last_nl;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  p->err = xasprintf("%d:%d: parse error: %s", line, col, msg ? msg : "?");
  free(msg);
  p->errpos = pos;
}

/* A type-check error, as Prometheus's checkAST reports after parsing:
 * parsing goes on and a later syntax error takes precedence. */
static void terr(struct parser *p, int pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void terr(struct parser *p, int pos, const char *fmt, ...) {
  va_list ap;
  char *msg, *save;
  if (p->terr || p->err)
    return;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  save = p->err;
  p->err = NULL;
  perr(p, pos, "%s", msg ? msg : "?");
  p->terr = p->err;
  p->err = save;
  free(msg);
}

/* Prometheus's names of value types in some messages. */
static const char *vtype_name(enum promql_type t) {
  switch (t) {
  case PROMQL_TYPE_SCALAR: return "scalar";
  case PROMQL_TYPE_VECTOR: return "vector";
  case PROMQL_TYPE_MATRIX: return "matrix";
  case PROMQL_TYPE_STRING: return "string";
  default: return "none";
  }
}

/* ---- lexer -------------------------------------------------------------- */

static bool is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_alnum(int c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

static int unit_ms(const char *s, size_t n, int64_t *ms) {
  static const struct {
    const char *u;
    int64_t ms;
  } units[] = {{"ms", 1},
               {"s", 1000},
               {"m", 60000},
               {"h", 3600000},
               {"d", 86400000},
               {"w", 604800000},
               {"y", 31536000000LL}};
  for (size_t i = 0; i < TC_ARRAY_SIZE(units); i++)
    if (strlen(units[i].u) == n && memcmp(units[i].u, s, n) == 0) {
      *ms = units[i].ms;
      return 0;
    }
  return -1;
}

int promql_parse_duration(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  int64_t total = 0;
  int last_rank = 100;
  if (len == 1 && s[0] == '0') {
    *out = 0;
    return 0;
  }
  if (!len)
    return tc_error(TC_EPARSE, "empty duration string");
  while (i < len) {
    int64_t n = 0, mul;
    size_t st = i, ust;
    int rank;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (n > INT64_MAX / 10)
        return tc_error(TC_EPARSE, "duration out of range");
      n = n * 10 + (s[i] - '0');
      i++;
    }
    if (i == st)
      goto bad;
    ust = i;
    if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's')
      i += 2;
    else if (i < len && strchr("smhdwy", s[i]) && s[i])
      i++;
    if (unit_ms(s + ust, i - ust, &mul) < 0)
      goto bad;
    rank = (int)(i - ust == 2 ? 0 : strchr("smhdwy", s[ust]) - "smhdwy" + 1);
    if (rank >= last_rank)
      goto bad;
    last_rank = rank;
    if (n > INT64_MAX / mul || total > INT64_MAX - n * mul)
      return tc_error(TC_EPARSE, "duration out of range");
    total += n * mul;
  }
  *out = total;
  return 0;
bad:
  return tc_error(TC_EPARSE, "not a valid duration string: \"%.*s\"",
                  (int)len, s);
}

int promql_parse_number(const char *s, size_t len, double *v) {
  char sbuf[128], *buf;
  size_t n = 0;
  int rc = 0;
  char *end;
  const char *p = s;
  size_t l = len;
  int neg = 0;
  if (l && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    p++;
    l--;
  }
  if (l == 3 && strncasecmp(p, "inf", 3) == 0) {
    *v = neg ? -INFINITY : INFINITY;
    return 0;
  }
  if (l == 3 && strncasecmp(p, "nan", 3) == 0) {
    *v = NAN;
    return 0;
  }
  if (!len)
    return tc_error(TC_EPARSE, "bad number");
  buf = len < sizeof(sbuf) ? sbuf : xmalloc(len + 1);
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == len || !isxdigit((unsigned char)s[i - 1]) ||
          !isxdigit((unsigned char)s[i + 1])) {
        rc = tc_error(TC_EPARSE, "bad number");
        goto out;
      }
      continue;
    }
    buf[n++] = s[i];
  }
  buf[n] = 0;
  if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
    unsigned long long u;
    if (!isxdigit((unsigned char)buf[2])) {
      rc = tc_error(TC_EPARSE, "bad number");
      goto out;
    }
    u = strtoull(buf + 2, &end, 16);
    if (*end)
      rc = tc_error(TC_EPARSE, "bad number");
    else
      *v = (double)u;
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (!(isdigit((unsigned char)buf[i]) || buf[i] == '.' || buf[i] == 'e' ||
          buf[i] == 'E' || buf[i] == '+' || buf[i] == '-')) {
      rc = tc_error(TC_EPARSE, "bad number");
      goto out;
    }
  *v = strtod(buf, &end);
  if (*end || end == buf)
    rc = tc_error(TC_EPARSE, "bad number");
out:
  if (buf != sbuf)
    free(buf);
  return rc;
}

/* Skips digits with single underscores between them. */
static int scan_digits(const char *in, int len, int i) {
  while (i < len) {
    if (isdigit((unsigned char)in[i]))
      i++;
    else if (in[i] == '_' && i > 0 && isdigit((unsigned char)in[i - 1]) &&
             i + 1 < len && isdigit((unsigned char)in[i + 1]))
      i++;
    else
      break;
  }
  return i;
}

/* Decodes a quoted string starting at in[pos] (the quote). */
static int lex_string(struct parser *p, struct token *t) {
  char q = p->in[p->pos];
  int i = p->pos + 1;
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_adds(&b, "");
  for (;;) {
    char c;
    if (i >= p->len) {
      perr(p, p->pos, q == '`' ? "unterminated raw string"
                               : "unterminated quoted string");
      goto fail;
    }
    c = p->in[i];
    if (c == q) {
      i++;
      break;
    }
    if (q != '`' && c == '\n') {
      perr(p, p->pos, "unterminated quoted string");
      goto fail;
    }
    if (q == '`' || c != '\\') {
      tc_buf_addc(&b, c);
      i++;
      continue;
    }
    i++;
    if (i >= p->len) {
      perr(p, p->pos, "unterminated quoted string");
      goto fail;
    }
    c = p->in[i++];
    switch (c) {
    case 'a': tc_buf_addc(&b, '\a'); break;
    case 'b': tc_buf_addc(&b, '\b'); break;
    case 'f': tc_buf_addc(&b, '\f'); break;
    case 'n': tc_buf_addc(&b, '\n'); break;
    case 'r': tc_buf_addc(&b, '\r'); break;
    case 't': tc_buf_addc(&b, '\t'); break;
    case 'v': tc_buf_addc(&b, '\v'); break;
    case '\\': tc_buf_addc(&b, '\\'); break;
    case '\'':
    case '"':
      if (c != q) {
        perr(p, p->pos, "unknown escape sequence U+%04X '%c'", c, c);
        goto fail;
      }
      tc_buf_addc(&b, c);
      break;
    case 'x':
    case 'u':
    case 'U': {
      int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
      unsigned long cp = 0;
      for (int k = 0; k < nd; k++, i++) {
        int d = i < p->len ? p->in[i] : 0;
        if (!isxdigit(d)) {
          perr(p, p->pos, "illegal character U+%04X '%c' in escape sequence", d,
               d);
          goto fail;
        }
        cp = cp * 16 + (unsigned long)(isdigit(d) ? d - '0' : (tolower(d) - 'a' + 10));
      }
      if (c == 'x') {
        tc_buf_addc(&b, (char)cp);
      } else {
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
          perr(p, p->pos, "escape sequence is an invalid Unicode code point");
          goto fail;
        }
        if (cp < 0x80) {
          tc_buf_addc(&b, (char)cp);
        } else if (cp < 0x800) {
          tc_buf_addc(&b, (char)(0xC0 | (cp >> 6)));
          tc_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          tc_buf_addc(&b, (char)(0xE0 | (cp >> 12)));
          tc_buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
          tc_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
        } else {
          tc_buf_addc(&b, (char)(0xF0 | (cp >> 18)));
          tc_buf_addc(&b, (char)(0x80 | ((cp >> 12) & 0x3F)));
          tc_buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
          tc_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
        }
      }
      break;
    }
    default:
      if (c >= '0' && c <= '7') {
        int v = c - '0';
        for (int k = 0; k < 2; k++, i++) {
          if (i >= p->len || p->in[i] < '0' || p->in[i] > '7') {
            perr(p, p->pos, "illegal character in escape sequence");
            goto fail;
          }
          v = v * 8 + (p->in[i] - '0');
        }
        if (v > 255) {
          perr(p, p->pos, "octal escape value > 255: %d", v);
          goto fail;
        }
        tc_buf_addc(&b, (char)v);
        break;
      }
      perr(p, p->pos, "unknown escape sequence U+%04X '%c'", (unsigned char)c,
           c);
      goto fail;
    }
  }
  t->t = T_STRING;
  t->len = i - p->pos;
  t->str = tc_buf_detach(&b, NULL);
  p->pos = i;
  return 0;
fail:
  tc_buf_release(&b);
  return -1;
}

static void next(struct parser *p) {
  struct token *t = &p->tok;
  const char *in = p->in;
  p->after_lbracket = t->t == T_LBRACKET;
  free(t->str);
  memset(t, 0, sizeof(*t));
  if (p->err) {
    t->t = T_EOF;
    t->pos = p->len;
    return;
  }
  for (;;) {
    while (p->pos < p->len && isspace((unsigned char)in[p->pos]))
      p->pos++;
    if (p->pos < p->len && in[p->pos] == '#') {
      while (p->pos < p->len && in[p->pos] != '\n')
        p->pos++;
      continue;
    }
    break;
  }
  t->pos = p->pos;
  if (p->pos >= p->len) {
    t->t = T_EOF;
    if (p->braces)
      perr(p, p->pos, "unexpected end of input inside braces");
    else if (p->parens)
      perr(p, p->pos, "unclosed left parenthesis");
    else if (p->brackets && !p->after_lbracket)
      perr(p, p->pos, "unclosed left bracket");
    return;
  }
  char c = in[p->pos];
  char c2 = p->pos + 1 < p->len ? in[p->pos + 1] : 0;
  t->len = 1;
  switch (c) {
  case '(':
    t->t = T_LPAREN;
    p->parens++;
    break;
  case ')':
    if (!p->parens) {
      perr(p, p->pos + 1, "unexpected right parenthesis ')'");
      t->t = T_BAD;
      return;
    }
    t->t = T_RPAREN;
    p->parens--;
    break;
  case '{':
    t->t = T_LBRACE;
    p->braces = true;
    break;
  case '}':
    if (!p->braces) {
      perr(p, p->pos, "unexpected character: '}'");
      t->t = T_BAD;
      return;
    }
    t->t = T_RBRACE;
    p->braces = false;
    break;
  case '[':
    t->t = T_LBRACKET;
    p->brackets++;
    break;
  case ']':
    if (!p->brackets) {
      perr(p, p->pos, "unexpected right bracket ']'");
      t->t = T_BAD;
      return;
    }
    t->t = T_RBRACKET;
    p->brackets--;
    break;
  case ',': t->t = T_COMMA; break;
  case ':': t->t = T_COLON; break;
  case '@': t->t = T_AT; break;
  case '+': t->t = T_OP; t->op = PROMQL_OP_ADD; break;
  case '-': t->t = T_OP; t->op = PROMQL_OP_SUB; break;
  case '*': t->t = T_OP; t->op = PROMQL_OP_MUL; break;
  case '/': t->t = T_OP; t->op = PROMQL_OP_DIV; break;
  case '%': t->t = T_OP; t->op = PROMQL_OP_MOD; break;
  case '^': t->t = T_OP; t->op = PROMQL_OP_POW; break;
  case '=':
    if (c2 == '=') {
      t->t = T_OP; t->op = PROMQL_OP_EQL; t->len = 2;
    } else if (c2 == '~') {
      t->t = T_EQL_RE; t->len = 2;
    } else {
      t->t = T_ASSIGN;
    }
    break;
  case '!':
    if (c2 == '=') {
      t->t = T_OP; t->op = PROMQL_OP_NEQ; t->len = 2;
    } else if (c2 == '~') {
      t->t = T_NEQ_RE; t->len = 2;
    } else {
      perr(p, p->pos, "unexpected character after '!'%s: '%c'",
           p->braces ? " inside braces" : "", c2);
      t->t = T_BAD;
    }
    break;
  case '<':
    t->t = T_OP;
    t->op = c2 == '=' ? PROMQL_OP_LTE : PROMQL_OP_LSS;
    t->len = c2 == '=' ? 2 : 1;
    break;
  case '>':
    t->t = T_OP;
    t->op = c2 == '=' ? PROMQL_OP_GTE : PROMQL_OP_GTR;
    t->len = c2 == '=' ? 2 : 1;
    break;
  case '"':
  case '\'':
  case '`':
    if (lex_string(p, t) < 0)
      t->t = T_BAD;
    return;
  default:
    if (isdigit((unsigned char)c) ||
        (c == '.' && isdigit((unsigned char)c2))) {
      int s = p->pos, i = s;
      /* longest run of number/duration characters */
      if (c == '0' && (c2 == 'x' || c2 == 'X')) {
        i += 2;
        while (i < p->len && (isxdigit((unsigned char)in[i]) || in[i] == '_'))
          i++;
      } else {
        /* digits [. digits] [e [+-] digits], single '_' between digits */
        bool plain = true;
        i = scan_digits(in, p->len, i);
        if (i < p->len && in[i] == '.') {
          plain = false;
          i = scan_digits(in, p->len, i + 1);
        }
        if (i < p->len && (in[i] == 'e' || in[i] == 'E') &&
            !(i + 1 < p->len && strchr("smhdwy", in[i + 1]) && in[i + 1])) {
          plain = false;
          i++;
          if (i < p->len && (in[i] == '+' || in[i] == '-'))
            i++;
          i = scan_digits(in, p->len, i);
        }
        if (plain && i < p->len && in[i] && strchr("smhdwy", in[i]) &&
            !memchr(in + s, '_', (size_t)(i - s))) {
          /* a duration like 1h30m or 10s53ms */
          int j = s;
          while (j < p->len && (isdigit((unsigned char)in[j]) ||
                                (in[j] && strchr("smhdwy", in[j]))))
            j++;
          int64_t ms;
          if (j < p->len && is_alnum((unsigned char)in[j])) {
            perr(p, s, "bad number or duration syntax: \"%.*s\"", j - s + 1,
                 in + s);
            t->t = T_BAD;
            return;
          }
          if (promql_parse_duration(in + s, (size_t)(j - s), &ms) < 0) {
            /* well-formed number+unit pairs in a wrong order get Go's
             * ParseDuration message, anything else is bad syntax */
            bool pairs = true;
            for (int k = s; k < j && pairs;) {
              int d0 = k;
              while (k < j && isdigit((unsigned char)in[k]))
                k++;
              if (k == d0 || k == j)
                pairs = false;
              else if (in[k] == 'm' && k + 1 < j && in[k + 1] == 's')
                k += 2;
              else
                k++;
            }
            if (pairs)
              perr(p, s, "not a valid duration string: \"%.*s\"", j - s,
                   in + s);
            else
              perr(p, s, "bad number or duration syntax: \"%.*s\"", j - s,
                   in + s);
            t->t = T_BAD;
            return;
          }
          t->t = T_DURATION;
          t->num = (double)ms;
          t->len = j - s;
          p->pos = j;
          return;
        }
      }
      if (i < p->len &&
          (is_alnum((unsigned char)in[i]) || in[i] == '.' || in[i] == '_')) {
        perr(p, s, "bad number or duration syntax: \"%.*s\"", i - s + 1,
             in + s);
        t->t = T_BAD;
        return;
      }
      if (promql_parse_number(in + s, (size_t)(i - s), &t->num) < 0) {
        perr(p, s, "bad number or duration syntax: \"%.*s\"", i - s, in + s);
        t->t = T_BAD;
        return;
      }
      t->t = T_NUMBER;
      t->len = i - s;
      p->pos = i;
      return;
    }
    if (is_alpha((unsigned char)c) || c == ':') {
      int i = p->pos;
      while (i < p->len && (is_alnum((unsigned char)in[i]) || in[i] == ':'))
        i++;
      if (p->braces && memchr(in + p->pos, ':', (size_t)(i - p->pos))) {
        perr(p, (int)((const char *)memchr(in + p->pos, ':',
                                            (size_t)(i - p->pos)) - in),
             "unexpected character inside braces: ':'");
        t->t = T_BAD;
        return;
      }
      t->t = T_IDENT;
      t->len = i - p->pos;
      t->str = xstrndup(in + p->pos, (size_t)t->len);
      if (strcasecmp(t->str, "and") == 0) {
        t->t = T_OP; t->op = PROMQL_OP_AND;
      } else if (strcasecmp(t->str, "or") == 0) {
        t->t = T_OP; t->op = PROMQL_OP_OR;
      } else if (strcasecmp(t->str, "unless") == 0) {
        t->t = T_OP; t->op = PROMQL_OP_UNLESS;
      } else if (strcasecmp(t->str, "atan2") == 0) {
        t->t = T_OP; t->op = PROMQL_OP_ATAN2;
      }
      p->pos = i;
      return;
    }
    perr(p, p->pos, "unexpected character: '%c'", c);
    t->t = T_BAD;
    return;
  }
  p->pos += t->len;
}

static const char *op_names[] = {
    [PROMQL_OP_NONE] = "",        [PROMQL_OP_ADD] = "+",
    [PROMQL_OP_SUB] = "-",        [PROMQL_OP_MUL] = "*",
    [PROMQL_OP_DIV] = "/",        [PROMQL_OP_MOD] = "%",
    [PROMQL_OP_POW] = "^",        [PROMQL_OP_ATAN2] = "atan2",
    [PROMQL_OP_EQL] = "==",       [PROMQL_OP_NEQ] = "!=",
    [PROMQL_OP_GTR] = ">",        [PROMQL_OP_LSS] = "<",
    [PROMQL_OP_GTE] = ">=",       [PROMQL_OP_LTE] = "<=",
    [PROMQL_OP_AND] = "and",      [PROMQL_OP_OR] = "or",
    [PROMQL_OP_UNLESS] = "unless", [PROMQL_AGG_SUM] = "sum",
    [PROMQL_AGG_AVG] = "avg",     [PROMQL_AGG_COUNT] = "count",
    [PROMQL_AGG_MIN] = "min",     [PROMQL_AGG_MAX] = "max",
    [PROMQL_AGG_GROUP] = "group", [PROMQL_AGG_STDDEV] = "stddev",
    [PROMQL_AGG_STDVAR] = "stdvar", [PROMQL_AGG_TOPK] = "topk",
    [PROMQL_AGG_BOTTOMK] = "bottomk",
    [PROMQL_AGG_COUNT_VALUES] = "count_values",
    [PROMQL_AGG_QUANTILE] = "quantile", [PROMQL_AGG_LIMITK] = "limitk",
    [PROMQL_AGG_LIMIT_RATIO] = "limit_ratio",
};

const char *promql_op_name(enum promql_op op) {
  return op < TC_ARRAY_SIZE(op_names) && op_names[op] ? op_names[op] : "?";
}

const char *promql_type_name(enum promql_type t) {
  switch (t) {
  case PROMQL_TYPE_SCALAR: return "scalar";
  case PROMQL_TYPE_VECTOR: return "instant vector";
  case PROMQL_TYPE_MATRIX: return "range vector";
  case PROMQL_TYPE_STRING: return "string";
  default: return "none";
  }
}

static enum promql_op agg_op(const char *s) {
  for (int op = PROMQL_AGG_SUM; op <= PROMQL_AGG_LIMIT_RATIO; op++)
    if (strcasecmp(op_names[op], s) == 0)
      return (enum promql_op)op;
  return PROMQL_OP_NONE;
}

static bool is_comparison(enum promql_op op) {
  return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}
static bool is_setop(enum promql_op op) {
  return op >= PROMQL_OP_AND && op <= PROMQL_OP_UNLESS;
}

static int prec(enum promql_op op) {
  switch (op) {
  case PROMQL_OP_OR: return 1;
  case PROMQL_OP_AND:
  case PROMQL_OP_UNLESS: return 2;
  case PROMQL_OP_EQL: case PROMQL_OP_NEQ: case PROMQL_OP_GTR:
  case PROMQL_OP_LSS: case PROMQL_OP_GTE: case PROMQL_OP_LTE: return 3;
  case PROMQL_OP_ADD: case PROMQL_OP_SUB: return 4;
  case PROMQL_OP_MUL: case PROMQL_OP_DIV: case PROMQL_OP_MOD:
  case PROMQL_OP_ATAN2: return 5;
  case PROMQL_OP_POW: return 6;
  default: return 0;
  }
}

/* ---- AST helpers -------------------------------------------------------- */

static void strv_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void promql_expr_free(struct promql_expr *e) {
  if (!e)
    return;
  free(e->str);
  free(e->name);
  for (size_t i = 0; i < e->nmatchers; i++)
    matcher_release(&e->matchers[i]);
  free(e->matchers);
  for (size_t i = 0; i < e->nargs; i++)
    promql_expr_free(e->args[i]);
  free(e->args);
  promql_expr_free(e->param);
  strv_free(e->grouping, e->ngrouping);
  promql_expr_free(e->lhs);
  promql_expr_free(e->rhs);
  strv_free(e->match_labels, e->nmatch_labels);
  strv_free(e->include, e->ninclude);
  promql_expr_free(e->expr);
  free(e);
}

enum promql_type promql_expr_type(const struct promql_expr *e) {
  switch (e->kind) {
  case PROMQL_NUMBER: return PROMQL_TYPE_SCALAR;
  case PROMQL_STRING_LIT: return PROMQL_TYPE_STRING;
  case PROMQL_VECTOR_SEL: return PROMQL_TYPE_VECTOR;
  case PROMQL_MATRIX_SEL:
  case PROMQL_SUBQUERY: return PROMQL_TYPE_MATRIX;
  case PROMQL_CALL: return e->func->ret;
  case PROMQL_AGGREGATE: return PROMQL_TYPE_VECTOR;
  case PROMQL_BINARY:
    return promql_expr_type(e->lhs) == PROMQL_TYPE_SCALAR &&
                   promql_expr_type(e->rhs) == PROMQL_TYPE_SCALAR
               ? PROMQL_TYPE_SCALAR
               : PROMQL_TYPE_VECTOR;
  case PROMQL_UNARY:
  case PROMQL_PAREN:
  case PROMQL_STEP_INVARIANT: return promql_expr_type(e->expr);
  }
  return PROMQL_TYPE_NONE;
}

static struct promql_expr *node(enum promql_node k, int start, int end) {
  struct promql_expr *e = xcalloc(1, sizeof(*e));
  e->kind = k;
  e->pos_start = start;
  e->pos_end = end;
  return e;
}

static bool is_keyword(const char *s) {
  static const char *kw[] = {"by", "without", "on", "ignoring", "group_left",
                             "group_right", "bool", "offset"};
  for (size_t i = 0; i < TC_ARRAY_SIZE(kw); i++)
    if (strcasecmp(kw[i], s) == 0)
      return true;
  return false;
}

/* Keywords Prometheus's grammar also takes as a metric name where an
 * expression starts (metric_identifier): `by`, `offset {}`, `without`;
 * the others (on, ignoring, group_left, group_right, bool) never are. */
static bool is_name_keyword(const char *s) {
  return strcasecmp(s, "by") == 0 || strcasecmp(s, "without") == 0 ||
         strcasecmp(s, "offset") == 0;
}

static enum promql_op agg_op(const char *s);

/* Prometheus's Item.desc(): `identifier "x"`, `"}"`, `<op:+>`, `<by>`. */
static const char *tok_desc(struct parser *p, const struct token *t,
                            char *buf, size_t n) {
  static const char *punct[] = {
      [T_LPAREN] = "\"(\"",   [T_RPAREN] = "\")\"",   [T_LBRACE] = "\"{\"",
      [T_RBRACE] = "\"}\"",   [T_LBRACKET] = "\"[\"", [T_RBRACKET] = "\"]\"",
      [T_COMMA] = "\",\"",    [T_ASSIGN] = "\"=\"",   [T_COLON] = "\":\"",
      [T_AT] = "<op:@>",    [T_EQL_RE] = "<op:=~>", [T_NEQ_RE] = "<op:!~>",
  };
  switch (t->t) {
  case T_EOF: return "end of input";
  case T_IDENT:
    if (is_keyword(t->str))
      snprintf(buf, n, "<%s>", t->str);
    else if (agg_op(t->str) != PROMQL_OP_NONE)
      snprintf(buf, n, "<aggr:%s>", t->str);
    else
      snprintf(buf, n, "%sidentifier \"%s\"",
               strchr(t->str, ':') ? "metric " : "", t->str);
    return buf;
  case T_NUMBER:
    snprintf(buf, n, "number \"%.*s\"", t->len, p->in + t->pos);
    return buf;
  case T_DURATION:
    snprintf(buf, n, "duration \"%.*s\"", t->len, p->in + t->pos);
    return buf;
  case T_STRING: {
    struct tc_buf b;
    char *raw = xstrndup(p->in + t->pos, (size_t)t->len);
    tc_buf_init(&b, 0);
    tc_go_quote(&b, raw, strlen(raw));
    snprintf(buf, n, "string %s", b.data);
    tc_buf_release(&b);
    free(raw);
    return buf;
  }
  case T_OP:
    snprintf(buf, n, "<op:%s>", promql_op_name(t->op));
    return buf;
  default:
    if ((size_t)t->t < TC_ARRAY_SIZE(punct) && punct[t->t])
      return punct[t->t];
    return "token";
  }
}

static void unexpected(struct parser *p, const char *ctx) {
  char buf[160];
  const char *d = tok_desc(p, &p->tok, buf, sizeof(buf));
  if (ctx)
    perr(p, p->tok.pos, "unexpected %s %s", d, ctx);
  else
    perr(p, p->tok.pos, "unexpected %s", d);
}

static bool expect(struct parser *p, enum tok t, const char *ctx) {
  if (p->tok.t != t) {
    unexpected(p, ctx);
    return false;
  }
  next(p);
  return true;
}

static bool ident_is(const struct token *t, const char *kw) {
  return t->t == T_IDENT && strcasecmp(t->str, kw) == 0;
}

static struct promql_expr *parse_expr(struct parser *p, int minprec);

/* `(a, b, "c")` label lists for by/without/on/ignoring/group_x. */
static bool parse_label_list(struct parser *p, char ***out, size_t *n,
                             const char *what) {
  size_t cap = 0;
  if (p->tok.t != T_LPAREN) {
    char ctx[96];
    snprintf(ctx, sizeof(ctx), "%s, expected \"(\"", what);
    unexpected(p, ctx);
    return false;
  }
  next(p);
  while (p->tok.t != T_RPAREN) {
    char *name;
    if (p->tok.t == T_IDENT) {
      name = xstrdup(p->tok.str);
    } else if (p->tok.t == T_STRING) {
      name = xstrdup(p->tok.str);
    } else if (p->tok.t == T_OP && p->tok.op >= PROMQL_OP_ATAN2 &&
               (p->tok.op == PROMQL_OP_ATAN2 || is_setop(p->tok.op))) {
      name = xstrndup(p->in + p->tok.pos, (size_t)p->tok.len);
    } else {
      unexpected(p, what);
      return false;
    }
    TC_GROW(*out, cap, *n + 1);
    (*out)[(*n)++] = name;
    next(p);
    if (p->tok.t == T_COMMA) {
      next(p);
      continue;
    }
    if (p->tok.t != T_RPAREN) {
      unexpected(p, what);
      return false;
    }
  }
  next(p);
  return true;
}

/* Label matchers inside braces; p->tok is '{'. */
static bool parse_matchers(struct parser *p, struct promql_expr *vs) {
  size_t cap = 0;
  next(p);
  while (p->tok.t != T_RBRACE) {
    struct matcher m = {0};
    int pos = p->tok.pos;
    if (p->tok.t == T_IDENT || p->tok.t == T_STRING) {
      m.name = xstrdup(p->tok.str);
    } else if (p->tok.t == T_OP &&
               (p->tok.op == PROMQL_OP_ATAN2 || is_setop(p->tok.op))) {
      m.name = xstrndup(p->in + p->tok.pos, (size_t)p->tok.len);
    } else {
      unexpected(p, "in label matching, expected identifier or \"}\"");
      return false;
    }
    bool was_string = p->tok.t == T_STRING;
    next(p);
    if (was_string && (p->tok.t == T_COMMA || p->tok.t == T_RBRACE)) {
      /* {"metric.name"} */
      m.type = MATCH_EQ;
      m.value = m.name;
      m.name = xstrdup("__name__");
    } else {
      if (p->tok.t == T_IDENT && !was_string && strchr(m.name, ':')) {
        free(m.name);
        unexpected(p, "in label matching, expected label matching operator");
        return false;
      }
      switch (p->tok.t) {
      case T_ASSIGN: m.type = MATCH_EQ; break;
      case T_EQL_RE: m.type = MATCH_RE; break;
      case T_NEQ_RE: m.type = MATCH_NRE; break;
      case T_OP:
        if (p->tok.op == PROMQL_OP_NEQ) {
          m.type = MATCH_NEQ;
          break;
        }
        /* fallthrough */
      default:
        free(m.name);
        unexpected(p, "in label matching, expected label matching operator");
        return false;
      }
      next(p);
      if (p->tok.t != T_STRING) {
        free(m.name);
        unexpected(p, "in label matching, expected string");
        return false;
      }
      m.value = xstrdup(p->tok.str);
      next(p);
    }
    {
      /* m holds the parsed strings; matcher_init() copies and compiles */
      struct matcher raw = m;
      int rc = matcher_init(&m, raw.type, raw.name, raw.value);
      free(raw.name);
      free(raw.value);
      if (rc < 0) {
        perr(p, pos, "%s", tc_errmsg(rc));
        return false;
      }
    }
    TC_GROW(vs->matchers, cap, vs->nmatchers + 1);
    vs->matchers[vs->nmatchers++] = m;
    if (p->tok.t == T_COMMA) {
      next(p);
      continue;
    }
    if (p->tok.t != T_RBRACE) {
      unexpected(p, "in label matching, expected \",\" or \"}\"");
      return false;
    }
  }
  vs->pos_end = p->tok.pos + 1;
  next(p);
  return true;
}

static bool finish_selector(struct parser *p, struct promql_expr *vs) {
  bool nonempty = false;
  for (size_t i = 0; i < vs->nmatchers; i++)
    if (!matcher_matches_str(&vs->matchers[i], ""))
      nonempty = true;
  if (!nonempty)
    terr(p, vs->pos_start,
         "vector selector must contain at least one non-empty matcher");
  return true;
}

static struct promql_expr *parse_selector(struct parser *p, char *name,
                                          int start) {
  struct promql_expr *vs = node(PROMQL_VECTOR_SEL, start, p->tok.pos);
  if (name) {
    vs->name = name;
    vs->pos_end = start + (int)strlen(name);
  }
  if (p->tok.t == T_LBRACE) {
    if (!parse_matchers(p, vs))
      goto fail;
  }
  if (name) {
    /* the metric name is the first matcher */
    struct matcher m = {MATCH_EQ, xstrdup("__name__"),
                               xstrdup(name), NULL};
    for (size_t i = 0; i < vs->nmatchers; i++)
      if (strcmp(vs->matchers[i].name, "__name__") == 0) {
        perr(p, start, "metric name must not be set twice: \"%s\" or \"%s\"",
             name, vs->matchers[i].value);
        matcher_release(&m);
        goto fail;
      }
    vs->matchers = xrealloc(vs->matchers,
                            (vs->nmatchers + 1) * sizeof(vs->matchers[0]));
    memmove(vs->matchers + 1, vs->matchers,
            vs->nmatchers * sizeof(vs->matchers[0]));
    vs->matchers[0] = m;
    vs->nmatchers++;
  }
  if (!finish_selector(p, vs))
    goto fail;
  return vs;
fail:
  promql_expr_free(vs);
  return NULL;
}

static enum promql_type arg_type(const struct promql_func *f, size_t i) {
  size_t last = 0;
  for (size_t k = 0; k < TC_ARRAY_SIZE(f->args); k++)
    if (f->args[k] != PROMQL_TYPE_NONE)
      last = k;
  if (i < TC_ARRAY_SIZE(f->args) && f->args[i] != PROMQL_TYPE_NONE)
    return f->args[i];
  return f->args[last];
}

static bool check_type(struct parser *p, struct promql_expr *e,
                       enum promql_type want, const char *ctx) {
  enum promql_type got = promql_expr_type(e);
  if (got != want)
    terr(p, e->pos_start, "expected type %s in %s, got %s",
         promql_type_name(want), ctx, promql_type_name(got));
  return true;
}

static struct promql_expr *parse_call(struct parser *p, char *name, int start) {
  const struct promql_func *f = promql_func_lookup(name);
  struct promql_expr *e;
  size_t cap = 0;
  if (!f || (f->experimental && !p->exp_funcs)) {
    if (f)
      perr(p, start, "function \"%s\" is not enabled", name);
    else
      perr(p, start, "unknown function with name \"%s\"", name);
    free(name);
    return NULL;
  }
  free(name);
  e = node(PROMQL_CALL, start, 0);
  e->func = f;
  next(p); /* ( */
  while (p->tok.t != T_RPAREN) {
    struct promql_expr *a = parse_expr(p, 0);
    if (!a)
      goto fail;
    TC_GROW(e->args, cap, e->nargs + 1);
    e->args[e->nargs++] = a;
    if (p->tok.t == T_COMMA) {
      next(p);
      if (p->tok.t == T_RPAREN) {
        unexpected(p, "in function call");
        goto fail;
      }
      continue;
    }
    if (p->tok.t != T_RPAREN) {
      unexpected(p, "in function call");
      goto fail;
    }
  }
  e->pos_end = p->tok.pos + 1;
  next(p);
  {
    size_t n = e->nargs;
    size_t min = (size_t)f->nargs;
    bool ok = f->variadic == 0   ? n == min
              : f->variadic < 0 ? n >= min
                                : n >= min && n <= min + (size_t)f->variadic;
    if (!ok) {
      if (f->variadic == 0)
        terr(p, start, "expected %d argument(s) in call to \"%s\", got %zu",
             f->nargs, f->name, n);
      else if (n < min)
        terr(p, start,
             "expected at least %d argument(s) in call to \"%s\", got %zu",
             f->nargs, f->name, n);
      else
        terr(p, start,
             "expected at most %d argument(s) in call to \"%s\", got %zu",
             f->nargs + f->variadic, f->name, n);
    }
    for (size_t i = 0; i < n; i++) {
      char ctx[128];
      snprintf(ctx, sizeof(ctx), "call to function \"%s\"", f->name);
      if (!check_type(p, e->args[i], arg_type(f, i), ctx))
        goto fail;
    }
  }
  return e;
fail:
  promql_expr_free(e);
  return NULL;
}

static struct promql_expr *parse_aggregate(struct parser *p, enum promql_op op,
                                           int start) {
  struct promql_expr *e = node(PROMQL_AGGREGATE, start, 0);
  bool have_mod = false;
  e->op = op;
  if (ident_is(&p->tok, "by") || ident_is(&p->tok, "without")) {
    e->without = ident_is(&p->tok, "without");
    next(p);
    if (!parse_label_list(p, &e->grouping, &e->ngrouping, "in grouping opts"))
      goto fail;
    have_mod = true;
  }
  if (p->tok.t != T_LPAREN) {
    unexpected(p, "in aggregation");
    goto fail;
  }
  next(p);
  {
    struct promql_expr *args[3] = {NULL, NULL, NULL};
    size_t nargs = 0, want;
    bool wants_param = op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK ||
                       op == PROMQL_AGG_QUANTILE ||
                       op == PROMQL_AGG_COUNT_VALUES ||
                       op == PROMQL_AGG_LIMITK || op == PROMQL_AGG_LIMIT_RATIO;
    while (p->tok.t != T_RPAREN) {
      struct promql_expr *a = parse_expr(p, 0);
      if (!a)
        goto agg_fail;
      if (nargs < TC_ARRAY_SIZE(args))
        args[nargs] = a;
      else
        promql_expr_free(a);
      nargs++;
      if (p->tok.t == T_COMMA) {
        next(p);
        continue;
      }
      if (p->tok.t != T_RPAREN) {
        unexpected(p, "in aggregation");
        goto agg_fail;
      }
    }
    e->pos_end = p->tok.pos + 1;
    next(p);
    want = wants_param ? 2 : 1;
    if (nargs == 0) {
      perr(p, start, "no arguments for aggregate expression provided");
      goto agg_fail;
    }
    if (nargs != want) {
      perr(p, start, "wrong number of arguments for aggregate expression "
                     "provided, expected %zu, got %zu", want, nargs);
      goto agg_fail;
    }
    if (wants_param) {
      e->param = args[0];
      e->expr = args[1];
    } else {
      e->expr = args[0];
    }
    goto agg_ok;
  agg_fail:
    for (size_t i = 0; i < TC_ARRAY_SIZE(args); i++)
      promql_expr_free(args[i]);
    goto fail;
  agg_ok:;
  }
  if (ident_is(&p->tok, "by") || ident_is(&p->tok, "without")) {
    if (have_mod) {
      unexpected(p, NULL);
      goto fail;
    }
    e->without = ident_is(&p->tok, "without");
    next(p);
    if (!parse_label_list(p, &e->grouping, &e->ngrouping, "in grouping opts"))
      goto fail;
  }
  if (!check_type(p, e->expr, PROMQL_TYPE_VECTOR, "aggregation expression"))
    goto fail;
  if (e->param) {
    enum promql_type want = op == PROMQL_AGG_COUNT_VALUES ? PROMQL_TYPE_STRING
                                                          : PROMQL_TYPE_SCALAR;
    if (!check_type(p, e->param, want, "aggregation parameter"))
      goto fail;
  }
  return e;
fail:
  promql_expr_free(e);
  return NULL;
}

/* A duration or number (seconds) as milliseconds, with optional sign. */
static bool parse_duration_value(struct parser *p, int64_t *ms, bool allow_sign,
                                 const char *ctx) {
  int sign = 1;
  if (p->tok.t == T_EOF && p->after_lbracket) {
    perr(p, p->tok.pos, "unexpected end of input in duration expression");
    return false;
  }
  if (allow_sign && p->tok.t == T_OP &&
      (p->tok.op == PROMQL_OP_SUB || p->tok.op == PROMQL_OP_ADD)) {
    sign = p->tok.op == PROMQL_OP_SUB ? -1 : 1;
    next(p);
  }
  if (p->tok.t == T_DURATION) {
    *ms = sign * (int64_t)p->tok.num;
  } else if (p->tok.t == T_NUMBER) {
    double v = p->tok.num * 1000.0;
    if (!isfinite(v) || fabs(v) > 9.2e18) {
      perr(p, p->tok.pos, "duration out of range");
      return false;
    }
    *ms = sign * (int64_t)v;
  } else {
    unexpected(p, ctx);
    return false;
  }
  next(p);
  return true;
}

static struct promql_expr *parse_primary(struct parser *p) {
  struct token *t = &p->tok;
  int start = t->pos;
  switch (t->t) {
  case T_NUMBER:
  case T_DURATION: {
    struct promql_expr *e = node(PROMQL_NUMBER, start, start + t->len);
    if (t->t == T_DURATION) {
      e->num = t->num / 1000.0;
      e->num_is_duration = true;
    } else {
      e->num = t->num;
    }
    next(p);
    return e;
  }
  case T_STRING: {
    struct promql_expr *e = node(PROMQL_STRING_LIT, start, start + t->len);
    e->str = xstrdup(t->str);
    next(p);
    return e;
  }
  case T_LPAREN: {
    struct promql_expr *e, *in;
    next(p);
    in = parse_expr(p, 0);
    if (!in)
      return NULL;
    if (p->tok.t != T_RPAREN) {
      unexpected(p, "in paren expression");
      promql_expr_free(in);
      return NULL;
    }
    e = node(PROMQL_PAREN, start, p->tok.pos + 1);
    e->expr = in;
    next(p);
    return e;
  }
  case T_LBRACE:
    return parse_selector(p, NULL, start);
  case T_IDENT: {
    char *name = xstrdup(t->str);
    enum promql_op aop = agg_op(name);
    next(p);
    if (aop != PROMQL_OP_NONE &&
        (p->tok.t == T_LPAREN || ident_is(&p->tok, "by") ||
         ident_is(&p->tok, "without"))) {
      free(name);
      if ((aop == PROMQL_AGG_LIMITK || aop == PROMQL_AGG_LIMIT_RATIO) &&
          !p->exp_funcs) {
        perr(p, start,
             "%s() is experimental and must be enabled with "
             "--enable-feature=promql-experimental-functions",
             aop == PROMQL_AGG_LIMITK ? "limitk" : "limit_ratio");
        return NULL;
      }
      return parse_aggregate(p, aop, start);
    }
    if (p->tok.t == T_LPAREN)
      return parse_call(p, name, start);
    if (strcasecmp(name, "inf") == 0 || strcasecmp(name, "nan") == 0) {
      struct promql_expr *e = node(PROMQL_NUMBER, start, start + 3);
      e->num = tolower((unsigned char)name[0]) == 'i' ? INFINITY : NAN;
      free(name);
      return e;
    }
    if (is_keyword(name) && !is_name_keyword(name)) {
      perr(p, start, "unexpected <%s>", name);
      free(name);
      return NULL;
    }
    return parse_selector(p, name, start);
  }
  case T_OP:
    if (t->op == PROMQL_OP_ADD || t->op == PROMQL_OP_SUB)
      break;
    /* and, or, unless: a metric name too, as in Prometheus's grammar. */
    if (t->op == PROMQL_OP_AND || t->op == PROMQL_OP_OR ||
        t->op == PROMQL_OP_UNLESS) {
      char *name = xstrndup(p->in + t->pos, (size_t)t->len);
      next(p);
      return parse_selector(p, name, start);
    }
    /* fallthrough */
  default:
    break;
  }
  if (t->t == T_EOF)
    perr(p, t->pos, "unexpected end of input");
  else if (t->t != T_BAD)
    unexpected(p, NULL);
  return NULL;
}

static bool parse_at(struct parser *p, struct promql_expr *target, int pos) {
  if (target->at != PROMQL_AT_NONE) {
    perr(p, pos, "@ <timestamp> may not be set multiple times");
    return false;
  }
  next(p);
  if (ident_is(&p->tok, "start") || ident_is(&p->tok, "end")) {
    target->at = ident_is(&p->tok, "start") ? PROMQL_AT_START : PROMQL_AT_END;
    next(p);
    if (!expect(p, T_LPAREN, "in @, expected timestamp") ||
        !expect(p, T_RPAREN, "in @, expected timestamp"))
      return false;
    return true;
  }
  {
    int sign = 1;
    double v;
    if (p->tok.t == T_OP &&
        (p->tok.op == PROMQL_OP_SUB || p->tok.op == PROMQL_OP_ADD)) {
      sign = p->tok.op == PROMQL_OP_SUB ? -1 : 1;
      next(p);
    }
    if (p->tok.t == T_NUMBER)
      v = p->tok.num;
    else if (p->tok.t == T_IDENT && (strcasecmp(p->tok.str, "inf") == 0 ||
                                     strcasecmp(p->tok.str, "nan") == 0))
      v = tolower((unsigned char)p->tok.str[0]) == 'i' ? INFINITY : NAN;
    else if (p->tok.t == T_DURATION)
      v = p->tok.num / 1000.0;
    else {
      unexpected(p, "in @, expected timestamp");
      return false;
    }
    v *= sign;
    if (!isfinite(v) || fabs(v * 1000) > 9.2e18) {
      if (isnan(v))
        perr(p, pos, "timestamp out of bounds for @ modifier: NaN");
      else if (isinf(v))
        perr(p, pos, "timestamp out of bounds for @ modifier: %cInf",
             v > 0 ? '+' : '-');
      else
        perr(p, pos, "timestamp out of bounds for @ modifier: %f", v);
      return false;
    }
    target->at = PROMQL_AT_TIME;
    target->at_ms = (int64_t)llround(v * 1000.0);
    next(p);
  }
  return true;
}

static struct promql_expr *parse_postfix(struct parser *p,
                                         struct promql_expr *e) {
  while (e) {
    if (p->tok.t == T_LBRACKET) {
      int64_t range = 0, step = 0;
      int lb = p->tok.pos;
      bool sub = false;
      next(p);
      int dpos = p->tok.pos;
      if (!parse_duration_value(p, &range, true,
                                "in subquery selector, expected number or "
                                "duration"))
        goto fail;
      if (range <= 0) {
        perr(p, dpos, "duration must be greater than 0");
        goto fail;
      }
      if (p->tok.t == T_COLON) {
        sub = true;
        next(p);
        int spos = p->tok.pos;
        if (p->tok.t == T_COLON) {
          perr(p, p->tok.pos, "unexpected colon ':'");
          goto fail;
        }
        if (p->tok.t != T_RBRACKET &&
            !parse_duration_value(p, &step, true,
                                  "in subquery selector, expected number or "
                                  "duration"))
          goto fail;
        if (p->tok.t == T_COLON) {
          perr(p, p->tok.pos, "unexpected colon ':'");
          goto fail;
        }
        if (p->tok.t != T_RBRACKET || step < 0 ||
            (step == 0 && p->in[spos] != ']')) {
          if (step <= 0 && p->in[spos] != ']') {
            perr(p, spos, "duration must be greater than 0");
            goto fail;
          }
        }
      }
      if (p->tok.t != T_RBRACKET) {
        unexpected(p, sub ? "in subquery selector" : "in range selector");
        goto fail;
      }
      int end = p->tok.pos + 1;
      next(p);
      if (!sub) {
        struct promql_expr *m;
        if (e->kind != PROMQL_VECTOR_SEL) {
          perr(p, lb, "ranges only allowed for vector selectors");
          goto fail;
        }
        if (e->offset_ms || e->at != PROMQL_AT_NONE) {
          perr(p, lb, "no offset modifiers allowed before range");
          goto fail;
        }
        m = node(PROMQL_MATRIX_SEL, e->pos_start, end);
        m->expr = e;
        m->range_ms = range;
        e = m;
      } else {
        struct promql_expr *s;
        enum promql_type ty = promql_expr_type(e);
        if (ty != PROMQL_TYPE_VECTOR)
          terr(p, e->pos_start,
               "subquery is only allowed on instant vector, got %s instead",
               vtype_name(ty));
        s = node(PROMQL_SUBQUERY, e->pos_start, end);
        s->expr = e;
        s->range_ms = range;
        s->step_ms = step;
        e = s;
      }
      continue;
    }
    if (ident_is(&p->tok, "offset") || p->tok.t == T_AT) {
      bool is_at = p->tok.t == T_AT;
      struct promql_expr *target = e;
      if (e->kind == PROMQL_MATRIX_SEL)
        target = e->expr;
      else if (e->kind != PROMQL_VECTOR_SEL && e->kind != PROMQL_SUBQUERY) {
        if (is_at)
          perr(p, e->pos_start, "@ modifier must be preceded by an instant "
                              "vector selector or range vector selector or "
                              "a subquery");
        else
          perr(p, e->pos_start, "offset modifier must be preceded by an "
                              "instant vector selector or range vector "
                              "selector or a subquery");
        goto fail;
      }
      if (is_at) {
        if (!parse_at(p, target, e->pos_start))
          goto fail;
      } else {
        int64_t off;
        if (target->offset_ms) {
          perr(p, e->pos_start, "offset may not be set multiple times");
          goto fail;
        }
        next(p);
        if (!parse_duration_value(p, &off, true, "in offset, expected number or duration"))
          goto fail;
        target->offset_ms = off;
      }
      e->pos_end = p->tok.pos;
      continue;
    }
    break;
  }
  return e;
fail:
  promql_expr_free(e);
  return NULL;
}

static struct promql_expr *parse_unary(struct parser *p) {
  if (p->tok.t == T_OP &&
      (p->tok.op == PROMQL_OP_ADD || p->tok.op == PROMQL_OP_SUB)) {
    enum promql_op op = p->tok.op;
    int start = p->tok.pos;
    struct promql_expr *in, *e;
    next(p);
    in = parse_expr(p, prec(PROMQL_OP_POW));
    if (!in)
      return NULL;
    if (in->kind == PROMQL_NUMBER) {
      if (op == PROMQL_OP_SUB)
        in->num = -in->num;
      in->pos_start = start;
      return in;
    }
    {
      enum promql_type ty = promql_expr_type(in);
      if (ty != PROMQL_TYPE_SCALAR && ty != PROMQL_TYPE_VECTOR)
        terr(p, start, "unary expression only allowed on expressions of type "
                       "scalar or instant vector, got \"%s\"",
             promql_type_name(ty));
    }
    e = node(PROMQL_UNARY, start, in->pos_end);
    e->op = op;
    e->expr = in;
    return e;
  }
  return parse_postfix(p, parse_primary(p));
}

static bool str_in(char **v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0)
      return true;
  return false;
}

static struct promql_expr *parse_expr(struct parser *p, int minprec) {
  struct promql_expr *lhs;
  if (++p->depth > 1000) {
    perr(p, p->tok.pos, "expression nested too deeply");
    p->depth--;
    return NULL;
  }
  lhs = parse_unary(p);
  while (lhs && p->tok.t == T_OP && prec(p->tok.op) >= minprec) {
    enum promql_op op = p->tok.op;
    int oppos = p->tok.pos;
    int pr = prec(op);
    struct promql_expr *e = node(PROMQL_BINARY, lhs->pos_start, 0);
    e->op = op;
    e->lhs = lhs;
    lhs = NULL;
    next(p);
    if (ident_is(&p->tok, "bool")) {
      e->return_bool = true;
      next(p);
    }
    if (ident_is(&p->tok, "on") || ident_is(&p->tok, "ignoring")) {
      e->on = ident_is(&p->tok, "on");
      e->has_matching = true;
      next(p);
      if (!parse_label_list(p, &e->match_labels, &e->nmatch_labels,
                            "in grouping opts"))
        goto fail;
      if (ident_is(&p->tok, "group_left") || ident_is(&p->tok, "group_right")) {
        e->card = ident_is(&p->tok, "group_left") ? PROMQL_CARD_MANY_TO_ONE
                                                  : PROMQL_CARD_ONE_TO_MANY;
        next(p);
        if (p->tok.t == T_LPAREN &&
            !parse_label_list(p, &e->include, &e->ninclude,
                              "in grouping opts"))
          goto fail;
      }
    } else if (ident_is(&p->tok, "group_left") ||
               ident_is(&p->tok, "group_right")) {
      perr(p, p->tok.pos, "unexpected <group_%s>",
           ident_is(&p->tok, "group_left") ? "left" : "right");
      goto fail;
    }
    e->rhs = parse_expr(p, op == PROMQL_OP_POW ? pr : pr + 1);
    if (!e->rhs)
      goto fail;
    e->pos_end = e->rhs->pos_end;
    {
      enum promql_type lt = promql_expr_type(e->lhs),
                       rt = promql_expr_type(e->rhs);
      bool lok = lt == PROMQL_TYPE_SCALAR || lt == PROMQL_TYPE_VECTOR;
      bool rok = rt == PROMQL_TYPE_SCALAR || rt == PROMQL_TYPE_VECTOR;
      if (e->return_bool && !is_comparison(op))
        terr(p, oppos, "bool modifier can only be used on comparison operators");
      if (is_comparison(op) && !e->return_bool && lt == PROMQL_TYPE_SCALAR &&
          rt == PROMQL_TYPE_SCALAR)
        terr(p, oppos, "comparisons between scalars must use BOOL modifier");
      if (!lok || !rok)
        terr(p, !lok ? e->lhs->pos_start : e->rhs->pos_start,
             "binary expression must contain only scalar and instant vector "
             "types");
      if (is_setop(op) &&
          (lt == PROMQL_TYPE_SCALAR || rt == PROMQL_TYPE_SCALAR))
        terr(p, e->pos_start,
             "set operator \"%s\" not allowed in binary scalar expression",
             promql_op_name(op));
      if (e->has_matching &&
          (lt != PROMQL_TYPE_VECTOR || rt != PROMQL_TYPE_VECTOR)) {
        /* as Prometheus: an error only with matching labels; otherwise
         * the matching clause is dropped */
        if (e->nmatch_labels)
          terr(p, e->pos_start,
               "vector matching only allowed between instant vectors");
        e->has_matching = false;
        e->on = false;
        e->card = PROMQL_CARD_ONE_TO_ONE;
      }
      if (lt == PROMQL_TYPE_VECTOR && rt == PROMQL_TYPE_VECTOR)
        e->has_matching = true;
      if (is_setop(op)) {
        if (e->card == PROMQL_CARD_MANY_TO_ONE ||
            e->card == PROMQL_CARD_ONE_TO_MANY)
          terr(p, e->pos_start, "no grouping allowed for \"%s\" operation",
               promql_op_name(op));
        if (e->has_matching)
          e->card = PROMQL_CARD_MANY_TO_MANY;
      }
      if ((e->card == PROMQL_CARD_MANY_TO_ONE ||
           e->card == PROMQL_CARD_ONE_TO_MANY) && e->on)
        for (size_t i = 0; i < e->ninclude; i++)
          if (str_in(e->match_labels, e->nmatch_labels, e->include[i])) {
            terr(p, oppos,
                 "label \"%s\" must not occur in ON and GROUP clause at once",
                 e->include[i]);
            break;
          }
    }
    lhs = e;
    continue;
  fail:
    promql_expr_free(e);
    lhs = NULL;
    break;
  }
  p->depth--;
  return lhs;
}

int promql_parse(const char *query, const struct promql_parse_opts *opts,
                 struct promql_expr **out, char **errmsg) {
  struct parser p = {0};
  struct promql_expr *e;
  *out = NULL;
  *errmsg = NULL;
  p.in = query;
  p.len = (int)strlen(query);
  p.exp_funcs = opts && opts->experimental_functions;
  next(&p);
  if (p.tok.t == T_EOF && !p.err) {
    perr(&p, 0, "no expression found in input");
  }
  e = p.err ? NULL : parse_expr(&p, 0);
  if (e && p.tok.t != T_EOF) {
    if (p.tok.t == T_RPAREN)
      perr(&p, p.tok.pos, "unexpected right parenthesis ')'");
    else
      unexpected(&p, NULL);
  }
  free(p.tok.str);
  if (!p.err && p.terr) {
    p.err = p.terr;
    p.terr = NULL;
  }
  free(p.terr);
  if (p.err) {
    promql_expr_free(e);
    *errmsg = p.err;
    return tc_error(TC_EPARSE, "%s", p.err);
  }
  *out = e;
  return 0;
}

int promql__parse_metric(const char *s, size_t len, struct labels *out,
                         size_t *consumed, char **errmsg) {
  struct parser p = {0};
  char *copy = xstrndup(s, len);
  struct promql_expr *e = NULL;
  int rc = 0;
  memset(out, 0, sizeof(*out));
  p.in = copy;
  p.len = (int)len;
  next(&p);
  if (p.tok.t == T_IDENT) {
    char *name = xstrdup(p.tok.str);
    int start = p.tok.pos;
    next(&p);
    e = parse_selector(&p, name, start);
  } else if (p.tok.t == T_LBRACE) {
    e = parse_selector(&p, NULL, p.tok.pos);
  } else {
    unexpected(&p, "in series description");
  }
  if (e) {
    for (size_t i = 0; i < e->nmatchers; i++) {
      if (e->matchers[i].type != MATCH_EQ) {
        perr(&p, 0, "only equality matchers allowed in series description");
        break;
      }
      promql_labels_set(out, e->matchers[i].name, e->matchers[i].value);
    }
    *consumed = (size_t)e->pos_end;
  }
  free(p.tok.str);
  free(p.terr);
  if (p.err || !e) {
    labels_release(out);
    *errmsg = p.err ? p.err : xstrdup("bad series description");
    rc = TC_EPARSE;
  }
  promql_expr_free(e);
  free(copy);
  return rc;
}
