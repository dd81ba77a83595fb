/*
 * tools.c - the compactor's pieces that `thanosc tools bucket` runs on
 * their own: marking blocks by hand and verifying a bucket for overlapping
 * blocks and index issues (compact.h). Cleanup, retention and
 * downsampling are compact.c's steps, called directly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/tsdb/block.h"
#include "thanosc/tsdb/bucket.h"
#include "thanosc/tsdb/index.h"

/* ------------------------------------------------------------- mark */

static int found_one(void *data, const char *name) {
  (void)name;
  *(bool *)data = true;
  return 1; /* one is enough: stop */
}

/* Whether the bucket holds anything under <id>/ (a partial upload counts:
 * marking one for deletion is how it is cleaned up). */
static int block_present(struct objstore *bkt, const char *id, bool *present) {
  char *prefix = xasprintf("%s/", id);
  *present = false;
  int rc = objstore_iter(bkt, prefix, 0, found_one, present);
  free(prefix);
  return rc < 0 ? rc : 0;
}

int compact_mark(struct objstore *bkt, enum marker_kind kind, const char *id,
                 const char *details, bool remove) {
  bool present;
  int rc = block_present(bkt, id, &present);
  if (rc)
    return tc_error_wrap(rc, "block %s", id);
  if (!present)
    return tc_error(TC_ENOTFOUND, "block %s not found in the bucket", id);
  const char *file = marker_filename(kind);
  char *name = xasprintf("%s/%s", id, file);
  int ex = objstore_exists(bkt, name);
  if (ex < 0) {
    rc = ex;
  } else if (remove && !ex) {
    LOG_WARN("requested to remove a marker that does not exist", "block", id,
             "marker", file);
  } else if (remove) {
    rc = objstore_delete(bkt, name);
    if (!rc)
      LOG_INFO("removed marker", "block", id, "marker", file);
  } else if (ex) {
    LOG_WARN("requested to mark a block that already has the marker", "block",
             id, "marker", file);
  } else {
    rc = block_mark(bkt, kind, id, details,
                    kind == MARKER_DELETION ? NULL : "manual");
    if (!rc)
      LOG_INFO("marked block", "block", id, "marker", file);
  }
  free(name);
  return rc ? tc_error_wrap(rc, "block %s: %s", id, file) : 0;
}

/* ----------------------------------------------------------- verify */

static bool wanted(const struct strlist *ids, const char *id) {
  if (!ids || !ids->n)
    return true;
  for (size_t i = 0; i < ids->n; i++)
    if (!strcmp(ids->v[i], id))
      return true;
  return false;
}

/* Logs one run of overlapping blocks b[0..n) of a group. */
static void report_overlap(const struct cblock *b, size_t n) {
  struct tc_buf m = TC_BUF_INIT;
  for (size_t i = 0; i < n; i++)
    tc_buf_addf(&m, "%s<ulid: %s, mint: %" PRId64 ", maxt: %" PRId64 ">",
                i ? ", " : "", b[i].meta.ulid, b[i].meta.min_time,
                b[i].meta.max_time);
  tc_buf_addc(&m, '\0');
  LOG_WARN("found overlapped blocks", "group", b[0].group, "overlap", m.data);
  tc_buf_release(&m);
}

/* Blocks of one group come sorted by min time: a block starting before the
 * end of those before it overlaps them. Each run is reported once. */
static size_t check_overlaps(const struct csync *s, const struct strlist *ids) {
  size_t found = 0;
  for (size_t g = 0; g < s->n;) {
    size_t end = g;
    while (end < s->n && !strcmp(s->v[end].group, s->v[g].group))
      end++;
    for (size_t i = g; i < end;) {
      size_t j = i + 1;
      int64_t maxt = s->v[i].meta.max_time;
      bool asked = wanted(ids, s->v[i].meta.ulid);
      for (; j < end && s->v[j].meta.min_time < maxt; j++) {
        maxt = TC_MAX(maxt, s->v[j].meta.max_time);
        asked = asked || wanted(ids, s->v[j].meta.ulid);
      }
      if (j - i > 1 && asked) {
        report_overlap(&s->v[i], j - i);
        found++;
      }
      i = j;
    }
    g = end;
  }
  return found;
}

