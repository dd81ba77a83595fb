/*
 * query_merge.h - k-way merge of the sorted series streams that StoreAPI
 * endpoints return, as Thanos's proxy does (pkg/store/proxy_merge.go) and
 * the querier's overlap split before deduplication (pkg/dedup).
 *
 * Each endpoint's Series stream is a struct qseries_set: series sorted by
 * label set (Prometheus labels.Compare order), each with its chunks sorted
 * by min time. qmerge combines N of them with a binary heap into one
 * sorted stream in which each label set appears once:
 *
 *   - replica labels given to qmerge_new() are removed first; since that
 *     can break an input's order, such inputs are read to the end and
 *     re-sorted (Thanos's eager fallback for stores that do not support
 *     without_replica_labels);
 *   - series with identical label sets (HA replicas after replica-label
 *     removal, or the same series from a sidecar and a store gateway) are
 *     joined: their chunks are pooled, byte-identical chunks kept once
 *     (compared on the first present part in Thanos's order raw, count,
 *     max, min, sum, counter), and the rest sorted by (min, max) time.
 *
 * qmerge_overlap_split() then splits a joined chunk list into groups of
 * non-overlapping chunks ("replicas"), the input of the penalty dedup
 * iterator (query_dedup.h), exactly as Thanos's NewOverlapSplit.
 *
 * Ownership: a qseries_set returns borrowed series that must stay valid
 * until the set itself is destroyed by its owner (the merge keeps pointers
 * across calls); qmerge never frees sets. Results of qmerge_next() are
 * borrowed from the merge until the next qmerge_next() or qmerge_free().
 */
#ifndef THANOSC_QUERY_MERGE_H
#define THANOSC_QUERY_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/query.h"

/* The aggregate parts of a downsampled chunk, indexed as storepb.Aggr
 * minus one (COUNT=1 .. COUNTER=5). */
enum qaggr {
  QAGGR_COUNT,
  QAGGR_SUM,
  QAGGR_MIN,
  QAGGR_MAX,
  QAGGR_COUNTER,
  QAGGR_N,
};

/* One part of an aggregate chunk; absent when data is NULL. */
struct qchunk_part {
  int encoding; /* storepb Chunk.Encoding */
  const uint8_t *data;
  size_t len;
};

/*
 * One chunk as received (storepb.AggrChunk); bytes borrowed. The raw part
 * is (encoding, data, len), absent when data is NULL; aggr, when not NULL,
 * points to QAGGR_N parts of a downsampled chunk.
 */
struct qchunk {
  int64_t min_time, max_time;
  int encoding;        /* storepb Chunk.Encoding: XOR = 0 */
  const uint8_t *data; /* borrowed */
  size_t len;
  const struct qchunk_part *aggr; /* NULL for raw-only chunks */
};

/* One series from one endpoint. */
struct qseries {
  const struct label *labels; /* sorted by name */
  size_t nlabels;
  const struct qchunk *chunks; /* sorted by min_time */
  size_t nchunks;
};

struct qseries_set;
struct qseries_set_ops {
  /* 1 with *out set (valid until the set is destroyed), 0 at the end, or
   * a negative error code (the merge stops and reports it). */
  int (*next)(struct qseries_set *s, const struct qseries **out /* OUT */);
};
struct qseries_set {
  const struct qseries_set_ops *ops;
};

/* One merged series. */
struct qmerged {
  const struct label *labels; /* replica labels removed */
  size_t nlabels;
  const struct qchunk *chunks; /* deduplicated, sorted by (min, max) */
  size_t nchunks;
  size_t nsources;             /* input series joined into this one */
};

struct qmerge;

/* sets and replica_labels are borrowed for the life of the merge. */
struct qmerge *qmerge_new(struct qseries_set *const *sets, size_t nsets,
                          const char *const *replica_labels, size_t nrep);
/*
 * Declares that input i already comes without the replica labels and
 * sorted (its store honoured without_replica_labels), so it is streamed
 * instead of read whole. Call before the first qmerge_next().
 */
void qmerge_input_stripped(struct qmerge *m, size_t i);
/* 1 with *out, 0 at the end, or the first input error. */
int qmerge_next(struct qmerge *m, const struct qmerged **out /* OUT */);
void qmerge_free(struct qmerge *m);

/*
 * Thanos NewOverlapSplit: assigns each of the n chunks (sorted by min
 * time) to a group such that chunks in one group do not overlap: a chunk
 * goes to the first group whose last chunk ends before it starts, else to
 * a new group. group[i] receives the group of chunk i; returns the number
 * of groups (0 for no chunks).
 */
size_t qmerge_overlap_split(const struct qchunk *chunks, size_t n,
                            size_t *group /* OUT, n entries */);

/*
 * Label names or values from several endpoints (each list sorted, as
 * StoreAPI LabelNames/LabelValues answer) merged into one sorted list
 * without duplicates, cut to limit entries when limit > 0 (Thanos
 * strutil.MergeSlices). *out is an owned array (free()) of borrowed
 * strings; returns its length.
 */
size_t qmerge_strings(const char *const *const *lists, const size_t *lens,
                      size_t nlists, size_t limit,
                      const char ***out /* OUT */);

/* A qseries_set over a borrowed array (tests, buffered responses). */
struct qseries_array_set {
  struct qseries_set base;
  const struct qseries *v;
  size_t n, i;
};
void qseries_array_set_init(struct qseries_array_set *s,
                            const struct qseries *v, size_t n);

#endif
