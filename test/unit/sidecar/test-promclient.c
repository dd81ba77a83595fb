/* Tests of src/sidecar/promclient.c and the external-label matching of
 * src/sidecar/store.c: no network, only the parsers and encoders. */
#include <string.h>

#include "test.h"
#include "thanosc/sidecar.h"
#include "thanosc/tsdb/chunkenc.h"

TEST(sidecar_config_external_labels) {
  static const char y[] =
      "global:\n  scrape_interval: 15s\n  external_labels:\n"
      "    replica: \"1\"\n    cluster: eu1\n"
      "scrape_configs:\n- job_name: x\n";
  struct labels ls = LABELS_INIT;
  ASSERT_OK(prom_config_external_labels(y, strlen(y), &ls));
  ASSERT_EQ(ls.n, 2);
  ASSERT_STREQ(ls.v[0].name, "cluster");
  ASSERT_STREQ(ls.v[0].value, "eu1");
  ASSERT_STREQ(ls.v[1].name, "replica");
  ASSERT_STREQ(ls.v[1].value, "1");
  labels_release(&ls);

  /* No section, an empty one: no labels, no error. */
  static const char none[] = "global:\n  scrape_interval: 15s\n";
  ASSERT_OK(prom_config_external_labels(none, strlen(none), &ls));
  ASSERT_EQ(ls.n, 0);
  static const char empty[] = "global:\n  external_labels:\n";
  ASSERT_OK(prom_config_external_labels(empty, strlen(empty), &ls));
  ASSERT_EQ(ls.n, 0);
  labels_release(&ls);

  /* Bad input: errors, never a crash. */
  static const char bad[] = "global: [\n";
  ASSERT_EQ(prom_config_external_labels(bad, strlen(bad), &ls), TC_EPARSE);
  labels_release(&ls);
  static const char list[] = "global:\n  external_labels: [a, b]\n";
  ASSERT_EQ(prom_config_external_labels(list, strlen(list), &ls), TC_EPARSE);
  labels_release(&ls);
  static const char nested[] = "global:\n  external_labels:\n    a: {b: c}\n";
  ASSERT_EQ(prom_config_external_labels(nested, strlen(nested), &ls),
            TC_EPARSE);
  labels_release(&ls);
}

TEST(sidecar_lowest_timestamp) {
  static const char m[] =
      "# HELP prometheus_tsdb_lowest_timestamp x\n"
      "prometheus_tsdb_lowest_timestamp 1.7e+12\n"
      "# TYPE prometheus_tsdb_lowest_timestamp_seconds gauge\n"
      "prometheus_tsdb_lowest_timestamp_seconds 1.795489004e+09\n";
  int64_t ms = 0;
  ASSERT_OK(prom_parse_lowest_timestamp(m, strlen(m), &ms));
  ASSERT_EQ(ms, 1795489004000LL);
  static const char max[] =
      "prometheus_tsdb_lowest_timestamp_seconds 9.223372036854776e+15\n";
  ASSERT_OK(prom_parse_lowest_timestamp(max, strlen(max), &ms));
  ASSERT_EQ(ms, INT64_MAX);
  static const char none[] = "up 1\n";
  ASSERT_EQ(prom_parse_lowest_timestamp(none, strlen(none), &ms),
            TC_ENOTFOUND);
  static const char junk[] = "prometheus_tsdb_lowest_timestamp_seconds x\n";
  ASSERT_EQ(prom_parse_lowest_timestamp(junk, strlen(junk), &ms),
            TC_ENOTFOUND);
}

TEST(sidecar_selector) {
  struct prom_matcher ms[] = {{0, "__name__", "up"},
                              {2, "job", "a|b\"c"},
                              {1, "x", ""},
                              {3, "y", "z.*"}};
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(prom_selector(ms, 4, &b));
  ASSERT_STREQ(b.data,
               "{__name__=\"up\",job=~\"a|b\\\"c\",x!=\"\",y!~\"z.*\"}");
  tc_buf_release(&b);
}

