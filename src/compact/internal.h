/*
 * internal.h - what the compactor's files share: the synced view of the
 * bucket (sync.c) and its metrics.
 */
#ifndef THANOSC_COMPACT_INTERNAL_H
#define THANOSC_COMPACT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "thanosc/compact.h"
#include "thanosc/labels.h"
#include "thanosc/metrics.h"
#include "thanosc/tsdb/meta.h"

/* A usable block of the bucket. */
struct cblock {
  struct block_meta meta;
  struct labels group_labels; /* external labels minus replica labels */
  char group[64];             /* Thanos's group key "<res>@<hash>" */
  bool no_compact, no_downsample;
};

/* A block with a deletion mark (a candidate for deletion). */
struct cmarked {
  char id[TSDB_ULID_LEN + 1];
  int64_t time; /* deletion_time, Unix seconds */
};

struct csync {
  struct cblock *v; /* sorted by group, then min time, then ULID */
  size_t n, cap;
  struct cmarked *marked;
  size_t nmarked, mcap;
  struct strlist partial; /* directories without meta.json */
  /* For the Block Viewer (o->blocks): the meta.json of every block that
   * has a valid one, and of the loaded blocks, comma-separated; handed to
   * it at the end of the sync. */
  struct tc_buf global, loaded;
};

/* Lists and filters the bucket's blocks (compact.h step 1, without the
 * garbage collection). s is initialised by the call; release it. */
int csync_run(struct objstore *bkt, const struct compact_opts *o,
              struct csync *s);
void csync_release(struct csync *s);

/* An empty directory at path, its parents created (compact.c). */
int compact_fresh_dir(const char *path);

/* Metrics (compact.c). */
extern struct metric *compact_m_marked, *compact_m_synced;

#endif
