/*
 * Tests of src/query/select.c: merged StoreAPI series through chunk
 * chaining, bounds and deduplication into the PromQL engine's series set.
 * Chunks here carry raw struct qsample arrays; the test decoder wraps them
 * in slice iterators.
 */
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/query_select.h"
#include "thanosc/tsdb/chunkenc.h"

static int decoded, freed;

static struct promql_iter *fake_decode(void *ctx, const struct qchunk *c) {
  (void)ctx;
  if (c->encoding != 1) {
    tc_error(TC_ENOTSUP, "unknown chunk encoding %d", c->encoding);
    return NULL;
  }
  struct qslice_iter *it = malloc(sizeof(*it));
  qslice_iter_init(it, (const struct qsample *)c->data, c->len);
  decoded++;
  return &it->base;
}

static void fake_free(void *ctx, struct promql_iter *it) {
  (void)ctx;
  freed++;
  free(it);
}

#define CHK(arr, mn, mx)                                                     \
  {mn, mx, 1, (const uint8_t *)(arr), sizeof(arr) / sizeof((arr)[0])}

/* Runs the whole set; appends "labels: t=v t=v ... | " per series. */
static void collect(struct promql_series_set *ss, struct tc_buf *b) {
  const struct labels *ls;
  struct promql_iter *it;
  int rc;
  while ((rc = ss->ops->next(ss, &ls, &it)) == 1) {
    for (size_t i = 0; i < ls->n; i++)
      tc_buf_addf(b, "%s%s=%s", i ? "," : "", ls->v[i].name, ls->v[i].value);
    tc_buf_adds(b, ":");
    while (it->ops->next(it) == PROMQL_SAMPLE_FLOAT) {
      int64_t t;
      double v;
      it->ops->at(it, &t, &v);
      tc_buf_addf(b, " %lld=%g", (long long)t, v);
    }
    ASSERT_OK(it->ops->err(it));
    tc_buf_adds(b, " | ");
  }
  ASSERT_EQ(rc, 0);
}

static const struct qsample a1[] = {{0, 1}, {10000, 2}, {20000, 3}};
static const struct qsample a2[] = {{30000, 4}, {40000, 5}};
static const struct qsample a3[] = {{90000, 10}, {100000, 11}};
static const struct qsample b1[] = {{2000, 1}, {12000, 2}, {22000, 3}};
static const struct qsample b2[] = {{32000, 4}, {42000, 5}, {52000, 6},
                                    {62000, 7}, {72000, 8}};
static const struct qchunk ca[] = {CHK(a1, 0, 20000), CHK(a2, 30000, 40000),
                                   CHK(a3, 90000, 100000)};
static const struct qchunk cb[] = {CHK(b1, 2000, 22000), CHK(b2, 32000, 72000)};
static const struct label la[] = {{"job", "x"}, {"replica", "a"}};
static const struct label lb[] = {{"job", "x"}, {"replica", "b"}};
static const struct label lj[] = {{"job", "x"}};

static struct promql_series_set *mk(struct qseries_array_set *sa,
                                    struct qseries_array_set *sb,
                                    const struct qseries *xa,
                                    const struct qseries *xb, int dedup,
                                    const char *func, int64_t mint,
                                    int64_t maxt) {
  static const char *const rep[] = {"replica"};
  qseries_array_set_init(sa, xa, 1);
  qseries_array_set_init(sb, xb, 1);
  struct qseries_set *sets[] = {&sa->base, &sb->base};
  struct qmerge *m = qmerge_new(sets, 2, rep, dedup ? 1 : 0);
  struct qselect_opts o = {
      .dedup = dedup, .algo = QDEDUP_PENALTY, .func = func, .mint = mint,
      .maxt = maxt, .chunk_iter = fake_decode, .chunk_iter_free = fake_free};
  return qselect_set_new(m, &o);
}

