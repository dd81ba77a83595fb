/*
 * sync.c - the compactor's view of the bucket: every <ULID>/ directory
 * with its meta.json and markers, filtered as Thanos's meta fetcher does
 * for the compactor (partial uploads, deletion marks, consistency delay,
 * time and label selection), grouped by external labels (replica labels
 * removed) and resolution. thanos_blocks_meta_synced counts each state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compact/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/store.h"
#include "thanosc/tsdb/bucket.h"
#include "thanosc/ui.h"

enum sync_state {
  ST_LOADED,
  ST_NO_META,
  ST_CORRUPT_META,
  ST_MARKED,
  ST_TOO_FRESH,
  ST_TIME_EXCLUDED,
  ST_LABEL_EXCLUDED,
  ST_NO_COMPACT,
  ST_REPLICA_REMOVED,
  ST_NUM,
};

static const char *const state_names[ST_NUM] = {
    "loaded",
    "no-meta-json",
    "corrupted-meta-json",
    "marked-for-deletion",
    "too-fresh",
    "time-excluded",
    "label-excluded",
    "marked-for-no-compact",
    "replica-label-removed",
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int collect_dirs(void *data, const char *name) {
  size_t n = strlen(name);
  if (n == TSDB_ULID_LEN + 1 && name[n - 1] == '/') {
    char id[TSDB_ULID_LEN + 1];
    memcpy(id, name, TSDB_ULID_LEN);
    id[TSDB_ULID_LEN] = '\0';
    if (tsdb_ulid_parse(id, NULL))
      strlist_push(data, id);
  }
  return 0;
}

/* 1 when the block carries the marker, 0 when not, <0 on error (a marker
 * that does not parse is ignored with a warning, as Thanos does). */
static int has_marker(struct objstore *bkt, enum marker_kind kind,
                      const char *id, int64_t *time_out) {
  struct block_marker mk;
  int rc = block_marker_get(bkt, kind, id, &mk);
  if (rc == 0 && time_out)
    *time_out = mk.time;
  block_marker_release(&mk);
  if (rc == 0)
    return 1;
  if (rc == TC_ENOTFOUND)
    return 0;
  if (rc == TC_EPARSE || rc == TC_ENOTSUP || rc == TC_ECORRUPT) {
    LOG_WARN("ignoring a marker that does not parse", "block", id, "marker",
             marker_filename(kind), "err", tc_errmsg(rc));
    return 0;
  }
  return rc;
}

static void group_key(struct cblock *b) {
  snprintf(b->group, sizeof b->group, "%" PRId64 "@%" PRIu64,
           b->meta.thanos.resolution, labels_hash(&b->group_labels));
}

static int cblock_cmp(const void *a, const void *b) {
  const struct cblock *x = a, *y = b;
  int c = strcmp(x->group, y->group);
  if (c)
    return c;
  if (x->meta.min_time != y->meta.min_time)
    return x->meta.min_time < y->meta.min_time ? -1 : 1;
  return strcmp(x->meta.ulid, y->meta.ulid);
}

/* Appends a meta.json document to a comma-separated list. */
static void add_meta(struct tc_buf *list, const struct tc_buf *json) {
  if (list->len)
    tc_buf_addc(list, ',');
  tc_buf_add(list, json->data, json->len);
}

static void add_marked(struct csync *s, const char *id, int64_t t) {
  TC_GROW(s->marked, s->mcap, s->nmarked + 1);
  struct cmarked *m = &s->marked[s->nmarked++];
  snprintf(m->id, sizeof m->id, "%s", id);
  m->time = t;
}

