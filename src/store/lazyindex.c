/*
 * lazyindex.c - the store gateway's reader of a block index through its
 * index-header, keeping only samples in memory: the byte position of every
 * 32nd symbol and of every 32nd entry of the postings offset table (plus
 * one record per label name). Symbols, label values and postings offsets
 * are decoded from the mmapped index-header on demand (the page cache
 * holds them, not the heap), series entries and postings lists come from
 * ranged reads of the bucket through the same virtual index source. So
 * the store's memory grows with the number of blocks and label names, not
 * with the number of series or label values of a block. Sections, series
 * entries and the selection of postings by matchers are the index
 * format's (src/tsdb/index/format.c), shared with the TSDB reader whose
 * full-memory tables this replaces for the store. Not thread-safe:
 * callers hold the block lock.
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

static int corrupt(struct lazy_index *x, const char *what) {
  return tc_error(TC_ECORRUPT, "index '%s': %s", x->src.name, what);
}

static int section(struct lazy_index *x, uint64_t off, const char *what,
                   const uint8_t **body, uint32_t *len) {
  return index_read_section(&x->src, &x->scratch, off, what, body, len);
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
  int version;
  struct index_toc toc;
  int rc = index_read_toc(&x->src, &x->scratch, &version, &toc);
  if (!rc && version != 2)
    rc = corrupt(x, "index-header needs index format version 2");
  if (rc)
    goto out;
  uint64_t sym_off = toc.symbols, ptab_off = toc.postings_table;
  x->series_off = toc.series;
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
                      index_value_fn *fn, void *data) {
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

/* The postings list at off, as an owned iterator: the source's memory
 * may be a preloaded range released before the iterator is. */
static struct postings *lazy_postings_at(struct lazy_index *x, uint64_t off) {
  return index_read_postings(&x->src, &x->scratch, off, false);
}

struct postings *lazy_index_postings(struct lazy_index *x, const char *name,
                                     const char *value) {
  const struct lazy_name *ln = lazy_index_name(x, name);
  uint64_t off;
  if (!ln || !find_value(x, ln, value, strlen(value), &off))
    return postings_empty();
  return lazy_postings_at(x, off);
}

static bool lookup_find(void *ctx, const char *name, const char *value,
                        uint64_t *off) {
  const struct lazy_name *ln = lazy_index_name(ctx, name);
  return ln && find_value(ctx, ln, value, strlen(value), off);
}

static int lookup_each_value(void *ctx, const char *name, index_value_fn *fn,
                             void *data) {
  const struct lazy_name *ln = lazy_index_name(ctx, name);
  return ln ? lazy_index_values(ctx, ln, fn, data) : 0;
}

static struct postings *lookup_postings_at(void *ctx, uint64_t off) {
  return lazy_postings_at(ctx, off);
}

struct postings *lazy_index_select(struct lazy_index *x,
                                   const struct matchers *ms) {
  struct index_lookup l = {x, lookup_find, lookup_each_value,
                           lookup_postings_at};
  return index_select(&l, ms);
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

struct series_syms {
  struct lazy_index *x;
  struct lazy_arena *a;
};

/* Symbols are copied into the arena: the table is the mmapped header's,
 * unterminated. */
static const char *series_sym(void *ctx, uint64_t ref) {
  struct series_syms *c = ctx;
  const char *s;
  size_t n;
  if (symbol(c->x, ref, &s, &n))
    return NULL;
  return lazy_arena_str(c->a, s, n);
}

int lazy_index_series(struct lazy_index *x, uint64_t id, struct lazy_arena *a,
                      struct index_series *s) {
  struct series_syms c = {x, a};
  return index_read_series(&x->src, &x->scratch, 2, id, series_sym, &c, s);
}
