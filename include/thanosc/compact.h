/*
 * compact.h - the compactor (`thanosc compact`): Thanos's compaction,
 * downsampling, retention and deletion over the blocks of a bucket.
 *
 * One iteration (compact_iterate) is what `thanos compact` does between
 * two waits:
 *   1. sync: list the bucket's block metas; leave out partial uploads (no
 *      meta.json), blocks with a deletion mark, blocks younger than the
 *      consistency delay and blocks outside the time/label selection;
 *      mark for deletion blocks whose sources another block already holds
 *      (garbage collection);
 *   2. compact: group blocks by external labels (minus replica labels) and
 *      resolution, plan each group like Thanos's default planner
 *      (compact_plan), download, merge, upload (files first, meta.json
 *      last), mark the inputs for deletion; repeat while a group compacted;
 *   3. downsample raw blocks of >= 40h to 5m and 5m blocks of >= 10d to 1h;
 *   4. apply retention per resolution;
 *   5. delete blocks whose deletion mark is older than the delete delay,
 *      and partial uploads older than max(consistency delay, 48h).
 *
 * Everything here is blocking (bucket and disk I/O): run it on a worker
 * thread. A halt error (overlapping blocks without vertical compaction, a
 * corrupt block) is returned as COMPACT_HALT so that the caller stops.
 */
#ifndef THANOSC_COMPACT_H
#define THANOSC_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/flags.h"
#include "thanosc/objstore.h"
#include "thanosc/tsdb/meta.h"

#define COMPACT_RES_RAW 0
#define COMPACT_RES_5M (5 * 60 * 1000LL)
#define COMPACT_RES_1H (60 * 60 * 1000LL)
#define COMPACT_DOWNSAMPLE_RANGE_5M (40 * 3600 * 1000LL)
#define COMPACT_DOWNSAMPLE_RANGE_1H (10 * 24 * 3600 * 1000LL)

struct store_relabel;
struct ui_blocks;

struct compact_opts {
  const char *data_dir;
  int64_t consistency_delay_ms;
  int64_t delete_delay_ms;
  int64_t retention_ms[3]; /* raw, 5m, 1h; 0 = forever */
  bool downsampling_disable;
  bool vertical; /* --compact.enable-vertical-compaction */
  const struct strlist *replica_labels; /* may be NULL or empty */
  bool dedup_penalty; /* --deduplication.func=penalty */
  int64_t min_time, max_time;           /* block selection, ms */
  const struct store_relabel *relabel;  /* may be NULL */
  const char *hash_func;                /* NULL/"" or "SHA256" */
  int max_level;                        /* --debug.max-compaction-level */
  /* --compact.skip-block-with-out-of-order-chunks: such a block is marked
   * no-compact instead of failing the run. */
  bool skip_out_of_order;
  bool accept_malformed; /* --debug.accept-malformed-index */
  struct ui_blocks *blocks; /* the Block Viewer's views, set at each sync;
                               may be NULL */
};

/* A halt error. No retryable path of an iteration (bucket I/O) returns this
 * code; the halting ones wrap their cause in it. */
#define COMPACT_HALT TC_ESTATE

/* Registers the thanos_compact_* and thanos_blocks_meta_synced metrics
 * (idempotent). */
void compact_metrics_register(void);

/* One full iteration. 0, COMPACT_HALT, or another negative code (a
 * retryable failure, e.g. the bucket being unreachable). */
int compact_iterate(struct objstore *bkt, const struct compact_opts *o);

/* Step 5 alone: deletes blocks whose deletion mark is older than the
 * delete delay and old partial uploads. */
int compact_cleanup(struct objstore *bkt, const struct compact_opts *o);

/* What a block's index holds wrong, as Thanos's index health statistics
 * count it: series whose label names are not sorted, series not in
 * order, chunks whose range is inverted or outside the block's, chunks
 * out of order or overlapping within a series; first describes the first
 * issue (owned). */
struct index_health {
  size_t labels_ooo, series_ooo, chunks_bad, chunks_ooo;
  char *first;
};

/* Reads the index at path (of the block m) series by series, to the end
 * or, with first_only, to the first issue. 0, or an error when the
 * index cannot be read. Release h. */
int compact_index_health(const char *path, const struct block_meta *m,
                         bool first_only, struct index_health *h /* OUT */);
void index_health_release(struct index_health *h);

/* The backlog, as Thanos's progress calculators count it per group:
 * thanos_compact_todo_compactions and _compaction_blocks (the planner run
 * to the end, each plan merged into one block), _downsample_blocks and
 * _deletion_blocks (past their retention). */
int compact_progress(struct objstore *bkt, const struct compact_opts *o);

/* Step 1 alone: lists the bucket's blocks and sets o->blocks' views (what
 * `tools bucket web` runs). */
int compact_sync_views(struct objstore *bkt, const struct compact_opts *o);

/* Step 3 alone: downsamples raw blocks to 5m, then 5m blocks to 1h (what
 * `tools bucket downsample` runs). A block that fails is logged and the
 * others go on; the call then fails. */
int compact_downsample_bucket(struct objstore *bkt,
                              const struct compact_opts *o);

