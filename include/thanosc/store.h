/*
 * store.h - the store gateway (`thanosc store`): blocks of a bucket served
 * over the StoreAPI.
 *
 * Pieces, bottom up:
 *   - index-header (src/store/indexheader.c): Thanos's binary index-header
 *     v1 built from ranged reads of a block's index, kept in
 *     <data-dir>/<ULID>/index-header, mmapped, and presented to the TSDB
 *     index reader as a "virtual index": TOC, symbols and the postings
 *     offset table come from the mmap, series and postings lists from
 *     ranged reads of the bucket;
 *   - blocks and sync (src/store/bucket.c): meta.json fetch and filters,
 *     parallel loads, drops, metrics;
 *   - queries (src/store/query.c): Series, LabelNames, LabelValues over a
 *     snapshot of loaded blocks, synchronous, run on the worker pool;
 *   - gRPC handlers (src/store/grpc.c): decode on the loop, produce on the
 *     worker pool, send while the stream is writable.
 *
 * Threads: bucket_store_sync() and the query functions run on worker
 * threads; a query holds references on the blocks of its snapshot, so a
 * sync may drop a block while a query still reads it.
 */
#ifndef THANOSC_STORE_H
#define THANOSC_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storepb_rpc.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/flags.h"
#include "thanosc/labels.h"
#include "thanosc/objstore.h"
#include "thanosc/tsdb/encoding.h"
#include "thanosc/tsdb/index.h"
#include "thanosc/tsdb/meta.h"

/* ---- index cache (src/store/cache.c) ---- */

/* Item types, as the item_type label of the metrics names them. */
enum index_cache_type { INDEX_CACHE_POSTINGS = 0, INDEX_CACHE_SERIES = 1 };

struct index_cache;
/* An LRU of index byte ranges bounded by max_bytes (0 disables it).
 * Thread-safe. */
struct index_cache *index_cache_new(uint64_t max_bytes);
void index_cache_free(struct index_cache *c); /* NULL is fine */
/* Copies the cached bytes of (ulid, off, len) into out (len bytes);
 * false on a miss. */
bool index_cache_get(struct index_cache *c, int type, const char *ulid,
                     uint64_t off, uint32_t len, uint8_t *out);
bool index_cache_has(struct index_cache *c, const char *ulid, uint64_t off,
                     uint32_t len);
/* Copies data in, evicting the least recently used items as needed. */
void index_cache_put(struct index_cache *c, int type, const char *ulid,
                     uint64_t off, uint32_t len, const uint8_t *data);

/* ---- index-header ---- */

#define INDEXHEADER_MAGIC 0xBAAAD792u
#define INDEXHEADER_V1 1
#define INDEXHEADER_HEADER_LEN 14
#define INDEXHEADER_TOC_LEN 20

/*
 * Builds path (via path.tmp + rename) from ranged reads of the object
 * `index_name` in bkt. Errors name the object: TC_ECORRUPT for a bad TOC,
 * TC_ENOTSUP for an index version other than 1 or 2.
 */
int indexheader_build(struct objstore *bkt, const char *index_name,
                      const char *path);

/*
 * Opens the index-header at path (built before) and returns in *src a
 * "bytes at offset" source that looks like the whole index object:
 * header, symbols, postings offset table and TOC from the mmapped file,
 * everything else through ranged reads of bkt (borrowed: must outlive the
 * source), looked up in and added to cache (borrowed, may be NULL) under
 * ulid. Hand *src to index_reader_open(). TC_ECORRUPT / TC_ECHECKSUM
 * for a damaged file (callers rebuild it).
 */
int indexheader_open(const char *path, struct objstore *bkt,
                     const char *index_name, struct index_cache *cache,
                     const char *ulid, struct tsdb_bytes *src /* OUT */);

/* Gives the mapped pages back to the page cache: the index reader copies
 * what it needs at open, so they are only read again on demand. */
void indexheader_drop_pages(struct tsdb_bytes *src);

/*
 * Ranges of the index object read ahead of index_reader_series() calls:
 * while set, reads inside one of them are served from memory. The ranges
 * are (off, len) pairs; the call fetches them (merging near ones) and the
 * source keeps them until indexheader_preload_clear(). Not thread-safe:
 * hold the block's index lock.
 */
