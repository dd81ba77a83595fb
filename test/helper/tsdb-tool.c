/*
 * tsdb-tool.c - test-tool commands for TSDB blocks: make-block writes a
 * block from dump-format text (the inverse of `tools block dump`),
 * gen-block writes synthetic blocks for benchmarks, dump-index prints an
 * index's structure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-tool.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/labels.h"
#include "thanosc/tsdb/block.h"

struct tt_series {
  struct labels ls;
  int64_t *ts;
  double *vs;
  size_t n, cap;
};

static int cmp_series(const void *a, const void *b) {
  return labels_compare(&((const struct tt_series *)a)->ls,
                        &((const struct tt_series *)b)->ls);
}

struct tt_sample {
  int64_t t;
  double v;
};

static int cmp_sample(const void *a, const void *b) {
  const struct tt_sample *x = a, *y = b;
  return x->t < y->t ? -1 : x->t > y->t;
}

static int opt_i64(const char *arg, const char *name, int64_t *out) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) || arg[n] != '=')
    return 0;
  *out = strtoll(arg + n + 1, NULL, 10);
  return 1;
}

/* Parses `{a="b", ...} value ts` into ls, *v, *t. */
static int parse_line(char *line, struct labels *ls, double *v, int64_t *t) {
  char *p = line;
  int inq = 0;
  for (; *p; p++) {
    if (inq) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == inq)
        inq = 0;
    } else if (*p == '"' || *p == '\'' || *p == '`') {
      inq = *p;
    } else if (*p == '}') {
      break;
    }
  }
  if (*p != '}')
    return tc_error(TC_EPARSE, "no label set in '%s'", line);
  char save = p[1];
  p[1] = '\0';
  int rc = labels_parse(line, ls);
  p[1] = save;
  if (rc)
    return rc;
  char vbuf[64];
  long long ts;
  if (sscanf(p + 1, " %63s %lld", vbuf, &ts) != 2)
    return tc_error(TC_EPARSE, "no value and timestamp in '%s'", line);
  if (!strcmp(vbuf, "stale"))
    *v = tsdb_stale_nan();
  else if (!strcmp(vbuf, "+Inf"))
    *v = 1.0 / 0.0;
  else if (!strcmp(vbuf, "-Inf"))
    *v = -1.0 / 0.0;
  else
    *v = strtod(vbuf, NULL);
  *t = ts;
  return 0;
}

int tt_make_block(int argc, char **argv) {
  const char *parent = NULL;
  int64_t ulid_ms = 0, mint = 0, maxt = 0;
  for (int i = 0; i < argc; i++) {
    if (opt_i64(argv[i], "--ulid-ms", &ulid_ms) ||
        opt_i64(argv[i], "--min-time", &mint) ||
        opt_i64(argv[i], "--max-time", &maxt))
      continue;
    parent = argv[i];
  }
  if (!parent) {
    fprintf(stderr, "make-block: PARENT_DIR missing\n");
    return 2;
  }
  struct tt_series *ss = NULL;
  size_t nss = 0, capss = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &lcap, stdin)) > 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (!len || line[0] == '#')
      continue;
    struct labels ls;
    double v = 0;
    int64_t t = 0;
    if ((rc = parse_line(line, &ls, &v, &t))) {
      fprintf(stderr, "make-block: %s\n", tc_errmsg(rc));
      return 1;
    }
    /* Lines of one series usually come together: check the last first. */
    struct tt_series *s = NULL;
    if (nss && labels_equal(&ss[nss - 1].ls, &ls))
      s = &ss[nss - 1];
    for (size_t i = 0; !s && i < nss; i++)
      if (labels_equal(&ss[i].ls, &ls))
        s = &ss[i];
    if (!s) {
      TC_GROW(ss, capss, nss + 1);
      s = &ss[nss++];
      memset(s, 0, sizeof(*s));
      s->ls = ls;
    } else {
      labels_release(&ls);
    }
    if (s->n == s->cap) {
      s->cap = s->cap ? 2 * s->cap : 16;
      s->ts = xrealloc(s->ts, s->cap * sizeof(int64_t));
      s->vs = xrealloc(s->vs, s->cap * sizeof(double));
    }
    s->ts[s->n] = t;
    s->vs[s->n] = v;
    s->n++;
  }
  free(line);
  if (nss > 1)
    qsort(ss, nss, sizeof(*ss), cmp_series);
  struct block_writer w;
  if ((rc = block_writer_open(&w, parent, ulid_ms)))
    goto out;
  for (size_t i = 0; i < nss && !rc; i++) {
    struct tt_series *s = &ss[i];
    struct tt_sample *sm = xcalloc(s->n, sizeof(*sm));
    for (size_t k = 0; k < s->n; k++)
      sm[k] = (struct tt_sample){s->ts[k], s->vs[k]};
    qsort(sm, s->n, sizeof(*sm), cmp_sample);
    for (size_t k = 0; k < s->n; k++)
      s->ts[k] = sm[k].t, s->vs[k] = sm[k].v;
    free(sm);
    rc = block_writer_add_samples(&w, &s->ls, s->ts, s->vs, s->n);
  }
  if (rc) {
    block_writer_abort(&w);
    goto out;
  }
  struct block_meta in;
  block_meta_init(&in);
  in.min_time = mint;
  in.max_time = maxt;
  char *dir;
  rc = block_writer_finish(&w, &in, &dir);
  block_meta_release(&in);
  if (!rc) {
    printf("%s\n", dir);
    free(dir);
  }
