/*
 * filter.c - the meta.json tests that Thanos's block fetcher filters share
 * between readers (the store gateway) and the compactor: the consistency
 * delay and the sources of one block covering another's.
 */
#include <stdbool.h>
#include <string.h>

#include "thanosc/flags.h"
#include "thanosc/tsdb/meta.h"

bool block_meta_too_fresh(const struct block_meta *m, int64_t delay_ms,
                          int64_t now_ms) {
  const char *src = m->thanos.source ? m->thanos.source : "";
  if (!strcmp(src, "compactor") || !strcmp(src, "compactor.repair") ||
      !strcmp(src, "bucket.repair"))
    return false;
  int64_t t = 0;
  if (m->thanos.upload_time &&
      strncmp(m->thanos.upload_time, "0001-01-01", 10) != 0 &&
      parse_time_ms(m->thanos.upload_time, &t) != 0)
    t = 0;
  if (t <= 0)
    tsdb_ulid_parse(m->ulid, &t);
  return now_ms - t < delay_ms;
}

bool block_meta_sources_subset(const struct block_meta *a,
                               const struct block_meta *b) {
  for (size_t i = 0; i < a->compaction.nsources; i++) {
    bool found = false;
    for (size_t j = 0; j < b->compaction.nsources && !found; j++)
      found = !strcmp(a->compaction.sources[i], b->compaction.sources[j]);
    if (!found)
      return false;
  }
  return true;
}

bool block_meta_covered_by(const struct block_meta *a,
                           const struct block_meta *b) {
  if (a == b || a->thanos.resolution != b->thanos.resolution ||
      !block_meta_sources_subset(a, b))
    return false;
  return b->compaction.nsources > a->compaction.nsources ||
         (b->compaction.nsources == a->compaction.nsources &&
          strcmp(b->ulid, a->ulid) > 0);
}
