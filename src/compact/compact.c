/*
 * compact.c - one compactor iteration (compact.h): sync, garbage
 * collection, group compactions until no group has work, downsampling,
 * retention and deletion of marked blocks, with Thanos's metrics.
 *
 * Blocks are worked on under <data-dir>/compact/<group key>/ and
 * <data-dir>/downsample/, both emptied before use: the data directory is
 * a cache, safe to delete between runs.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compact/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/tsdb/block.h"
#include "thanosc/tsdb/bucket.h"

#define PARTIAL_UPLOAD_AGE_MS (48 * 3600 * 1000LL)

struct metric *compact_m_marked, *compact_m_synced;
static struct metric *m_iterations, *m_compactions, *m_runs_started,
    *m_runs_completed, *m_failures, *m_vertical, *m_downsamples,
    *m_downsample_failures, *m_gc, *m_cleaned, *m_cleanup_failures, *m_halted,
    *m_partial_deleted, *m_todo_compactions, *m_todo_compaction_blocks,
    *m_todo_downsample, *m_todo_deletion;

void compact_metrics_register(void) {
  if (m_iterations)
    return;
  m_iterations = metric_counter("thanos_compact_iterations_total",
                                "Total number of iterations that were "
                                "executed successfully.",
                                NULL);
  m_compactions = metric_counter("thanos_compact_group_compactions_total",
                                 "Total number of group compaction attempts "
                                 "that resulted in a new block.",
                                 "group");
  m_runs_started =
      metric_counter("thanos_compact_group_compaction_runs_started_total",
                     "Total number of group compaction attempts.", "group");
  m_runs_completed = metric_counter(
      "thanos_compact_group_compaction_runs_completed_total",
      "Total number of group completed compaction runs. This also includes "
      "compactor group runs that resulted with no compaction.",
      "group");
  m_failures =
      metric_counter("thanos_compact_group_compactions_failures_total",
                     "Total number of failed group compactions.", "group");
  m_vertical = metric_counter(
      "thanos_compact_group_vertical_compactions_total",
      "Total number of group compaction attempts that resulted in a new "
      "block based on overlapping blocks.",
      "group");
  m_downsamples =
      metric_counter("thanos_compact_downsample_total",
                     "Total number of downsampling attempts.", "resolution");
  m_downsample_failures = metric_counter(
      "thanos_compact_downsample_failures_total",
      "Total number of failed downsampling attempts.", "resolution");
  compact_m_marked = metric_counter("thanos_compact_blocks_marked_total",
                                    "Total number of blocks marked in "
                                    "compactor.",
                                    "marker,reason");
  m_gc = metric_counter("thanos_compact_garbage_collected_blocks_total",
                        "Total number of blocks marked for deletion by "
                        "compactor.",
                        NULL);
  m_cleaned =
      metric_counter("thanos_compact_blocks_cleaned_total",
                     "Total number of blocks deleted in compactor.", NULL);
  m_cleanup_failures = metric_counter(
      "thanos_compact_block_cleanup_failures_total",
      "Failures encountered while deleting blocks in compactor.", NULL);
  m_partial_deleted = metric_counter(
      "thanos_compact_aborted_partial_uploads_deletion_attempts_total",
      "Total number of started deletions of blocks that are assumed aborted "
      "and only partially uploaded.",
      NULL);
  m_halted = metric_gauge("thanos_compact_halted",
                          "Set to 1 if the compactor halted due to an "
                          "unexpected error.",
                          NULL);
  compact_m_synced = metric_gauge("thanos_blocks_meta_synced",
                                  "Number of block metadata synced", "state");
  m_todo_compactions = metric_gauge("thanos_compact_todo_compactions",
                                    "number of compactions to be done",
                                    "group");
  m_todo_compaction_blocks =
      metric_gauge("thanos_compact_todo_compaction_blocks",
                   "number of blocks planned to be compacted", "group");
  m_todo_downsample =
      metric_gauge("thanos_compact_todo_downsample_blocks",
                   "number of blocks to be downsampled", "group");
  m_todo_deletion =
      metric_gauge("thanos_compact_todo_deletion_blocks",
                   "number of blocks that have crossed their retention period",
                   "group");
  metric_set(metric_child(m_halted), 0);
  metric_add(metric_child(m_iterations), 0);
  metric_add(metric_child(m_gc), 0);
  metric_add(metric_child(m_cleaned), 0);
  metric_add(metric_with(compact_m_marked, "deletion-mark.json", ""), 0);
}

void compact_set_halted(bool halted) {
  metric_set(metric_child(m_halted), halted ? 1 : 0);
}

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An empty directory at path (its parents created). */
int compact_fresh_dir(const char *path) {
  tsdb_remove_all(path);
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = p + 1; !rc; s++) {
    if (*s != '/' && *s)
      continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0755) && errno != EEXIST)
      rc = tc_error(-errno, "mkdir %s: %s", p, strerror(errno));
    *s = c;
    if (!c)
      break;
  }
  free(p);
  return rc;
}

