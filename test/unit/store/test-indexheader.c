/*
 * test-indexheader.c - the binary index-header of src/store/indexheader.c:
 * built from the index of spec tsdb-block.md 6.10 in a memory bucket it
 * must equal the worked example of thanos-formats.md 3 byte for byte, open
 * as a virtual index that selects and reads series through the bucket, and
 * refuse damaged inputs with clear errors. Also the index cache's bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "thanosc/error.h"
#include "thanosc/objstore.h"
#include "thanosc/common.h"
#include "thanosc/store.h"
#include "thanosc/tsdb/block.h"

/* The 343-byte index of spec tsdb-block.md 6.10. */
static const char *index_hex =
    "baaad70002"
    "0000001800000005085f5f6e616d655f5f01610162036a6f62027570f0b315e7"
    "0000000000000000000000"
    "0c020004030101d00fe2d40308602b9324"
    "000000000000000000000000000000"
    "0b0200040302 01d00f98752444745db4"
    "0000000c00000001000000010000000420d59ba6"
    "0000001000000001000000020000000100000002461967b5"
    "0000000c000000020000000300000005bb33cbd4"
    "0000000c000000020000000300000005bb33cbd4"
    "000000080000000100000003a7692ed2"
    "00000008000000010000000581c8c93a"
    "000000150000000201085f5f6e616d655f5f6001036a6f627498523933"
    "0000002a00000004"
    "0200008c01"
    "02085f5f6e616d655f5f027570a001"
    "02036a6f620161b401"
    "02036a6f620162c401"
    "c6491036"
    "0000000000000005000000000000002500000000000000600000000000000 0d4"
    "000000000000008c00000000000000f1"
    "c43580b5";

/* The index-header example of spec thanos-formats.md 3 (168 bytes). */
static const char *header_hex =
    "baaad79201020000000000 0000f1"
    "0000001800000005085f5f6e616d655f5f01610162036a6f62027570f0b315e7"
    "0000002a00000004020000 8c0102085f5f6e616d655f5f027570a00102036a6f"
    "620161b40102036a6f620162c401c6491036"
    "000000000000000500000000000000250000000000000060"
    "00000000000000d4000000000000008c00000000000000f1c43580b5"
    "000000000000000e000000000000002e459841d6";

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  int hi = -1;
  for (; *h; h++) {
    int v;
    if (*h >= '0' && *h <= '9')
      v = *h - '0';
    else if (*h >= 'a' && *h <= 'f')
      v = *h - 'a' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  return n;
}

static size_t slurp(const char *path, uint8_t *out, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  size_t n = fread(out, 1, cap, f);
  fclose(f);
  return n;
}

static const char *tmp_path(void) {
  static char p[64];
  snprintf(p, sizeof p, "/tmp/thanosc-ih-%d", (int)getpid());
  return p;
}

TEST(store_indexheader_golden_bytes) {
  uint8_t idx[400], want[200], got[400];
  size_t in = unhex(index_hex, idx), wn = unhex(header_hex, want);
  ASSERT_EQ(in, 343);
  ASSERT_EQ(wn, 168);
  struct objstore *os = objstore_mem_new();
  ASSERT_OK(objstore_upload_buf(os, "B/index", idx, in));
  ASSERT_OK(indexheader_build(os, "B/index", tmp_path()));
  size_t gn = slurp(tmp_path(), got, sizeof got);
  ASSERT_EQ(gn, wn);
  for (size_t i = 0; i < wn; i++)
    if (want[i] != got[i])
      TEST_FAIL_("byte %zu: want %02x got %02x", i, want[i], got[i]);

  /* Opened as a virtual index: selection and series via the bucket. */
  struct tsdb_bytes src;
  struct index_reader r;
  ASSERT_OK(indexheader_open(tmp_path(), os, "B/index", NULL, "B", &src));
  ASSERT_OK(index_reader_open(&r, &src));
  struct matchers ms = {0};
  ASSERT_OK(selector_parse("{job=\"b\"}", &ms));
  uint64_t *ids;
  size_t n;
  ASSERT_OK(postings_expand(index_reader_select(&r, &ms), &ids, &n));
  ASSERT_EQ(n, 1);
  ASSERT_UEQ(ids[0], 5);
  struct index_series s = {0};
  uint64_t off = ids[0] * 16, len = 64;
  ASSERT_OK(indexheader_preload(&r.src, &off, &len, 1));
  ASSERT_OK(index_reader_series(&r, ids[0], &s));
  indexheader_preload_clear(&r.src);
  ASSERT_STREQ(labels_get(&s.lset, "__name__"), "up");
  ASSERT_UEQ(s.chunks[0].ref, 36);
  index_series_release(&s);
  free(ids);
  matchers_release(&ms);
  index_reader_close(&r);
  objstore_close(os);
  unlink(tmp_path());
}