out:
  for (size_t i = 0; i < nss; i++) {
    labels_release(&ss[i].ls);
    free(ss[i].ts);
    free(ss[i].vs);
  }
  free(ss);
  if (rc) {
    fprintf(stderr, "make-block: %s\n", tc_errmsg(rc));
    return 1;
  }
  return 0;
}

int tt_gen_block(int argc, char **argv) {
  const char *parent = NULL;
  int64_t nseries = 1000, nsamples = 120, nlabels = 3, start = 1700000000000;
  int64_t offset = 0;
  for (int i = 0; i < argc; i++) {
    if (opt_i64(argv[i], "--series", &nseries) ||
        opt_i64(argv[i], "--offset", &offset) ||
        opt_i64(argv[i], "--samples", &nsamples) ||
        opt_i64(argv[i], "--labels", &nlabels) ||
        opt_i64(argv[i], "--start", &start))
      continue;
    parent = argv[i];
  }
  if (!parent || nseries < 1 || nsamples < 1 || nlabels < 1) {
    fprintf(stderr, "gen-block: PARENT_DIR --series=N --samples=M\n");
    return 2;
  }
  struct block_writer w;
  int rc = block_writer_open(&w, parent, start);
  if (rc)
    goto fail;
  int64_t *ts = xcalloc((size_t)nsamples, sizeof(int64_t));
  double *vs = xcalloc((size_t)nsamples, sizeof(double));
  char names[16][16], vals[16][32];
  /* Series i: __name__=metric_<i*10/N>, label_k=<i*10^(k+1)/N> for the
   * middle labels and the last one unique: all non-decreasing in i and
   * zero-padded, so i order is label order. */
  struct labels ls = LABELS_INIT;
  for (int64_t i = 0; i < nseries && !rc; i++) {
    labels_reset(&ls);
    ls.flags = LABELS_BORROWED;
    snprintf(names[0], sizeof(names[0]), "__name__");
    snprintf(vals[0], sizeof(vals[0]), "metric_%02" PRId64, i * 10 / nseries);
    labels_add_borrowed(&ls, names[0], vals[0]);
    int64_t scale = 100;
    for (int64_t k = 1; k < nlabels && k < 16; k++) {
      snprintf(names[k], sizeof(names[k]), "label_%02" PRId64, k);
      int64_t v = k == nlabels - 1 || k == 15 ? i + offset
                                              : i * scale / nseries;
      snprintf(vals[k], sizeof(vals[k]), "value_%010" PRId64, v);
      labels_add_borrowed(&ls, names[k], vals[k]);
      if (scale < INT64_MAX / 1000 / nseries)
        scale *= 10;
    }
    for (int64_t s = 0; s < nsamples; s++) {
      ts[s] = start + s * 15000 + (s % 7 == 0 ? 1 : 0);
      vs[s] = (double)((i * 31 + s * 7) % 1000) + (s % 3 ? 0.5 : 0);
    }
    rc = block_writer_add_samples(&w, &ls, ts, vs, (size_t)nsamples);
  }
  labels_release(&ls);
  free(ts);
  free(vs);
  if (rc) {
    block_writer_abort(&w);
    goto fail;
  }
  char *dir;
  if ((rc = block_writer_finish(&w, NULL, &dir)))
    goto fail;
  printf("%s\n", dir);
  free(dir);
  return 0;
fail:
  fprintf(stderr, "gen-block: %s\n", tc_errmsg(rc));
  return 1;
}

