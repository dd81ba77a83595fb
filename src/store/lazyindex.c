/*
 * lazyindex.c - the store gateway's reader of a block index through its
 * index-header, keeping only samples in memory: the byte position of every
 * 32nd symbol and of every 32nd entry of the postings offset table (plus
 * one record per label name). Symbols, label values and postings offsets
 * are decoded from the mmapped index-header on demand (the page cache
 * holds them, not the heap), series entries and postings lists come from
 * ranged reads of the bucket through the same virtual index source. So
 * the store's memory grows with the number of blocks and label names, not
 * with the number of series or label values of a block. The selection of
 * postings by matchers follows Prometheus's PostingsForMatchers, like the
 * TSDB index reader (src/tsdb/index/reader.c) whose full-memory tables
 * this replaces for the store. Not thread-safe: callers hold the block
 * lock.
 *
 * TODO(store): lazy_index_select() and lazy_index_series() repeat the
 * matcher translation and series decoding of src/tsdb/index/reader.c;
 * once that reader can run over sampled tables, this file shrinks to the
 * sampling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/store.h"

#define SAMPLE 32

static inline uint32_t be32_at(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t be64_at(const uint8_t *p) {
  return ((uint64_t)be32_at(p) << 32) | be32_at(p + 4);
}

static int corrupt(struct lazy_index *x, const char *what) {
  return tc_error(TC_ECORRUPT, "index '%s': %s", x->src.name, what);
}

/* A len | body | crc32 section at off, CRC checked; body borrowed. */
static int section(struct lazy_index *x, uint64_t off, const char *what,
                   const uint8_t **body, uint32_t *len) {
  const uint8_t *p;
  int rc = tsdb_bytes_read(&x->src, off, 4, &x->scratch, &p);
  if (rc)
    return corrupt(x, what);
  uint32_t n = be32_at(p);
  if ((uint64_t)n + 8 > x->src.size - off)
    return corrupt(x, what);
  rc = tsdb_bytes_read(&x->src, off + 4, (size_t)n + 4, &x->scratch, &p);
  if (rc)
    return rc;
  if (tc_crc32c(0, p, n) != be32_at(p + n))
    return tc_error(TC_ECHECKSUM, "index '%s': %s: checksum mismatch",
                    x->src.name, what);
  *body = p;
  *len = n;
  return 0;
}

void lazy_index_close(struct lazy_index *x) {
  for (size_t i = 0; i < x->nnames; i++) {
    free(x->names[i].name);
    free(x->names[i].samples);
  }
  free(x->names);
  free(x->sym_samples);
  tc_buf_release(&x->scratch);
  tsdb_bytes_close(&x->src);
  memset(x, 0, sizeof(*x));
}

/* One postings offset table entry at pos (within the table body). */
struct pentry {
  const char *name, *value;
  size_t nl, vl;
  uint64_t off;
  uint32_t next; /* position of the following entry */
};

static int pentry_at(const struct lazy_index *x, uint32_t pos,
                     struct pentry *e) {
  if (pos >= x->ptab_len)
    return TC_ECORRUPT;
  struct decbuf d = decbuf_make(x->ptab + pos, x->ptab_len - pos);
  uint64_t k = decbuf_uvarint(&d);
  e->name = decbuf_uvarint_str(&d, &e->nl);
  e->value = decbuf_uvarint_str(&d, &e->vl);
  e->off = decbuf_uvarint(&d);
  if (d.err || k != 2)
    return TC_ECORRUPT;
  e->next = (uint32_t)(x->ptab_len - decbuf_len(&d));
  return 0;
}

static int strn_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, TC_MIN(an, bn));
  if (c)
    return c;
  return an < bn ? -1 : an > bn;
}

