/*
 * merge.c - the querier's k-way merge of StoreAPI series streams (see
 * include/thanosc/query_merge.h).
 *
 * Every input is a cursor with a current label set. Inputs without
 * replica labels to strip are streamed: the cursor holds the input's
 * current series. When replica labels must be stripped, each input is
 * buffered whole, stripped and stably re-sorted first, because removing a
 * label can reorder series (Thanos's eager response set does the same).
 * A binary min-heap of cursors, ordered by label set and then by input
 * index, yields the next label set; every cursor positioned on an equal
 * label set contributes its chunks to the merged series.
 */
#include "thanosc/query_merge.h"

#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

struct entry {
  const struct qseries *s;
  struct label *labels; /* stripped copy (owned) or NULL: use s->labels */
  size_t nlabels;
};

struct cursor {
  struct qseries_set *set;
  size_t index;
  int eager;
  struct entry cur;     /* streaming: the current series */
  struct entry *buf;    /* eager: all series, stripped and sorted */
  size_t nbuf, pos;
};

struct qmerge {
  struct cursor *cur;
  size_t ncur;
  struct cursor **heap;
  size_t nheap;
  const char *const *replica;
  size_t nrep;
  int err;
  int started;
  /* the result of the last qmerge_next() */
  struct qmerged out;
  struct qchunk *chunks;
  size_t cap_chunks;
};

/* ---- array set ---- */

static int array_next(struct qseries_set *s, const struct qseries **out) {
  struct qseries_array_set *a = (struct qseries_array_set *)s;
  if (a->i >= a->n)
    return 0;
  *out = &a->v[a->i++];
  return 1;
}

static const struct qseries_set_ops array_ops = {.next = array_next};

void qseries_array_set_init(struct qseries_array_set *s,
                            const struct qseries *v, size_t n) {
  s->base.ops = &array_ops;
  s->v = v;
  s->n = n;
  s->i = 0;
}

/* ---- cursors ---- */

static const struct label *entry_labels(const struct entry *e, size_t *n) {
  if (e->labels || !e->s) {
    *n = e->nlabels;
    return e->labels;
  }
  *n = e->s->nlabels;
  return e->s->labels;
}

static int is_replica(const struct qmerge *m, const char *name) {
  for (size_t i = 0; i < m->nrep; i++)
    if (!strcmp(m->replica[i], name))
      return 1;
  return 0;
}

static void strip(const struct qmerge *m, struct entry *e) {
  e->labels = xcalloc(e->s->nlabels ? e->s->nlabels : 1, sizeof(*e->labels));
  e->nlabels = 0;
  for (size_t i = 0; i < e->s->nlabels; i++)
    if (!is_replica(m, e->s->labels[i].name))
      e->labels[e->nlabels++] = e->s->labels[i];
}

/* Moves c to its next series; 1 when positioned, 0 at the end, <0 error. */
static int cursor_advance(struct cursor *c) {
  if (c->eager) {
    if (c->pos < c->nbuf) {
      c->cur = c->buf[c->pos++];
      return 1;
    }
    c->cur.s = NULL;
    return 0;
  }
  const struct qseries *s;
  int rc = c->set->ops->next(c->set, &s);
  if (rc <= 0) {
    c->cur.s = NULL;
    return rc;
  }
  c->cur.s = s;
  c->cur.labels = NULL;
  c->cur.nlabels = 0;
  return 1;
}

/* Stable bottom-up merge sort of entries by label set (equal label sets
 * keep their arrival order, which decides nothing but is deterministic). */
static void stable_sort(struct entry *v, size_t n) {
  struct entry *aux = xcalloc(n, sizeof(*aux));
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = TC_MIN(lo + w, n), hi = TC_MIN(lo + 2 * w, n);
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        size_t na, nb;
        const struct label *la = entry_labels(&v[i], &na);
        const struct label *lb = entry_labels(&v[j], &nb);
        aux[k++] = qlabels_compare(lb, nb, la, na) < 0 ? v[j++] : v[i++];
      }
      while (i < mid)
        aux[k++] = v[i++];
      while (j < hi)
        aux[k++] = v[j++];
    }
    memcpy(v, aux, n * sizeof(*v));
  }
  free(aux);
}

