/*
 * fuzz-apiparams.c - libFuzzer target for the querier's HTTP API parameter
 * parsing (src/query/params.c) and the JSON escapers it feeds.
 *
 * The input is split on '\n' into "key=value" pairs (a line without '='
 * is a key with an empty value); every endpoint parser runs over the same
 * pairs, and the value parsers and JSON string writers run over each raw
 * value. Nothing may crash, leak or read out of bounds, every error must
 * come with a message, and the encoding/json-style string escaping must
 * always give JSON that jansson accepts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/error.h"
#include "thanosc/json.h"
#include "thanosc/query_params.h"

#define MAX_PAIRS 32

static void check_err(int rc) {
  if (rc && !tc_errmsg(rc)[0])
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *copy = malloc(size + 1);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';

  struct qparam pairs[MAX_PAIRS];
  size_t n = 0;
  char *p = copy, *end = copy + size;
  while (p < end && n < MAX_PAIRS) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *line_end = nl ? nl : end;
    *line_end = '\0';
    char *eq = memchr(p, '=', (size_t)(line_end - p));
    pairs[n].key = p;
    if (eq) {
      *eq = '\0';
      pairs[n].value = eq + 1;
      pairs[n].value_len = (size_t)(line_end - eq - 1);
    } else {
      pairs[n].value = line_end;
      pairs[n].value_len = 0;
    }
    n++;
    p = line_end + 1;
  }

  struct qparams qp = {pairs, n};
  static const char *flag_replicas[] = {"replica"};
  struct query_defaults d = {
      .now_ms = 1700000000000,
      .default_step_ns = 1000000000LL,
      .replica_labels = {flag_replicas, 1},
      .check_selector = query_check_selector,
  };
  struct query_instant_req qi;
  struct query_range_req qr;
  struct query_meta_req qm;
  int rc;

  rc = query_parse_instant(&qp, &d, &qi);
  check_err(rc);
  if (!rc)
    query_opts_release(&qi.o);
  rc = query_parse_range(&qp, &d, &qr);
  check_err(rc);
  if (!rc) {
    if (qr.step_ns <= 0 || qr.end_ms < qr.start_ms)
      abort();
    query_opts_release(&qr.o);
  }
  rc = query_parse_series(&qp, &d, &qm);
  check_err(rc);
  if (!rc)
    query_meta_req_release(&qm);
  rc = query_parse_labels(&qp, &d, &qm);
  check_err(rc);
  if (!rc)
    query_meta_req_release(&qm);
  rc = query_parse_label_values(&qp, &d, n ? pairs[0].key : "", &qm);
  check_err(rc);
  if (!rc)
    query_meta_req_release(&qm);

  struct tc_buf b;
  tc_buf_init(&b, 1 << 20);
  for (size_t i = 0; i < n; i++) {
    int64_t x;
    double f;
    int bo;
    check_err(query_parse_time(pairs[i].value, pairs[i].value_len, &x));
    check_err(query_parse_duration(pairs[i].value, pairs[i].value_len, &x));
    query_parse_go_float(pairs[i].value, pairs[i].value_len, &f);
    query_parse_go_bool(pairs[i].value, pairs[i].value_len, &bo);
    struct jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr_begin(&w);
    jsonw_str(&w, pairs[i].value, pairs[i].value_len);
    jsonw_arr_end(&w);
    if (jsonw_finish(&w))
      abort();
    json_error_t jerr;
    json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &jerr);
    if (!doc)
      abort(); /* escaped output must always be valid JSON */
    json_decref(doc);
    tc_buf_reset(&b);
    jsonw_init(&w, &b);
    jsonw_arr_begin(&w);
    jsonw_str_plain(&w, pairs[i].value, pairs[i].value_len);
    if (!query_parse_go_float(pairs[i].value, pairs[i].value_len, &f)) {
      jsonw_sample_value(&w, f);
      jsonw_scalar_value(&w, f);
    }
    jsonw_arr_end(&w);
    if (jsonw_finish(&w))
      abort();
    tc_buf_reset(&b);
  }
  tc_buf_release(&b);
  free(copy);
  return 0;
}