static int mark_deleted(struct objstore *bkt, const char *id,
                        const char *details) {
  int rc = block_mark(bkt, MARKER_DELETION, id, details, NULL);
  if (rc)
    return tc_error_wrap(rc, "mark block %s for deletion", id);
  metric_inc(metric_with(compact_m_marked, "deletion-mark.json", ""));
  LOG_INFO("block has been marked for deletion", "block", id);
  return 0;
}

/* Garbage collection: a block whose sources another block of the same
 * resolution holds too (a compaction whose inputs were not marked yet) is
 * marked for deletion and dropped from s. Of two blocks with the same
 * sources the newer ULID stays. */
static int collect_garbage(struct objstore *bkt, struct csync *s) {
  bool *dup = xcalloc(s->n + 1, sizeof *dup);
  size_t k = 0;
  int rc = 0;
  /* Decide first: the array is compacted below. */
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->n && !dup[i]; j++)
      dup[i] = block_meta_covered_by(&s->v[i].meta, &s->v[j].meta);
  for (size_t i = 0; i < s->n; i++) {
    if (dup[i] && !rc) {
      rc = mark_deleted(bkt, s->v[i].meta.ulid, "source of compacted block");
      if (!rc)
        metric_inc(metric_child(m_gc));
    }
    if (dup[i]) {
      block_meta_release(&s->v[i].meta);
      labels_release(&s->v[i].group_labels);
    } else {
      s->v[k++] = s->v[i];
    }
  }
  s->n = k;
  free(dup);
  return rc;
}

static char *fmt_range(int64_t ms) {
  char d[32];
  format_duration_ms(ms, d, sizeof d);
  return xstrdup(d);
}

/* Thanos's halt message for overlapping blocks. */
static int overlap_error(struct cblock *const *b, size_t n) {
  struct tc_buf m = TC_BUF_INIT;
  int64_t mint = b[0]->meta.min_time, maxt = b[0]->meta.max_time;
  for (size_t i = 1; i < n; i++) {
    mint = TC_MIN(mint, b[i]->meta.min_time);
    maxt = TC_MAX(maxt, b[i]->meta.max_time);
  }
  char *r = fmt_range(maxt - mint);
  tc_buf_addf(&m,
              "[mint: %" PRId64 ", maxt: %" PRId64 ", range: %s, "
              "blocks: %zu]:",
              mint, maxt, r, n);
  free(r);
  for (size_t i = 0; i < n; i++) {
    r = fmt_range(b[i]->meta.max_time - b[i]->meta.min_time);
    tc_buf_addf(
        &m, "%s <ulid: %s, mint: %" PRId64 ", maxt: %" PRId64 ", range: %s>",
        i ? "," : "", b[i]->meta.ulid, b[i]->meta.min_time, b[i]->meta.max_time,
        r);
    free(r);
  }
  tc_buf_addc(&m, '\0');
  int rc = tc_error(COMPACT_HALT,
                    "pre compaction overlap check: overlaps "
                    "found while gathering blocks. %s",
                    m.data);
  tc_buf_release(&m);
  return rc;
}

/* ------------------------------------------------------- compaction */

static int src_cmp(const void *a, const void *b) {
  return strcmp(a, b);
}

