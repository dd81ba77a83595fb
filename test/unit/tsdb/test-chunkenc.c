#include <stdlib.h>

#include "helper/xor-ref.h"
#include "test.h"
#include "thanosc/common.h"
#include "thanosc/tsdb/chunkenc.h"
#include "thanosc/tsdb/chunks.h"
#include "thanosc/tsdb/encoding.h"

static const uint8_t five[] = {0x00, 0x05, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0x00, 0x98, 0x75, 0x30, 0x97,
                               0xff, 0xe0, 0x00, 0x76, 0x03, 0x50};

TEST(chunkenc_xor_spec_vectors) {
  struct xor_enc e;
  xor_enc_init(&e);
  int64_t ts[] = {1000, 16000, 31000, 46001, 61002};
  double vs[] = {1, 1, 2, 3, 2};
  for (int i = 0; i < 5; i++)
    ASSERT_OK(xor_enc_append(&e, ts[i], vs[i]));
  size_t n;
  const uint8_t *b = xor_enc_bytes(&e, &n);
  ASSERT_EQ(n, sizeof(five));
  ASSERT_MEMEQ(b, five, n);
  /* One sample (3.x has no trailing empty byte). */
  static const uint8_t one[] = {0x00, 0x01, 0x80, 0xf4, 0xee, 0x06, 0x40,
                                0xc7, 0x70, 0, 0, 0, 0, 0};
  xor_enc_reset(&e);
  ASSERT_OK(xor_enc_append(&e, 7200000, 12000.0));
  b = xor_enc_bytes(&e, &n);
  ASSERT_EQ(n, sizeof(one));
  ASSERT_MEMEQ(b, one, n);
  xor_enc_release(&e);
  struct chunk_iter it;
  ASSERT_OK(chunk_iter_init(&it, CHUNK_ENC_XOR, five, sizeof(five)));
  for (int i = 0; i < 5; i++) {
    ASSERT(chunk_iter_next(&it));
    ASSERT_EQ(chunk_iter_t(&it), ts[i]);
    ASSERT_DBL_EQ(chunk_iter_v(&it), vs[i]);
  }
  ASSERT(!chunk_iter_next(&it));
  ASSERT_OK(chunk_iter_err(&it));
  /* CRC32C check value and the record CRC of the example. */
  ASSERT_UEQ(tc_crc32c(0, "123456789", 9), 0xE3069283u);
  ASSERT_UEQ(tc_crc32c(0, "", 0), 0);
  uint8_t rec[1 + sizeof(five)];
  rec[0] = 1;
  memcpy(rec + 1, five, sizeof(five));
  ASSERT_UEQ(tc_crc32c(0, rec, sizeof(rec)), 0x3e0e4220u);
  /* The same as a whole record. */
  uint8_t full[1 + sizeof(rec) + 4 + 3];
  full[0] = 0x16;
  memcpy(full + 1, rec, sizeof(rec));
  memcpy(full + 1 + sizeof(rec), "\x3e\x0e\x42\x20xyz", 7);
  uint8_t enc;
  const uint8_t *d;
  size_t reclen;
  ASSERT_OK(chunks_parse_record(full, sizeof(full), "obj", &enc, &d, &n, &reclen));
  ASSERT_EQ(enc, 1);
  ASSERT_EQ(n, sizeof(five));
  ASSERT_EQ(reclen, sizeof(full) - 3);
  for (size_t cut = 0; cut < reclen; cut++)
    ASSERT_EQ(chunks_parse_record(full, cut, "obj", &enc, &d, &n, &reclen),
              TC_ECORRUPT);
  full[5] ^= 1;
  ASSERT_EQ(chunks_parse_record(full, sizeof(full), "obj", &enc, &d, &n, &reclen),
            TC_ECHECKSUM);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "obj: checksum mismatch") != NULL);
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

