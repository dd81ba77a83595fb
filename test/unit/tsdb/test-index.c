#include "test.h"
#include "thanosc/tsdb/index.h"

/* The 343-byte index of spec tsdb-block.md 6.10. */
static const char *golden_hex =
    "baaad70002"
    "0000001800000005085f5f6e616d655f5f01610162036a6f620275 70f0b315e7"
    "0000000000000000000000"
    "0c0200040301 01d00fe2d40308602b9324"
    "000000000000000000000000000000"
    "0b02000403020 1d00f98752444745db4"
    "0000000c0000000100000001000000042 0d59ba6"
    "00000010000000010000000200000001000000024619 67b5"
    "0000000c000000020000000300000005bb33cbd4"
    "0000000c000000020000000300000005bb33cbd4"
    "000000080000000100000003a7692ed2"
    "00000008000000010000000581c8c93a"
    "0000001500000002 01085f5f6e616d655f5f6001036a6f627498523933"
    "0000002a00000004"
    "020000 8c01"
    "02085f5f6e616d655f5f027570a001"
    "02036a6f620161b401"
    "02036a6f620162c401"
    "c6491036"
    "0000000000000005000000000000002500000000000000600000000000 0000d4"
    "000000000000008c00000000000000f1"
    "c43580b5";

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  int hi = -1;
  for (; *h; h++) {
    int v;
    if (*h >= '0' && *h <= '9') v = *h - '0';
    else if (*h >= 'a' && *h <= 'f') v = *h - 'a' + 10;
    else continue;
    if (hi < 0) hi = v;
    else { out[n++] = (uint8_t)(hi << 4 | v); hi = -1; }
  }
  return n;
}

static void two_series(struct labels *a, struct labels *b) {
  labels_init(a);
  labels_init(b);
  labels_add(a, "__name__", "up");
  labels_add(a, "job", "a");
  labels_add(b, "__name__", "up");
  labels_add(b, "job", "b");
}

static char *write_index(int version) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/index-v%d", test_tmpdir(), version);
  struct index_writer w;
  ASSERT_OK(index_writer_open(&w, path));
  if (version != 2)
    ASSERT_OK(index_writer_set_version(&w, version));
  const char *syms[] = {"__name__", "a", "b", "job", "up"};
  for (int i = 0; i < 5; i++)
    ASSERT_OK(index_writer_add_symbol(&w, syms[i]));
  ASSERT_EQ(index_writer_add_symbol(&w, "a"), TC_EINVAL);
  struct labels a, b;
  two_series(&a, &b);
  struct chunk_meta c1 = {8, 1000, 61002}, c2 = {36, 1000, 16000};
  ASSERT_OK(index_writer_add_series(&w, &a, &c1, 1));
  ASSERT_EQ(index_writer_add_series(&w, &a, &c2, 1), TC_EINVAL);
  ASSERT_EQ(index_writer_add_symbol(&w, "zzz"), TC_ESTATE);
  ASSERT_OK(index_writer_add_series(&w, &b, &c2, 1));
  ASSERT_OK(index_writer_close(&w));
  labels_release(&a);
  labels_release(&b);
  return path;
}

static char *write_golden(void) { return write_index(2); }

static size_t slurp(const char *path, uint8_t *buf, size_t max) {
  FILE *f = fopen(path, "rb");
  ASSERT(f);
  size_t n = fread(buf, 1, max, f);
  fclose(f);
  return n;
}

static void spit(const char *path, const uint8_t *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  ASSERT(f);
  ASSERT_EQ(fwrite(buf, 1, n, f), n);
  fclose(f);
}

TEST(index_writer_golden_bytes) {
  uint8_t want[400], got[1000];
  size_t wn = unhex(golden_hex, want);
  ASSERT_EQ(wn, 343);
  size_t gn = slurp(write_golden(), got, sizeof(got));
  ASSERT_EQ(gn, wn);
  for (size_t i = 0; i < wn; i++)
    if (want[i] != got[i])
      TEST_FAIL_("byte %zu: want %02x got %02x", i, want[i], got[i]);
}

