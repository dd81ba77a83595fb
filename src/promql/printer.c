/*
 * printer.c - Prometheus's String() of a PromQL AST: the normalised form
 * `thanosc tools promql parse` prints and error messages quote. Matchers
 * are sorted, the metric name is hoisted, durations print as Go's
 * model.Duration and numbers as strconv.FormatFloat(v, 'f', -1, 64).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"

char *promql_duration_string(int64_t ms) {
  static const struct {
    const char *unit;
    int64_t mult;
    bool exact;
  } units[] = {{"y", 31536000000LL, true}, {"w", 604800000LL, true},
               {"d", 86400000LL, false},   {"h", 3600000LL, false},
               {"m", 60000LL, false},      {"s", 1000LL, false},
               {"ms", 1LL, false}};
  struct tc_buf b;
  tc_buf_init(&b, 0);
  if (ms == 0)
    return xstrdup("0s");
  if (ms < 0) {
    tc_buf_addc(&b, '-');
    ms = -ms;
  }
  for (size_t i = 0; i < TC_ARRAY_SIZE(units); i++) {
    if (units[i].exact && ms % units[i].mult)
      continue;
    int64_t v = ms / units[i].mult;
    if (v > 0) {
      tc_buf_addf(&b, "%" PRId64 "%s", v, units[i].unit);
      ms -= v * units[i].mult;
    }
  }
  return tc_buf_detach(&b, NULL);
}

static void add_duration(struct tc_buf *b, int64_t ms) {
  char *s = promql_duration_string(ms);
  tc_buf_adds(b, s);
  free(s);
}

static void add_label_name(struct tc_buf *b, const char *n) {
  if (promql__valid_label_name(n))
    tc_buf_adds(b, n);
  else
    tc_go_quote(b, n, strlen(n));
}

static void add_labels(struct tc_buf *b, char **v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i)
      tc_buf_adds(b, ", ");
    add_label_name(b, v[i]);
  }
}

static int strp_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_at_offset(struct tc_buf *b, const struct promql_expr *e) {
  switch (e->at) {
  case PROMQL_AT_TIME:
    tc_buf_adds(b, " @ ");
    {
      /* %.3f of seconds, without float rounding surprises */
      int64_t ms = e->at_ms;
      if (ms < 0) {
        tc_buf_addc(b, '-');
        ms = -ms;
      }
      tc_buf_addf(b, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
    }
    break;
  case PROMQL_AT_START:
    tc_buf_adds(b, " @ start()");
    break;
  case PROMQL_AT_END:
    tc_buf_adds(b, " @ end()");
    break;
  default:
    break;
  }
  if (e->offset_ms > 0) {
    tc_buf_adds(b, " offset ");
    add_duration(b, e->offset_ms);
  } else if (e->offset_ms < 0) {
    tc_buf_adds(b, " offset -");
    add_duration(b, -e->offset_ms);
  }
}

static void add_selector(struct tc_buf *b, const struct promql_expr *e) {
  char **ms = xcalloc(e->nmatchers + 1, sizeof(char *));
  size_t n = 0;
  static const char *ops[] = {"=", "!=", "=~", "!~"};
  for (size_t i = 0; i < e->nmatchers; i++) {
    const struct matcher *m = &e->matchers[i];
    struct tc_buf mb;
    if (e->name && m->type == MATCH_EQ &&
        strcmp(m->name, "__name__") == 0 && strcmp(m->value, e->name) == 0 &&
        *m->value)
      continue;
    tc_buf_init(&mb, 0);
    add_label_name(&mb, m->name);
    tc_buf_adds(&mb, ops[m->type]);
    tc_go_quote(&mb, m->value, strlen(m->value));
    ms[n++] = tc_buf_detach(&mb, NULL);
  }
  if (e->name)
    tc_buf_adds(b, e->name);
  if (n) {
    qsort(ms, n, sizeof(char *), strp_cmp);
    tc_buf_addc(b, '{');
    for (size_t i = 0; i < n; i++) {
      if (i)
        tc_buf_addc(b, ',');
      tc_buf_adds(b, ms[i]);
      free(ms[i]);
    }
    tc_buf_addc(b, '}');
  }
  free(ms);
}