/* The meta of the block compacted from in[0..n). */
static void compacted_meta(struct block_meta *m, struct cblock *const *in,
                           size_t n) {
  block_meta_init(m);
  m->min_time = INT64_MAX;
  m->max_time = INT64_MIN;
  m->compaction.parents = xcalloc(n, sizeof *m->compaction.parents);
  for (size_t i = 0; i < n; i++) {
    const struct block_meta *x = &in[i]->meta;
    m->min_time = TC_MIN(m->min_time, x->min_time);
    m->max_time = TC_MAX(m->max_time, x->max_time);
    m->compaction.level = TC_MAX(m->compaction.level, x->compaction.level);
    for (size_t j = 0; j < x->compaction.nsources; j++) {
      bool dup = false;
      for (size_t k = 0; k < m->compaction.nsources && !dup; k++)
        dup = !strcmp(m->compaction.sources[k], x->compaction.sources[j]);
      if (!dup)
        block_meta_add_source(m, x->compaction.sources[j]);
    }
    struct block_desc *p = &m->compaction.parents[m->compaction.nparents++];
    memcpy(p->ulid, x->ulid, sizeof p->ulid);
    p->min_time = x->min_time;
    p->max_time = x->max_time;
  }
  m->compaction.level++;
  qsort(m->compaction.sources, m->compaction.nsources,
        sizeof *m->compaction.sources, src_cmp);
  m->has_thanos = true;
  labels_copy(&m->thanos.labels, &in[0]->group_labels);
  m->thanos.resolution = in[0]->meta.thanos.resolution;
  m->thanos.source = xstrdup("compactor");
}

/*
 * Thanos's checks of a downloaded input's index before a compaction: an
 * index that cannot be read, or whose series are out of order or whose
 * chunks lie outside the block, halts; chunks out of order within a
 * series fail the run, unless --compact.skip-block-with-out-of-order-chunks
 * marks the block no-compact (*skipped: the plan is dropped and the
 * groups planned again without it); unsorted label names fail it unless
 * --debug.accept-malformed-index.
 */
static int check_input(struct objstore *bkt, const struct compact_opts *o,
                       const struct cblock *b, const char *dir,
                       bool *skipped) {
  char *path = xasprintf("%s/index", dir);
  struct index_health h;
  int rc = compact_index_health(path, &b->meta, false, &h);
  free(path);
  if (rc)
    return tc_error_wrap(COMPACT_HALT, "check the index of block %s",
                         b->meta.ulid);
  if (h.series_ooo || h.chunks_bad) {
    struct tc_buf ls = TC_BUF_INIT;
    labels_format(&b->meta.thanos.labels, &ls);
    tc_buf_addc(&ls, '\0');
    rc = tc_error(COMPACT_HALT,
                  "block with not healthy index found %s; Compaction level "
                  "%d; Labels: %s: %zu series out of order, %zu chunks "
                  "outside the block or inverted (%s)",
                  dir, b->meta.compaction.level, ls.data, h.series_ooo,
                  h.chunks_bad, h.first);
    tc_buf_release(&ls);
  } else if (h.chunks_ooo && o->skip_out_of_order) {
    char *details = xasprintf("found %zu chunks out-of-order", h.chunks_ooo);
    rc = block_mark(bkt, MARKER_NO_COMPACT, b->meta.ulid, details,
                    "block-index-out-of-order-chunk");
    free(details);
    if (rc) {
      rc = tc_error_wrap(rc, "mark block %s no-compact", b->meta.ulid);
    } else {
      metric_inc(metric_with(compact_m_marked, "no-compact-mark.json",
                             "block-index-out-of-order-chunk"));
      LOG_WARN("block has out-of-order chunks: marked no-compact", "block",
               b->meta.ulid, "issue", h.first);
      *skipped = true;
    }
  } else if (h.chunks_ooo) {
    rc = tc_error(TC_ECORRUPT,
                  "blocks with out-of-order chunks are dropped from "
                  "compaction: %s: found %zu chunks out-of-order (%s)",
                  dir, h.chunks_ooo, h.first);
  } else if (h.labels_ooo && !o->accept_malformed) {
    rc = tc_error(TC_ECORRUPT,
                  "block id %s, try running with "
                  "--debug.accept-malformed-index: %zu series with label "
                  "names out of order (%s)",
                  b->meta.ulid, h.labels_ooo, h.first);
  }
  index_health_release(&h);
  return rc;
}