TEST(chunkenc_xor_roundtrip_random) {
  struct xor_enc e;
  xor_enc_init(&e);
  for (int round = 0; round < 200; round++) {
    xor_enc_reset(&e);
    int n = 1 + (int)(rnd() % 300);
    int64_t ts[300];
    uint64_t vb[300];
    int64_t t = (int64_t)(rnd() % 2000000) - 1000000;
    for (int i = 0; i < n; i++) {
      switch (rnd() % 6) {
      case 0: t += 15000; break;
      case 1: t += (int64_t)(rnd() % 100); break;
      case 2: t += (int64_t)(rnd() % 1000000); break;
      case 3: t += (int64_t)(rnd() >> 20); break;
      case 4: t -= (int64_t)(rnd() % 100000); break;
      default: t += 1; break;
      }
      ts[i] = t;
      switch (rnd() % 5) {
      case 0: vb[i] = TSDB_STALE_NAN_BITS; break;
      case 1: vb[i] = i ? vb[i - 1] : 0; break;
      case 2: vb[i] = rnd(); break;
      default: {
        double d = (double)(rnd() % 1000) / 8;
        memcpy(&vb[i], &d, 8);
      }
      }
      double d;
      memcpy(&d, &vb[i], 8);
      ASSERT_OK(xor_enc_append(&e, ts[i], d));
    }
    size_t len;
    const uint8_t *b = xor_enc_bytes(&e, &len);
    struct chunk_iter it;
    ASSERT_OK(chunk_iter_init(&it, CHUNK_ENC_XOR, b, len));
    for (int i = 0; i < n; i++) {
      ASSERT(chunk_iter_next(&it));
      double v = chunk_iter_v(&it);
      uint64_t bits;
      memcpy(&bits, &v, 8);
      ASSERT_EQ(chunk_iter_t(&it), ts[i]);
      ASSERT_UEQ(bits, vb[i]);
    }
    ASSERT(!chunk_iter_next(&it));
    ASSERT_OK(chunk_iter_err(&it));
    /* Every truncation is an error, never a crash or a silent short read
     * (a cut that only drops padding bits may still decode). */
    for (size_t cut = 0; cut < len; cut++) {
      int got = 0;
      chunk_iter_init(&it, CHUNK_ENC_XOR, b, cut);
      while (chunk_iter_next(&it))
        got++;
      ASSERT(cut < 2 ? chunk_iter_err(&it) == TC_ECORRUPT
                     : (got == n || chunk_iter_err(&it) == TC_ECORRUPT));
    }
    /* Seek. */
    ASSERT_OK(chunk_iter_init(&it, CHUNK_ENC_XOR, b, len));
    int k = (int)(rnd() % (unsigned)n);
    int64_t want = ts[k];
    int first = 0;
    while (first < n && ts[first] < want)
      first++;
    ASSERT(chunk_iter_seek(&it, want));
    ASSERT_EQ(chunk_iter_t(&it), ts[first]);
  }
  xor_enc_release(&e);
}

/* Decodes [d, d+n) from an exact-size heap copy (so ASan sees any read
 * past the end) with next(), next_batch() in steps of `step` mixed with
 * next(), and checks both against the reference decoder. */