static void check_selects(struct index_reader *r, uint64_t id_a,
                          uint64_t id_b) {
  struct matchers ms = {0};
  uint64_t *ids;
  size_t n;
  struct { const char *sel; size_t n; int first_is_a; } cases[] = {
      {"up", 2, 1}, {"{job=\"b\"}", 1, 0}, {"{job!=\"b\"}", 1, 1},
      {"{job=~\"a|b\"}", 2, 1}, {"{job=~\".+\"}", 2, 1}, {"{job=\"\"}", 0, 0},
      {"{nope=\"\"}", 2, 1}, {"up{job!~\"a\"}", 1, 0}, {"{job=~\"[ab]\",job!=\"a\"}", 1, 0},
      {"{__name__=~'(?s:.*)'}", 2, 1}, {"{x=\"y\"}", 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_OK(selector_parse(cases[i].sel, &ms));
    ASSERT_OK(postings_expand(index_reader_select(r, &ms), &ids, &n));
    if (n != cases[i].n)
      TEST_FAIL_("%s: %zu series, want %zu", cases[i].sel, n, cases[i].n);
    if (n)
      ASSERT_UEQ(ids[0], cases[i].first_is_a ? id_a : id_b);
    free(ids);
    matchers_release(&ms);
  }
}

TEST(index_v1_roundtrip) {
  struct index_reader r;
  ASSERT_OK(index_reader_open_file(&r, write_index(1)));
  ASSERT_EQ(r.version, 1);
  uint64_t *ids;
  size_t n;
  ASSERT_OK(postings_expand(index_reader_postings(&r, "", ""), &ids, &n));
  ASSERT_EQ(n, 2);
  ASSERT_UEQ(ids[0], 48); /* v1 IDs are file offsets */
  struct index_series s = {0};
  ASSERT_OK(index_reader_series(&r, ids[1], &s));
  ASSERT_STREQ(labels_get(&s.lset, "job"), "b");
  ASSERT_STREQ(labels_get(&s.lset, "__name__"), "up");
  ASSERT_EQ(s.chunks[0].ref, 36);
  ASSERT_NE(index_reader_series(&r, ids[1] + 1, &s), 0);
  check_selects(&r, ids[0], ids[1]);
  free(ids);
  index_series_release(&s);
  const char *sym;
  ASSERT_OK(index_reader_symbol(&r, 13, &sym)); /* first symbol's offset */
  ASSERT_STREQ(sym, "__name__");
  ASSERT_EQ(index_reader_symbol(&r, 14, &sym), TC_ECORRUPT);
  index_reader_close(&r);
}

TEST(index_reader_roundtrip) {
  struct index_reader r;
  ASSERT_OK(index_reader_open_file(&r, write_golden()));
  ASSERT_EQ(r.nsymbols, 5);
  struct index_series s = {0};
  ASSERT_OK(index_reader_series(&r, 3, &s));
  ASSERT_EQ(s.lset.n, 2);
  ASSERT_STREQ(labels_get(&s.lset, "job"), "a");
  ASSERT_EQ(s.nchunks, 1);
  ASSERT_EQ(s.chunks[0].maxt, 61002);
  ASSERT_OK(index_reader_series(&r, 5, &s));
  ASSERT_STREQ(labels_get(&s.lset, "job"), "b");
  ASSERT_EQ(s.chunks[0].ref, 36);
  ASSERT_NE(index_reader_series(&r, 1000, &s), 0);
  ASSERT_NE(index_reader_series(&r, 4, &s), 0); /* padding, not a series */
  index_series_release(&s);
  check_selects(&r, 3, 5);
  const struct index_pname *pn = index_reader_label_values(&r, "job");
  ASSERT_EQ(pn->n, 2);
  ASSERT_STREQ(pn->v[1].value, "b");
  index_reader_close(&r);
}

TEST(index_reader_corrupt) {
  uint8_t good[400], bad[400];
  const char *path = write_golden();
  size_t n = slurp(path, good, sizeof(good));
  char p2[600];
  snprintf(p2, sizeof(p2), "%s/bad", test_tmpdir());
  struct index_reader r;
  /* Every truncation and every single-byte flip: an error or a correct
   * open, never a crash. Flips in CRC-covered sections must be caught. */
  for (size_t cut = 0; cut < n; cut++) {
    spit(p2, good, cut);
    int rc = index_reader_open_file(&r, p2);
    ASSERT_NE(rc, 0);
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(bad, good, n);
    bad[i] ^= 0x5a;
    spit(p2, bad, n);
    int rc = index_reader_open_file(&r, p2);
    if (rc == 0) {
      struct index_series s = {0};
      for (uint64_t id = 0; id < 30; id++)
        index_reader_series(&r, id, &s);
      index_series_release(&s);
      struct postings *p = index_reader_postings(&r, "job", "a");
      while (postings_next(p)) {}
      postings_free(p);
      index_reader_close(&r);
    }
  }
  /* Specific messages name the file and section. */
  memcpy(bad, good, n);
  bad[20] ^= 1; /* inside the symbol table */
  spit(p2, bad, n);
  ASSERT_EQ(index_reader_open_file(&r, p2), TC_ECHECKSUM);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "symbol table") != NULL);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "/bad") != NULL);
  memcpy(bad, good, n);
  bad[n - 10] ^= 1; /* TOC */
  spit(p2, bad, n);
  ASSERT_EQ(index_reader_open_file(&r, p2), TC_ECHECKSUM);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "TOC") != NULL);
  memcpy(bad, good, n);
  bad[50] ^= 1; /* series 3 body */
  spit(p2, bad, n);
  ASSERT_OK(index_reader_open_file(&r, p2));
  struct index_series s = {0};
  ASSERT_EQ(index_reader_series(&r, 3, &s), TC_ECHECKSUM);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "series 3") != NULL);
  index_series_release(&s);
  index_reader_close(&r);
  /* A series length varint near 2^64 must not wrap the bounds check. */
  memcpy(bad, good, n);
  memcpy(bad + 48, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
  spit(p2, bad, n);
  ASSERT_OK(index_reader_open_file(&r, p2));
  ASSERT_EQ(index_reader_series(&r, 3, &s), TC_ECORRUPT);
  index_series_release(&s);
  index_reader_close(&r);
  ASSERT_EQ(index_reader_open_file(&r, "/nonexistent/index"), TC_ENOTFOUND);
}