/* Downloads, checks, merges, uploads and marks one plan of a group. */
static int compact_blocks(struct objstore *bkt, const struct compact_opts *o,
                          struct cblock *const *in, size_t n, bool overlap) {
  const char *group = in[0]->group;
  char *dir = xasprintf("%s/compact/%s", o->data_dir, group);
  char **dirs = xcalloc(n, sizeof *dirs);
  char *out = NULL;
  struct block_meta meta;
  int rc = compact_fresh_dir(dir);
  char count[24];
  snprintf(count, sizeof count, "%zu", n);
  LOG_INFO("compact blocks", "group", group, "count", count);
  bool skipped = false;
  for (size_t i = 0; i < n && !rc; i++) {
    dirs[i] = xasprintf("%s/%s", dir, in[i]->meta.ulid);
    rc = block_download(bkt, in[i]->meta.ulid, dirs[i]);
    if (!rc)
      rc = check_input(bkt, o, in[i], dirs[i], &skipped);
  }
  compacted_meta(&meta, in, n);
  size_t *replica = NULL;
  if (skipped)
    goto done;
  /* With penalty deduplication a replica is the blocks that have the same
   * external labels, replica labels included. */
  if (o->dedup_penalty) {
    replica = xcalloc(n, sizeof *replica);
    for (size_t i = 0; i < n; i++) {
      replica[i] = i;
      for (size_t j = 0; j < i; j++)
        if (!labels_compare(&in[j]->meta.thanos.labels,
                            &in[i]->meta.thanos.labels)) {
          replica[i] = replica[j];
          break;
        }
    }
  }
  if (!rc) {
    rc = compact_merge((const char *const *)dirs, n, dir, &meta, replica,
                       &out);
    /* A block we cannot read needs an operator: halt, as Thanos does. */
    if (rc)
      rc = tc_error_wrap(COMPACT_HALT, "compact blocks of group %s", group);
  }
  if (!rc && out) {
    rc = block_upload(bkt, out, o->hash_func);
    if (!rc) {
      char *base = strrchr(out, '/');
      LOG_INFO("uploaded compacted block", "block", base ? base + 1 : out,
               "group", group);
    }
  } else if (!rc) {
    LOG_INFO("compacted block would be empty; marking its sources for "
             "deletion",
             "group", group);
  }
  for (size_t i = 0; i < n && !rc; i++)
    rc = mark_deleted(bkt, in[i]->meta.ulid, "source of compacted block");
  if (!rc && out) {
    metric_inc(metric_with(m_compactions, group));
    if (overlap)
      metric_inc(metric_with(m_vertical, group));
  }
  if (rc)
    metric_inc(metric_with(m_failures, group));
done:
  tsdb_remove_all(dir);
  for (size_t i = 0; i < n; i++)
    free(dirs[i]);
  free(dirs);
  free(replica);
  free(dir);
  free(out);
  block_meta_release(&meta);
  return rc;
}

/* The end of the group that starts at s->v[g]. */
static size_t group_end(const struct csync *s, size_t g) {
  size_t end = g;
  while (end < s->n && !strcmp(s->v[end].group, s->v[g].group))
    end++;
  return end;
}

/* The planner's view of blocks v[0..n) (sorted by min time). */
static struct plan_block *plan_blocks(const struct cblock *v, size_t n) {
  struct plan_block *pb = xcalloc(n ? n : 1, sizeof *pb);
  for (size_t i = 0; i < n; i++)
    pb[i] = (struct plan_block){v[i].meta.min_time, v[i].meta.max_time,
                                v[i].no_compact, v[i].meta.compaction.failed};
  return pb;
}

static size_t plan_ranges(const struct compact_opts *o) {
  return (size_t)TC_MAX(1, TC_MIN(o->max_level, 4));
}

/* One pass over the groups: at most one compaction each. *did tells
 * whether any ran (then the caller syncs and passes again). */