TEST(select_dedup_replicas) {
  const struct qseries xa = {la, 2, ca, 3}, xb = {lb, 2, cb, 2};
  struct qseries_array_set sa, sb;
  struct tc_buf out = TC_BUF_INIT;
  decoded = freed = 0;
  struct promql_series_set *ss =
      mk(&sa, &sb, &xa, &xb, 1, NULL, INT64_MIN, INT64_MAX);
  collect(ss, &out);
  ss->ops->free(ss);
  /* A until its gap at 40s, then B, which A's later chunk cannot beat
   * within the penalty */
  ASSERT_STREQ(out.data, "job=x: 0=1 10000=2 20000=3 30000=4 40000=5 "
                         "62000=7 72000=8 | ");
  ASSERT_EQ(decoded, 5);
  ASSERT_EQ(freed, 5);

  /* without dedup both replicas are separate series */
  tc_buf_reset(&out);
  ss = mk(&sa, &sb, &xa, &xb, 0, NULL, 15000, 60000);
  collect(ss, &out);
  ss->ops->free(ss);
  ASSERT_STREQ(out.data, "job=x,replica=a: 20000=3 30000=4 40000=5 | "
                         "job=x,replica=b: 22000=3 32000=4 42000=5 52000=6 "
                         "| ");
  tc_buf_release(&out);
}

TEST(select_same_series_two_stores) {
  /* sidecar and store gateway hold overlapping chunks of one series */
  static const struct qsample s1[] = {{0, 1}, {10, 2}, {20, 3}};
  static const struct qsample s2[] = {{15, 9}, {20, 9}, {30, 4}, {40, 5}};
  static const struct qchunk c1[] = {CHK(s1, 0, 20)};
  static const struct qchunk c2[] = {CHK(s2, 15, 40)};
  const struct qseries x1 = {lj, 1, c1, 1}, x2 = {lj, 1, c2, 1};
  struct qseries_array_set sa, sb;
  struct tc_buf out = TC_BUF_INIT;
  /* dedup off: chained, the overlap skipped */
  struct promql_series_set *ss =
      mk(&sa, &sb, &x1, &x2, 0, NULL, INT64_MIN, INT64_MAX);
  collect(ss, &out);
  ss->ops->free(ss);
  ASSERT_STREQ(out.data, "job=x: 0=1 10=2 20=3 30=4 40=5 | ");
  /* dedup on: the overlap makes two replicas for the penalty iterator;
   * with millisecond steps the 2x-delta penalty skips the rest of the
   * second replica (as Thanos does) */
  tc_buf_reset(&out);
  ss = mk(&sa, &sb, &x1, &x2, 1, NULL, INT64_MIN, INT64_MAX);
  collect(ss, &out);
  ss->ops->free(ss);
  ASSERT_STREQ(out.data, "job=x: 0=1 10=2 20=3 | ");
  tc_buf_release(&out);
}

TEST(select_counter_and_seek) {
  static const struct qsample r1[] = {{10000, 10}, {20000, 20}, {30000, 30},
                                      {40000, 40}};
  static const struct qsample r2[] = {{12000, 1}, {22000, 2}, {32000, 3},
                                      {42000, 4}, {52000, 5}, {62000, 6},
                                      {72000, 7}};
  static const struct qchunk c1[] = {CHK(r1, 10000, 40000)};
  static const struct qchunk c2[] = {CHK(r2, 12000, 72000)};
  const struct qseries xa = {la, 2, c1, 1}, xb = {lb, 2, c2, 1};
  struct qseries_array_set sa, sb;
  struct tc_buf out = TC_BUF_INIT;
  struct promql_series_set *ss =
      mk(&sa, &sb, &xa, &xb, 1, "rate", INT64_MIN, INT64_MAX);
  collect(ss, &out);
  ss->ops->free(ss);
  ASSERT_STREQ(out.data,
               "job=x: 10000=10 20000=20 30000=30 40000=40 62000=40 "
               "72000=41 | ");

  /* seek through the set's iterator, bounded to [25000, 65000] */
  ss = mk(&sa, &sb, &xa, &xb, 1, "max_over_time", 25000, 65000);
  const struct labels *ls;
  struct promql_iter *it;
  ASSERT_EQ(ss->ops->next(ss, &ls, &it), 1);
  ASSERT_EQ(it->ops->seek(it, 31000), PROMQL_SAMPLE_FLOAT);
  int64_t t;
  double v;
  it->ops->at(it, &t, &v);
  ASSERT_EQ(t, 40000); /* dedup seeks by next: 30000 (A) then 40000 */
  ASSERT_TRUE(v == 40);
  ASSERT_EQ(it->ops->next(it), PROMQL_SAMPLE_FLOAT);
  it->ops->at(it, &t, &v);
  ASSERT_EQ(t, 62000);
  ASSERT_TRUE(v == 6); /* not a counter function: no adjustment */
  /* Thanos's bounded iterator does not check maxt on seek, and the
   * penalty iterator moves by seek: 72000 comes through */
  ASSERT_EQ(it->ops->next(it), PROMQL_SAMPLE_FLOAT);
  it->ops->at(it, &t, &v);
  ASSERT_EQ(t, 72000);
  ASSERT_EQ(it->ops->next(it), PROMQL_SAMPLE_NONE);
  ASSERT_EQ(ss->ops->next(ss, &ls, &it), 0);
  ss->ops->free(ss);
  tc_buf_release(&out);
}

