/*
 * promql.h - the PromQL engine: parser, printer, queryable interface and
 * evaluator for instant and range queries (Prometheus 3.x semantics).
 *
 * Invariants:
 *  - Label sets (thanosc/labels.h) are sorted by name, names are unique;
 *    the engine's own sets own their strings.
 *  - Timestamps are int64 milliseconds since the epoch; values are doubles.
 *  - Nothing here keeps global mutable state: one engine may run many
 *    queries concurrently on different threads, each query with its own
 *    queryable.
 *
 * The engine pulls samples through `struct promql_queryable`: select() gets
 * matchers, a time range and hints, and returns a series set; a series is a
 * label set plus a sample iterator (next/seek/at/err). Where the samples come
 * from (memory, a TSDB block, a remote StoreAPI) does not matter.
 */
#ifndef THANOSC_PROMQL_H
#define THANOSC_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/labels.h"

/* ---- labels and matchers ------------------------------------------------ */

/* Label sets and matchers are thanosc/labels.h's. Helpers for the edits
 * PromQL makes on owned label sets (the set stays sorted): */

/* Sets (or, with value NULL or "", deletes) a label. */
void promql_labels_set(struct labels *ls, const char *name, const char *value);
void promql_labels_del(struct labels *ls, const char *name);
/* `{a="b", c="d"}` as Prometheus prints a label set; caller frees. */
char *promql_labels_string(const struct labels *ls);
/* Do all n matchers accept the label set (absent labels are "")? */
bool promql_matchers_match(const struct matcher *ms, size_t n,
                           const struct labels *ls);

/* ---- AST ---------------------------------------------------------------- */

enum promql_type {
  PROMQL_TYPE_NONE,
  PROMQL_TYPE_SCALAR,
  PROMQL_TYPE_VECTOR, /* instant vector */
  PROMQL_TYPE_MATRIX, /* range vector */
  PROMQL_TYPE_STRING,
};
/* "scalar", "instant vector", "range vector", "string". */
const char *promql_type_name(enum promql_type t);

enum promql_node {
  PROMQL_NUMBER,
  PROMQL_STRING_LIT,
  PROMQL_VECTOR_SEL,
  PROMQL_MATRIX_SEL,
  PROMQL_SUBQUERY,
  PROMQL_CALL,
  PROMQL_AGGREGATE,
  PROMQL_BINARY,
  PROMQL_UNARY,
  PROMQL_PAREN,
  PROMQL_STEP_INVARIANT, /* never produced by the parser today */
};

/* Operators and aggregations: values index promql_op_name(). */
enum promql_op {
  PROMQL_OP_NONE,
  PROMQL_OP_ADD, PROMQL_OP_SUB, PROMQL_OP_MUL, PROMQL_OP_DIV,
  PROMQL_OP_MOD, PROMQL_OP_POW, PROMQL_OP_ATAN2,
  PROMQL_OP_EQL, PROMQL_OP_NEQ, PROMQL_OP_GTR, PROMQL_OP_LSS,
  PROMQL_OP_GTE, PROMQL_OP_LTE,
  PROMQL_OP_AND, PROMQL_OP_OR, PROMQL_OP_UNLESS,
  /* aggregations */
  PROMQL_AGG_SUM, PROMQL_AGG_AVG, PROMQL_AGG_COUNT, PROMQL_AGG_MIN,
  PROMQL_AGG_MAX, PROMQL_AGG_GROUP, PROMQL_AGG_STDDEV, PROMQL_AGG_STDVAR,
  PROMQL_AGG_TOPK, PROMQL_AGG_BOTTOMK, PROMQL_AGG_COUNT_VALUES,
  PROMQL_AGG_QUANTILE, PROMQL_AGG_LIMITK, PROMQL_AGG_LIMIT_RATIO,
};
const char *promql_op_name(enum promql_op op);

enum promql_card {
  PROMQL_CARD_ONE_TO_ONE,
  PROMQL_CARD_MANY_TO_ONE, /* group_left */
  PROMQL_CARD_ONE_TO_MANY, /* group_right */
  PROMQL_CARD_MANY_TO_MANY, /* set operators */
};

enum promql_at { PROMQL_AT_NONE, PROMQL_AT_TIME, PROMQL_AT_START,
                 PROMQL_AT_END };

struct promql_func; /* function table entry, see promql_func_lookup() */

/* One node; `kind` says which fields are meaningful. Children are owned. */
struct promql_expr {
  enum promql_node kind;
  int pos_start, pos_end; /* byte offsets into the query */

  /* NUMBER */
  double num;
  bool num_is_duration; /* printed as a duration (3.x `1m` as a number) */
  /* STRING_LIT */
  char *str;

  /* VECTOR_SEL (also the inner selector of a MATRIX_SEL) */
  char *name; /* metric name or NULL */
  struct matcher *matchers;
  size_t nmatchers;