/* Eager mode: read everything, strip, sort. */
static int cursor_fill(struct qmerge *m, struct cursor *c) {
  size_t cap = 0;
  for (;;) {
    const struct qseries *s;
    int rc = c->set->ops->next(c->set, &s);
    if (rc < 0)
      return rc;
    if (rc == 0)
      break;
    TC_GROW(c->buf, cap, c->nbuf + 1);
    c->buf[c->nbuf].s = s;
    strip(m, &c->buf[c->nbuf]);
    c->nbuf++;
  }
  if (c->nbuf > 1)
    stable_sort(c->buf, c->nbuf);
  return 0;
}

/* ---- heap ---- */

static int cursor_less(const struct cursor *a, const struct cursor *b) {
  size_t na, nb;
  const struct label *la = entry_labels(&a->cur, &na);
  const struct label *lb = entry_labels(&b->cur, &nb);
  int c = qlabels_compare(la, na, lb, nb);
  return c < 0 || (c == 0 && a->index < b->index);
}

static void heap_down(struct qmerge *m, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, min = i;
    if (l < m->nheap && cursor_less(m->heap[l], m->heap[min]))
      min = l;
    if (r < m->nheap && cursor_less(m->heap[r], m->heap[min]))
      min = r;
    if (min == i)
      return;
    struct cursor *t = m->heap[i];
    m->heap[i] = m->heap[min];
    m->heap[min] = t;
    i = min;
  }
}

static void heap_up(struct qmerge *m, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!cursor_less(m->heap[i], m->heap[p]))
      return;
    struct cursor *t = m->heap[i];
    m->heap[i] = m->heap[p];
    m->heap[p] = t;
    i = p;
  }
}

static void heap_push(struct qmerge *m, struct cursor *c) {
  m->heap[m->nheap++] = c;
  heap_up(m, m->nheap - 1);
}

static struct cursor *heap_pop(struct qmerge *m) {
  struct cursor *top = m->heap[0];
  m->heap[0] = m->heap[--m->nheap];
  heap_down(m, 0);
  return top;
}

/* ---- merge ---- */

struct qmerge *qmerge_new(struct qseries_set *const *sets, size_t nsets,
                          const char *const *replica_labels, size_t nrep) {
  struct qmerge *m = xcalloc(1, sizeof(*m));
  m->cur = xcalloc(nsets ? nsets : 1, sizeof(*m->cur));
  m->heap = xcalloc(nsets ? nsets : 1, sizeof(*m->heap));
  m->ncur = nsets;
  m->replica = replica_labels;
  m->nrep = nrep;
  for (size_t i = 0; i < nsets; i++) {
    m->cur[i].set = sets[i];
    m->cur[i].index = i;
    m->cur[i].eager = nrep > 0;
  }
  return m;
}

void qmerge_input_stripped(struct qmerge *m, size_t i) {
  if (i < m->ncur && !m->started)
    m->cur[i].eager = 0;
}

static int merge_start(struct qmerge *m) {
  for (size_t i = 0; i < m->ncur; i++) {
    struct cursor *c = &m->cur[i];
    int rc;
    if (c->eager && (rc = cursor_fill(m, c)))
      return rc;
    rc = cursor_advance(c);
    if (rc < 0)
      return rc;
    if (rc)
      heap_push(m, c);
  }
  return 0;
}

/* The part Thanos identifies a chunk by: the first present one of raw,
 * count, max, min, sum, counter. */
static struct qchunk_part identity(const struct qchunk *c) {
  static const enum qaggr order[] = {QAGGR_COUNT, QAGGR_MAX, QAGGR_MIN,
                                     QAGGR_SUM, QAGGR_COUNTER};
  struct qchunk_part p = {c->encoding, c->data, c->len};
  if (p.data || !c->aggr)
    return p;
  for (size_t i = 0; i < TC_ARRAY_SIZE(order); i++)
    if (c->aggr[order[i]].data)
      return c->aggr[order[i]];
  return p;
}

static int chunk_cmp(const void *pa, const void *pb) {
  const struct qchunk *a = pa, *b = pb;
  if (a->min_time != b->min_time)
    return a->min_time < b->min_time ? -1 : 1;
  if (a->max_time != b->max_time)
    return a->max_time < b->max_time ? -1 : 1;
  struct qchunk_part x = identity(a), y = identity(b);
  if (x.encoding != y.encoding)
    return x.encoding < y.encoding ? -1 : 1;
  if (x.len != y.len)
    return x.len < y.len ? -1 : 1;
  if ((x.data != NULL) != (y.data != NULL))
    return x.data ? 1 : -1;
  return x.len ? memcmp(x.data, y.data, x.len) : 0;
}