TEST(index_postings_ops) {
  uint64_t a[] = {1, 3, 5, 7, 9, 11}, b[] = {2, 3, 4, 7, 11, 12},
           c[] = {3, 7, 8, 11};
  struct postings **its = malloc(3 * sizeof(*its));
  its[0] = postings_from_ids(a, 6);
  its[1] = postings_from_ids(b, 6);
  its[2] = postings_from_ids(c, 4);
  uint64_t *ids;
  size_t n;
  ASSERT_OK(postings_expand(postings_intersect(its, 3), &ids, &n));
  ASSERT_EQ(n, 3);
  ASSERT_UEQ(ids[0], 3);
  ASSERT_UEQ(ids[2], 11);
  free(ids);
  its = malloc(3 * sizeof(*its));
  its[0] = postings_from_ids(a, 6);
  its[1] = postings_from_ids(b, 6);
  its[2] = postings_empty();
  ASSERT_OK(postings_expand(postings_merge(its, 3), &ids, &n));
  ASSERT_EQ(n, 9);
  for (size_t i = 1; i < n; i++)
    ASSERT_LT(ids[i - 1], ids[i]);
  free(ids);
  ASSERT_OK(postings_expand(postings_without(postings_from_ids(a, 6),
                                             postings_from_ids(c, 4)),
                            &ids, &n));
  ASSERT_EQ(n, 3);
  ASSERT_UEQ(ids[1], 5);
  free(ids);
  struct postings *p = postings_from_ids(a, 6);
  ASSERT(postings_seek(p, 6));
  ASSERT_UEQ(postings_at(p), 7);
  ASSERT(postings_seek(p, 2));
  ASSERT_UEQ(postings_at(p), 7);
  ASSERT(!postings_seek(p, 100));
  postings_free(p);
  its = malloc(2 * sizeof(*its));
  its[0] = postings_from_ids(a, 6);
  its[1] = postings_error(TC_ECORRUPT);
  p = postings_merge(its, 2);
  while (postings_next(p)) {}
  ASSERT_EQ(postings_err(p), TC_ECORRUPT);
  postings_free(p);
}

static uint64_t prng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  prng ^= prng << 13;
  prng ^= prng >> 7;
  prng ^= prng << 17;
  return prng;
}

/* Random sorted list over [0, 200) with density 1/k. */
static size_t rand_list(uint64_t *out, unsigned k) {
  size_t n = 0;
  for (uint64_t v = 0; v < 200; v++)
    if (next_rand() % k == 0)
      out[n++] = v;
  return n;
}

TEST(index_postings_random_against_reference) {
  for (int round = 0; round < 300; round++) {
    uint64_t l[4][200];
    size_t n[4];
    for (int i = 0; i < 4; i++)
      n[i] = rand_list(l[i], 1 + (unsigned)(next_rand() % 5));
    bool in[4][200] = {{0}};
    for (int i = 0; i < 4; i++)
      for (size_t k = 0; k < n[i]; k++)
        in[i][l[i][k]] = true;
    int which = round % 3;
    struct postings **its = malloc(3 * sizeof(*its));
    for (int i = 0; i < 3; i++)
      its[i] = postings_from_ids(l[i], n[i]);
    struct postings *p = which == 0 ? postings_intersect(its, 3)
                         : which == 1 ? postings_merge(its, 3)
                                      : postings_without(
                                            postings_merge(its, 3),
                                            postings_from_ids(l[3], n[3]));
    bool want[200];
    for (int v = 0; v < 200; v++) {
      bool any = in[0][v] || in[1][v] || in[2][v];
      bool all = in[0][v] && in[1][v] && in[2][v];
      want[v] = which == 0 ? all : which == 1 ? any : any && !in[3][v];
    }
    /* Alternate next and seek to random targets. */
    uint64_t pos = 0;
    bool started = false;
    for (;;) {
      bool ok;
      uint64_t target = 0, lo;
      bool seek = next_rand() % 3 == 0;
      if (seek) {
        target = (started ? pos : 0) + next_rand() % 20;
        /* seek stays put when already at or past the target */
        lo = started && pos > target ? pos : target;
        ok = postings_seek(p, target);
      } else {
        lo = started ? pos + 1 : 0;
        ok = postings_next(p);
      }
      uint64_t exp = 200;
      for (uint64_t v = lo; v < 200; v++)
        if (want[v]) {
          exp = v;
          break;
        }
      if (!ok) {
        ASSERT_EQ(exp, 200);
        break;
      }
      ASSERT_UEQ(postings_at(p), exp);
      pos = postings_at(p);
      started = true;
    }
    ASSERT_OK(postings_err(p));
    postings_free(p);
  }
}
