/*
 * postings.c - iterators over sorted series IDs and their combinators
 * (intersect, merge, without), the currency of series selection in the
 * block reader and the store gateway. All share the next/seek/at/err shape;
 * the empty and error iterators are static objects that cost nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/index.h"

void postings_free(struct postings *p) {
  if (p && p->ops->free)
    p->ops->free(p);
}

/* ---- empty / error ---- */

static bool none_next(struct postings *p) { return false; }
static bool none_seek(struct postings *p, uint64_t v) { return false; }
static void err_free(struct postings *p) { free(p); }

static const struct postings_ops empty_ops = {none_next, none_seek, NULL};
static const struct postings_ops error_ops = {none_next, none_seek, err_free};
static struct postings empty_postings = {&empty_ops, 0, 0};

struct postings *postings_empty(void) { return &empty_postings; }

struct postings *postings_error(int err) {
  struct postings *p = xcalloc(1, sizeof(*p));
  p->ops = &error_ops;
  p->err = err;
  return p;
}

/* ---- lists ---- */

struct list_postings {
  struct postings base;
  const uint8_t *be; /* be32 IDs, or NULL when ids is used */
  uint64_t *ids;     /* owned */
  size_t n, i;       /* i: index of the next element to return */
};

static inline uint64_t list_get(const struct list_postings *l, size_t i) {
  if (l->ids)
    return l->ids[i];
  const uint8_t *q = l->be + 4 * i;
  return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
         ((uint32_t)q[2] << 8) | q[3];
}

static bool list_next(struct postings *p) {
  struct list_postings *l = (struct list_postings *)p;
  if (l->i >= l->n)
    return false;
  p->at = list_get(l, l->i++);
  return true;
}