static int compact_pass(struct objstore *bkt, const struct compact_opts *o,
                        struct csync *s, bool *did) {
  size_t nranges = plan_ranges(o);
  int rc = 0;
  *did = false;
  for (size_t g = 0; g < s->n && !rc;) {
    size_t end = group_end(s, g), n = end - g;
    struct plan_block *pb = plan_blocks(&s->v[g], n);
    size_t *pick = xcalloc(n, sizeof *pick);
    metric_inc(metric_with(m_runs_started, s->v[g].group));
    bool overlap;
    size_t k =
        compact_plan(pb, n, compact_default_ranges, nranges, pick, &overlap);
    struct cblock **in = xcalloc(k + 1, sizeof *in);
    for (size_t i = 0; i < k; i++)
      in[i] = &s->v[g + pick[i]];
    if (k && overlap && !o->vertical) {
      rc = overlap_error(in, k);
      metric_inc(metric_with(m_failures, s->v[g].group));
    } else if (k) {
      rc = compact_blocks(bkt, o, in, k, overlap);
      *did = !rc;
    }
    if (!rc)
      metric_inc(metric_with(m_runs_completed, s->v[g].group));
    free(in);
    free(pb);
    free(pick);
    g = end;
  }
  return rc;
}

static int compact_groups(struct objstore *bkt, const struct compact_opts *o) {
  for (;;) {
    struct csync s;
    bool did = false;
    int rc = csync_run(bkt, o, &s);
    if (!rc)
      rc = collect_garbage(bkt, &s);
    if (!rc)
      rc = compact_pass(bkt, o, &s, &did);
    csync_release(&s);
    if (rc || !did)
      return rc;
  }
}

/* ----------------------------------------------------- downsampling */

/* Whether every source of m is a source of some block of resolution res
 * (Thanos looks at the union: a compacted raw block whose pieces were
 * downsampled before is not downsampled again). */
static bool sources_downsampled(const struct csync *s,
                                const struct block_meta *m, int64_t res) {
  for (size_t i = 0; i < m->compaction.nsources; i++) {
    bool found = false;
    for (size_t j = 0; j < s->n && !found; j++) {
      const struct block_meta *d = &s->v[j].meta;
      for (size_t k = 0;
           d->thanos.resolution == res && !found && k < d->compaction.nsources;
           k++)
        found = !strcmp(d->compaction.sources[k], m->compaction.sources[i]);
    }
    if (!found)
      return false;
  }
  return true;
}

/* Whether b (of resolution from, spanning min_range or more, not marked
 * no-downsample) still needs a block of resolution to. */
static bool downsample_due(const struct csync *s, const struct cblock *b,
                           int64_t from, int64_t to, int64_t min_range) {
  return b->meta.thanos.resolution == from && !b->no_downsample &&
         b->meta.max_time - b->meta.min_time >= min_range &&
         !sources_downsampled(s, &b->meta, to);
}

/* Downsamples every block of resolution from to `to` whose sources the
 * blocks of resolution `to` do not all hold yet. A block that fails is logged
 * and counted and the others go on; the pass then returns an error. */
static int downsample_pass(struct objstore *bkt, const struct compact_opts *o,
                           int64_t from, int64_t to, int64_t min_range) {
  struct csync s;
  int rc = csync_run(bkt, o, &s);
  if (rc)
    return rc;
  char *dir = xasprintf("%s/downsample", o->data_dir);
  char res[32];
  int failed = 0, first = 0;
  /* Thanos labels the counts with the resolution of the source block. */
  snprintf(res, sizeof res, "%" PRId64, from);
  char to_s[32];
  snprintf(to_s, sizeof to_s, "%" PRId64, to);
  for (size_t i = 0; i < s.n; i++) {
    struct cblock *b = &s.v[i];
    if (!downsample_due(&s, b, from, to, min_range))
      continue;
    char *src = xasprintf("%s/%s", dir, b->meta.ulid), *out = NULL;
    rc = compact_fresh_dir(dir);
    if (!rc)
      rc = block_download(bkt, b->meta.ulid, src);
    if (!rc)
      rc = compact_downsample(src, to, dir, &out);
    if (!rc && out)
      rc = block_upload(bkt, out, o->hash_func);
    if (!rc) {
      metric_inc(metric_with(m_downsamples, res));
      LOG_INFO("downsampled block", "from", b->meta.ulid, "to_resolution",
               to_s);
    } else {
      metric_inc(metric_with(m_downsample_failures, res));
      LOG_ERROR("downsampling failed", "block", b->meta.ulid, "to_resolution",
                to_s, "err", tc_errmsg(rc));
      first = first ? first : rc;
      failed++;
    }
    free(src);
    free(out);
  }
  tsdb_remove_all(dir);
  free(dir);
  csync_release(&s);
  if (failed)
    return tc_error(first, "downsampling of %d block(s) failed", failed);
  return 0;
}