int tt_dump_index(int argc, char **argv) {
  if (argc < 1) {
    fprintf(stderr, "dump-index: INDEX_FILE missing\n");
    return 2;
  }
  struct index_reader r;
  int rc = index_reader_open_file(&r, argv[0]);
  if (rc) {
    fprintf(stderr, "dump-index: %s\n", tc_errmsg(rc));
    return 1;
  }
  printf("toc symbols=%" PRIu64 " series=%" PRIu64 " label_indices=%" PRIu64
         " label_indices_table=%" PRIu64 " postings=%" PRIu64
         " postings_table=%" PRIu64 "\n",
         r.toc.symbols, r.toc.series, r.toc.label_indices,
         r.toc.label_indices_table, r.toc.postings, r.toc.postings_table);
  printf("symbols %u\n", r.nsymbols);
  struct postings *p = index_reader_postings(&r, "", "");
  struct index_series s = {0};
  struct tc_buf b;
  tc_buf_init(&b, 0);
  while (postings_next(p) && !rc) {
    rc = index_reader_series(&r, postings_at(p), &s);
    if (rc)
      break;
    tc_buf_reset(&b);
    labels_format(&s.lset, &b);
    printf("series %" PRIu64 " %s chunks=%zu", postings_at(p), b.data,
           s.nchunks);
    for (size_t i = 0; i < s.nchunks; i++)
      printf(" [%" PRId64 ",%" PRId64 "]@%" PRIu64, s.chunks[i].mint,
             s.chunks[i].maxt, s.chunks[i].ref);
    printf("\n");
  }
  if (!rc)
    rc = postings_err(p);
  postings_free(p);
  tc_buf_release(&b);
  index_series_release(&s);
  for (size_t i = 0; i < r.nnames; i++)
    printf("postings %s values=%zu\n", r.names[i].name[0] ? r.names[i].name : "(all)",
           r.names[i].n);
  index_reader_close(&r);
  if (rc) {
    fprintf(stderr, "dump-index: %s\n", tc_errmsg(rc));
    return 1;
  }
  return 0;
}

/* Passes of each micro-benchmark, of which the best counts: a pass takes
 * about 10 ms, and on a shared machine some of them lose the core. */
#define BENCH_PASSES 15

/* CPU time of this thread: the machine is shared, so wall time would
 * measure the neighbours; rates are "per core". */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t bits_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

/* Benchmark chunks of 120 samples at 15s scrapes. "typical" mimics real
 * Prometheus data: rare timestamp jitter (13% of samples have a non-zero
 * delta-of-delta; Prometheus by default aligns scrape timestamps within
 * 2ms of the schedule, so real data has fewer), a third constant series,
 * a third counters with steady increments, a third gauges with few
 * distinct values. It encodes to ~1.5 bytes/sample, a little denser than
 * the 1.3 usually quoted for real blocks, so if anything it is harder
 * than real data; real data has more high-entropy floats than it but also
 * more constant series. Which value case comes next (unchanged, same
 * window, new window) is what costs the decoder most, and the gauges make
 * it a coin toss. "random" is a worst case: jitter on every sample and
 * values with noisy mantissas (~6 bytes/sample). */