TEST(select_decode_error) {
  static const struct qsample s1[] = {{0, 1}};
  static const struct qchunk bad[] = {{0, 0, 7, (const uint8_t *)s1, 1}};
  const struct qseries x1 = {lj, 1, bad, 1}, x2 = {lj, 1, NULL, 0};
  struct qseries_array_set sa, sb;
  struct promql_series_set *ss =
      mk(&sa, &sb, &x1, &x2, 0, NULL, INT64_MIN, INT64_MAX);
  const struct labels *ls;
  struct promql_iter *it;
  ASSERT_EQ(ss->ops->next(ss, &ls, &it), TC_ECORRUPT);
  ASSERT_STREQ(tc_errmsg(TC_ECORRUPT),
               "decode chunk [0, 0]: unknown chunk encoding 7");
  ss->ops->free(ss);
}

TEST(select_xor_chunks) {
  /* Two replicas as real XOR chunks, decoded by the default decoder. */
  struct xor_enc e1, e2;
  xor_enc_init(&e1);
  xor_enc_init(&e2);
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(xor_enc_append(&e1, 1000 + i * 15000, i));
    ASSERT_OK(xor_enc_append(&e2, 3000 + i * 15000, i + 0.5));
  }
  size_t n1, n2;
  const uint8_t *b1 = xor_enc_bytes(&e1, &n1), *b2 = xor_enc_bytes(&e2, &n2);
  const struct qchunk c1[] = {{1000, 61000, QCHUNK_STOREPB_XOR, b1, n1}};
  const struct qchunk c2[] = {{3000, 63000, QCHUNK_STOREPB_XOR, b2, n2}};
  const struct qseries xa = {la, 2, c1, 1}, xb = {lb, 2, c2, 1};
  struct qseries_array_set sa, sb;
  qseries_array_set_init(&sa, &xa, 1);
  qseries_array_set_init(&sb, &xb, 1);
  struct qseries_set *sets[] = {&sa.base, &sb.base};
  static const char *const rep[] = {"replica"};
  struct qselect_opts o = {.dedup = 1,
                           .algo = QDEDUP_PENALTY,
                           .mint = 0,
                           .maxt = 100000,
                           .chunk_iter = qselect_xor_iter,
                           .chunk_iter_free = qselect_xor_iter_free};
  struct promql_series_set *ss = qselect_set_new(qmerge_new(sets, 2, rep, 1),
                                                 &o);
  struct tc_buf out = TC_BUF_INIT;
  collect(ss, &out);
  ss->ops->free(ss);
  ASSERT_STREQ(out.data, "job=x: 1000=0 16000=1 31000=2 46000=3 61000=4 | ");
  tc_buf_release(&out);
  xor_enc_release(&e1);
  xor_enc_release(&e2);

  const struct qchunk h = {0, 0, QCHUNK_STOREPB_HISTOGRAM, b1, 1};
  ASSERT_NULL(qselect_xor_iter(NULL, &h));
  ASSERT_STREQ(tc_errmsg(TC_ENOTSUP),
               "chunk encoding 1 (HISTOGRAM) is not supported");
}

/* A set over one series from one store, read under func. */
struct one_series {
  struct qseries x;
  struct qseries_array_set sa;
  struct qseries_set *sets[1];
};

static struct promql_series_set *open_func(struct one_series *o1,
                                           const struct qchunk *c, size_t nc,
                                           const char *func) {
  o1->x = (struct qseries){lj, 1, c, nc};
  qseries_array_set_init(&o1->sa, &o1->x, 1);
  o1->sets[0] = &o1->sa.base;
  struct qselect_opts o = {.func = func,
                           .mint = INT64_MIN,
                           .maxt = INT64_MAX,
                           .chunk_iter = fake_decode,
                           .chunk_iter_free = fake_free};
  return qselect_set_new(qmerge_new(o1->sets, 1, NULL, 0), &o);
}

