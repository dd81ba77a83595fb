/*
 * query_params.h - HTTP API parameters of Thanos Query, parsed and
 * validated exactly as thanos pkg/api/query/v1.go does (names, defaults,
 * order of checks and error texts; shared/spec/http-api.md section 2 and 8).
 *
 * Input is the request's (key, value) pairs, already percent-decoded, in
 * Go's Request.Form order (form body first, then the query string); the
 * layout of struct qparam matches struct http_param of http.h, so the HTTP
 * layer's array can be viewed as a qparam array. A key's "value" is its
 * first value; an absent key and an empty value are the same, as with Go's
 * FormValue.
 *
 * Every parser returns 0 or TC_EINVAL with the exact user-facing message in
 * tc_errmsg(); the HTTP layer answers it as errorType "bad_data" (400).
 * Results borrow strings from the input pairs and from the defaults, so
 * both must outlive them; the arrays inside a result are owned and freed
 * by query_req_release().
 *
 * Series selectors (match[], storeMatch[]) are validated through a hook,
 * query_defaults.check_selector: query_check_selector() below checks them
 * with the PromQL engine's parser and Prometheus's ParseMetricSelector
 * messages. With no hook, selectors are passed through unchecked.
 */
#ifndef THANOSC_QUERY_PARAMS_H
#define THANOSC_QUERY_PARAMS_H

#include <stddef.h>
#include <stdint.h>

struct tc_buf;

struct qparam {
  const char *key;
  const char *value; /* '\0'-terminated; may contain '\0' before len */
  size_t value_len;
};

struct qparams {
  const struct qparam *v; /* borrowed */
  size_t n;
};

/* First value of key or NULL (borrowed). */
const char *qparams_get(const struct qparams *p, const char *key,
                        size_t *len /* OUT, may be NULL */);
/* Number of values of key. */
size_t qparams_count(const struct qparams *p, const char *key);

/* A list of borrowed strings; the array itself is owned. */
struct qstrs {
  const char **v;
  size_t n;
};

/*
 * Checks one series selector. Returns 0, or TC_EPARSE with the parser's
 * message; sets *has_nonempty to whether some matcher does not match the
 * empty string.
 */
typedef int query_check_selector_fn(void *ctx, const char *selector,
                                    int *has_nonempty /* OUT */);

/* A query_check_selector_fn over the PromQL parser (src/query/selector.c);
 * ctx is unused. */
int query_check_selector(void *ctx, const char *selector, int *has_nonempty);
/* The matchers of a selector (as query_check_selector() accepts it),
 * appended to out (initialised to {0} by the caller, freed with
 * matchers_release()): what a StoreAPI request for match[] or a
 * storeMatch[] filter needs. TC_EPARSE as query_check_selector(). */
struct matchers;
int query_selector_matchers(const char *selector, struct matchers *out);

enum query_engine {
  QUERY_ENGINE_PROMETHEUS,
  QUERY_ENGINE_THANOS,
};

/* Server-side defaults (flags of `thanos query`). */
struct query_defaults {
  int64_t now_ms;                 /* "time" default for instant queries */
  int partial_response;           /* --query.partial-response */
  struct qstrs replica_labels;    /* --query.replica-label (borrowed) */
  int auto_downsampling;          /* --query.auto-downsampling */
  int64_t default_step_ns;        /* --query.default-step (1s) */
  /* --query.instant.default.max_source_resolution (0) */
  int64_t instant_max_source_resolution_ns;
  /* --query.metadata.default-time-range (0 = unbounded) */
  int64_t metadata_range_ns;
  enum query_engine engine;       /* --query.promql-engine */
  query_check_selector_fn *check_selector; /* NULL: not checked */
  void *check_ctx;
};

/* The Thanos extras shared by the query endpoints. */
struct query_opts {
  int dedup;                       /* "dedup", default true */
  int partial_response;            /* "partial_response" */
  struct qstrs replica_labels;     /* "replicaLabels[]" or the flag */
  struct qstrs store_matchers;     /* "storeMatch[]" selectors */
  int64_t max_source_resolution_ms;/* "max_source_resolution" */
  enum query_engine engine;        /* "engine" */
  int64_t lookback_delta_ms;       /* "lookback_delta", 0 = engine default */
  int64_t timeout_ms;              /* "timeout", 0 = none, -1 = expired */
  int stats;                       /* "stats" non-empty */
  int analyze;                     /* "analyze" is "true" or "1" */
};