  /* VECTOR_SEL, MATRIX_SEL (on the inner selector), SUBQUERY */
  int64_t offset_ms;
  enum promql_at at;
  int64_t at_ms;

  /* MATRIX_SEL, SUBQUERY */
  int64_t range_ms;
  int64_t step_ms; /* SUBQUERY: 0 means the default evaluation interval */

  /* CALL */
  const struct promql_func *func;
  struct promql_expr **args;
  size_t nargs;

  /* AGGREGATE, BINARY, UNARY */
  enum promql_op op;
  /* AGGREGATE */
  struct promql_expr *param;
  char **grouping;
  size_t ngrouping;
  bool without;
  /* BINARY */
  struct promql_expr *lhs, *rhs;
  bool return_bool;
  bool has_matching; /* vector matching present (both sides vectors) */
  enum promql_card card;
  bool on;
  char **match_labels;
  size_t nmatch_labels;
  char **include;
  size_t ninclude;

  /* MATRIX_SEL (the vector selector), SUBQUERY, UNARY, PAREN, AGGREGATE */
  struct promql_expr *expr;
};

/* Parser options. */
struct promql_parse_opts {
  bool experimental_functions; /* --enable-feature=promql-experimental-functions */
};

/*
 * Parses and type-checks query. On success *out is an owned tree (free with
 * promql_expr_free()). On failure returns TC_EPARSE and *errmsg (owned,
 * caller frees) holds Prometheus's message, e.g.
 * "1:5: parse error: unexpected end of input".
 */
int promql_parse(const char *query, const struct promql_parse_opts *opts,
                 struct promql_expr **out, char **errmsg /* OUT */);
void promql_expr_free(struct promql_expr *e);
enum promql_type promql_expr_type(const struct promql_expr *e);
/* Prometheus's String() of the tree; caller frees. */
char *promql_expr_string(const struct promql_expr *e);
/* Function by name, or NULL. */
const struct promql_func *promql_func_lookup(const char *name);

/* Formats like Go's model.Duration.String() ("1h30m", "0s"); caller frees. */
char *promql_duration_string(int64_t ms);
/* Parses a PromQL duration ("1h30m", "5m", "10s53ms"); TC_EPARSE if bad. */
int promql_parse_duration(const char *s, size_t len, int64_t *ms /* OUT */);
/* Parses a PromQL number literal (hex, Inf, NaN, 1_000); TC_EPARSE if bad. */
int promql_parse_number(const char *s, size_t len, double *v /* OUT */);

/* ---- queryable ---------------------------------------------------------- */

enum promql_sample_type {
  PROMQL_SAMPLE_NONE = 0,   /* iterator exhausted */
  PROMQL_SAMPLE_FLOAT = 1,
  PROMQL_SAMPLE_HISTOGRAM = 2, /* native histogram: not supported yet */
};

struct promql_iter;
struct promql_iter_ops {
  /* Advances; returns the type of the new sample or PROMQL_SAMPLE_NONE. */
  enum promql_sample_type (*next)(struct promql_iter *it);
  /* Advances to the first sample with t >= ts (staying if already there). */
  enum promql_sample_type (*seek)(struct promql_iter *it, int64_t ts);
  /* The current sample (only after next/seek returned a sample). */
  void (*at)(struct promql_iter *it, int64_t *t /* OUT */,
             double *v /* OUT */);
  /* 0 or a negative error code; read after the iterator is exhausted. */
  int (*err)(struct promql_iter *it);
};
struct promql_iter {
  const struct promql_iter_ops *ops;
};

/* Hints for select(): what the engine will do with the series. */
struct promql_select_hints {
  int64_t start_ms, end_ms; /* samples needed, inclusive */
  int64_t step_ms;          /* 0 for instant queries */
  int64_t range_ms;         /* range of a matrix selector, or 0 */
  const char *func;         /* enclosing function name or NULL (borrowed) */
};

struct promql_series_set;
struct promql_series_set_ops {
  /*
   * Moves to the next series: returns 1 and sets *labels and *it (both
   * borrowed, valid until the next call of next() or free()), 0 at the end,
   * or a negative error code.
   */
  int (*next)(struct promql_series_set *ss,
              const struct labels **labels /* OUT */,
              struct promql_iter **it /* OUT */);
  void (*free)(struct promql_series_set *ss);
};
struct promql_series_set {
  const struct promql_series_set_ops *ops;
};

struct promql_queryable;
struct promql_queryable_ops {
  /* Series matching all matchers with samples in the hinted range. Each
   * label set comes once (a fan-out must merge duplicates, e.g. replicas
   * after deduplication) and in label order, as Prometheus's sorted Select
   * gives them; instant results keep that order. *out is owned by the
   * caller (free with its ops->free). */
  int (*select)(struct promql_queryable *q,
                const struct promql_select_hints *hints,
                const struct matcher *ms, size_t nms,
                struct promql_series_set **out /* OUT */);
};
struct promql_queryable {
  const struct promql_queryable_ops *ops;
};