static void check_decode(const uint8_t *d, size_t n, size_t step) {
  uint8_t *c = malloc(n ? n : 1);
  memcpy(c, d, n);
  static int64_t rt[70000], ft[70000];
  static uint64_t rv[70000], fv[70000];
  bool bad;
  size_t want = ref_decode(c, n, rt, rv, &bad);
  struct chunk_iter it;
  int rc = chunk_iter_init(&it, CHUNK_ENC_XOR, c, n);
  ASSERT_EQ(rc, n < 2 ? TC_ECORRUPT : 0);
  size_t got = 0;
  while (chunk_iter_next(&it)) {
    double v = chunk_iter_v(&it);
    ft[got] = chunk_iter_t(&it);
    memcpy(&fv[got++], &v, 8);
  }
  ASSERT_EQ(got, want);
  ASSERT_EQ(chunk_iter_err(&it), bad ? TC_ECORRUPT : 0);
  ASSERT_MEMEQ(ft, rt, got * 8);
  ASSERT_MEMEQ(fv, rv, got * 8);
  if (got) /* the end or an error leaves the last sample current */
    ASSERT_EQ(chunk_iter_t(&it), ft[got - 1]);
  /* Alternate: one next(), then a batch of `step`. */
  chunk_iter_init(&it, CHUNK_ENC_XOR, c, n);
  ASSERT(!chunk_iter_started(&it));
  got = 0;
  for (;;) {
    if (!chunk_iter_next(&it))
      break;
    ASSERT(chunk_iter_started(&it));
    double v = chunk_iter_v(&it);
    ft[got] = chunk_iter_t(&it);
    memcpy(&fv[got++], &v, 8);
    double vb[300];
    size_t k = chunk_iter_next_batch(&it, ft + got, vb, step);
    for (size_t i = 0; i < k; i++)
      memcpy(&fv[got + i], &vb[i], 8);
    got += k;
    if (k) { /* at() is the last sample of the batch */
      ASSERT_EQ(chunk_iter_t(&it), ft[got - 1]);
      v = chunk_iter_v(&it);
      ASSERT(!memcmp(&v, &fv[got - 1], 8));
    }
    if (k < step)
      break;
  }
  ASSERT_EQ(got, want);
  ASSERT_EQ(chunk_iter_err(&it), bad ? TC_ECORRUPT : 0);
  ASSERT_MEMEQ(ft, rt, got * 8);
  ASSERT_MEMEQ(fv, rv, got * 8);
  free(c);
}

/* Encodes n samples and checks decoding of the chunk and of every
 * truncation of it. Returns the chunk's bit count mod 8. */
static unsigned check_samples(const int64_t *ts, const uint64_t *vs, int n) {
  struct xor_enc e;
  xor_enc_init(&e);
  for (int i = 0; i < n; i++) {
    double d;
    memcpy(&d, &vs[i], 8);
    ASSERT_OK(xor_enc_append(&e, ts[i], d));
  }
  size_t len;
  const uint8_t *b = xor_enc_bytes(&e, &len);
  unsigned rem = (8 - e.free_bits) & 7;
  check_decode(b, len, 7);
  bool bad;
  static int64_t rt[70000];
  static uint64_t rv[70000];
  ASSERT_EQ(ref_decode(b, len, rt, rv, &bad), (size_t)n);
  ASSERT(!bad);
  ASSERT_MEMEQ(rt, ts, (size_t)n * 8);
  ASSERT_MEMEQ(rv, vs, (size_t)n * 8);
  for (size_t cut = 0; cut < len; cut += 1 + cut / 64)
    check_decode(b, cut, 64);
  xor_enc_release(&e);
  return rem;
}