int lazy_index_open(struct lazy_index *x, struct tsdb_bytes *src) {
  memset(x, 0, sizeof(*x));
  x->src = *src;
  memset(src, 0, sizeof(*src));
  tc_buf_init(&x->scratch, 0);
  const uint8_t *p;
  int rc = 0;
  if (x->src.size < 5 + INDEX_TOC_LEN) {
    rc = corrupt(x, "too short");
    goto out;
  }
  rc = tsdb_bytes_read(&x->src, 0, 5, &x->scratch, &p);
  if (!rc && (be32_at(p) != INDEX_MAGIC || p[4] != 2))
    rc = corrupt(x, "bad magic or version");
  if (!rc)
    rc = tsdb_bytes_read(&x->src, x->src.size - INDEX_TOC_LEN, INDEX_TOC_LEN,
                         &x->scratch, &p);
  if (rc)
    goto out;
  if (tc_crc32c(0, p, 48) != be32_at(p + 48)) {
    rc = tc_error(TC_ECHECKSUM, "index '%s': TOC: checksum mismatch",
                  x->src.name);
    goto out;
  }
  uint64_t sym_off = be64_at(p), ptab_off = be64_at(p + 40);
  x->series_off = be64_at(p + 8);
  /* Symbols: every 32nd position. */
  uint32_t len;
  rc = section(x, sym_off, "symbol table", &p, &len);
  if (rc)
    goto out;
  struct decbuf d = decbuf_make(p, len);
  x->nsyms = decbuf_be32(&d);
  if (d.err || x->nsyms > len) {
    rc = corrupt(x, "symbol table: bad count");
    goto out;
  }
  x->sym = p;
  x->sym_len = len;
  x->sym_samples = xcalloc(x->nsyms / SAMPLE + 1, sizeof(uint32_t));
  for (uint32_t i = 0; i < x->nsyms; i++) {
    if (i % SAMPLE == 0)
      x->sym_samples[i / SAMPLE] = (uint32_t)(len - decbuf_len(&d));
    size_t sl;
    decbuf_uvarint_str(&d, &sl);
    if (d.err) {
      rc = corrupt(x, "symbol table: truncated symbol");
      goto out;
    }
  }
  /* Postings offset table: one record per name, every 32nd entry. */
  rc = section(x, ptab_off, "postings offset table", &p, &len);
  if (rc)
    goto out;
  if (len < 4) {
    rc = corrupt(x, "postings offset table: too short");
    goto out;
  }
  x->ptab = p;
  x->ptab_len = len;
  uint32_t n = be32_at(p);
  uint32_t pos = 4;
  size_t cap = 0, scap = 0;
  struct pentry e, prev = {0};
  for (uint32_t i = 0; i < n; i++) {
    if (pentry_at(x, pos, &e) || e.off >= x->src.size) {
      rc = corrupt(x, "postings offset table: bad entry");
      goto out;
    }
    struct lazy_name *ln = x->nnames ? &x->names[x->nnames - 1] : NULL;
    int c = ln ? strn_cmp(prev.name, prev.nl, e.name, e.nl) : 1;
    if (c > 0 && ln) {
      rc = corrupt(x, "postings offset table: entries not sorted");
      goto out;
    }
    if (c != 0) {
      TC_GROW(x->names, cap, x->nnames + 1);
      ln = &x->names[x->nnames++];
      memset(ln, 0, sizeof(*ln));
      ln->name = xstrndup(e.name, e.nl);
      ln->first = pos;
      scap = 0;
    } else if (strn_cmp(prev.value, prev.vl, e.value, e.vl) >= 0) {
      rc = corrupt(x, "postings offset table: entries not sorted");
      goto out;
    }
    if (ln->n % SAMPLE == 0) {
      TC_GROW(ln->samples, scap, ln->n / SAMPLE + 1);
      ln->samples[ln->n / SAMPLE] = pos;
    }
    ln->n++;
    prev = e;
    pos = e.next;
  }
  if (pos != len)
    rc = corrupt(x, "postings offset table: trailing bytes");
out:
  if (rc)
    lazy_index_close(x);
  return rc;
}