/* Step 4 alone: marks for deletion the blocks older than the retention of
 * their resolution (what `tools bucket retention` runs). */
int compact_retention(struct objstore *bkt, const struct compact_opts *o);

/*
 * Puts (or with remove, deletes) the marker of kind on block id, as `tools
 * bucket mark` does: a marker already there (or, removing, not there) is
 * a warning, not an error. TC_ENOTFOUND when the bucket holds nothing
 * under <id>/. details go into the marker; no-compact and no-downsample
 * markers get the reason "manual".
 */
int compact_mark(struct objstore *bkt, enum marker_kind kind, const char *id,
                 const char *details, bool remove);

/* What `tools bucket verify` checks (--issues). */
enum compact_issue {
  COMPACT_ISSUE_OVERLAPS = 1 << 0, /* overlapped_blocks */
  COMPACT_ISSUE_INDEX = 1 << 1,    /* index_known_issues */
};

/*
 * Verifies the bucket's blocks (all, or only those in ids when it is
 * non-empty) for the issues asked, logging each one found as a warning.
 * Overlaps are looked for among blocks of the same external labels and
 * resolution, blocks marked for deletion left out; the index check
 * downloads each block's files under <data_dir>/verify and reads every
 * series (labels sorted, chunks ordered, inside the block's range).
 * *found gets the number of issues. 0 or an error reading the bucket.
 */
int compact_verify(struct objstore *bkt, const struct compact_opts *o,
                   unsigned issues, const struct strlist *ids,
                   size_t *found /* OUT */);

/* Sets thanos_compact_halted. */
void compact_set_halted(bool halted);

typedef int compact_iterate_fn(struct objstore *bkt,
                               const struct compact_opts *o);

struct compact_run_opts {
  const char *name;            /* the service, for logs; NULL: "compact" */
  compact_iterate_fn *iterate; /* NULL: compact_iterate */
  bool wait; /* --wait: repeat every wait_interval_ms */
  int64_t wait_interval_ms;
  int64_t cleanup_interval_ms; /* with wait: compact_cleanup() between
                                  iterations; 0 = off */
  int64_t progress_interval_ms; /* with wait: compact_progress(); 0 = off */
  const char *http_address;
  int64_t http_grace_ms;
  /* With o->blocks: the Block Viewer's routes under web_prefix, "/"
   * going to web_home ("loaded" or "blocks"). */
  const char *web_prefix, *web_home;
};

/* Serves /metrics and the probes and runs iterations on the worker pool
 * until done (without wait) or a signal. Returns the exit code. */
int compact_run(struct objstore *bkt, const struct compact_opts *o,
                const struct compact_run_opts *r);

/* ---- the planner (pure, for tests) ---- */

struct plan_block {
  int64_t min_time, max_time;
  bool no_compact; /* no-compact-mark.json */
  bool failed;     /* compaction.failed in meta.json */
};

/* Thanos's default ranges: 2h, 8h, 2d, 14d. */
extern const int64_t compact_default_ranges[4];

/*
 * Plans one compaction of a group, like Thanos's default planner: b holds
 * the group's blocks sorted by min time. Overlapping blocks come first
 * (all of the first overlapping run); otherwise, leaving out the newest
 * block, the first aligned range (8h, then 2d, then 14d) holding two or
 * more blocks that fill it, or lie before the newest block; blocks marked
 * no-compact split a range without being picked. Writes the indexes of the
 * chosen blocks to out (room for n) and returns how many (0: nothing).
 * *overlap (may be NULL) tells whether they overlap.
 */
size_t compact_plan(const struct plan_block *b, size_t n, const int64_t *ranges,
                    size_t nranges, size_t *out, bool *overlap /* OUT */);

/* ---- merging and downsampling local blocks ---- */

struct block_meta;

/*
 * Merges the blocks in dirs (sorted by min time) into a new block under
 * parent: series in label order, chunks copied as they are unless chunks
 * of one series overlap. Then the samples are merged and re-encoded:
 * without replica (NULL) a duplicate timestamp keeps the first block's
 * sample; with it, replica[i] numbers the HA replica block i comes from,
 * and the replicas are deduplicated with the penalty algorithm of the
 * querier (query_dedup.h, without counter adjustment, as Thanos's
 * compactor does), each replica's own samples merged as above first.
 * meta supplies the new block's range, compaction and thanos section.
 * *dir_out (owned) is the new block, or NULL when it would be empty.
 */
int compact_merge(const char *const *dirs, size_t n, const char *parent,
                  const struct block_meta *meta, const size_t *replica,
                  char **dir_out /* OUT */);

/*
 * Downsamples the block at dir (raw or 5m) to resolution res (5m or 1h)
 * into a new block under parent, as Thanos does: AggrChunks of count,
 * sum, min, max and counter. *dir_out (owned) or NULL when empty.
 */
int compact_downsample(const char *dir, int64_t res, const char *parent,
                       char **dir_out /* OUT */);

/* Thanos's targetChunkCount: how many aggregate chunks to cut a series of
 * count samples over [mint, maxt] at resolution in_res into. */
int compact_target_chunks(int64_t mint, int64_t maxt, int64_t in_res,
                          int64_t out_res, size_t count);

#endif
