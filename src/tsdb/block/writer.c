/*
 * writer.c - builds a complete block directory from sorted series: chunks
 * go to segment files as they arrive, label sets are kept until finish,
 * when the symbol table, index, empty tombstones and meta.json are written
 * into <ULID>.tmp-for-creation and the directory is renamed into place
 * (the order Prometheus's compactor uses). Used by the compactor, the
 * downsampler and the test tool.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/block.h"
#include "tsdb/encoding/strtab.h"

struct block_writer__series {
  struct labels ls;
  struct chunk_meta *chunks;
  size_t n;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int block_writer_open(struct block_writer *w, const char *parent_dir,
                      int64_t ulid_ms) {
  memset(w, 0, sizeof(*w));
  if (mkdir(parent_dir, 0755) < 0 && errno != EEXIST) {
    int e = errno;
    return tc_error(-e, "create '%s': %s", parent_dir, strerror(e));
  }
  tsdb_ulid_new(w->ulid, ulid_ms ? ulid_ms : now_ms());
  w->parent = xstrdup(parent_dir);
  w->tmpdir = xasprintf("%s/%s.tmp-for-creation", parent_dir, w->ulid);
  if (mkdir(w->tmpdir, 0755) < 0) {
    int e = errno;
    int rc = tc_error(-e, "create '%s': %s", w->tmpdir, strerror(e));
    free(w->parent);
    free(w->tmpdir);
    memset(w, 0, sizeof(*w));
    return rc;
  }
  char *cdir = xasprintf("%s/chunks", w->tmpdir);
  int rc = chunks_writer_open(&w->cw, cdir, 0);
  free(cdir);
  if (rc) {
    block_writer_abort(w);
    return rc;
  }
  w->mint = INT64_MAX;
  w->maxt = INT64_MIN;
  xor_enc_init(&w->enc);
  return 0;
}

/* Samples of a chunk as meta.json counts them; an aggregate chunk counts
 * its windows (the samples of its count sub-chunk), as Thanos does. */
static uint64_t chunk_samples(const struct chunk_data *c) {
  struct aggr_chunk a;
  if (c->enc != CHUNK_ENC_AGGR)
    return chunk_num_samples(c->enc, c->data, c->len);
  if (aggr_chunk_parse(&a, c->data, c->len) || !a.sub[AGGR_COUNT].present)
    return 0;
  return chunk_num_samples(a.sub[AGGR_COUNT].enc, a.sub[AGGR_COUNT].data,
                           a.sub[AGGR_COUNT].len);
}

int block_writer_add_chunks(struct block_writer *w, const struct labels *ls,
                            const struct chunk_data *chunks,
                            const struct chunk_meta *metas, size_t n) {
  if (w->nseries &&
      labels_compare(&w->series[w->nseries - 1].ls, ls) >= 0)
    return tc_error(TC_EINVAL, "block '%s': series added out of order",
                    w->ulid);
  if (ls->n == 0)
    return tc_error(TC_EINVAL, "block '%s': series without labels", w->ulid);
  for (size_t i = 0; i < n; i++)
    if (metas[i].maxt < metas[i].mint ||
        (i && metas[i].mint <= metas[i - 1].maxt))
      return tc_error(TC_EINVAL, "block '%s': chunks of a series overlap or "
                      "are out of order", w->ulid);
  struct chunk_meta *cm = xcalloc(n ? n : 1, sizeof(*cm));
  uint64_t *refs = xcalloc(n ? n : 1, sizeof(uint64_t));
  int rc = chunks_writer_write(&w->cw, chunks, n, refs);
  if (rc) {
    free(cm);
    free(refs);
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    cm[i] = metas[i];
    cm[i].ref = refs[i];
    w->num_samples += chunk_samples(&chunks[i]);
    if (chunks[i].len > w->chunk_max_size)
      w->chunk_max_size = chunks[i].len;
    if (metas[i].mint < w->mint)
      w->mint = metas[i].mint;
    if (metas[i].maxt > w->maxt)
      w->maxt = metas[i].maxt;
  }
  free(refs);
  w->num_chunks += n;
  TC_GROW(w->series, w->cap, w->nseries + 1);
  struct block_writer__series *s = &w->series[w->nseries++];
  labels_copy(&s->ls, ls);
  s->chunks = cm;
  s->n = n;
  return 0;
}