int indexheader_preload(struct tsdb_bytes *src, const uint64_t *offs,
                        const uint64_t *lens, size_t n);
void indexheader_preload_clear(struct tsdb_bytes *src);

/* ---- sampled index reader (src/store/lazyindex.c) ---- */

/* One label name of the postings offset table: where its entries start,
 * how many there are, and the position of every 32nd (owned). */
struct lazy_name {
  char *name; /* owned */
  uint32_t first, n;
  uint32_t *samples;
};

/*
 * A block index read through its index-header source: only samples of the
 * symbol table and of the postings offset table live in the heap; the
 * tables themselves stay in the mmapped index-header, series and postings
 * come from ranged reads. Not thread-safe (hold the block lock).
 */
struct lazy_index {
  struct tsdb_bytes src;  /* owned */
  struct tc_buf scratch;
  const uint8_t *sym;     /* symbol table body (count first), borrowed */
  size_t sym_len;
  uint32_t nsyms;
  uint32_t *sym_samples;  /* owned: position of every 32nd symbol */
  const uint8_t *ptab;    /* postings offset table body, borrowed */
  size_t ptab_len;
  struct lazy_name *names; /* owned, sorted; "" (all postings) first */
  size_t nnames;
  uint64_t series_off;
};

/* Strings copied out of the mmap for a query (NUL-terminated), freed
 * together by lazy_arena_release(). */
struct lazy_arena_block {
  struct lazy_arena_block *next;
  char data[];
};
struct lazy_arena {
  struct lazy_arena_block *blocks;
  char *cur;
  size_t used, cap;
};
const char *lazy_arena_str(struct lazy_arena *a, const char *s, size_t n);
void lazy_arena_release(struct lazy_arena *a);

/* Takes ownership of src (closed on error too); checks TOC, symbol table
 * and postings offset table (CRCs, order) and keeps the samples. */
int lazy_index_open(struct lazy_index *x, struct tsdb_bytes *src);
void lazy_index_close(struct lazy_index *x);
/* The record of a label name, or NULL. */
const struct lazy_name *lazy_index_name(const struct lazy_index *x,
                                        const char *name);
/* Calls fn for each value of ln in order (v, n borrowed for the call);
 * a non-zero return stops and is returned. */
int lazy_index_values(const struct lazy_index *x, const struct lazy_name *ln,
                      index_value_fn *fn, void *data);
/* Postings of name=value; of matchers (Prometheus's PostingsForMatchers). */
struct postings *lazy_index_postings(struct lazy_index *x, const char *name,
                                     const char *value);
struct postings *lazy_index_select(struct lazy_index *x,
                                   const struct matchers *ms);
/* Series id into s; label strings are copied into a. */
int lazy_index_series(struct lazy_index *x, uint64_t id,
                      struct lazy_arena *a, struct index_series *s);

/* ---- blocks ---- */

/* One loaded block. Reference-counted: a sync drops its reference, each
 * query snapshot holds one. */
struct store_block {
  atomic_int refs;
  struct block_meta meta;      /* owned */
  char *dir;                   /* owned: <data-dir>/<ULID> */
  struct objstore *bkt;        /* borrowed */
  pthread_mutex_t lock;        /* guards index (its scratch) */
  struct lazy_index index;     /* over the index-header source */
  char **segs;                 /* owned: object names of chunks/ files */
  size_t nsegs;
  struct labels ext;           /* owned copy of meta.thanos.labels */
  struct index_cache *index_cache; /* borrowed, may be NULL */
};

void store_block_ref(struct store_block *b);
void store_block_unref(struct store_block *b); /* frees at zero */

