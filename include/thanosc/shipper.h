/*
 * shipper.h - uploads a TSDB directory's blocks to a bucket, as Thanos's
 * shipper (pkg/shipper) does for the sidecar and `tools bucket
 * upload-blocks` (spec/thanos-formats.md §1, §2, §6).
 *
 * One shipper_sync() is one round: every block directory of dir (oldest
 * minTime first) that is not yet listed in the shipper file, non-empty and
 * of compaction level 1 (any level with upload_compacted, after checking
 * the bucket holds no overlapping block) is hard-linked into
 * dir/thanos/upload/<ULID>/, given the thanos meta.json section (external
 * labels, source, resolution 0, segment_files, files) and uploaded:
 * chunks, index, meta.json last, so a block without meta.json in the
 * bucket is an unfinished upload that the next round redoes. A block whose
 * meta.json is already in the bucket is recorded, not uploaded. The first
 * failing block stops the round; it is retried next round. The shipper
 * file (dir/thanos.shipper.json) is rewritten atomically at the end of
 * every round with the uploaded blocks still present locally.
 *
 * Blocking (file and bucket I/O): run it on the worker pool. The struct is
 * borrowed configuration; the caller serialises rounds.
 */
#ifndef THANOSC_SHIPPER_H
#define THANOSC_SHIPPER_H

#include <stdint.h>

#include "thanosc/flags.h"
#include "thanosc/labels.h"
#include "thanosc/objstore.h"

#define SHIPPER_META_FILE "thanos.shipper.json"

struct shipper {
  const char *dir;          /* the TSDB directory */
  struct objstore *bkt;
  const char *source;       /* meta.json thanos.source: "sidecar", ... */
  int upload_compacted;     /* also levels > 1 */
  const char *meta_file;    /* NULL: SHIPPER_META_FILE */
  const char *hash_func;    /* NULL or "": none; "SHA256": files[].hash */
};

struct shipper_stats {
  int uploaded;   /* blocks uploaded this round */
  int existing;   /* found already in the bucket and recorded */
  int failed;     /* 0 or 1: the block that stopped the round */
};

/* One round with the external labels ext (must not be empty). Returns 0
 * or the first error (the round stopped there). */
int shipper_sync(const struct shipper *s, const struct labels *ext,
                 struct shipper_stats *st /* OUT */);

/* Reads the shipper file; a missing file is an empty list. */
int shipper_meta_read(const char *path, struct strlist *uploaded);
/* Writes it atomically (tab-indented JSON with a final newline). */
int shipper_meta_write(const char *path, const struct strlist *uploaded);

/* Registers the thanos_shipper_* metrics (idempotent). */
void shipper_metrics_register(void);

#endif