const struct lazy_name *lazy_index_name(const struct lazy_index *x,
                                        const char *name) {
  size_t lo = 0, hi = x->nnames;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(x->names[mid].name, name);
    if (c < 0)
      lo = mid + 1;
    else if (c > 0)
      hi = mid;
    else
      return &x->names[mid];
  }
  return NULL;
}

int lazy_index_values(const struct lazy_index *x, const struct lazy_name *ln,
                      lazy_value_fn *fn, void *data) {
  uint32_t pos = ln->first;
  for (uint32_t i = 0; i < ln->n; i++) {
    struct pentry e;
    if (pentry_at(x, pos, &e))
      return tc_error(TC_ECORRUPT, "index '%s': bad postings offset entry",
                      x->src.name);
    int rc = fn(data, e.value, e.vl, e.off);
    if (rc)
      return rc;
    pos = e.next;
  }
  return 0;
}

/* Offset of the postings of name=value; false when absent. */
static bool find_value(const struct lazy_index *x, const struct lazy_name *ln,
                       const char *v, size_t vl, uint64_t *off) {
  size_t nsamples = (ln->n + SAMPLE - 1) / SAMPLE;
  size_t lo = 0, hi = nsamples;
  struct pentry e;
  /* The last sample whose value is <= v. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (pentry_at(x, ln->samples[mid], &e))
      return false;
    if (strn_cmp(e.value, e.vl, v, vl) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return false;
  uint32_t pos = ln->samples[lo - 1];
  uint32_t left = ln->n - (uint32_t)(lo - 1) * SAMPLE;
  for (uint32_t i = 0; i < left && i < SAMPLE; i++) {
    if (pentry_at(x, pos, &e))
      return false;
    int c = strn_cmp(e.value, e.vl, v, vl);
    if (c == 0) {
      *off = e.off;
      return true;
    }
    if (c > 0)
      return false;
    pos = e.next;
  }
  return false;
}

/* The postings list at off, as an owned iterator. */
static struct postings *lazy_postings_at(struct lazy_index *x, uint64_t off) {
  const uint8_t *p;
  uint32_t len;
  int rc = section(x, off, "postings list", &p, &len);
  if (rc)
    return postings_error(rc);
  uint32_t n = len >= 4 ? be32_at(p) : 0;
  if (len < 4 || (uint64_t)n * 4 + 4 != len)
    return postings_error(corrupt(x, "postings list: bad entry count"));
  uint64_t *ids = xmalloc(((size_t)n + 1) * sizeof(uint64_t));
  for (uint32_t i = 0; i < n; i++)
    ids[i] = be32_at(p + 4 + 4 * i);
  struct postings *it = postings_from_ids(ids, n);
  free(ids);
  return it;
}

struct postings *lazy_index_postings(struct lazy_index *x, const char *name,
                                     const char *value) {
  const struct lazy_name *ln = lazy_index_name(x, name);
  uint64_t off;
  if (!ln || !find_value(x, ln, value, strlen(value), &off))
    return postings_empty();
  return lazy_postings_at(x, off);
}

struct pv_collect {
  const struct matcher *m;
  bool invert;
  uint64_t *offs;
  size_t n, cap;
};

static int collect_value(void *data, const char *v, size_t vl, uint64_t off) {
  struct pv_collect *c = data;
  if (matcher_matches(c->m, v, vl) == c->invert)
    return 0;
  TC_GROW(c->offs, c->cap, c->n + 1);
  c->offs[c->n++] = off;
  return 0;
}

/* Merged postings of the values of m->name matching m (or not, with
 * invert). */
static struct postings *postings_for_values(struct lazy_index *x,
                                            const struct matcher *m,
                                            bool invert) {
  const struct lazy_name *ln = lazy_index_name(x, m->name);
  if (!ln)
    return postings_empty();
  struct pv_collect c = {.m = m, .invert = invert};
  const char *const *set;
  size_t nset = invert ? 0 : matcher_set_values(m, &set);
  if (nset) {
    for (size_t i = 0; i < nset; i++) {
      uint64_t off;
      if (find_value(x, ln, set[i], strlen(set[i]), &off)) {
        TC_GROW(c.offs, c.cap, c.n + 1);
        c.offs[c.n++] = off;
      }
    }
  } else {
    int rc = lazy_index_values(x, ln, collect_value, &c);
    if (rc) {
      free(c.offs);
      return postings_error(rc);
    }
  }
  struct postings **its = xcalloc(c.n + 1, sizeof(*its));
  for (size_t i = 0; i < c.n; i++)
    its[i] = lazy_postings_at(x, c.offs[i]);
  free(c.offs);
  return postings_merge(its, c.n);
}

static int matcher_inverse(const struct matcher *m, struct matcher *out) {
  static const enum matcher_type inv[] = {MATCH_NEQ, MATCH_EQ, MATCH_NRE,
                                          MATCH_RE};
  return matcher_init(out, inv[m->type], m->name, m->value);
}

struct postings *lazy_index_select(struct lazy_index *x,
                                   const struct matchers *ms) {
  struct postings **its = NULL, **nots = NULL;
  size_t nits = 0, capits = 0, nnots = 0, capnots = 0;
  for (size_t i = 0; i < ms->n; i++) {
    const struct matcher *m = &ms->v[i];
    bool matches_empty = matcher_matches(m, "", 0);
    bool is_not = m->type == MATCH_NEQ || m->type == MATCH_NRE;
    bool must_be_set = false;
    for (size_t j = 0; j < ms->n; j++)
      if (!strcmp(ms->v[j].name, m->name) &&
          !matcher_matches(&ms->v[j], "", 0))
        must_be_set = true;
    if (m->type == MATCH_RE && !strcmp(m->value, ".*"))
      continue;
    struct postings *p;
    bool to_nots;
    if (must_be_set && is_not && matches_empty) {
      /* l!="foo": subtract the series that have foo. */
      struct matcher inv;
      if (matcher_inverse(m, &inv)) {
        p = postings_error(TC_EINVAL);
      } else {
        p = postings_for_values(x, &inv, false);
        matcher_release(&inv);
      }
      to_nots = true;
    } else if (must_be_set) {
      p = postings_for_values(x, m, false);
      to_nots = false;
    } else {
      /* Matches "": everything but the series with a non-matching value. */
      p = postings_for_values(x, m, true);
      to_nots = true;
    }
    if (to_nots) {
      TC_GROW(nots, capnots, nnots + 1);
      nots[nnots++] = p;
    } else {
      TC_GROW(its, capits, nits + 1);
      its[nits++] = p;
    }
  }
  if (nits == 0) {
    TC_GROW(its, capits, 1);
    its[nits++] = lazy_index_postings(x, "", "");
  }
  struct postings *it = postings_intersect(its, nits);
  for (size_t i = 0; i < nnots; i++)
    it = postings_without(it, nots[i]);
  free(nots);
  return it;
}

/* Symbol ref: bytes and length in the mmapped table. */
static int symbol(const struct lazy_index *x, uint64_t ref, const char **s,
                  size_t *n) {
  if (ref >= x->nsyms)
    return TC_ECORRUPT;
  uint32_t pos = x->sym_samples[ref / SAMPLE];
  struct decbuf d = decbuf_make(x->sym + pos, x->sym_len - pos);
  for (uint64_t i = 0; i <= ref % SAMPLE; i++)
    *s = decbuf_uvarint_str(&d, n);
  return d.err ? TC_ECORRUPT : 0;
}

const char *lazy_arena_str(struct lazy_arena *a, const char *s, size_t n) {
  if (!a->cur || a->used + n + 1 > a->cap) {
    size_t cap = TC_MAX((size_t)16384, n + 1);
    struct lazy_arena_block *b = xmalloc(sizeof(*b) + cap);
    b->next = a->blocks;
    a->blocks = b;
    a->cur = b->data;
    a->cap = cap;
    a->used = 0;
  }
  char *p = a->cur + a->used;
  memcpy(p, s, n);
  p[n] = '\0';
  a->used += n + 1;
  return p;
}

void lazy_arena_release(struct lazy_arena *a) {
  for (struct lazy_arena_block *b = a->blocks, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  memset(a, 0, sizeof(*a));
}

int lazy_index_series(struct lazy_index *x, uint64_t id,
                      struct lazy_arena *a, struct index_series *s) {
  uint64_t off = id * 16;
  const uint8_t *p;
  char sect[48];
  snprintf(sect, sizeof(sect), "series %llu", (unsigned long long)id);
  if (id > UINT32_MAX || off >= x->src.size)
    return tc_error(TC_ECORRUPT, "index '%s': %s: reference past the end",
                    x->src.name, sect);
  size_t hl = (size_t)TC_MIN((uint64_t)10, x->src.size - off);
  int rc = tsdb_bytes_read(&x->src, off, hl, &x->scratch, &p);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, hl);
  uint64_t len = decbuf_uvarint(&d);
  size_t vl = hl - decbuf_len(&d);
  if (d.err || len + 4 > x->src.size - off - vl)
    return tc_error(TC_ECORRUPT, "index '%s': %s: bad length", x->src.name,
                    sect);
  rc = tsdb_bytes_read(&x->src, off + vl, (size_t)len + 4, &x->scratch, &p);
  if (rc)
    return rc;
  if (tc_crc32c(0, p, (size_t)len) != be32_at(p + len))
    return tc_error(TC_ECHECKSUM, "index '%s': %s: checksum mismatch",
                    x->src.name, sect);
  d = decbuf_make(p, (size_t)len);
  labels_reset(&s->lset);
  s->lset.flags = LABELS_BORROWED;
  s->nchunks = 0;
  uint64_t nl = decbuf_uvarint(&d);
  if (nl > len)
    return tc_error(TC_ECORRUPT, "index '%s': %s: bad label count",
                    x->src.name, sect);
  for (uint64_t i = 0; i < nl; i++) {
    uint64_t nr = decbuf_uvarint(&d), vr = decbuf_uvarint(&d);
    const char *ns, *vs;
    size_t nn, vn;
    if (d.err || symbol(x, nr, &ns, &nn) || symbol(x, vr, &vs, &vn))
      return tc_error(TC_ECORRUPT, "index '%s': %s: bad label reference",
                      x->src.name, sect);
    labels_add_borrowed(&s->lset, lazy_arena_str(a, ns, nn),
                        lazy_arena_str(a, vs, vn));
  }
  uint64_t nc = decbuf_uvarint(&d);
  if (d.err || nc > len)
    return tc_error(TC_ECORRUPT, "index '%s': %s: bad chunk count",
                    x->src.name, sect);
  if (nc > s->cap) {
    s->chunks = xrealloc(s->chunks, nc * sizeof(s->chunks[0]));
    s->cap = nc;
  }
  int64_t prev_maxt = 0;
  uint64_t prev_ref = 0;
  for (uint64_t i = 0; i < nc; i++) {
    struct chunk_meta *c = &s->chunks[i];
    if (i == 0) {
      c->mint = decbuf_varint(&d);
      c->maxt = (int64_t)((uint64_t)c->mint + decbuf_uvarint(&d));
      c->ref = decbuf_uvarint(&d);
    } else {
      c->mint = (int64_t)((uint64_t)prev_maxt + decbuf_uvarint(&d));
      c->maxt = (int64_t)((uint64_t)c->mint + decbuf_uvarint(&d));
      c->ref = prev_ref + (uint64_t)decbuf_varint(&d);
    }
    prev_maxt = c->maxt;
    prev_ref = c->ref;
  }
  if (d.err)
    return tc_error(TC_ECORRUPT, "index '%s': %s: truncated chunk metas",
                    x->src.name, sect);
  s->nchunks = (size_t)nc;
  return 0;
}