TEST(chunkenc_xor_edge_cases) {
  /* 0 samples: just the count. */
  static const uint8_t zero[] = {0, 0};
  check_decode(zero, 2, 1);
  struct chunk_iter it;
  ASSERT_OK(chunk_iter_init(&it, CHUNK_ENC_XOR, zero, 2));
  ASSERT(!chunk_iter_next(&it));
  ASSERT_OK(chunk_iter_err(&it));
  int64_t t1;
  double v1;
  ASSERT_EQ(chunk_iter_next_batch(&it, &t1, &v1, 1), 0);
  ASSERT_OK(chunk_iter_err(&it));
  /* 1 sample, negative and extreme timestamps, stale NaN. */
  int64_t ts[600];
  uint64_t vs[600];
  int64_t firsts[] = {0, -1, INT64_MIN, INT64_MAX, 1700000000000};
  for (size_t i = 0; i < TC_ARRAY_SIZE(firsts); i++) {
    ts[0] = firsts[i];
    vs[0] = i ? TSDB_STALE_NAN_BITS : 0;
    check_samples(ts, vs, 1);
  }
  /* Every dod range boundary, both signs, and 64-bit dods. */
  static const int64_t dods[] = {0,       1,       -1,      8192,
                                 -8191,   8193,    -8192,   65536,
                                 -65535,  65537,   -65536,  524288,
                                 -524287, 524289,  -524288, 1ll << 40,
                                 -(1ll << 40), INT64_MAX / 4, INT64_MIN / 4};
  int n = 0;
  ts[n] = 1000, vs[n++] = 0;
  ts[n] = 16000, vs[n++] = 0;
  int64_t delta = 15000;
  for (size_t i = 0; i < TC_ARRAY_SIZE(dods); i++) {
    delta += dods[i];
    ts[n] = ts[n - 1] + delta;
    vs[n] = (uint64_t)i;
    n++;
  }
  check_samples(ts, vs, n);
  /* Value windows of every width 1..64 (sig 64 is written as 0), first
   * new and then reused, and leading zeros >= 32 (clamped to 31). */
  n = 0;
  uint64_t v = 0;
  for (unsigned sig = 1; sig <= 64; sig++) {
    for (unsigned lead = 0; lead + sig <= 64; lead += 1 + sig / 3) {
      uint64_t x = (sig == 64 ? ~0ull : ((1ull << sig) - 1)) << (64 - lead - sig);
      x &= ~(x >> 1) | (1ull << (64 - lead - sig)) | (1ull << 63 >> lead);
      for (int rep = 0; rep < 3 && n < 600; rep++) {
        v ^= x;
        ts[n] = 1000 + 15000ll * n;
        vs[n++] = v;
      }
    }
  }
  check_samples(ts, vs, n);
  /* Chunks ending exactly at a byte boundary, and at every other bit. */
  unsigned seen = 0;
  uint64_t r = 12345;
  for (int len = 1; len < 200 && seen != 0xff; len++) {
    for (int i = 0; i < len; i++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      ts[i] = 1000 + 15000ll * i + (int64_t)(r >> 62);
      vs[i] = (r >> 40) % 3 ? vs[i ? i - 1 : 0] : r;
    }
    seen |= 1u << check_samples(ts, vs, len);
  }
  ASSERT_UEQ(seen, 0xff);
  /* Long chunks: many buffer refills, the tail copy in mid-batch. */
  for (int i = 0; i < 600; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    ts[i] = 1000 + 15000ll * i + (int64_t)(r >> 63);
    double d = (double)(i / 7) * 0.5;
    memcpy(&vs[i], &d, 8);
  }
  check_samples(ts, vs, 600);
  /* Seek within and past the buffer, then to the end. */
  struct xor_enc e;
  xor_enc_init(&e);
  for (int i = 0; i < 600; i++) {
    double d;
    memcpy(&d, &vs[i], 8);
    ASSERT_OK(xor_enc_append(&e, ts[i], d));
  }
  size_t blen;
  const uint8_t *b = xor_enc_bytes(&e, &blen);
  ASSERT_OK(chunk_iter_init(&it, CHUNK_ENC_XOR, b, blen));
  ASSERT(chunk_iter_seek(&it, ts[5]));
  ASSERT_EQ(chunk_iter_t(&it), ts[5]);
  ASSERT(chunk_iter_seek(&it, ts[3])); /* stays */
  ASSERT_EQ(chunk_iter_t(&it), ts[5]);
  ASSERT(chunk_iter_seek(&it, ts[300] - 1));
  ASSERT_EQ(chunk_iter_t(&it), ts[300]);
  ASSERT(!chunk_iter_seek(&it, ts[599] + 1));
  ASSERT_OK(chunk_iter_err(&it));
  xor_enc_release(&e);  /* Long chunks of the longest samples (64-bit dods, new 64-bit
   * windows): several copy windows a batch. */
  for (int i = 0; i < 600; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    ts[i] = (i % 2 ? -1 : 1) * (int64_t)(r >> 2);
    vs[i] = r ^ (i % 2 ? 0x8000000000000001ull : 0);
  }
  check_samples(ts, vs, 600);
}