static uint8_t **bench_chunks(size_t nchunks, size_t **lens, bool typical) {
  uint8_t **cs = xcalloc(nchunks, sizeof(*cs));
  *lens = xcalloc(nchunks, sizeof(size_t));
  struct xor_enc e;
  xor_enc_init(&e);
  uint64_t r = 42;
  for (size_t c = 0; c < nchunks; c++) {
    xor_enc_reset(&e);
    int64_t t = 1700000000000 + (int64_t)c * 1800000;
    double v = (double)(c % 1000);
    for (int i = 0; i < XOR_SAMPLES_PER_CHUNK; i++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      if (typical) {
        t += 15000 + ((r >> 50) % 10 == 0 ? (int64_t)((r >> 60) % 3) - 1 : 0);
        if (c % 3 == 1)
          v += (double)(10 + (r >> 61)); /* counter */
        else if (c % 3 == 2)
          v = (double)((r >> 59) % 4) * 0.25; /* gauge, few values */
        xor_enc_append(&e, t, v);
        continue;
      }
      t += 15000 + (int64_t)((r >> 60) % 3) - 1;
      if (c % 2)
        v += (double)((r >> 40) % 100); /* counter */
      else
        v = (double)((r >> 33) % 10000) / 100.0; /* gauge */
      xor_enc_append(&e, t, v);
    }
    size_t n;
    const uint8_t *b = xor_enc_bytes(&e, &n);
    cs[c] = xmalloc(n);
    memcpy(cs[c], b, n);
    (*lens)[c] = n;
  }
  xor_enc_release(&e);
  return cs;
}