struct collect {
  int calls;
  size_t nchunks, nsamples;
  int64_t ts[300];
  double vs[300];
};

static int collect(void *data, const Prometheus__ChunkedSeries *s) {
  struct collect *c = data;
  c->calls++;
  for (size_t i = 0; i < s->n_chunks; i++) {
    const Prometheus__Chunk *ch = s->chunks[i];
    c->nchunks++;
    if (ch->type != PROMETHEUS__CHUNK__ENCODING__XOR)
      return -1;
    struct chunk_iter it;
    chunk_iter_init(&it, CHUNK_ENC_XOR, ch->data.data, ch->data.len);
    int first = 1;
    while (chunk_iter_next(&it)) {
      int64_t t = chunk_iter_t(&it);
      if (first && t != ch->min_time_ms)
        return -2;
      first = 0;
      c->ts[c->nsamples] = t;
      c->vs[c->nsamples++] = chunk_iter_v(&it);
    }
  }
  return 0;
}

TEST(sidecar_samples_to_chunks) {
  Prometheus__Sample sv[250], *sp[250];
  for (int i = 0; i < 250; i++) {
    prometheus__sample__init(&sv[i]);
    sv[i].timestamp = 1000 + i * 15000 + (i % 7);
    sv[i].value = i == 100 ? tsdb_stale_nan() : i * 1.5;
    sp[i] = &sv[i];
  }
  Prometheus__Label l = PROMETHEUS__LABEL__INIT, *lp = &l;
  l.name = "__name__", l.value = "m";
  Prometheus__TimeSeries ts = PROMETHEUS__TIME_SERIES__INIT;
  ts.n_labels = 1, ts.labels = &lp;
  ts.n_samples = 250, ts.samples = sp;
  struct collect c = {0};
  ASSERT_OK(prom_samples_to_chunks(&ts, collect, &c));
  ASSERT_EQ(c.calls, 1);
  ASSERT_EQ(c.nchunks, 3); /* 120 + 120 + 10 */
  ASSERT_EQ(c.nsamples, 250);
  for (int i = 0; i < 250; i++) {
    ASSERT_EQ(c.ts[i], sv[i].timestamp);
    if (i == 100)
      ASSERT(tsdb_is_stale_nan(c.vs[i]));
    else
      ASSERT_DBL_EQ(c.vs[i], sv[i].value);
  }
  /* No samples: one series without chunks. */
  ts.n_samples = 0;
  memset(&c, 0, sizeof c);
  ASSERT_OK(prom_samples_to_chunks(&ts, collect, &c));
  ASSERT_EQ(c.calls, 1);
  ASSERT_EQ(c.nchunks, 0);
}

TEST(sidecar_match_external_labels) {
  struct labels ext = LABELS_INIT;
  labels_add(&ext, "cluster", "eu1");
  labels_add(&ext, "replica", "0");
  Thanos__LabelMatcher m[3], *mp[3];
  for (int i = 0; i < 3; i++) {
    thanos__label_matcher__init(&m[i]);
    mp[i] = &m[i];
  }
  m[0].name = "__name__", m[0].value = "up";
  m[1].name = "cluster", m[1].value = "eu.*";
  m[1].type = THANOS__LABEL_MATCHER__TYPE__RE;
  m[2].name = "replica", m[2].value = "0";
  struct prom_matcher out[3];
  size_t n;
  ASSERT_EQ(sidecar_match_external(&ext, mp, 3, out, &n), 1);
  ASSERT_EQ(n, 1);
  ASSERT_STREQ(out[0].name, "__name__");
  m[2].type = THANOS__LABEL_MATCHER__TYPE__NEQ;
  ASSERT_EQ(sidecar_match_external(&ext, mp, 3, out, &n), 0);
  m[2].type = THANOS__LABEL_MATCHER__TYPE__RE;
  m[2].value = "(";
  ASSERT_EQ(sidecar_match_external(&ext, mp, 3, out, &n), TC_EINVAL);
  labels_release(&ext);
}