/* /api/v1/query */
struct query_instant_req {
  const char *query; /* "" when absent */
  int64_t time_ms;
  struct query_opts o;
};

/* /api/v1/query_range */
struct query_range_req {
  const char *query;
  int64_t start_ms, end_ms;
  int64_t step_ms;   /* step in ms (the engine's unit) */
  int64_t step_ns;   /* as parsed, for exact checks */
  struct query_opts o;
};

/* /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values */
struct query_meta_req {
  int64_t start_ms, end_ms;
  struct qstrs matchers;       /* "match[]" selectors */
  size_t limit;                /* 0 = none */
  int dedup;                   /* series only */
  int partial_response;
  struct qstrs replica_labels; /* series only */
  struct qstrs store_matchers;
  const char *label_name;      /* label values only (borrowed) */
};

int query_parse_instant(const struct qparams *p, const struct query_defaults *d,
                        struct query_instant_req *out /* OUT */);
int query_parse_range(const struct qparams *p, const struct query_defaults *d,
                      struct query_range_req *out /* OUT */);
int query_parse_series(const struct qparams *p, const struct query_defaults *d,
                       struct query_meta_req *out /* OUT */);
int query_parse_labels(const struct qparams *p, const struct query_defaults *d,
                       struct query_meta_req *out /* OUT */);
/* name is the <label_name> path segment (already decoded). */
int query_parse_label_values(const struct qparams *p,
                             const struct query_defaults *d, const char *name,
                             struct query_meta_req *out /* OUT */);

void query_opts_release(struct query_opts *o);
void query_meta_req_release(struct query_meta_req *r);

/*
 * The engine's lookback delta for a query, as Thanos's
 * LookbackDeltaFactory picks it: lookback_ms is --query.lookback-delta
 * (0 means Prometheus's 5m), dynamic is --query.dynamic-lookback-delta.
 * With dynamic lookback a max_source_resolution above the raw level (or
 * above the 5m level) raises the lookback to at least 5m (1h). A request's
 * own lookback_delta parameter, when > 0, replaces this value.
 */
int64_t query_lookback_delta(int64_t lookback_ms, int dynamic,
                             int64_t max_source_resolution_ms);

/* ---- the value parsers, exposed for reuse and tests ---- */

/* Prometheus/Thanos API time: float seconds (rounded to ms), RFC3339 with
 * optional fraction and offset, or the min/max literal strings.
 * "cannot parse \"x\" to a valid timestamp". */
int query_parse_time(const char *s, size_t n, int64_t *ms /* OUT */);
/* Float seconds or a Prometheus duration (1h30m, 5m, 500ms), in ns.
 * "cannot parse \"x\" to a valid duration". */
int query_parse_duration(const char *s, size_t n, int64_t *ns /* OUT */);
/* Prometheus model.ParseDuration alone (y w d h m s ms, in order), ns. */
int query_parse_prom_duration(const char *s, size_t n, int64_t *ns);
/* Go strconv.ParseFloat syntax (decimal, hex with p exponent, inf, nan). */
int query_parse_go_float(const char *s, size_t n, double *v /* OUT */);
/* Go strconv.ParseBool. */
int query_parse_go_bool(const char *s, size_t n, int *v /* OUT */);
/* Appends s quoted like Go's %q / strconv.Quote. */
int query_go_quote(struct tc_buf *b, const char *s, size_t n);

/* The literal strings clients send for unbounded time and their values. */
#define QUERY_MIN_TIME_STR "-292273086-05-16T16:47:06Z"
#define QUERY_MAX_TIME_STR "292277025-08-18T07:12:54.999999999Z"
#define QUERY_MIN_TIME_MS (-9223309901257974000LL)
#define QUERY_MAX_TIME_MS (9223309901257974999LL)

#endif