int tt_bench_tsdb(int argc, char **argv) {
  const char *block = NULL;
  int64_t nchunks = 20000;
  for (int i = 0; i < argc; i++) {
    if (opt_i64(argv[i], "--chunks", &nchunks))
      continue;
    if (!strncmp(argv[i], "--block=", 8))
      block = argv[i] + 8;
  }
  size_t *lens;
  uint8_t **cs = NULL;
  double samples = (double)nchunks * XOR_SAMPLES_PER_CHUNK;
  /* The checksum that keeps the work is an integer mix of both fields:
   * a floating-point sum would be a 4-cycle dependency chain through
   * every sample, measuring the adder as much as the decoder. */
  uint64_t sum = 0;
  for (int mode = 0; mode < 2; mode++) {
    const char *name = mode == 0 ? "random" : "typical";
    if (cs) {
      for (int64_t c = 0; c < nchunks; c++)
        free(cs[c]);
      free(cs);
      free(lens);
    }
    double t0 = now_s();
    cs = bench_chunks((size_t)nchunks, &lens, mode == 1);
    double enc_s = now_s() - t0;
    size_t bytes = 0;
    for (int64_t c = 0; c < nchunks; c++)
      bytes += lens[c];
    printf("xor_encode_%s_samples_per_sec %.0f\n", name, samples / enc_s);
    printf("xor_%s_bytes_per_sample %.3f\n", name, (double)bytes / samples);
    /* Decode with chunk_iter_next(), the one-sample iterator every reader
     * uses (block reader, PromQL select, tools; it decodes a buffer of
     * samples at a time behind the scenes): best of several passes,
     * checksum to keep the work. */
    double best = 1e9;
    for (int pass = 0; pass < BENCH_PASSES; pass++) {
      t0 = now_s();
      for (int64_t c = 0; c < nchunks; c++) {
        struct chunk_iter it;
        chunk_iter_init(&it, CHUNK_ENC_XOR, cs[c], lens[c]);
        while (chunk_iter_next(&it))
          sum += bits_of(chunk_iter_v(&it)) ^ (uint64_t)chunk_iter_t(&it);
      }
      double d = now_s() - t0;
      if (d < best)
        best = d;
    }
    printf("xor_decode_%s_samples_per_sec %.0f\n", name, samples / best);
    /* chunk_iter_next_batch() straight into caller arrays. */
    best = 1e9;
    int64_t bts[XOR_SAMPLES_PER_CHUNK];
    double bvs[XOR_SAMPLES_PER_CHUNK];
    for (int pass = 0; pass < BENCH_PASSES; pass++) {
      t0 = now_s();
      for (int64_t c = 0; c < nchunks; c++) {
        struct chunk_iter it;
        chunk_iter_init(&it, CHUNK_ENC_XOR, cs[c], lens[c]);
        size_t got = chunk_iter_next_batch(&it, bts, bvs, XOR_SAMPLES_PER_CHUNK);
        for (size_t i = 0; i < got; i++)
          sum += bits_of(bvs[i]) ^ (uint64_t)bts[i];
      }
      double d = now_s() - t0;
      if (d < best)
        best = d;
    }
    printf("xor_decode_batch_%s_samples_per_sec %.0f\n", name, samples / best);
  }
  double t0, best;
  /* Baseline: summing the same samples from a plain array. */
  int64_t *bt = xcalloc((size_t)samples, sizeof(int64_t));
  double *bv = xcalloc((size_t)samples, sizeof(double));
  for (size_t i = 0; i < (size_t)samples; i++)
    bt[i] = (int64_t)i, bv[i] = (double)i;
  double bbest = 1e9;
  uint64_t bsum = 0;
  for (int pass = 0; pass < BENCH_PASSES; pass++) {
    t0 = now_s();
    for (size_t i = 0; i < (size_t)samples; i++)
      bsum += bits_of(bv[i]) ^ (uint64_t)bt[i];
    double d = now_s() - t0;
    if (d < bbest)
      bbest = d;
  }
  printf("array_scan_samples_per_sec %.0f\n", samples / bbest);
  fprintf(stderr, "(checksums %llu %llu)\n", (unsigned long long)sum,
          (unsigned long long)bsum);
  free(bt);
  free(bv);
  for (int64_t c = 0; c < nchunks; c++)
    free(cs[c]);
  free(cs);
  free(lens);
  /* Postings intersection: 2M-ID universe, 50% and 10% dense lists. */
  size_t U = 2000000, na = 0, nb = 0;
  uint64_t *a = xcalloc(U, sizeof(uint64_t)), *b = xcalloc(U, sizeof(uint64_t));
  uint64_t r = 7;
  for (size_t i = 0; i < U; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    if ((r >> 33) % 2 == 0)
      a[na++] = i;
    if ((r >> 40) % 10 == 0)
      b[nb++] = i;
  }
  best = 1e9;
  size_t hits = 0;
  for (int pass = 0; pass < BENCH_PASSES; pass++) {
    struct postings **its = xcalloc(2, sizeof(*its));
    its[0] = postings_from_ids(a, na);
    its[1] = postings_from_ids(b, nb);
    t0 = now_s();
    struct postings *p = postings_intersect(its, 2);
    hits = 0;
    while (postings_next(p))
      hits++;
    double d = now_s() - t0;
    postings_free(p);
    if (d < best)
      best = d;
  }
  printf("postings_intersect_input_ids_per_sec %.0f\n", (double)(na + nb) / best);
  printf("postings_intersect_ms %.3f (%zu x %zu -> %zu)\n", best * 1000, na, nb,
         hits);
  free(a);
  free(b);
  if (!block)
    return 0;
  /* Read every series (labels + chunk metas) of a block. */
  t0 = now_s();
  char *ipath = xasprintf("%s/index", block);
  struct index_reader ir;
  int rc = index_reader_open_file(&ir, ipath);
  free(ipath);
  if (rc) {
    fprintf(stderr, "bench: %s\n", tc_errmsg(rc));
    return 1;
  }
  double open_s = now_s() - t0;
  struct postings *p = index_reader_postings(&ir, "", "");
  struct index_series s = {0};
  size_t nser = 0, nchk = 0;
  while (postings_next(p)) {
    if ((rc = index_reader_series(&ir, postings_at(p), &s)))
      break;
    nser++;
    nchk += s.nchunks;
  }
  postings_free(p);
  index_series_release(&s);
  double all_s = now_s() - t0;
  index_reader_close(&ir);
  printf("block_index_open_s %.3f\n", open_s);
  printf("block_read_all_series_s %.3f (%zu series, %zu chunks)\n", all_s,
         nser, nchk);
  return rc ? 1 : 0;
}