TEST(store_indexheader_refuses_damage) {
  uint8_t idx[400], hdr[400];
  size_t in = unhex(index_hex, idx);
  struct objstore *os = objstore_mem_new();
  /* A truncated index has no TOC. */
  ASSERT_OK(objstore_upload_buf(os, "T/index", idx, in - 10));
  ASSERT_NE(indexheader_build(os, "T/index", tmp_path()), 0);
  /* A TOC with a bad CRC. */
  idx[in - 1] ^= 1;
  ASSERT_OK(objstore_upload_buf(os, "C/index", idx, in));
  ASSERT_EQ(indexheader_build(os, "C/index", tmp_path()), TC_ECHECKSUM);
  idx[in - 1] ^= 1;
  /* A missing index. */
  ASSERT_EQ(indexheader_build(os, "M/index", tmp_path()), TC_ENOTFOUND);
  /* A damaged index-header file. */
  ASSERT_OK(objstore_upload_buf(os, "G/index", idx, in));
  ASSERT_OK(indexheader_build(os, "G/index", tmp_path()));
  size_t hn = slurp(tmp_path(), hdr, sizeof hdr);
  struct tsdb_bytes src;
  for (size_t at = 0; at < hn; at += 7) {
    hdr[at] ^= 0x40;
    FILE *f = fopen(tmp_path(), "wb");
    fwrite(hdr, 1, hn, f);
    fclose(f);
    int rc = indexheader_open(tmp_path(), os, "G/index", NULL, "G", &src);
    if (rc == 0) {
      /* Damage inside the copied sections shows when the index opens. */
      struct index_reader r;
      rc = index_reader_open(&r, &src);
      if (rc == 0)
        index_reader_close(&r);
    }
    hdr[at] ^= 0x40;
    if (rc == 0)
      TEST_FAIL_("damage at byte %zu went unnoticed", at);
  }
  ASSERT_EQ(indexheader_open("/nonexistent/x", os, "G/index", NULL, "G",
                             &src), TC_ENOTFOUND);
  objstore_close(os);
  unlink(tmp_path());
}

TEST(store_index_cache_lru_bound) {
  struct index_cache *c = index_cache_new(64 * 1024);
  uint8_t v[1000], out[1000];
  for (int i = 0; i < 1000; i++) {
    memset(v, i & 0xff, sizeof v);
    index_cache_put(c, INDEX_CACHE_SERIES, "B", (uint64_t)i * 16, sizeof v,
                    v);
  }
  /* The newest items are there, the oldest were evicted. */
  ASSERT_TRUE(index_cache_get(c, INDEX_CACHE_SERIES, "B", 999 * 16,
                              sizeof v, out));
  ASSERT_EQ(out[0], 999 & 0xff);
  ASSERT_FALSE(index_cache_get(c, INDEX_CACHE_SERIES, "B", 0, sizeof v,
                               out));
  ASSERT_FALSE(index_cache_get(c, INDEX_CACHE_SERIES, "A", 999 * 16,
                               sizeof v, out));
  /* An item over the item limit is refused. */
  static uint8_t big[40000];
  index_cache_put(c, INDEX_CACHE_POSTINGS, "B", 1, sizeof big, big);
  ASSERT_FALSE(index_cache_has(c, "B", 1, sizeof big));
  index_cache_free(c);
  /* A zero-sized cache stores nothing. */
  c = index_cache_new(0);
  index_cache_put(c, INDEX_CACHE_SERIES, "B", 0, 4, v);
  ASSERT_FALSE(index_cache_has(c, "B", 0, 4));
  index_cache_free(c);
}

