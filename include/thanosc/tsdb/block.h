/*
 * tsdb/block.h - whole blocks on local disk: a writer that turns sorted
 * series into a complete block directory (chunks/, index, meta.json,
 * tombstones) and a reader that selects series by matchers and time range
 * and iterates their samples (tombstones applied).
 */
#ifndef THANOSC_TSDB_BLOCK_H
#define THANOSC_TSDB_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/labels.h"
#include "thanosc/tsdb/chunkenc.h"
#include "thanosc/tsdb/chunks.h"
#include "thanosc/tsdb/index.h"
#include "thanosc/tsdb/meta.h"

/* ---- writer ---- */

struct block_writer__series;
struct block_writer {
  char *parent;  /* owned */
  char *tmpdir;  /* owned: <parent>/<ULID>.tmp-for-creation */
  char ulid[TSDB_ULID_LEN + 1];
  struct chunks_writer cw;
  struct block_writer__series *series; /* owned, in add order */
  size_t nseries, cap;
  uint64_t num_samples, num_chunks;
  int64_t mint, maxt; /* over all chunks (closed) */
  uint64_t chunk_max_size;
  struct xor_enc enc;
};

/* Starts a block under parent_dir (created if missing). ulid_ms is the
 * ULID's timestamp (0 = now). */
int block_writer_open(struct block_writer *w, const char *parent_dir,
                      int64_t ulid_ms);
/* Adds one series with ready-made chunks (metas[i] gives chunk i's
 * mint/maxt; refs are filled in here). Series must come in strictly
 * ascending label order; ls must be sorted. num_samples counts
 * chunk_num_samples() of each chunk. */
int block_writer_add_chunks(struct block_writer *w, const struct labels *ls,
                            const struct chunk_data *chunks,
                            const struct chunk_meta *metas, size_t n);
/* Adds one series from samples (timestamps strictly increasing), cut into
 * XOR chunks of XOR_SAMPLES_PER_CHUNK samples as Prometheus does. */
int block_writer_add_samples(struct block_writer *w, const struct labels *ls,
                             const int64_t *ts, const double *vs, size_t n);
/*
 * Writes index, tombstones and meta.json and renames the directory to
 * <parent>/<ULID>. meta (may be NULL) supplies what the caller wants kept:
 * min/max time when max_time > min_time (otherwise [first sample, last + 1)),
 * compaction level (default 1) and sources (default: the block itself),
 * the thanos section. On success *dir_out (may be NULL) gets the block
 * directory (owned). The writer is released either way.
 */
int block_writer_finish(struct block_writer *w, const struct block_meta *meta,
                        char **dir_out /* OUT */);
/* Removes the temporary directory and releases the writer. */
void block_writer_abort(struct block_writer *w);
/* rm -r path (a file or a directory); errors are ignored. */
void tsdb_remove_all(const char *path);

/* ---- reader ---- */

struct block_reader {
  char *dir; /* owned */
  struct block_meta meta;
  struct index_reader index;
  struct chunks_reader chunks;
  struct tombstones tombs;
};

/* Opens dir: meta.json, index, chunks/ and tombstones, all validated. */
int block_reader_open(struct block_reader *b, const char *dir);
void block_reader_close(struct block_reader *b);

/* Samples of one series in [mint, maxt] with tombstones applied;
 * next/seek/at/err. */
struct series_iter {
  struct block_reader *b;      /* borrowed */
  const struct index_series *s; /* borrowed */
  size_t ci;                   /* next chunk to open */
  bool open;                   /* it holds a chunk */
  struct chunk_iter it;
  int64_t mint, maxt;
  const struct tombstone *tomb; /* this series' intervals, borrowed */
  size_t ntomb;
  int err;
};

bool series_iter_next(struct series_iter *it);
bool series_iter_seek(struct series_iter *it, int64_t t);
static inline void series_iter_at(const struct series_iter *it,
                                  int64_t *t /* OUT */, double *v /* OUT */) {
  chunk_iter_at(&it->it, t, v);
}
static inline int series_iter_err(const struct series_iter *it) {
  return it->err;
}

/* Series of a block matching matchers with a chunk overlapping
 * [mint, maxt], in label order. */
struct block_series_set {
  struct block_reader *b; /* borrowed */
  struct postings *p;     /* owned */
  int64_t mint, maxt;
  struct index_series cur;
  struct chunk_meta *chunks; /* owned: cur's chunks within range */
  size_t nchunks, cap;
  uint64_t id;
  int err;
};

/* Starts a selection; ms is only used during the call. */
int block_select(struct block_reader *b, const struct matchers *ms,
                 int64_t mint, int64_t maxt, struct block_series_set *ss);
/* Same over postings the caller built (e.g. a merge of several
 * index_reader_select() results); takes ownership of p. */
int block_select_postings(struct block_reader *b, struct postings *p,
                          int64_t mint, int64_t maxt,
                          struct block_series_set *ss);
bool block_series_set_next(struct block_series_set *ss);
/* Labels of the current series (borrowed until the next call). */
static inline const struct labels *
block_series_set_labels(const struct block_series_set *ss) {
  return &ss->cur.lset;
}
/* A sample iterator over the current series (valid until the next
 * block_series_set_next()). */
void block_series_set_iter(struct block_series_set *ss,
                           struct series_iter *it /* OUT */);
static inline int block_series_set_err(const struct block_series_set *ss) {
  return ss->err;
}
void block_series_set_release(struct block_series_set *ss);

#endif