TEST(chunkenc_xor_garbage_matches_reference) {
  /* Random bytes, and chunks with random bit flips: the decoder returns
   * what the reference returns and fails where it fails. */
  uint8_t buf[400];
  for (int round = 0; round < 3000; round++) {
    size_t n = (size_t)(rnd() % sizeof(buf));
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)rnd();
    if (n >= 2) {
      buf[0] = 0;
      buf[1] = (uint8_t)(rnd() % 200);
    }
    check_decode(buf, n, 1 + rnd() % 150);
  }
  struct xor_enc e;
  xor_enc_init(&e);
  for (int round = 0; round < 300; round++) {
    xor_enc_reset(&e);
    int n = 1 + (int)(rnd() % 200);
    double v = 0;
    for (int i = 0; i < n; i++) {
      v = rnd() % 4 ? v + (double)(rnd() % 100) : (double)rnd();
      xor_enc_append(&e, 1000 + 15000ll * i + (int64_t)(rnd() % 3), v);
    }
    size_t len;
    const uint8_t *b = xor_enc_bytes(&e, &len);
    memcpy(buf, b, len < sizeof(buf) ? len : sizeof(buf));
    len = len < sizeof(buf) ? len : sizeof(buf);
    for (int f = 0; f < 3; f++) {
      size_t bit = 16 + rnd() % ((len - 2) * 8);
      buf[bit >> 3] ^= (uint8_t)(0x80 >> (bit & 7));
      check_decode(buf, len, 1 + rnd() % 150);
    }
  }
  xor_enc_release(&e);
}

TEST(chunkenc_histogram_refused) {
  static const uint8_t h[] = {0, 1, 0x40, 0, 0};
  struct chunk_iter it;
  ASSERT_EQ(chunk_iter_init(&it, CHUNK_ENC_HISTOGRAM, h, sizeof(h)), TC_ENOTSUP);
  ASSERT(strstr(tc_errmsg(TC_ENOTSUP), "histogram") != NULL);
  ASSERT(!chunk_iter_next(&it));
  ASSERT_EQ(chunk_iter_err(&it), TC_ENOTSUP);
  ASSERT_EQ(chunk_iter_init(&it, CHUNK_ENC_FLOAT_HISTOGRAM, h, sizeof(h)), TC_ENOTSUP);
  ASSERT_EQ(chunk_iter_init(&it, 0xff, h, sizeof(h)), TC_ENOTSUP);
  ASSERT_EQ(chunk_iter_init(&it, CHUNK_ENC_XOR, h, 1), TC_ECORRUPT);
}

TEST(chunks_segment_write_read) {
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/chunks", test_tmpdir());
  struct chunks_writer w;
  ASSERT_OK(chunks_writer_open(&w, dir, 100));
  struct chunk_data c[2] = {{1, five, sizeof(five)}, {1, five, sizeof(five)}};
  uint64_t refs[6];
  ASSERT_OK(chunks_writer_write(&w, c, 1, refs));
  ASSERT_UEQ(refs[0], 8);
  ASSERT_OK(chunks_writer_write(&w, c, 2, refs + 1));
  ASSERT_OK(chunks_writer_write(&w, c, 2, refs + 3));
  ASSERT_OK(chunks_writer_close(&w));
  ASSERT_UEQ(refs[1], 8 + 28);
  ASSERT_UEQ(refs[3], chunk_ref(1, 8));
  struct chunks_reader r;
  ASSERT_OK(chunks_reader_open_dir(&r, dir));
  ASSERT_EQ(r.nsegs, 2);
  for (int i = 0; i < 5; i++) {
    uint8_t enc;
    const uint8_t *d;
    size_t n;
    ASSERT_OK(chunks_reader_chunk(&r, refs[i], &enc, &d, &n));
    ASSERT_EQ(enc, 1);
    ASSERT_EQ(n, sizeof(five));
    ASSERT_MEMEQ(d, five, n);
  }
  uint8_t enc;
  const uint8_t *d;
  size_t n;
  ASSERT_EQ(chunks_reader_chunk(&r, chunk_ref(5, 8), &enc, &d, &n), TC_ECORRUPT);
  ASSERT_EQ(chunks_reader_chunk(&r, chunk_ref(0, 4), &enc, &d, &n), TC_ECORRUPT);
  ASSERT_EQ(chunks_reader_chunk(&r, chunk_ref(0, 1000), &enc, &d, &n), TC_ECORRUPT);
  ASSERT(strstr(tc_errmsg(TC_ECORRUPT), "000001") != NULL);
  chunks_reader_close(&r);
  /* Flip one data byte: checksum error naming the file. */
  char path[600];
  snprintf(path, sizeof(path), "%s/000001", dir);
  FILE *f = fopen(path, "r+b");
  fseek(f, 20, SEEK_SET);
  fputc(0x55, f);
  fclose(f);
  ASSERT_OK(chunks_reader_open_dir(&r, dir));
  ASSERT_EQ(chunks_reader_chunk(&r, 8, &enc, &d, &n), TC_ECHECKSUM);
  ASSERT(strstr(tc_errmsg(TC_ECHECKSUM), "000001") != NULL);
  chunks_reader_close(&r);
  /* Bad magic. */
  f = fopen(path, "r+b");
  fputc(0, f);
  fclose(f);
  ASSERT_EQ(chunks_reader_open_dir(&r, dir), TC_ECORRUPT);
  ASSERT(strstr(tc_errmsg(TC_ECORRUPT), "magic") != NULL);
}

