/*
 * Tests of src/query/dedup.c: Thanos's penalty deduplication (with and
 * without counter adjustment) and the chain merge, over crafted replicas
 * with gaps, jitter and resets. Expected streams were worked out by
 * following pkg/dedup/iter.go step by step.
 */
#include "test.h"
#include "thanosc/query_dedup.h"

#define MAXR 4
#define MAXS 16

struct dcase {
  const char *name;
  struct qsample r[MAXR][MAXS];
  size_t nr[MAXR];
  size_t nrep;
  int counter;
  struct qsample want[MAXS * MAXR];
  size_t nwant;
};

static void run_case(const struct dcase *c, enum qdedup_algo algo) {
  struct qslice_iter s[MAXR];
  struct promql_iter *reps[MAXR];
  for (size_t i = 0; i < c->nrep; i++) {
    qslice_iter_init(&s[i], c->r[i], c->nr[i]);
    reps[i] = &s[i].base;
  }
  struct promql_iter *it = qdedup_iter_new(algo, reps, c->nrep, c->counter);
  size_t n = 0;
  while (it->ops->next(it) == PROMQL_SAMPLE_FLOAT) {
    int64_t t;
    double v;
    it->ops->at(it, &t, &v);
    if (n >= c->nwant)
      TEST_FAIL_("%s: extra sample {%lld, %g}", c->name, (long long)t, v);
    if (t != c->want[n].t || v != c->want[n].v)
      TEST_FAIL_("%s: sample %zu is {%lld, %g}, want {%lld, %g}", c->name, n,
                 (long long)t, v, (long long)c->want[n].t, c->want[n].v);
    n++;
  }
  if (n != c->nwant)
    TEST_FAIL_("%s: %zu samples, want %zu", c->name, n, c->nwant);
  ASSERT_OK(it->ops->err(it));
  /* exhausted stays exhausted */
  ASSERT_EQ(it->ops->next(it), PROMQL_SAMPLE_NONE);
  qdedup_iter_free(it);
}

static const struct dcase penalty_cases[] = {
    {"follows the first replica while it has no gaps",
     {{{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}, {50000, 50}},
      {{13000, 10.5}, {23000, 20.5}, {33000, 30.5}, {43000, 40.5},
       {53000, 50.5}}},
     {5, 5}, 2, 0,
     {{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}, {50000, 50}}, 5},
    {"switches across a gap and stays on the other replica",
     {{{10000, 1}, {20000, 1}, {30000, 1}, {90000, 1}, {100000, 1},
       {110000, 1}},
      {{15000, 2}, {25000, 2}, {35000, 2}, {45000, 2}, {55000, 2}, {65000, 2},
       {75000, 2}, {85000, 2}, {95000, 2}, {105000, 2}, {115000, 2}}},
     {6, 11}, 2, 0,
     {{10000, 1}, {20000, 1}, {30000, 1}, {55000, 2}, {65000, 2}, {75000, 2},
      {85000, 2}, {95000, 2}, {105000, 2}, {115000, 2}},
     10},
    {"second replica starts first",
     {{{20000, 1}, {30000, 1}}, {{10000, 2}, {21000, 2}, {31000, 2}}},
     {2, 3}, 2, 0,
     {{10000, 2}, {20000, 1}, {30000, 1}}, 3},
    {"counter: switching to a lower replica is adjusted",
     {{{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}},
      {{12000, 1}, {22000, 2}, {32000, 3}, {42000, 4}, {52000, 5},
       {62000, 6}, {72000, 7}}},
     {4, 7}, 2, 1,
     {{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}, {62000, 40},
      {72000, 41}},
     6},
    {"not a counter: no adjustment",
     {{{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}},
      {{12000, 1}, {22000, 2}, {32000, 3}, {42000, 4}, {52000, 5},
       {62000, 6}, {72000, 7}}},
     {4, 7}, 2, 0,
     {{10000, 10}, {20000, 20}, {30000, 30}, {40000, 40}, {62000, 6},
      {72000, 7}},
     6},
    {"counter: adjusted on the very first switch",
     {{{20000, 1}, {30000, 1}}, {{10000, 2}, {21000, 2}, {31000, 2}}},
     {2, 3}, 2, 1,
     {{10000, 2}, {20000, 2}, {30000, 2}}, 3},
    {"counter: a real reset inside the followed replica is kept",
     {{{0, 5}, {10000, 8}, {20000, 1}, {30000, 3}},
      {{1000, 5}, {11000, 8}, {21000, 1}, {31000, 3}}},
     {4, 4}, 2, 1,
     {{0, 5}, {10000, 8}, {20000, 1}, {30000, 3}}, 4},
    {"three replicas with staggered gaps",
     {{{0, 1}, {15000, 1}, {30000, 1}, {45000, 1}},
      {{60000, 2}, {75000, 2}, {90000, 2}},
      {{5000, 3}, {20000, 3}, {35000, 3}, {50000, 3}, {65000, 3}, {80000, 3},
       {95000, 3}, {110000, 3}}},
     {4, 3, 8}, 3, 0,
     {{0, 1}, {15000, 1}, {30000, 1}, {45000, 1}, {80000, 3}, {95000, 3},
      {110000, 3}},
     7},
    {"three counter replicas: a long gap drops the rest (as Thanos)",
     {{{0, 100}, {15000, 110}, {30000, 120}},
      {{1000, 50}, {16000, 60}, {31000, 70}, {46000, 80}, {61000, 90}},
      {{2000, 10}, {17000, 20}, {32000, 30}, {47000, 40}, {62000, 50},
       {77000, 60}, {92000, 70}, {107000, 80}}},
     {3, 5, 8}, 3, 1,
     {{0, 100}, {15000, 110}, {30000, 120}, {61000, 120}}, 4},
    {"initial penalty is 5s",
     {{{0, 1}, {15000, 2}, {30100, 3}, {60000, 5}, {75000, 6}},
      {{7000, 1.5}, {22000, 2.5}, {37000, 3.5}, {52000, 4.5}, {67000, 5.5},
       {82000, 6.5}}},
     {5, 6}, 2, 0,
     {{0, 1}, {7000, 1.5}, {22000, 2.5}, {37000, 3.5}, {52000, 4.5},
      {67000, 5.5}, {82000, 6.5}},
     7},
    {"one empty replica", {{{0}}, {{1000, 1}, {2000, 2}}}, {0, 2}, 2, 0,
     {{1000, 1}, {2000, 2}}, 2},
    {"single replica", {{{1000, 1}, {2000, 2}}}, {2}, 1, 1,
     {{1000, 1}, {2000, 2}}, 2},
    {"all empty", {{{0}}, {{0}}}, {0, 0}, 2, 0, {{0}}, 0},
};

