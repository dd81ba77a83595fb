/*
 * Tests of src/query/merge.c: k-way merge of sorted series sets, joining
 * of equal label sets with chunk deduplication, replica-label stripping
 * with re-sorting, error propagation, and Thanos's overlap split.
 */
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/query_merge.h"

static const uint8_t d1[] = {1, 2, 3}, d2[] = {4, 5}, d3[] = {6},
                     d4[] = {7, 8};

/* Appends `{a="b",...}:nsources:[min-max ...]` for one merged series. */
static void describe(struct tc_buf *b, const struct qmerged *s) {
  tc_buf_addc(b, '{');
  for (size_t i = 0; i < s->nlabels; i++)
    tc_buf_addf(b, "%s%s=%s", i ? "," : "", s->labels[i].name,
                s->labels[i].value);
  tc_buf_addf(b, "}:%zu:[", s->nsources);
  for (size_t i = 0; i < s->nchunks; i++)
    tc_buf_addf(b, "%s%lld-%lld", i ? " " : "",
                (long long)s->chunks[i].min_time,
                (long long)s->chunks[i].max_time);
  tc_buf_adds(b, "] ");
}

static void merge_all(struct qseries_set *const *sets, size_t n,
                      const char *const *rep, size_t nrep,
                      struct tc_buf *out) {
  struct qmerge *m = qmerge_new(sets, n, rep, nrep);
  const struct qmerged *s;
  int rc;
  while ((rc = qmerge_next(m, &s)) == 1)
    describe(out, s);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(qmerge_next(m, &s), 0);
  qmerge_free(m);
}

TEST(merge_sorted_sets) {
  static const struct label up_a[] = {{"__name__", "up"}, {"job", "a"}};
  static const struct label up_b[] = {{"__name__", "up"}, {"job", "b"}};
  static const struct label up_c[] = {{"__name__", "up"}, {"job", "c"}};
  static const struct label up[] = {{"__name__", "up"}};
  static const struct label x[] = {{"__name__", "x"}};
  /* sidecar: recent chunks; store: old chunks and one identical copy */
  static const struct qchunk side_a[] = {{100, 199, 1, d1, 3},
                                         {200, 299, 1, d2, 2}};
  static const struct qchunk store_a[] = {{0, 99, 1, d3, 1},
                                          {100, 199, 1, d1, 3}};
  static const struct qchunk other[] = {{0, 10, 1, d4, 2}};
  static const struct qchunk same_time_diff[] = {{0, 10, 1, d3, 1}};
  const struct qseries s1[] = {{up, 1, other, 1},
                               {up_a, 2, side_a, 2},
                               {up_c, 2, other, 1}};
  const struct qseries s2[] = {{up_a, 2, store_a, 2},
                               {up_b, 2, other, 1},
                               {x, 1, other, 1}};
  const struct qseries s3[] = {{up_b, 2, same_time_diff, 1}};
  struct qseries_array_set a, b, c, e;
  qseries_array_set_init(&a, s1, 3);
  qseries_array_set_init(&b, s2, 3);
  qseries_array_set_init(&c, s3, 1);
  qseries_array_set_init(&e, NULL, 0);
  struct qseries_set *sets[] = {&a.base, &e.base, &b.base, &c.base};
  struct tc_buf out = TC_BUF_INIT;
  merge_all(sets, 4, NULL, 0, &out);
  ASSERT_STREQ(out.data, "{__name__=up}:1:[0-10] "
                         "{__name__=up,job=a}:2:[0-99 100-199 200-299] "
                         "{__name__=up,job=b}:2:[0-10 0-10] "
                         "{__name__=up,job=c}:1:[0-10] "
                         "{__name__=x}:1:[0-10] ");
  tc_buf_release(&out);

  /* no sets at all */
  tc_buf_init(&out, 0);
  merge_all(NULL, 0, NULL, 0, &out);
  ASSERT_EQ(out.len, 0);
  tc_buf_release(&out);
}