static size_t hexbytes(const char *h, uint8_t *out) {
  size_t n = 0;
  for (; h[0] && h[1]; h += 2) {
    while (*h == ' ')
      h++;
    unsigned v;
    sscanf(h, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

TEST(chunkenc_aggr_spec_example) {
  /* thanos-formats.md 4.4: five XOR sub-chunks (2.x bit writer bytes). */
  static const char *subs[5] = {
      "0002becf244008000000000000914ec267ff80",
      "0002becf244018000000000000914ed816",
      "0002becf243ff0000000000000914ec26ffe40",
      "0002becf244008000000000000914ed61f",
      "0004a09c013ff0000000000000cfd911c267fff5dd216b0feec778"};
  uint8_t raw[5][64];
  struct aggr_chunk a;
  memset(&a, 0, sizeof(a));
  for (int i = 0; i < 5; i++) {
    a.sub[i].present = true;
    a.sub[i].enc = CHUNK_ENC_XOR;
    a.sub[i].len = hexbytes(subs[i], raw[i]);
    a.sub[i].data = raw[i];
  }
  struct tc_buf b;
  tc_buf_init(&b, 0);
  ASSERT_OK(aggr_chunk_encode(&b, &a));
  ASSERT_EQ(b.len, 109);
  uint8_t rec[1 + 109];
  rec[0] = 0xff;
  memcpy(rec + 1, b.data, 109);
  ASSERT_UEQ(tc_crc32c(0, rec, sizeof(rec)), 0x3e9578a4u);
  struct aggr_chunk p;
  ASSERT_OK(aggr_chunk_parse(&p, (const uint8_t *)b.data, b.len));
  struct chunk_iter it;
  ASSERT_OK(chunk_iter_init(&it, p.sub[AGGR_COUNTER].enc, p.sub[AGGR_COUNTER].data,
                            p.sub[AGGR_COUNTER].len));
  int64_t want_t[] = {10000, 299999, 310000, 310000};
  double want_v[] = {1, 3, 5, 5};
  for (int i = 0; i < 4; i++) {
    ASSERT(chunk_iter_next(&it));
    ASSERT_EQ(chunk_iter_t(&it), want_t[i]);
    ASSERT_DBL_EQ(chunk_iter_v(&it), want_v[i]);
  }
  ASSERT(!chunk_iter_next(&it));
  ASSERT_OK(chunk_iter_err(&it));
  for (size_t cut = 0; cut < b.len; cut++)
    ASSERT_EQ(aggr_chunk_parse(&p, (const uint8_t *)b.data, cut), TC_ECORRUPT);
  tc_buf_addc(&b, 0);
  ASSERT_EQ(aggr_chunk_parse(&p, (const uint8_t *)b.data, b.len), TC_ECORRUPT);
  ASSERT_OK(aggr_chunk_parse(&p, (const uint8_t *)"\0\0\0\0\0", 5));
  ASSERT(!p.sub[AGGR_SUM].present);
  tc_buf_release(&b);
}