static bool list_seek(struct postings *p, uint64_t v) {
  struct list_postings *l = (struct list_postings *)p;
  if (l->i > 0 && p->at >= v)
    return true;
  /* Gallop then binary search in [i, n). */
  size_t lo = l->i, step = 1, hi = lo;
  while (hi < l->n && list_get(l, hi) < v) {
    lo = hi + 1;
    hi += step;
    step <<= 1;
  }
  if (hi > l->n)
    hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (list_get(l, mid) < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  l->i = lo;
  return list_next(p);
}

static void list_free(struct postings *p) {
  struct list_postings *l = (struct list_postings *)p;
  free(l->ids);
  free(l);
}

static const struct postings_ops list_ops = {list_next, list_seek, list_free};

struct postings *postings_from_ids(const uint64_t *ids, size_t n) {
  struct list_postings *l = xcalloc(1, sizeof(*l));
  l->base.ops = &list_ops;
  l->ids = xmalloc((n ? n : 1) * sizeof(uint64_t));
  if (n)
    memcpy(l->ids, ids, n * sizeof(uint64_t));
  l->n = n;
  return &l->base;
}

struct postings *postings_from_be32(const uint8_t *p, size_t n) {
  struct list_postings *l = xcalloc(1, sizeof(*l));
  l->base.ops = &list_ops;
  l->be = p;
  l->n = n;
  return &l->base;
}

/* ---- intersect ---- */

struct isect_postings {
  struct postings base;
  struct postings **its;
  size_t n;
};

static bool isect_fail(struct isect_postings *x) {
  for (size_t i = 0; i < x->n; i++)
    if (x->its[i]->err) {
      x->base.err = x->its[i]->err;
      break;
    }
  return false;
}

/* Brings every input to the same ID >= target. */
static bool isect_align(struct isect_postings *x, uint64_t target) {
  for (;;) {
    bool moved = false;
    for (size_t i = 0; i < x->n; i++) {
      if (!postings_seek(x->its[i], target))
        return isect_fail(x);
      if (x->its[i]->at > target) {
        target = x->its[i]->at;
        moved = true;
      }
    }
    if (!moved) {
      x->base.at = target;
      return true;
    }
  }
}

static bool isect_next(struct postings *p) {
  struct isect_postings *x = (struct isect_postings *)p;
  if (!postings_next(x->its[0]))
    return isect_fail(x);
  return isect_align(x, x->its[0]->at);
}

static bool isect_seek(struct postings *p, uint64_t v) {
  struct isect_postings *x = (struct isect_postings *)p;
  if (!postings_seek(x->its[0], v))
    return isect_fail(x);
  return isect_align(x, x->its[0]->at);
}

static void multi_free(struct postings **its, size_t n) {
  for (size_t i = 0; i < n; i++)
    postings_free(its[i]);
  free(its);
}

static void isect_free(struct postings *p) {
  struct isect_postings *x = (struct isect_postings *)p;
  multi_free(x->its, x->n);
  free(x);
}

static const struct postings_ops isect_ops = {isect_next, isect_seek,
                                              isect_free};

struct postings *postings_intersect(struct postings **its, size_t n) {
  if (n == 0) {
    free(its);
    return postings_empty();
  }
  if (n == 1) {
    struct postings *p = its[0];
    free(its);
    return p;
  }
  for (size_t i = 0; i < n; i++)
    if (its[i] == &empty_postings) {
      multi_free(its, n);
      return postings_empty();
    }
  struct isect_postings *x = xcalloc(1, sizeof(*x));
  x->base.ops = &isect_ops;
  x->its = its;
  x->n = n;
  return &x->base;
}

/* ---- merge (k-way over a binary min-heap) ---- */

struct merge_postings {
  struct postings base;
  struct postings **its; /* all inputs (owned) */
  size_t n;
  struct postings **heap;
  size_t hn;
  bool started;
};

static void heap_down(struct postings **h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && h[l]->at < h[m]->at)
      m = l;
    if (l + 1 < n && h[l + 1]->at < h[m]->at)
      m = l + 1;
    if (m == i)
      return;
    struct postings *t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void merge_heapify(struct merge_postings *x) {
  for (size_t i = x->hn / 2; i-- > 0;)
    heap_down(x->heap, x->hn, i);
}

/* Drops an exhausted top, keeping its error. */
static void merge_pop_top(struct merge_postings *x) {
  if (x->heap[0]->err && !x->base.err)
    x->base.err = x->heap[0]->err;
  x->heap[0] = x->heap[--x->hn];
  heap_down(x->heap, x->hn, 0);
}

static bool merge_start(struct merge_postings *x, bool seek, uint64_t v) {
  x->started = true;
  x->hn = 0;
  for (size_t i = 0; i < x->n; i++) {
    bool ok = seek ? postings_seek(x->its[i], v) : postings_next(x->its[i]);
    if (ok)
      x->heap[x->hn++] = x->its[i];
    else if (x->its[i]->err && !x->base.err)
      x->base.err = x->its[i]->err;
  }
  merge_heapify(x);
  if (x->hn == 0 || x->base.err)
    return false;
  x->base.at = x->heap[0]->at;
  return true;
}

static bool merge_next(struct postings *p) {
  struct merge_postings *x = (struct merge_postings *)p;
  if (!x->started)
    return merge_start(x, false, 0);
  uint64_t cur = p->at;
  while (x->hn && x->heap[0]->at == cur) {
    if (postings_next(x->heap[0]))
      heap_down(x->heap, x->hn, 0);
    else
      merge_pop_top(x);
  }
  if (x->hn == 0 || p->err)
    return false;
  p->at = x->heap[0]->at;
  return true;
}

static bool merge_seek(struct postings *p, uint64_t v) {
  struct merge_postings *x = (struct merge_postings *)p;
  if (!x->started)
    return merge_start(x, true, v);
  if (x->hn == 0)
    return false;
  if (p->at >= v)
    return true;
  while (x->hn && x->heap[0]->at < v) {
    if (postings_seek(x->heap[0], v))
      heap_down(x->heap, x->hn, 0);
    else
      merge_pop_top(x);
  }
  if (x->hn == 0 || p->err)
    return false;
  p->at = x->heap[0]->at;
  return true;
}

static void merge_free(struct postings *p) {
  struct merge_postings *x = (struct merge_postings *)p;
  multi_free(x->its, x->n);
  free(x->heap);
  free(x);
}

static const struct postings_ops merge_ops = {merge_next, merge_seek,
                                              merge_free};

struct postings *postings_merge(struct postings **its, size_t n) {
  if (n == 0) {
    free(its);
    return postings_empty();
  }
  if (n == 1) {
    struct postings *p = its[0];
    free(its);
    return p;
  }
  struct merge_postings *x = xcalloc(1, sizeof(*x));
  x->base.ops = &merge_ops;
  x->its = its;
  x->n = n;
  x->heap = xcalloc(n, sizeof(*x->heap));
  return &x->base;
}

/* ---- without ---- */

struct without_postings {
  struct postings base;
  struct postings *full, *drop;
  bool drop_ok, drop_started;
};

/* Accepts full's current ID unless drop has it. */
static bool without_settle(struct without_postings *x, bool ok) {
  while (ok) {
    uint64_t v = x->full->at;
    if (x->drop_ok && (!x->drop_started || x->drop->at < v)) {
      x->drop_ok = postings_seek(x->drop, v);
      x->drop_started = true;
      if (!x->drop_ok && x->drop->err) {
        x->base.err = x->drop->err;
        return false;
      }
    }
    if (!x->drop_ok || x->drop->at != v) {
      x->base.at = v;
      return true;
    }
    ok = postings_next(x->full);
  }
  x->base.err = x->full->err;
  return false;
}

static bool without_next(struct postings *p) {
  struct without_postings *x = (struct without_postings *)p;
  return without_settle(x, postings_next(x->full));
}

static bool without_seek(struct postings *p, uint64_t v) {
  struct without_postings *x = (struct without_postings *)p;
  return without_settle(x, postings_seek(x->full, v));
}

static void without_free(struct postings *p) {
  struct without_postings *x = (struct without_postings *)p;
  postings_free(x->full);
  postings_free(x->drop);
  free(x);
}

static const struct postings_ops without_ops = {without_next, without_seek,
                                                without_free};

struct postings *postings_without(struct postings *full,
                                  struct postings *drop) {
  if (drop == &empty_postings || full == &empty_postings) {
    postings_free(drop);
    return full;
  }
  struct without_postings *x = xcalloc(1, sizeof(*x));
  x->base.ops = &without_ops;
  x->full = full;
  x->drop = drop;
  x->drop_ok = true;
  return &x->base;
}

int postings_expand(struct postings *p, uint64_t **ids, size_t *n) {
  uint64_t *v = NULL;
  size_t cnt = 0, cap = 0;
  while (postings_next(p)) {
    TC_GROW(v, cap, cnt + 1);
    v[cnt++] = p->at;
  }
  int rc = p->err;
  postings_free(p);
  *ids = v;
  *n = cnt;
  return rc;
}