int compact_downsample_bucket(struct objstore *bkt,
                              const struct compact_opts *o) {
  char *ddir = xasprintf("%s/downsample", o->data_dir);
  tsdb_remove_all(ddir);
  free(ddir);
  int rc = downsample_pass(bkt, o, COMPACT_RES_RAW, COMPACT_RES_5M,
                           COMPACT_DOWNSAMPLE_RANGE_5M);
  int rc2 = downsample_pass(bkt, o, COMPACT_RES_5M, COMPACT_RES_1H,
                            COMPACT_DOWNSAMPLE_RANGE_1H);
  return rc ? rc : rc2;
}

/* ---------------------------------------------- retention and cleanup */

/* The retention m has crossed at now, or 0. */
static int64_t retention_due(const struct compact_opts *o,
                             const struct block_meta *m, int64_t now) {
  int level = m->thanos.resolution == COMPACT_RES_1H   ? 2
              : m->thanos.resolution == COMPACT_RES_5M ? 1
                                                       : 0;
  int64_t keep = o->retention_ms[level];
  /* Thanos compares whole seconds of the block's end. */
  return keep > 0 && now > (m->max_time / 1000) * 1000 + keep ? keep : 0;
}

int compact_retention(struct objstore *bkt, const struct compact_opts *o) {
  int64_t now = now_ms();
  struct csync s;
  int rc = csync_run(bkt, o, &s);
  for (size_t i = 0; i < s.n && !rc; i++) {
    const struct block_meta *m = &s.v[i].meta;
    int64_t keep = retention_due(o, m, now);
    if (!keep)
      continue;
    char *r = fmt_range(keep);
    char *details = xasprintf("block exceeding retention of %s", r);
    LOG_INFO("applying retention: marking block for deletion", "block", m->ulid,
             "retention", r);
    rc = mark_deleted(bkt, m->ulid, details);
    free(details);
    free(r);
  }
  csync_release(&s);
  return rc;
}

int compact_cleanup(struct objstore *bkt, const struct compact_opts *o) {
  int64_t now = now_ms();
  struct csync s;
  int rc = csync_run(bkt, o, &s);
  for (size_t i = 0; i < s.nmarked && !rc; i++) {
    if (now - s.marked[i].time * 1000 < o->delete_delay_ms)
      continue;
    int drc = block_delete(bkt, s.marked[i].id);
    if (drc) {
      LOG_WARN("failed to delete a block marked for deletion", "block",
               s.marked[i].id, "err", tc_errmsg(drc));
      metric_inc(metric_child(m_cleanup_failures));
      continue;
    }
    LOG_INFO("deleted block marked for deletion", "block", s.marked[i].id);
    metric_inc(metric_child(m_cleaned));
  }
  /* Uploads abandoned long ago: their files are of no use to anyone. */
  int64_t age = TC_MAX(o->consistency_delay_ms, PARTIAL_UPLOAD_AGE_MS);
  for (size_t i = 0; i < s.partial.n && !rc; i++) {
    int64_t t = 0;
    tsdb_ulid_parse(s.partial.v[i], &t);
    if (now - t <= age)
      continue;
    metric_inc(metric_child(m_partial_deleted));
    LOG_INFO("deleting aborted partial upload", "block", s.partial.v[i]);
    int drc = block_delete(bkt, s.partial.v[i]);
    if (drc)
      LOG_WARN("failed to delete aborted partial upload", "block",
               s.partial.v[i], "err", tc_errmsg(drc));
  }
  csync_release(&s);
  return rc;
}