/* Filters and limits of a bucket store (from the flags). */
struct bucket_store_opts {
  const char *data_dir;
  int64_t min_time, max_time;        /* block time filter, ms */
  int64_t consistency_delay_ms;
  int64_t ignore_deletion_marks_delay_ms;
  int block_sync_concurrency;
  int meta_fetch_concurrency;        /* --block-meta-fetch-concurrency */
  uint64_t series_limit;             /* --store.limits.request-series */
  uint64_t samples_limit;            /* --store.limits.request-samples */
  struct store_relabel *relabel;     /* borrowed, may be NULL */
  struct index_cache *cache;         /* borrowed, may be NULL */
  uint64_t chunk_pool_size;          /* bytes of chunk reads at once, 0 = any */
};

struct bucket_store {
  struct objstore *bkt;              /* borrowed */
  struct bucket_store_opts o;
  char *data_dir;                    /* owned */
  pthread_mutex_t lock;              /* guards blocks */
  struct store_block **blocks;       /* owned refs, sorted by ULID */
  size_t nblocks, cap;
  struct bucket_store__meta_cache *metas; /* sync-thread only */
  size_t nmetas, metascap;
  atomic_int synced;                 /* first sync done */
  atomic_uint_fast64_t chunk_bytes;  /* chunk read buffers held now */
};

/* Creates the data dir. bkt and o->relabel are borrowed. */
int bucket_store_init(struct bucket_store *s, struct objstore *bkt,
                      const struct bucket_store_opts *o);
void bucket_store_release(struct bucket_store *s);
/* One sync: list, fetch metas, filter, load and drop blocks. Returns the
 * listing error (blocks that fail to load are logged and counted). */
int bucket_store_sync(struct bucket_store *s);
/* Referenced blocks loaded now (caller unrefs each and frees the array). */
void bucket_store_snapshot(struct bucket_store *s,
                           struct store_block ***out /* OUT */,
                           size_t *n /* OUT */);

/* ---- queries (worker threads) ---- */

struct store_query;
/*
 * Starts a Series request: picks blocks (time range, external labels,
 * resolution), selects series and their chunk references, merges and sorts
 * them. *out is owned (store_query_free()). TC_EINVAL for bad matchers,
 * TC_ELIMIT naming the series or chunks limit, TC_ECANCELED as soon as
 * cancelled(arg) (may be NULL; polled between blocks and series) says so.
 */
typedef int store_cancelled_fn(void *arg); /* thread-safe: 1 = stop */
int store_series_start(struct bucket_store *s, const Thanos__SeriesRequest *req,
                       store_cancelled_fn *cancelled, void *arg,
                       struct store_query **out /* OUT */);
/*
 * Appends the next SeriesResponse messages (each as uvarint length +
 * bytes) to out, stopping after about max_bytes; the last one is the hints
 * message. *done is set once everything is packed. Chunk data is fetched
 * here, near ranges in one read.
 */
int store_series_next(struct store_query *q, struct tc_buf *out,
                      size_t max_bytes, bool *done /* OUT */);
void store_query_free(struct store_query *q);

/* Sorted, unique names / values (owned strings in out). */
int store_label_names(struct bucket_store *s,
                      const Thanos__LabelNamesRequest *req,
                      struct strlist *out /* OUT */);
int store_label_values(struct bucket_store *s,
                       const Thanos__LabelValuesRequest *req,
                       struct strlist *out /* OUT */);

/* The external label sets and the time range of the loaded blocks, as the
 * Info APIs report them. */
struct store_info {
  struct labels *sets; /* owned, each owning its strings */
  size_t nsets;
  int64_t min_time, max_time;
  struct store_info__tsdb {
    size_t set; /* index into sets */
    int64_t min_time, max_time;
  } *tsdbs; /* owned, one per block */
  size_t ntsdbs;
};
void store_info_get(struct bucket_store *s, struct store_info *out /* OUT */);
void store_info_release(struct store_info *i);

/* ---- selector relabelling (keep, drop, hashmod on external labels) ---- */

struct store_relabel;
/* Parses a Prometheus relabel config list (YAML). TC_EPARSE naming the
 * problem; unsupported actions are TC_ENOTSUP. */
int store_relabel_parse(const char *yaml, struct store_relabel **out);
void store_relabel_free(struct store_relabel *r);
/* Whether a block with these labels (external labels plus __block_id)
 * is kept. */
bool store_relabel_keep(const struct store_relabel *r,
                        const struct labels *ls);

#endif
