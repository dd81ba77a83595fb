/*
 * json.c - query results as the Prometheus HTTP API writes them
 * (/api/v1/query and /api/v1/query_range bodies): resultType and result,
 * timestamps in seconds with millisecond decimals, values as strings
 * formatted like Go's strconv.FormatFloat(v, 'f', -1, 64), and the
 * error body with errorType. Used by the querier's API and the tools.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/error.h"

static void add_ts(struct tc_buf *b, int64_t ms) {
  int64_t a = ms < 0 ? -ms : ms;
  if (ms < 0)
    tc_buf_addc(b, '-');
  tc_buf_addf(b, "%" PRId64, a / 1000);
  if (a % 1000) {
    char frac[8];
    int n = snprintf(frac, sizeof(frac), "%03d", (int)(a % 1000));
    while (n > 0 && frac[n - 1] == '0')
      frac[--n] = 0;
    tc_buf_addf(b, ".%s", frac);
  }
}

/* A JSON string (UTF-8 passed through, controls escaped). */
static void add_str(struct tc_buf *b, const char *s) {
  tc_buf_addc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      tc_buf_addc(b, '\\');
      tc_buf_addc(b, (char)*p);
    } else if (*p == '\n') {
      tc_buf_adds(b, "\\n");
    } else if (*p == '\t') {
      tc_buf_adds(b, "\\t");
    } else if (*p == '\r') {
      tc_buf_adds(b, "\\r");
    } else if (*p < 0x20) {
      tc_buf_addf(b, "\\u%04x", *p);
    } else {
      tc_buf_addc(b, (char)*p);
    }
  }
  tc_buf_addc(b, '"');
}

static void add_point(struct tc_buf *b, int64_t t, double v) {
  tc_buf_addc(b, '[');
  add_ts(b, t);
  tc_buf_adds(b, ",\"");
  promql__fmt_float(b, v);
  tc_buf_adds(b, "\"]");
}

static void add_metric(struct tc_buf *b, const struct labels *l) {
  tc_buf_adds(b, "{\"metric\":{");
  for (size_t i = 0; i < l->n; i++) {
    if (i)
      tc_buf_addc(b, ',');
    add_str(b, l->v[i].name);
    tc_buf_addc(b, ':');
    add_str(b, l->v[i].value);
  }
  tc_buf_addc(b, '}');
}

void promql_result_json(const struct promql_result *r, struct tc_buf *b) {
  static const char *types[] = {
      [PROMQL_TYPE_SCALAR] = "scalar", [PROMQL_TYPE_VECTOR] = "vector",
      [PROMQL_TYPE_MATRIX] = "matrix", [PROMQL_TYPE_STRING] = "string"};
  tc_buf_adds(b, "{\"status\":\"success\",\"data\":{\"resultType\":\"");
  tc_buf_adds(b, r->type <= PROMQL_TYPE_STRING && types[r->type]
                     ? types[r->type]
                     : "vector");
  tc_buf_adds(b, "\",\"result\":");
  switch (r->type) {
  case PROMQL_TYPE_SCALAR:
    add_point(b, r->t, r->scalar);
    break;
  case PROMQL_TYPE_STRING:
    tc_buf_addc(b, '[');
    add_ts(b, r->t);
    tc_buf_addc(b, ',');
    add_str(b, r->str ? r->str : "");
    tc_buf_addc(b, ']');
    break;
  default:
    tc_buf_addc(b, '[');
    for (size_t i = 0; i < r->nseries; i++) {
      const struct promql_series *s = &r->series[i];
      if (i)
        tc_buf_addc(b, ',');
      add_metric(b, &s->labels);
      if (r->type == PROMQL_TYPE_VECTOR) {
        tc_buf_adds(b, ",\"value\":");
        add_point(b, s->points[0].t, s->points[0].v);
      } else {
        tc_buf_adds(b, ",\"values\":[");
        for (size_t j = 0; j < s->npoints; j++) {
          if (j)
            tc_buf_addc(b, ',');
          add_point(b, s->points[j].t, s->points[j].v);
        }
        tc_buf_addc(b, ']');
      }
      tc_buf_addc(b, '}');
    }
    tc_buf_addc(b, ']');
    break;
  }
  tc_buf_addc(b, '}');
  /* annotations: "PromQL info: ..." go to infos, the rest to warnings */
  for (int info = 0; info <= 1; info++) {
    bool first = true;
    for (size_t i = 0; i < r->nwarnings; i++) {
      bool is_info = strncmp(r->warnings[i], "PromQL info:", 12) == 0;
      if (is_info != (bool)info)
        continue;
      tc_buf_adds(b, first ? (info ? ",\"infos\":[" : ",\"warnings\":[")
                           : ",");
      first = false;
      add_str(b, r->warnings[i]);
    }
    if (!first)
      tc_buf_addc(b, ']');
  }
  tc_buf_addc(b, '}');
}

const char *promql_error_type(int code) {
  switch (code) {
  case TC_EPARSE:
  case TC_EINVAL:
    return "bad_data";
  case TC_ECANCELED:
    return "canceled";
  case TC_ETIMEOUT:
    return "timeout";
  default:
    return "execution";
  }
}

void promql_error_json(int code, const char *msg, struct tc_buf *b) {
  tc_buf_adds(b, "{\"status\":\"error\",\"errorType\":\"");
  tc_buf_adds(b, promql_error_type(code));
  tc_buf_adds(b, "\",\"error\":");
  add_str(b, msg ? msg : "");
  tc_buf_addc(b, '}');
}