/* -------------------------------------------------------- iteration */

int compact_iterate(struct objstore *bkt, const struct compact_opts *o) {
  compact_metrics_register();
  /* Work directories left by an interrupted run are of no use. */
  char *cdir = xasprintf("%s/compact", o->data_dir);
  char *ddir = xasprintf("%s/downsample", o->data_dir);
  tsdb_remove_all(cdir);
  tsdb_remove_all(ddir);
  free(cdir);
  free(ddir);
  int rc = compact_groups(bkt, o);
  if (rc)
    return rc;
  /* A block that cannot be downsampled must not hold back retention and
   * deletion: they run, and the iteration fails afterwards. */
  int drc = o->downsampling_disable ? 0 : compact_downsample_bucket(bkt, o);
  rc = compact_retention(bkt, o);
  if (!rc)
    rc = compact_cleanup(bkt, o);
  if (!rc && drc)
    rc = tc_error(drc, "downsampling failed");
  if (!rc)
    metric_inc(metric_child(m_iterations));
  return rc;
}

/* ------------------------------------------------------------ progress */

static int plan_block_cmp(const void *a, const void *b) {
  const struct plan_block *x = a, *y = b;
  if (x->min_time != y->min_time)
    return x->min_time < y->min_time ? -1 : 1;
  return (x->max_time > y->max_time) - (x->max_time < y->max_time);
}

/* Plans a group's blocks pb[0..n) again and again, each plan's blocks
 * replaced by one spanning them, as Thanos's progress calculator does:
 * how many compactions are left, and of how many blocks. */
static void plan_todo(struct plan_block *pb, size_t n, size_t nranges,
                      size_t *compactions, size_t *blocks) {
  size_t *pick = xcalloc(n ? n : 1, sizeof *pick);
  *compactions = *blocks = 0;
  for (;;) {
    size_t k =
        compact_plan(pb, n, compact_default_ranges, nranges, pick, NULL);
    if (k < 2)
      break;
    (*compactions)++;
    *blocks += k;
    struct plan_block u = pb[pick[0]];
    for (size_t i = 1; i < k; i++) {
      u.min_time = TC_MIN(u.min_time, pb[pick[i]].min_time);
      u.max_time = TC_MAX(u.max_time, pb[pick[i]].max_time);
    }
    u.no_compact = u.failed = false;
    for (size_t i = 0; i < k; i++)
      pb[pick[i]].min_time = INT64_MIN; /* gone */
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
      if (pb[i].min_time != INT64_MIN)
        pb[w++] = pb[i];
    pb[w++] = u;
    n = w;
    qsort(pb, n, sizeof *pb, plan_block_cmp);
  }
  free(pick);
}

int compact_progress(struct objstore *bkt, const struct compact_opts *o) {
  struct csync s;
  int rc = csync_run(bkt, o, &s);
  if (rc)
    return rc;
  int64_t now = now_ms();
  for (size_t g = 0; g < s.n;) {
    size_t end = group_end(&s, g), n = end - g, compactions, blocks;
    struct plan_block *pb = plan_blocks(&s.v[g], n);
    plan_todo(pb, n, plan_ranges(o), &compactions, &blocks);
    free(pb);
    size_t down = 0, del = 0;
    for (size_t i = g; i < end; i++) {
      down += downsample_due(&s, &s.v[i], COMPACT_RES_RAW, COMPACT_RES_5M,
                             COMPACT_DOWNSAMPLE_RANGE_5M) ||
              downsample_due(&s, &s.v[i], COMPACT_RES_5M, COMPACT_RES_1H,
                             COMPACT_DOWNSAMPLE_RANGE_1H);
      del += retention_due(o, &s.v[i].meta, now) != 0;
    }
    const char *group = s.v[g].group;
    metric_set(metric_with(m_todo_compactions, group), (double)compactions);
    metric_set(metric_with(m_todo_compaction_blocks, group), (double)blocks);
    metric_set(metric_with(m_todo_downsample, group),
               o->downsampling_disable ? 0 : (double)down);
    metric_set(metric_with(m_todo_deletion, group), (double)del);
    g = end;
  }
  csync_release(&s);
  return 0;
}
