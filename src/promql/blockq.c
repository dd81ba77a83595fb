/*
 * blockq.c - a queryable over a directory of TSDB blocks on local disk
 * (the layout Prometheus and the bucket use: DIR/<ULID>/{meta.json,index,
 * chunks/}). select() reads the matching series of every block that
 * overlaps the hinted range into a per-select in-memory store, merging a
 * series that spans blocks, and hands out that store's series set. Used by
 * `thanosc tools promql eval BLOCKS ...` (the compliance engine contract).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/block.h"

struct promql_blockstore {
  struct promql_queryable q;
  struct block_reader *blocks;
  size_t n;
};

/* A series set that owns the store it iterates. */
struct owned_set {
  struct promql_series_set ss;
  struct promql_series_set *inner;
  struct promql_memstore *ms;
};

static int owned_next(struct promql_series_set *ss,
                      const struct labels **labels, struct promql_iter **it) {
  struct owned_set *o = (struct owned_set *)ss;
  return o->inner->ops->next(o->inner, labels, it);
}

static void owned_free(struct promql_series_set *ss) {
  struct owned_set *o = (struct owned_set *)ss;
  o->inner->ops->free(o->inner);
  promql_memstore_free(o->ms);
  free(o);
}

static const struct promql_series_set_ops owned_ops = {owned_next,
                                                       owned_free};

static int block_order(const void *a, const void *b) {
  const struct block_reader *x = a, *y = b;
  return x->meta.min_time < y->meta.min_time   ? -1
         : x->meta.min_time > y->meta.min_time ? 1
                                               : 0;
}

static int bs_select(struct promql_queryable *q,
                     const struct promql_select_hints *h,
                     const struct matcher *ms, size_t nms,
                     struct promql_series_set **out) {
  struct promql_blockstore *bs =
      tc_container_of(q, struct promql_blockstore, q);
  struct promql_memstore *mem = promql_memstore_new();
  struct matchers view = {(struct matcher *)ms, nms, nms};
  struct owned_set *o;
  int rc = 0;
  for (size_t i = 0; i < bs->n && rc == 0; i++) {
    struct block_reader *b = &bs->blocks[i];
    struct block_series_set set;
    if (b->meta.max_time <= h->start_ms || b->meta.min_time > h->end_ms)
      continue;
    rc = block_select(b, &view, h->start_ms, h->end_ms, &set);
    if (rc < 0)
      break;
    while (block_series_set_next(&set)) {
      struct series_iter it;
      const struct labels *l = block_series_set_labels(&set);
      block_series_set_iter(&set, &it);
      for (bool ok = series_iter_seek(&it, h->start_ms); ok;
           ok = series_iter_next(&it)) {
        int64_t t;
        double v;
        series_iter_at(&it, &t, &v);
        if (t > h->end_ms)
          break;
        promql_memstore_add(mem, l, t, v, false);
      }
      if ((rc = series_iter_err(&it)) < 0)
        break;
    }
    if (rc == 0)
      rc = block_series_set_err(&set);
    block_series_set_release(&set);
  }
  if (rc < 0) {
    promql_memstore_free(mem);
    return rc;
  }
  o = xcalloc(1, sizeof(*o));
  o->ss.ops = &owned_ops;
  o->ms = mem;
  rc = promql_memstore_queryable(mem)->ops->select(
      promql_memstore_queryable(mem), h, ms, nms, &o->inner);
  if (rc < 0) {
    promql_memstore_free(mem);
    free(o);
    return rc;
  }
  *out = &o->ss;
  return 0;
}

static const struct promql_queryable_ops bs_ops = {bs_select};

int promql_blockstore_open(const char *dir, struct promql_blockstore **out) {
  struct promql_blockstore *bs = xcalloc(1, sizeof(*bs));
  DIR *d = opendir(dir);
  struct dirent *de;
  size_t cap = 0;
  int rc = 0;
  bs->q.ops = &bs_ops;
  if (!d) {
    free(bs);
    return tc_error(-errno, "open '%s': %s", dir, strerror(errno));
  }
  while ((de = readdir(d))) {
    char *meta;
    struct stat st;
    if (de->d_name[0] == '.')
      continue;
    meta = xasprintf("%s/%s/meta.json", dir, de->d_name);
    if (stat(meta, &st) == 0) {
      char *bdir = xasprintf("%s/%s", dir, de->d_name);
      TC_GROW(bs->blocks, cap, bs->n + 1);
      rc = block_reader_open(&bs->blocks[bs->n], bdir);
      free(bdir);
      if (rc < 0) {
        free(meta);
        break;
      }
      bs->n++;
    }
    free(meta);
  }
  closedir(d);
  if (rc < 0) {
    rc = tc_error_wrap(rc, "block in '%s'", dir);
    promql_blockstore_free(bs);
    return rc;
  }
  qsort(bs->blocks, bs->n, sizeof(bs->blocks[0]), block_order);
  *out = bs;
  return 0;
}

void promql_blockstore_free(struct promql_blockstore *bs) {
  if (!bs)
    return;
  for (size_t i = 0; i < bs->n; i++)
    block_reader_close(&bs->blocks[i]);
  free(bs->blocks);
  free(bs);
}

struct promql_queryable *
promql_blockstore_queryable(struct promql_blockstore *bs) {
  return &bs->q;
}