TEST(merge_replica_labels) {
  /* Removing "replica" reorders series inside one input. */
  static const struct label a1[] = {{"a", "1"}, {"replica", "0"}, {"z", "9"}};
  static const struct label a2[] = {{"a", "1"}, {"replica", "1"}, {"z", "1"}};
  static const struct label b1[] = {{"a", "1"}, {"replica", "2"}, {"z", "1"}};
  static const struct label b2[] = {{"a", "1"}, {"replica", "2"}, {"z", "9"}};
  static const struct label b3[] = {{"a", "2"}, {"rule_replica", "x"}};
  static const struct qchunk c0[] = {{0, 100, 1, d1, 3}};
  static const struct qchunk c1[] = {{5, 105, 1, d2, 2}};
  static const struct qchunk c2[] = {{50, 150, 1, d3, 1}};
  const struct qseries s1[] = {{a1, 3, c0, 1}, {a2, 3, c0, 1}};
  const struct qseries s2[] = {{b1, 3, c1, 1}, {b2, 3, c2, 1}, {b3, 2, c0, 1}};
  struct qseries_array_set a, b;
  qseries_array_set_init(&a, s1, 2);
  qseries_array_set_init(&b, s2, 3);
  struct qseries_set *sets[] = {&a.base, &b.base};
  static const char *const rep[] = {"replica", "rule_replica"};
  struct tc_buf out = TC_BUF_INIT;
  merge_all(sets, 2, rep, 2, &out);
  ASSERT_STREQ(out.data, "{a=1,z=1}:2:[0-100 5-105] "
                         "{a=1,z=9}:2:[0-100 50-150] "
                         "{a=2}:1:[0-100] ");
  tc_buf_release(&out);

  /* An input that already comes stripped is streamed as it is. */
  static const struct label s1l[] = {{"a", "1"}, {"z", "1"}};
  static const struct label s2l[] = {{"a", "1"}, {"z", "9"}};
  const struct qseries pre[] = {{s1l, 2, c2, 1}, {s2l, 2, c2, 1}};
  struct qseries_array_set p;
  qseries_array_set_init(&a, s1, 2);
  qseries_array_set_init(&p, pre, 2);
  struct qseries_set *mixed[] = {&a.base, &p.base};
  struct qmerge *mm = qmerge_new(mixed, 2, rep, 1);
  qmerge_input_stripped(mm, 1);
  qmerge_input_stripped(mm, 7); /* out of range: ignored */
  const struct qmerged *ms;
  tc_buf_init(&out, 0);
  while (qmerge_next(mm, &ms) == 1)
    describe(&out, ms);
  qmerge_free(mm);
  ASSERT_STREQ(out.data, "{a=1,z=1}:2:[0-100 50-150] "
                         "{a=1,z=9}:2:[0-100 50-150] ");
  ASSERT_EQ(p.i, 2);
  tc_buf_release(&out);

  /* Replicas within one input collapse too. */
  const struct qseries s3[] = {{a2, 3, c0, 1}, {b1, 3, c1, 1}};
  qseries_array_set_init(&a, s3, 2);
  struct qseries_set *one[] = {&a.base};
  tc_buf_init(&out, 0);
  merge_all(one, 1, rep, 1, &out);
  ASSERT_STREQ(out.data, "{a=1,z=1}:2:[0-100 5-105] ");
  tc_buf_release(&out);
}

struct failing_set {
  struct qseries_set base;
  int calls;
};

static int failing_next(struct qseries_set *s, const struct qseries **out) {
  static const struct label l[] = {{"a", "1"}};
  static const struct qseries one = {l, 1, NULL, 0};
  struct failing_set *f = (struct failing_set *)s;
  if (f->calls++ == 0) {
    *out = &one;
    return 1;
  }
  return tc_error(TC_EIO, "receive series from store-1: connection reset");
}

static const struct qseries_set_ops failing_ops = {.next = failing_next};

TEST(merge_input_error) {
  struct failing_set f = {{&failing_ops}, 0};
  struct qseries_set *sets[] = {&f.base};
  struct qmerge *m = qmerge_new(sets, 1, NULL, 0);
  const struct qmerged *s;
  ASSERT_EQ(qmerge_next(m, &s), TC_EIO);
  ASSERT_EQ(qmerge_next(m, &s), TC_EIO); /* sticky */
  qmerge_free(m);

  /* eager mode reads everything up front: the error comes first */
  f.calls = 0;
  static const char *const rep[] = {"replica"};
  m = qmerge_new(sets, 1, rep, 1);
  ASSERT_EQ(qmerge_next(m, &s), TC_EIO);
  qmerge_free(m);
}

TEST(merge_overlap_split) {
  static const struct {
    struct qchunk c[6];
    size_t n;
    size_t want_groups;
    size_t want[6];
  } cases[] = {
      {{{0, 99}, {100, 199}, {200, 299}}, 3, 1, {0, 0, 0}},
      /* two replicas interleaved */
      {{{0, 100}, {5, 105}, {101, 200}, {106, 205}}, 4, 2, {0, 1, 0, 1}},
      /* max_time == next min_time overlaps */
      {{{0, 100}, {100, 200}}, 2, 2, {0, 1}},
      /* a third group, then back to the first free one */
      {{{0, 100}, {10, 110}, {20, 120}, {115, 130}, {200, 300}}, 5, 3,
       {0, 1, 2, 0, 0}},
      {{{0}}, 0, 0, {0}},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t g[6] = {0};
    ASSERT_EQ(qmerge_overlap_split(cases[i].c, cases[i].n, g),
              cases[i].want_groups);
    for (size_t k = 0; k < cases[i].n; k++)
      if (g[k] != cases[i].want[k])
        TEST_FAIL_("case %zu chunk %zu: group %zu, want %zu", i, k, g[k],
                   cases[i].want[k]);
  }
}

TEST(merge_strings) {
  static const char *const a[] = {"__name__", "instance", "job"};
  static const char *const b[] = {"cluster", "job", "replica"};
  static const char *const c[] = {"__name__", "zone"};
  const char *const *lists[] = {a, NULL, b, c};
  size_t lens[] = {3, 0, 3, 2};
  const char **out;
  size_t n = qmerge_strings(lists, lens, 4, 0, &out);
  ASSERT_EQ(n, 6);
  static const char *const want[] = {"__name__", "cluster",  "instance",
                                     "job",      "replica", "zone"};
  for (size_t i = 0; i < n; i++)
    ASSERT_STREQ(out[i], want[i]);
  free(out);
  n = qmerge_strings(lists, lens, 4, 3, &out);
  ASSERT_EQ(n, 3);
  ASSERT_STREQ(out[2], "instance");
  free(out);
  n = qmerge_strings(NULL, NULL, 0, 0, &out);
  ASSERT_EQ(n, 0);
  free(out);
}