static void print(struct tc_buf *b, const struct promql_expr *e) {
  switch (e->kind) {
  case PROMQL_NUMBER:
    if (e->num_is_duration) {
      double ms = e->num * 1000.0;
      if (ms < 0) {
        tc_buf_addc(b, '-');
        ms = -ms;
      }
      add_duration(b, (int64_t)ms);
    } else {
      promql__fmt_float(b, e->num);
    }
    break;
  case PROMQL_STRING_LIT:
    tc_go_quote(b, e->str, strlen(e->str));
    break;
  case PROMQL_VECTOR_SEL:
    add_selector(b, e);
    add_at_offset(b, e);
    break;
  case PROMQL_MATRIX_SEL:
    add_selector(b, e->expr);
    tc_buf_addc(b, '[');
    add_duration(b, e->range_ms);
    tc_buf_addc(b, ']');
    add_at_offset(b, e->expr);
    break;
  case PROMQL_SUBQUERY:
    print(b, e->expr);
    tc_buf_addc(b, '[');
    add_duration(b, e->range_ms);
    tc_buf_addc(b, ':');
    if (e->step_ms)
      add_duration(b, e->step_ms);
    tc_buf_addc(b, ']');
    add_at_offset(b, e);
    break;
  case PROMQL_CALL:
    tc_buf_adds(b, e->func->name);
    tc_buf_addc(b, '(');
    for (size_t i = 0; i < e->nargs; i++) {
      if (i)
        tc_buf_adds(b, ", ");
      print(b, e->args[i]);
    }
    tc_buf_addc(b, ')');
    break;
  case PROMQL_AGGREGATE:
    tc_buf_adds(b, promql_op_name(e->op));
    if (e->without) {
      tc_buf_adds(b, " without (");
      add_labels(b, e->grouping, e->ngrouping);
      tc_buf_adds(b, ") ");
    } else if (e->ngrouping) {
      tc_buf_adds(b, " by (");
      add_labels(b, e->grouping, e->ngrouping);
      tc_buf_adds(b, ") ");
    }
    tc_buf_addc(b, '(');
    if (e->param) {
      print(b, e->param);
      tc_buf_adds(b, ", ");
    }
    print(b, e->expr);
    tc_buf_addc(b, ')');
    break;
  case PROMQL_BINARY:
    print(b, e->lhs);
    tc_buf_addc(b, ' ');
    tc_buf_adds(b, promql_op_name(e->op));
    if (e->return_bool)
      tc_buf_adds(b, " bool");
    if (e->has_matching) {
      bool grouped = e->card == PROMQL_CARD_MANY_TO_ONE ||
                     e->card == PROMQL_CARD_ONE_TO_MANY;
      if (e->nmatch_labels || e->on || grouped) {
        tc_buf_adds(b, e->on ? " on (" : " ignoring (");
        add_labels(b, e->match_labels, e->nmatch_labels);
        tc_buf_addc(b, ')');
      }
      if (grouped) {
        tc_buf_adds(b, e->card == PROMQL_CARD_MANY_TO_ONE ? " group_left ("
                                                          : " group_right (");
        add_labels(b, e->include, e->ninclude);
        tc_buf_addc(b, ')');
      }
    }
    tc_buf_addc(b, ' ');
    print(b, e->rhs);
    break;
  case PROMQL_UNARY:
    tc_buf_adds(b, promql_op_name(e->op));
    print(b, e->expr);
    break;
  case PROMQL_PAREN:
    tc_buf_addc(b, '(');
    print(b, e->expr);
    tc_buf_addc(b, ')');
    break;
  case PROMQL_STEP_INVARIANT:
    print(b, e->expr);
    break;
  }
}

char *promql_expr_string(const struct promql_expr *e) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_adds(&b, "");
  print(&b, e);
  return tc_buf_detach(&b, NULL);
}