static void add_chunks(struct qmerge *m, const struct qseries *s) {
  if (s->nchunks == 0)
    return;
  TC_GROW(m->chunks, m->cap_chunks, m->out.nchunks + s->nchunks);
  memcpy(m->chunks + m->out.nchunks, s->chunks,
         s->nchunks * sizeof(*s->chunks));
  m->out.nchunks += s->nchunks;
}

int qmerge_next(struct qmerge *m, const struct qmerged **out) {
  int rc;
  if (m->err)
    return m->err;
  if (!m->started) {
    m->started = 1;
    if ((rc = merge_start(m)))
      return m->err = rc;
  }
  if (m->nheap == 0)
    return 0;

  /* The smallest label set; every cursor on an equal set joins in, and
   * so does a cursor whose next series repeats it. The label set stays
   * valid after its cursor advances: streamed series live until their set
   * is destroyed, stripped labels live in the eager buffers. */
  struct cursor *c = heap_pop(m);
  size_t nl;
  const struct label *ls = entry_labels(&c->cur, &nl);
  m->out.nchunks = 0;
  m->out.nsources = 0;
  for (;;) {
    add_chunks(m, c->cur.s);
    m->out.nsources++;
    rc = cursor_advance(c);
    if (rc < 0)
      return m->err = rc;
    if (rc)
      heap_push(m, c);
    if (m->nheap == 0)
      break;
    size_t n2;
    const struct label *l2 = entry_labels(&m->heap[0]->cur, &n2);
    if (qlabels_compare(ls, nl, l2, n2) != 0)
      break;
    c = heap_pop(m);
  }
  m->out.labels = ls;
  m->out.nlabels = nl;

  /* Sort, then drop byte-identical duplicates. */
  if (m->out.nchunks > 1) {
    qsort(m->chunks, m->out.nchunks, sizeof(*m->chunks), chunk_cmp);
    size_t w = 1;
    for (size_t i = 1; i < m->out.nchunks; i++)
      if (chunk_cmp(&m->chunks[i], &m->chunks[w - 1]) != 0)
        m->chunks[w++] = m->chunks[i];
    m->out.nchunks = w;
  }
  m->out.chunks = m->chunks;

  *out = &m->out;
  return 1;
}

void qmerge_free(struct qmerge *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->ncur; i++) {
    struct cursor *c = &m->cur[i];
    for (size_t k = 0; k < c->nbuf; k++)
      free(c->buf[k].labels);
    free(c->buf);
  }
  free(m->cur);
  free(m->heap);
  free(m->chunks);
  free(m);
}

size_t qmerge_overlap_split(const struct qchunk *chunks, size_t n,
                            size_t *group) {
  if (n == 0)
    return 0;
  /* last max time of each group */
  int64_t *last = xcalloc(n, sizeof(*last));
  size_t ng = 1;
  group[0] = 0;
  last[0] = chunks[0].max_time;
  for (size_t i = 1; i < n; i++) {
    size_t g;
    for (g = 0; g < ng; g++)
      if (last[g] < chunks[i].min_time)
        break;
    if (g == ng)
      ng++;
    group[i] = g;
    last[g] = chunks[i].max_time;
  }
  free(last);
  return ng;
}

size_t qmerge_strings(const char *const *const *lists, const size_t *lens,
                      size_t nlists, size_t limit, const char ***out) {
  size_t total = 0;
  for (size_t i = 0; i < nlists; i++)
    total += lens[i];
  const char **acc = xcalloc(total ? total : 1, sizeof(*acc));
  const char **tmp = xcalloc(total ? total : 1, sizeof(*tmp));
  size_t n = 0;
  /* Fold the lists in one by one: a two-way merge with dedup each time. */
  for (size_t l = 0; l < nlists; l++) {
    size_t i = 0, j = 0, k = 0;
    const char *const *b = lists[l];
    while (i < n || j < lens[l]) {
      const char *next;
      if (j >= lens[l] || (i < n && strcmp(acc[i], b[j]) <= 0))
        next = acc[i++];
      else
        next = b[j++];
      if (k == 0 || strcmp(tmp[k - 1], next) != 0)
        tmp[k++] = next;
    }
    if (limit && k > limit)
      k = limit;
    memcpy(acc, tmp, k * sizeof(*acc));
    n = k;
  }
  free(tmp);
  *out = acc;
  return n;
}