int compact_index_health(const char *path, const struct block_meta *m,
                         bool first_only, struct index_health *h) {
  struct index_reader r;
  memset(h, 0, sizeof *h);
  int rc = index_reader_open_file(&r, path);
  if (rc)
    return rc;
  struct postings *p = index_reader_postings(&r, "", "");
  struct index_series s = {0};
  struct labels prev = {0};
  while (!rc && !(first_only && h->first) && postings_next(p)) {
    rc = index_reader_series(&r, postings_at(p), &s);
    if (rc)
      break;
    const char *why = NULL;
    for (size_t i = 1; i < s.lset.n && !why; i++)
      if (strcmp(s.lset.v[i - 1].name, s.lset.v[i].name) >= 0) {
        why = "labels out of order";
        h->labels_ooo++;
      }
    if (prev.n && labels_compare(&prev, &s.lset) >= 0) {
      why = why ? why : "series out of order";
      h->series_ooo++;
    }
    for (size_t i = 0; i < s.nchunks; i++) {
      const struct chunk_meta *c = &s.chunks[i];
      const char *bad = NULL;
      if (c->mint > c->maxt)
        bad = "chunk with min time after max time";
      else if (c->mint < m->min_time || c->maxt > m->max_time)
        bad = "chunk outside the block's range";
      if (bad) {
        h->chunks_bad++;
      } else if (i && c->mint <= s.chunks[i - 1].maxt) {
        bad = "chunks out of order or overlapping";
        h->chunks_ooo++;
      }
      why = why ? why : bad;
    }
    if (why && !h->first) {
      struct tc_buf ls = TC_BUF_INIT;
      labels_format(&s.lset, &ls);
      tc_buf_addc(&ls, '\0');
      h->first = xasprintf("%s in series %s", why, ls.data);
      tc_buf_release(&ls);
    }
    labels_release(&prev);
    labels_copy(&prev, &s.lset);
  }
  if (!rc)
    rc = postings_err(p);
  postings_free(p);
  index_series_release(&s);
  labels_release(&prev);
  index_reader_close(&r);
  if (rc)
    index_health_release(h);
  return rc;
}

void index_health_release(struct index_health *h) {
  free(h->first);
  memset(h, 0, sizeof *h);
}

/* The index of a block until its first issue (logged): 0 or 1 issues;
 * <0 when unreadable. */
static int check_index(const char *path, const struct block_meta *m) {
  struct index_health h;
  int rc = compact_index_health(path, m, true, &h);
  if (rc)
    return rc;
  if (h.first)
    LOG_WARN("detected index issue", "block", m->ulid, "issue", h.first);
  rc = h.first != NULL;
  index_health_release(&h);
  return rc;
}

/* Downloads each block's index (only) and checks it. */
static int check_indexes(struct objstore *bkt, const struct compact_opts *o,
                         const struct csync *s, const struct strlist *ids,
                         size_t *found) {
  char *dir = xasprintf("%s/verify", o->data_dir);
  char *path = xasprintf("%s/index", dir);
  int rc = compact_fresh_dir(dir);
  for (size_t i = 0; i < s->n && !rc; i++) {
    const struct block_meta *m = &s->v[i].meta;
    if (!wanted(ids, m->ulid))
      continue;
    char *name = xasprintf("%s/index", m->ulid);
    rc = objstore_download(bkt, name, 0, path);
    free(name);
    if (rc)
      break;
    int n = check_index(path, m);
    if (n < 0) {
      /* A corrupt index is an issue of the block, not of the run. */
      LOG_WARN("detected index issue", "block", m->ulid, "issue",
               tc_errmsg(n));
      n = 1;
    }
    *found += (size_t)n;
    LOG_INFO("verified index", "block", m->ulid, "issues", n ? "yes" : "no");
  }
  tsdb_remove_all(dir);
  free(path);
  free(dir);
  return rc;
}

int compact_verify(struct objstore *bkt, const struct compact_opts *o,
                   unsigned issues, const struct strlist *ids,
                   size_t *found) {
  struct csync s;
  *found = 0;
  int rc = csync_run(bkt, o, &s);
  for (size_t i = 0; !rc && ids && i < ids->n; i++) {
    bool known = false;
    for (size_t j = 0; j < s.n && !known; j++)
      known = !strcmp(s.v[j].meta.ulid, ids->v[i]);
    if (!known)
      rc = tc_error(TC_ENOTFOUND, "block %s not found in the bucket",
                    ids->v[i]);
  }
  if (!rc && (issues & COMPACT_ISSUE_OVERLAPS))
    *found += check_overlaps(&s, ids);
  if (!rc && (issues & COMPACT_ISSUE_INDEX))
    rc = check_indexes(bkt, o, &s, ids, found);
  csync_release(&s);
  return rc;
}