int block_writer_add_samples(struct block_writer *w, const struct labels *ls,
                             const int64_t *ts, const double *vs, size_t n) {
  size_t nchunks = (n + XOR_SAMPLES_PER_CHUNK - 1) / XOR_SAMPLES_PER_CHUNK;
  struct chunk_data *cd = xcalloc(nchunks ? nchunks : 1, sizeof(*cd));
  struct chunk_meta *cm = xcalloc(nchunks ? nchunks : 1, sizeof(*cm));
  uint8_t **copies = xcalloc(nchunks ? nchunks : 1, sizeof(uint8_t *));
  int rc = 0;
  for (size_t i = 1; i < n; i++)
    if (ts[i] <= ts[i - 1]) {
      rc = tc_error(TC_EINVAL, "block '%s': sample timestamps not increasing "
                    "(%lld after %lld)", w->ulid, (long long)ts[i],
                    (long long)ts[i - 1]);
      goto out;
    }
  for (size_t c = 0; c < nchunks; c++) {
    size_t from = c * XOR_SAMPLES_PER_CHUNK;
    size_t to = TC_MIN(n, from + XOR_SAMPLES_PER_CHUNK);
    xor_enc_reset(&w->enc);
    for (size_t i = from; i < to; i++)
      xor_enc_append(&w->enc, ts[i], vs[i]);
    size_t len;
    const uint8_t *b = xor_enc_bytes(&w->enc, &len);
    copies[c] = xmalloc(len);
    memcpy(copies[c], b, len);
    cd[c] = (struct chunk_data){CHUNK_ENC_XOR, copies[c], len};
    cm[c] = (struct chunk_meta){0, ts[from], ts[to - 1]};
  }
  rc = block_writer_add_chunks(w, ls, cd, cm, nchunks);
out:
  for (size_t c = 0; c < nchunks; c++)
    free(copies[c]);
  free(copies);
  free(cd);
  free(cm);
  return rc;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int write_index(struct block_writer *w, uint64_t *series_max) {
  /* Symbols: every name and value, sorted, unique, plus "" which
   * Prometheus always has (the key of its all-postings list) so that our
   * index is byte-identical to one Prometheus writes for the same data. */
  size_t total = 1;
  for (size_t i = 0; i < w->nseries; i++)
    total += 2 * w->series[i].ls.n;
  const char **syms = xcalloc(total, sizeof(char *));
  size_t k = 0;
  /* Deduplicate through a hash table first: sorting only the unique
   * strings saves most of the comparisons (names repeat in every series). */
  struct tsdb_strtab seen;
  tsdb_strtab_init(&seen, 1024);
  syms[k++] = "";
  tsdb_strtab_put(&seen, "", 0);
  for (size_t i = 0; i < w->nseries; i++)
    for (size_t j = 0; j < w->series[i].ls.n; j++) {
      const struct label *l = &w->series[i].ls.v[j];
      if (tsdb_strtab_put(&seen, l->name, 0))
        syms[k++] = l->name;
      if (tsdb_strtab_put(&seen, l->value, 0))
        syms[k++] = l->value;
    }
  tsdb_strtab_release(&seen);
  qsort(syms, k, sizeof(char *), cmp_cstr);
  char *path = xasprintf("%s/index", w->tmpdir);
  struct index_writer iw;
  int rc = index_writer_open(&iw, path);
  free(path);
  if (rc)
    goto out;
  for (size_t i = 0; i < k && !rc; i++)
    rc = index_writer_add_symbol(&iw, syms[i]);
  for (size_t i = 0; i < w->nseries && !rc; i++) {
    uint64_t before = iw.pos;
    rc = index_writer_add_series(&iw, &w->series[i].ls, w->series[i].chunks,
                                 w->series[i].n);
    if (iw.pos - before > *series_max)
      *series_max = iw.pos - before;
  }
  if (rc)
    index_writer_abort(&iw);
  else
    rc = index_writer_close(&iw);
out:
  free(syms);
  return rc;
}

static void writer_free(struct block_writer *w) {
  for (size_t i = 0; i < w->nseries; i++) {
    labels_release(&w->series[i].ls);
    free(w->series[i].chunks);
  }
  free(w->series);
  xor_enc_release(&w->enc);
  free(w->parent);
  free(w->tmpdir);
  memset(w, 0, sizeof(*w));
}

int block_writer_finish(struct block_writer *w, const struct block_meta *in,
                        char **dir_out) {
  struct block_meta m;
  char *final = NULL;
  uint64_t series_max = 0;
  int rc = chunks_writer_close(&w->cw);
  if (!rc)
    rc = write_index(w, &series_max);
  if (!rc) {
    struct tombstones none = {0};
    rc = tombstones_write(&none, w->tmpdir);
  }
  if (rc) {
    block_writer_abort(w);
    return rc;
  }
  block_meta_init(&m);
  memcpy(m.ulid, w->ulid, sizeof(m.ulid));
  if (in && in->max_time > in->min_time) {
    m.min_time = in->min_time;
    m.max_time = in->max_time;
  } else if (w->num_chunks) {
    m.min_time = w->mint;
    m.max_time = w->maxt + 1;
  }
  m.stats.num_samples = w->num_samples;
  m.stats.num_series = w->nseries;
  m.stats.num_chunks = w->num_chunks;
  m.compaction.level = in && in->compaction.level ? in->compaction.level : 1;
  if (in && in->compaction.nsources)
    for (size_t i = 0; i < in->compaction.nsources; i++)
      block_meta_add_source(&m, in->compaction.sources[i]);
  else
    block_meta_add_source(&m, w->ulid);
  if (in && in->compaction.nparents) {
    m.compaction.parents = xcalloc(in->compaction.nparents,
                                   sizeof(struct block_desc));
    memcpy(m.compaction.parents, in->compaction.parents,
           in->compaction.nparents * sizeof(struct block_desc));
    m.compaction.nparents = in->compaction.nparents;
  }
  if (in && in->has_thanos) {
    m.has_thanos = true;
    labels_copy(&m.thanos.labels, &in->thanos.labels);
    m.thanos.resolution = in->thanos.resolution;
    m.thanos.source = in->thanos.source ? xstrdup(in->thanos.source) : NULL;
    m.thanos.series_max_size = (int64_t)series_max;
    m.thanos.chunk_max_size = (int64_t)w->chunk_max_size;
  }
  rc = block_meta_write(&m, w->tmpdir);
  block_meta_release(&m);
  if (rc) {
    block_writer_abort(w);
    return rc;
  }
  final = xasprintf("%s/%s", w->parent, w->ulid);
  if (rename(w->tmpdir, final) < 0) {
    int e = errno;
    rc = tc_error(-e, "rename '%s': %s", w->tmpdir, strerror(e));
    free(final);
    block_writer_abort(w);
    return rc;
  }
  writer_free(w);
  if (dir_out)
    *dir_out = final;
  else
    free(final);
  return 0;
}

void tsdb_remove_all(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      char *p = xasprintf("%s/%s", path, de->d_name);
      tsdb_remove_all(p);
      free(p);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

void block_writer_abort(struct block_writer *w) {
  if (w->cw.dir)
    chunks_writer_abort(&w->cw);
  if (w->tmpdir)
    tsdb_remove_all(w->tmpdir);
  writer_free(w);
}