/* In-memory queryable (tests, the .test runner, benchmarks). */
struct promql_memstore;
struct promql_memstore *promql_memstore_new(void);
void promql_memstore_free(struct promql_memstore *ms);
/* Appends a sample; samples of one series must come in time order. labels
 * are copied. is_histogram marks a native-histogram sample. */
void promql_memstore_add(struct promql_memstore *ms,
                         const struct labels *labels, int64_t t,
                         double v, bool is_histogram);
/* Total samples held. */
size_t promql_memstore_samples(const struct promql_memstore *ms);
struct promql_queryable *promql_memstore_queryable(struct promql_memstore *ms);

/* Queryable over the TSDB blocks in dir (one subdirectory per block).
 * *out is owned (free with promql_blockstore_free()). */
struct promql_blockstore;
int promql_blockstore_open(const char *dir,
                           struct promql_blockstore **out /* OUT */);
void promql_blockstore_free(struct promql_blockstore *bs);
struct promql_queryable *
promql_blockstore_queryable(struct promql_blockstore *bs);

/* ---- engine ------------------------------------------------------------- */

struct promql_engine_opts {
  int64_t lookback_ms;    /* default 5m */
  int64_t max_samples;    /* 0: unlimited; --query.max-samples */
  int64_t timeout_ms;     /* 0: none */
  bool experimental_functions;
};
void promql_engine_opts_default(struct promql_engine_opts *o);

struct promql_point {
  int64_t t;
  double v;
};

struct promql_series {
  struct labels labels;
  struct promql_point *points; /* owned */
  size_t npoints;
};

struct promql_result {
  enum promql_type type; /* SCALAR, VECTOR, MATRIX or STRING */
  /* SCALAR: value at t; STRING: str (owned) at t. */
  double scalar;
  int64_t t;
  char *str;
  /* VECTOR (one point per series, in result order) or MATRIX. */
  struct promql_series *series; /* owned */
  size_t nseries;
  char **warnings; /* owned annotations */
  size_t nwarnings;
};
void promql_result_release(struct promql_result *r);

/* Per-query parameters. */
struct promql_query {
  const char *expr;      /* borrowed */
  int64_t start_ms, end_ms, step_ms; /* instant: start == end, step 0 */
  int64_t lookback_ms;   /* 0: the engine default */
  volatile int *cancel;  /* optional: evaluation stops once *cancel != 0 */
};

/*
 * Parses and evaluates q over queryable. On success fills *res (release with
 * promql_result_release()). On failure returns a negative code and *errmsg
 * (owned) holds the message users see: parse errors with position,
 * TC_ELIMIT for max-samples, TC_ETIMEOUT / TC_ECANCELED, TC_ENOTSUP for
 * native histograms, TC_EEXEC for evaluation errors.
 */
int promql_exec(const struct promql_engine_opts *opts,
                struct promql_queryable *queryable,
                const struct promql_query *q, struct promql_result *res /* OUT */,
                char **errmsg /* OUT */);

/* ---- HTTP API bodies ---------------------------------------------------- */

struct tc_buf;
/* Appends r as a Prometheus /api/v1/query(_range) success body. */
void promql_result_json(const struct promql_result *r, struct tc_buf *b);
/* "bad_data" (parse errors, bad arguments), "timeout", "canceled" or
 * "execution", as Prometheus's API maps query errors. */
const char *promql_error_type(int code);
/* Appends {"status":"error","errorType":...,"error":msg}. */
void promql_error_json(int code, const char *msg, struct tc_buf *b);

/* Loads OpenMetrics/Prometheus text exposition with timestamps (seconds)
 * into ms; lines without a timestamp get default_ms. Returns the number of
 * samples or TC_EPARSE with the line number in the message. */
int promql_memstore_load_text(struct promql_memstore *ms, const char *path,
                              int64_t default_ms);

/* ---- conformance runner ------------------------------------------------- */

struct promql_test_opts {
  const char *known_failures; /* file of "file:line" ids, may be NULL */
  const char *update;         /* write failing ids here, may be NULL */
  bool verbose;
};
/* Runs the promqltest .test files; prints per-file and total counts and the
 * final "promql conformance: N passed, M failed, K skipped" line. Returns 0
 * when every failure is a known one, 1 otherwise. */
int promql_test_run(char **files, size_t nfiles,
                    const struct promql_test_opts *o);

/* Times heavy range queries over nseries x nsamples in-memory samples
 * (15s apart), evaluated with the given step; prints samples/s per query. */
int promql_bench_run(size_t nseries, size_t nsamples, int64_t step_ms);

#endif