TEST(dedup_penalty) {
  for (size_t i = 0; i < sizeof(penalty_cases) / sizeof(penalty_cases[0]);
       i++)
    run_case(&penalty_cases[i], QDEDUP_PENALTY);
}

static const struct dcase chain_cases[] = {
    {"chain merges and drops duplicate timestamps",
     {{{1000, 1}, {2000, 2}, {4000, 4}},
      {{1000, 10}, {3000, 30}, {4000, 40}, {5000, 50}},
      {{0, 100}, {2000, 200}}},
     {3, 4, 2}, 3, 0,
     {{0, 100}, {1000, 1}, {2000, 2}, {3000, 30}, {4000, 4}, {5000, 50}},
     6},
    {"chain with an empty input", {{{0}}, {{5, 1}}}, {0, 1}, 2, 0,
     {{5, 1}}, 1},
};

TEST(dedup_chain) {
  for (size_t i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++)
    run_case(&chain_cases[i], QDEDUP_CHAIN);
}

static void expect_at(struct promql_iter *it, enum promql_sample_type got,
                      int64_t t, double v) {
  int64_t at;
  double av;
  ASSERT_EQ(got, PROMQL_SAMPLE_FLOAT);
  it->ops->at(it, &at, &av);
  ASSERT_EQ(at, t);
  ASSERT_TRUE(av == v);
}

TEST(dedup_seek) {
  /* the gap case: seek iterates with next, so it sees the switch */
  const struct dcase *c = &penalty_cases[1];
  struct qslice_iter a, b;
  qslice_iter_init(&a, c->r[0], c->nr[0]);
  qslice_iter_init(&b, c->r[1], c->nr[1]);
  struct promql_iter *reps[] = {&a.base, &b.base};
  struct promql_iter *it = qdedup_iter_new(QDEDUP_PENALTY, reps, 2, 0);
  expect_at(it, it->ops->seek(it, 50000), 55000, 2);
  expect_at(it, it->ops->next(it), 65000, 2);
  expect_at(it, it->ops->seek(it, 55000), 65000, 2); /* never backwards */
  expect_at(it, it->ops->next(it), 75000, 2);
  ASSERT_EQ(it->ops->seek(it, 200000), PROMQL_SAMPLE_NONE);
  qdedup_iter_free(it);

  /* chain seek */
  const struct dcase *ch = &chain_cases[0];
  struct qslice_iter s[3];
  struct promql_iter *r3[3];
  for (int i = 0; i < 3; i++) {
    qslice_iter_init(&s[i], ch->r[i], ch->nr[i]);
    r3[i] = &s[i].base;
  }
  it = qdedup_iter_new(QDEDUP_CHAIN, r3, 3, 0);
  expect_at(it, it->ops->seek(it, 1500), 2000, 2);
  expect_at(it, it->ops->seek(it, 1000), 2000, 2);
  expect_at(it, it->ops->next(it), 3000, 30);
  expect_at(it, it->ops->seek(it, 4000), 4000, 4);
  expect_at(it, it->ops->next(it), 5000, 50);
  ASSERT_EQ(it->ops->next(it), PROMQL_SAMPLE_NONE);
  qdedup_iter_free(it);
}

TEST(dedup_names) {
  enum qdedup_algo a;
  ASSERT_OK(qdedup_algo_parse("penalty", &a));
  ASSERT_EQ(a, QDEDUP_PENALTY);
  ASSERT_OK(qdedup_algo_parse("chain", &a));
  ASSERT_EQ(a, QDEDUP_CHAIN);
  ASSERT_EQ(qdedup_algo_parse("quorum", &a), TC_EINVAL);
  ASSERT_TRUE(qdedup_is_counter_func("rate"));
  ASSERT_TRUE(qdedup_is_counter_func("increase"));
  ASSERT_TRUE(qdedup_is_counter_func("irate"));
  ASSERT_TRUE(qdedup_is_counter_func("resets"));
  ASSERT_FALSE(qdedup_is_counter_func("delta"));
  ASSERT_FALSE(qdedup_is_counter_func(NULL));
}
