/*
 * json.h - a streaming JSON writer that produces byte-for-byte what
 * Prometheus and Thanos print (jsoniter in "compatible with encoding/json"
 * mode, plus Prometheus's own number formats).
 *
 * No DOM: values are appended to a caller-owned struct tc_buf as they are
 * produced. The writer inserts commas itself: begin/end an object or an
 * array, write a key, then exactly one value per key. Errors are sticky
 * (STYLE lesson 10): the first tc_buf failure (TC_ELIMIT past the buffer's
 * cap) is kept in w->err, later calls do nothing, and jsonw_finish()
 * reports it. Nesting deeper than JSONW_MAX_DEPTH is TC_ELIMIT as well.
 * The writer only appends, so a caller streaming a large response may
 * send what the buffer holds and tc_buf_reset() it between any two calls.
 *
 * String escaping comes in the two flavours Prometheus mixes (see
 * shared/spec/http-api.md section 7):
 *   - jsonw_str(): encoding/json-compatible: ", \, \n, \r, \t, other
 *     control bytes as \u00xx, <, >, & as \u003c, \u003e, \u0026,
 *     U+2028/U+2029 escaped, invalid UTF-8 replaced by \ufffd.
 *   - jsonw_str_plain(): jsoniter's WriteString, used for label names and
 *     values: same control escapes, no HTML escaping, bytes >= 0x80 copied.
 *   - jsonw_str_go(): Go's own encoding/json (Go >= 1.22), which promql's
 *     String result goes through: as jsonw_str() but \b and \f short.
 *
 * Numbers:
 *   - jsonw_sample_value(): Prometheus MarshalFloat, quoted: shortest
 *     round-trip, 'e' format when |f| < 1e-6 or |f| >= 1e21, else 'f';
 *     "NaN", "+Inf", "-Inf".
 *   - jsonw_scalar_value(): promql Scalar: always 'f', quoted.
 *   - jsonw_ts_ms(): Prometheus MarshalTimestamp: seconds, '.' and exactly
 *     three digits when the millisecond part is not zero.
 *   - jsonw_ts_float(): float64(t)/1000 through encoding/json, as scalar
 *     and string results print their timestamp.
 */
#ifndef THANOSC_JSON_H
#define THANOSC_JSON_H

#include <stddef.h>
#include <stdint.h>

struct tc_buf;

#define JSONW_MAX_DEPTH 64

struct jsonw {
  struct tc_buf *b; /* borrowed: output */
  int err;          /* sticky first error, 0 when fine */
  int depth;
  int after_key;    /* a key was written, its value is next */
  uint64_t nonempty; /* bit d: the container at depth d has a member */
};

/* Appends to b (borrowed for the writer's life). */
void jsonw_init(struct jsonw *w, struct tc_buf *b);
/* 0, the sticky error, or TC_ESTATE when containers are left open. */
int jsonw_finish(struct jsonw *w);

void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* Object key, encoding/json escaping. */
void jsonw_key(struct jsonw *w, const char *k);
/* Object key, jsoniter WriteString escaping (label names). */
void jsonw_key_plain(struct jsonw *w, const char *k, size_t n);

void jsonw_str(struct jsonw *w, const char *s, size_t n);
void jsonw_cstr(struct jsonw *w, const char *s);
void jsonw_str_plain(struct jsonw *w, const char *s, size_t n);
void jsonw_str_go(struct jsonw *w, const char *s, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, int v);
void jsonw_null(struct jsonw *w);
/* An already-encoded JSON value, copied verbatim. */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);

void jsonw_sample_value(struct jsonw *w, double v);
void jsonw_scalar_value(struct jsonw *w, double v);
void jsonw_ts_ms(struct jsonw *w, int64_t t);
void jsonw_ts_float(struct jsonw *w, int64_t t);
/* A float64 as a JSON number the way encoding/json (and jsoniter's
 * compatible mode) prints it: shortest 'f', or 'e' with a one-digit minimum
 * exponent below 1e-6 / from 1e21 (NaN and Inf are not JSON: written as
 * null, where Go would fail). */
void jsonw_float(struct jsonw *w, double v);

/* ---- helpers shared with other writers ---- */

/* Appends s escaped (without quotes) as jsonw_str / jsonw_str_plain do. */
int json_escape(struct tc_buf *b, const char *s, size_t n);
int json_escape_plain(struct tc_buf *b, const char *s, size_t n);
int json_escape_go(struct tc_buf *b, const char *s, size_t n);

#endif