/* Reads one block and decides its state; a loaded block is appended. */
static int sync_one(struct objstore *bkt, const struct compact_opts *o,
                    const char *id, int64_t now, struct csync *s, int *counts) {
  struct tc_buf buf;
  tc_buf_init(&buf, 16u << 20);
  char *key = xasprintf("%s/meta.json", id);
  int rc = objstore_get_buf(bkt, key, OBJSTORE_OPTIONAL, &buf);
  free(key);
  int64_t mark_time = 0;
  int marked = 0;
  if (rc == 0 || rc == TC_ENOTFOUND) {
    marked = has_marker(bkt, MARKER_DELETION, id, &mark_time);
    if (marked < 0)
      rc = marked;
  }
  if (rc == TC_ENOTFOUND) {
    /* A partial upload, or a deletion that stopped half way. */
    counts[ST_NO_META]++;
    if (marked)
      add_marked(s, id, mark_time);
    else
      strlist_push(&s->partial, id);
    tc_buf_release(&buf);
    return 0;
  }
  if (rc) {
    tc_buf_release(&buf);
    return rc;
  }
  TC_GROW(s->v, s->cap, s->n + 1);
  struct cblock *b = &s->v[s->n];
  memset(b, 0, sizeof *b);
  rc = block_meta_parse(&b->meta, buf.data, buf.len, id);
  if (!rc && o->blocks)
    add_meta(&s->global, &buf);
  if (marked) {
    counts[ST_MARKED]++;
    add_marked(s, id, mark_time);
    block_meta_release(&b->meta);
    tc_buf_release(&buf);
    return 0;
  }
  int state = ST_LOADED;
  if (rc) {
    LOG_WARN("skipping a block whose meta.json does not parse", "block", id,
             "err", tc_errmsg(rc));
    state = ST_CORRUPT_META;
  } else if (block_meta_too_fresh(&b->meta, o->consistency_delay_ms, now)) {
    state = ST_TOO_FRESH;
  } else if (b->meta.max_time < o->min_time || b->meta.min_time > o->max_time) {
    state = ST_TIME_EXCLUDED;
  }
  if (state == ST_LOADED && o->relabel) {
    struct labels ls;
    labels_copy(&ls, &b->meta.thanos.labels);
    labels_set(&ls, "__block_id", id);
    if (!store_relabel_keep(o->relabel, &ls))
      state = ST_LABEL_EXCLUDED;
    labels_release(&ls);
  }
  if (state != ST_LOADED) {
    counts[state]++;
    block_meta_release(&b->meta);
    tc_buf_release(&buf);
    return 0;
  }
  labels_copy(&b->group_labels, &b->meta.thanos.labels);
  for (size_t i = 0; o->replica_labels && i < o->replica_labels->n; i++)
    if (labels_get(&b->group_labels, o->replica_labels->v[i])) {
      labels_del(&b->group_labels, o->replica_labels->v[i]);
      counts[ST_REPLICA_REMOVED]++;
    }
  group_key(b);
  rc = has_marker(bkt, MARKER_NO_COMPACT, id, NULL);
  if (rc >= 0) {
    b->no_compact = rc == 1;
    counts[ST_NO_COMPACT] += rc == 1;
    rc = has_marker(bkt, MARKER_NO_DOWNSAMPLE, id, NULL);
  }
  if (rc < 0) {
    block_meta_release(&b->meta);
    labels_release(&b->group_labels);
    tc_buf_release(&buf);
    return rc;
  }
  b->no_downsample = rc == 1;
  counts[ST_LOADED]++;
  s->n++;
  if (o->blocks)
    add_meta(&s->loaded, &buf);
  tc_buf_release(&buf);
  return 0;
}

int csync_run(struct objstore *bkt, const struct compact_opts *o,
              struct csync *s) {
  struct strlist ids = {0};
  int counts[ST_NUM] = {0};
  int64_t now = now_ms();
  memset(s, 0, sizeof *s);
  compact_metrics_register(); /* each step may run alone (tools bucket) */
  int rc = objstore_iter(bkt, "", 0, collect_dirs, &ids);
  for (size_t i = 0; !rc && i < ids.n; i++)
    rc = sync_one(bkt, o, ids.v[i], now, s, counts);
  strlist_release(&ids);
  if (rc)
    rc = tc_error_wrap(rc, "sync block metas");
  if (o->blocks) {
    const char *err = rc ? tc_errmsg(rc) : NULL;
    ui_blocks_set(o->blocks, UI_BLOCKS_GLOBAL, tc_buf_detach(&s->global, NULL),
                  err);
    ui_blocks_set(o->blocks, UI_BLOCKS_LOADED, tc_buf_detach(&s->loaded, NULL),
                  err);
  }
  if (rc)
    return rc;
  if (s->n)
    qsort(s->v, s->n, sizeof *s->v, cblock_cmp);
  for (int i = 0; i < ST_NUM; i++)
    metric_set(metric_with(compact_m_synced, state_names[i]), counts[i]);
  return 0;
}

void csync_release(struct csync *s) {
  for (size_t i = 0; i < s->n; i++) {
    block_meta_release(&s->v[i].meta);
    labels_release(&s->v[i].group_labels);
  }
  free(s->v);
  free(s->marked);
  strlist_release(&s->partial);
  tc_buf_release(&s->global);
  tc_buf_release(&s->loaded);
  memset(s, 0, sizeof *s);
}

int compact_sync_views(struct objstore *bkt, const struct compact_opts *o) {
  struct csync s;
  int rc = csync_run(bkt, o, &s);
  csync_release(&s);
  return rc;
}