/* Decodes an XOR chunk and encodes its samples again with our encoder;
 * returns the new bytes (owned) or NULL when the chunk is not XOR. */
static uint8_t *reencode(uint8_t enc, const uint8_t *d, size_t n,
                         size_t *len) {
  struct chunk_iter it;
  if (enc != CHUNK_ENC_XOR || chunk_iter_init(&it, enc, d, n))
    return NULL;
  struct xor_enc e;
  xor_enc_init(&e);
  while (chunk_iter_next(&it))
    xor_enc_append(&e, chunk_iter_t(&it), chunk_iter_v(&it));
  const uint8_t *b = xor_enc_bytes(&e, len);
  uint8_t *out = xmalloc(*len + 1);
  memcpy(out, b, *len);
  xor_enc_release(&e);
  return out;
}

/* rewrite-block SRC_BLOCK PARENT_DIR [--reencode]: copies every series
 * with its raw chunks (or, with --reencode, with XOR chunks decoded and
 * encoded again) through our reader and writer, so the new block's files
 * can be compared byte for byte with the original. */
int tt_rewrite_block(int argc, char **argv) {
  bool re = argc >= 3 && !strcmp(argv[2], "--reencode");
  if (argc < 2) {
    fprintf(stderr, "rewrite-block: SRC_BLOCK PARENT_DIR [--reencode]\n");
    return 2;
  }
  struct block_reader b;
  int rc = block_reader_open(&b, argv[0]);
  if (rc) {
    fprintf(stderr, "rewrite-block: %s\n", tc_errmsg(rc));
    return 1;
  }
  struct block_writer w;
  if ((rc = block_writer_open(&w, argv[1], 0))) {
    block_reader_close(&b);
    fprintf(stderr, "rewrite-block: %s\n", tc_errmsg(rc));
    return 1;
  }
  struct postings *p = index_reader_postings(&b.index, "", "");
  struct index_series s = {0};
  struct chunk_data *cd = NULL;
  uint8_t **copies = NULL;
  size_t cap = 0;
  while (!rc && postings_next(p)) {
    if ((rc = index_reader_series(&b.index, postings_at(p), &s)))
      break;
    if (s.nchunks > cap) {
      cd = xrealloc(cd, s.nchunks * sizeof(*cd));
      copies = xrealloc(copies, s.nchunks * sizeof(*copies));
      cap = s.nchunks;
    }
    size_t k = 0;
    for (; k < s.nchunks && !rc; k++) {
      const uint8_t *d;
      rc = chunks_reader_chunk(&b.chunks, s.chunks[k].ref, &cd[k].enc, &d,
                               &cd[k].len);
      if (rc)
        break;
      copies[k] = re ? reencode(cd[k].enc, d, cd[k].len, &cd[k].len) : NULL;
      if (!copies[k]) {
        copies[k] = xmalloc(cd[k].len + 1);
        memcpy(copies[k], d, cd[k].len);
      }
      cd[k].data = copies[k];
    }
    if (!rc)
      rc = block_writer_add_chunks(&w, &s.lset, cd, s.chunks, s.nchunks);
    for (size_t i = 0; i < k; i++)
      free(copies[i]);
  }
  if (!rc)
    rc = postings_err(p);
  postings_free(p);
  index_series_release(&s);
  free(cd);
  free(copies);
  char *dir = NULL;
  if (rc)
    block_writer_abort(&w);
  else
    rc = block_writer_finish(&w, &b.meta, &dir);
  block_reader_close(&b);
  if (rc) {
    fprintf(stderr, "rewrite-block: %s\n", tc_errmsg(rc));
    return 1;
  }
  printf("%s\n", dir);
  free(dir);
  return 0;
}