/* The sampled reader over a block with more values than one sample
 * holds: every value is found, absent ones are not, series decode. */
TEST(store_lazy_index_many_values) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/thanosc-lz-%d", (int)getpid());
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, tmp, 1700000000000LL));
  char v[16];
  for (int i = 0; i < 100; i++) {
    struct labels ls = LABELS_INIT;
    snprintf(v, sizeof v, "v%03d", i);
    labels_add(&ls, "__name__", "m");
    labels_add(&ls, "u", v);
    int64_t t = 1700000000000LL;
    double x = i;
    ASSERT_OK(block_writer_add_samples(&w, &ls, &t, &x, 1));
    labels_release(&ls);
  }
  char *dir;
  ASSERT_OK(block_writer_finish(&w, NULL, &dir));
  char *index = xasprintf("%s/index", dir);
  struct objstore *os = objstore_mem_new();
  ASSERT_OK(objstore_upload_file(os, "L/index", index));
  ASSERT_OK(indexheader_build(os, "L/index", tmp_path()));
  struct tsdb_bytes src;
  struct lazy_index x;
  ASSERT_OK(indexheader_open(tmp_path(), os, "L/index", NULL, "L", &src));
  ASSERT_OK(lazy_index_open(&x, &src));
  ASSERT_EQ(x.nnames, 3); /* "", __name__, u */
  struct lazy_arena a = {0};
  struct index_series s = {0};
  for (int i = 0; i < 100; i++) {
    snprintf(v, sizeof v, "v%03d", i);
    uint64_t *ids;
    size_t n;
    ASSERT_OK(postings_expand(lazy_index_postings(&x, "u", v), &ids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_OK(lazy_index_series(&x, ids[0], &a, &s));
    ASSERT_STREQ(labels_get(&s.lset, "u"), v);
    free(ids);
  }
  const char *absent[] = {"a", "v0005", "v050x", "z", ""};
  for (size_t i = 0; i < TC_ARRAY_SIZE(absent); i++) {
    uint64_t *ids;
    size_t n;
    ASSERT_OK(postings_expand(lazy_index_postings(&x, "u", absent[i]), &ids,
                              &n));
    ASSERT_EQ(n, 0);
    free(ids);
  }
  struct matchers ms = {0};
  uint64_t *ids;
  size_t n;
  ASSERT_OK(selector_parse("m{u=~\"v0[0-4].\"}", &ms));
  ASSERT_OK(postings_expand(lazy_index_select(&x, &ms), &ids, &n));
  ASSERT_EQ(n, 50);
  free(ids);
  matchers_release(&ms);
  ASSERT_OK(selector_parse("{u!=\"v007\",u!~\"v0[1-9].\"}", &ms));
  ASSERT_OK(postings_expand(lazy_index_select(&x, &ms), &ids, &n));
  ASSERT_EQ(n, 9);
  free(ids);
  matchers_release(&ms);
  index_series_release(&s);
  lazy_arena_release(&a);
  lazy_index_close(&x);
  objstore_close(os);
  char *cmd = xasprintf("rm -rf %s %s", tmp, tmp_path());
  ASSERT_EQ(system(cmd), 0);
  free(cmd);
  free(index);
  free(dir);
}