/* Appends "labels: t=v ... | " of that series. */
static void read_func(const struct qchunk *c, size_t nc, const char *func,
                      struct tc_buf *out) {
  struct one_series o1;
  struct promql_series_set *ss = open_func(&o1, c, nc, func);
  tc_buf_reset(out);
  collect(ss, out);
  ss->ops->free(ss);
}

TEST(select_counter_resets_and_aggregates) {
  struct tc_buf out = TC_BUF_INIT;
  /* raw data under rate(): resets hidden, NaN (staleness) dropped */
  static const struct qsample raw[] = {
      {0, 5}, {10, 8}, {20, 2}, {30, NAN}, {40, 4}};
  static const struct qchunk rc[] = {CHK(raw, 0, 40)};
  read_func(rc, 1, "rate", &out);
  ASSERT_STREQ(out.data, "job=x: 0=5 10=8 20=10 40=12 | ");
  read_func(rc, 1, "max_over_time", &out);
  ASSERT_STREQ(out.data, "job=x: 0=5 10=8 20=2 30=nan 40=4 | ");

  /* downsampled counter chunks: the repeated timestamp at a chunk's end
   * is the true last raw value (45), compared with the next chunk's first
   * (3): a reset, so 3 is added */
  static const struct qsample ctr1[] = {{0, 10}, {300, 40}, {300, 45}};
  static const struct qsample ctr2[] = {{600, 3}, {900, 9}};
  static const struct qsample cnt[] = {{0, 2}, {300, 4}};
  static const struct qsample sum[] = {{0, 10}, {300, 20}};
  static const struct qsample mn[] = {{0, 1}, {300, 2}};
  struct qchunk_part p1[QAGGR_N] = {{0}}, p2[QAGGR_N] = {{0}};
  p1[QAGGR_COUNTER] = (struct qchunk_part){1, (const uint8_t *)ctr1, 3};
  p1[QAGGR_COUNT] = (struct qchunk_part){1, (const uint8_t *)cnt, 2};
  p1[QAGGR_SUM] = (struct qchunk_part){1, (const uint8_t *)sum, 2};
  p1[QAGGR_MIN] = (struct qchunk_part){1, (const uint8_t *)mn, 2};
  p2[QAGGR_COUNTER] = (struct qchunk_part){1, (const uint8_t *)ctr2, 2};
  p2[QAGGR_COUNT] = (struct qchunk_part){1, (const uint8_t *)cnt, 0};
  p2[QAGGR_SUM] = (struct qchunk_part){1, (const uint8_t *)sum, 0};
  const struct qchunk ag[] = {{0, 300, 0, NULL, 0, p1},
                              {600, 900, 0, NULL, 0, p2}};
  read_func(ag, 2, "increase", &out);
  ASSERT_STREQ(out.data, "job=x: 0=10 300=40 600=43 900=49 | ");
  read_func(ag, 1, NULL, &out); /* average: sum / count */
  ASSERT_STREQ(out.data, "job=x: 0=5 300=5 | ");
  read_func(ag, 1, "min_over_time", &out);
  ASSERT_STREQ(out.data, "job=x: 0=1 300=2 | ");
  /* max is not in the chunk and there is no raw part */
  struct one_series o1;
  struct promql_series_set *ss = open_func(&o1, ag, 1, "max_over_time");
  const struct labels *ls;
  struct promql_iter *it;
  ASSERT_EQ(ss->ops->next(ss, &ls, &it), TC_ECORRUPT);
  ss->ops->free(ss);
  tc_buf_release(&out);

  int a[2];
  ASSERT_EQ(qselect_aggrs_from_func("min_over_time", a), 1);
  ASSERT_EQ(a[0], 3);
  ASSERT_EQ(qselect_aggrs_from_func("max", a), 1);
  ASSERT_EQ(a[0], 4);
  ASSERT_EQ(qselect_aggrs_from_func("count_over_time", a), 1);
  ASSERT_EQ(a[0], 1);
  ASSERT_EQ(qselect_aggrs_from_func("sum_over_time", a), 1);
  ASSERT_EQ(a[0], 2);
  ASSERT_EQ(qselect_aggrs_from_func("rate", a), 1);
  ASSERT_EQ(a[0], 5);
  ASSERT_EQ(qselect_aggrs_from_func("sum", a), 2);
  ASSERT_EQ(qselect_aggrs_from_func(NULL, a), 2);
  ASSERT_EQ(a[0], 1);
  ASSERT_EQ(a[1], 2);
}
