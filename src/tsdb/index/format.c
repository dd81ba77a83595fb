/*
 * format.c - the pieces of the index format that every reader of it
 * needs, whatever it keeps in memory: the TOC, CRC-checked sections,
 * series entries, postings lists, and the translation of label matchers
 * into postings (Prometheus's PostingsForMatchers). The TSDB reader
 * (reader.c, full tables in memory) and the store gateway's sampled
 * reader (src/store/lazyindex.c) both stand on them. Layout: spec
 * tsdb-block.md section 6, FORMAT.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/index.h"

static inline uint32_t be32_at(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

static int corrupt(const struct tsdb_bytes *src, const char *section,
                   const char *what) {
  return tc_error(TC_ECORRUPT, "index '%s': %s: %s", src->name, section, what);
}

static int checksum(const struct tsdb_bytes *src, const char *section,
                    const uint8_t *p, size_t n) {
  uint32_t want = be32_at(p + n), got = tc_crc32c(0, p, n);
  if (want == got)
    return 0;
  return tc_error(TC_ECHECKSUM,
                  "index '%s': %s: checksum mismatch (stored %08x, "
                  "computed %08x)",
                  src->name, section, want, got);
}

int index_read_toc(struct tsdb_bytes *src, struct tc_buf *scratch, int *version,
                   struct index_toc *toc) {
  const uint8_t *p;
  if (src->size < 5 + INDEX_TOC_LEN)
    return corrupt(src, "header", "file too short");
  int rc = tsdb_bytes_read(src, 0, 5, scratch, &p);
  if (rc)
    return rc;
  if (be32_at(p) != INDEX_MAGIC)
    return corrupt(src, "header", "bad magic");
  *version = p[4];
  if (*version != 1 && *version != 2)
    return tc_error(TC_ECORRUPT, "index '%s': header: unsupported version %d",
                    src->name, *version);
  rc = tsdb_bytes_read(src, src->size - INDEX_TOC_LEN, INDEX_TOC_LEN, scratch,
                       &p);
  if (rc)
    return rc;
  if ((rc = checksum(src, "TOC", p, 48)))
    return rc;
  struct decbuf d = decbuf_make(p, 48);
  toc->symbols = decbuf_be64(&d);
  toc->series = decbuf_be64(&d);
  toc->label_indices = decbuf_be64(&d);
  toc->label_indices_table = decbuf_be64(&d);
  toc->postings = decbuf_be64(&d);
  toc->postings_table = decbuf_be64(&d);
  uint64_t end = src->size - INDEX_TOC_LEN;
  if (toc->symbols > end || toc->series > end || toc->postings > end ||
      toc->postings_table > end || toc->label_indices > end ||
      toc->label_indices_table > end)
    return corrupt(src, "TOC", "section offset past the end of the file");
  return 0;
}

int index_read_section(struct tsdb_bytes *src, struct tc_buf *scratch,
                       uint64_t off, const char *section, const uint8_t **body,
                       uint32_t *len) {
  const uint8_t *p;
  int rc = tsdb_bytes_read(src, off, 4, scratch, &p);
  if (rc)
    return corrupt(src, section, "offset past the end of the file");
  uint32_t n = be32_at(p);
  if ((uint64_t)n + 8 > src->size - off)
    return corrupt(src, section, "length runs past the end of the file");
  rc = tsdb_bytes_read(src, off + 4, (size_t)n + 4, scratch, &p);
  if (rc)
    return rc;
  if ((rc = checksum(src, section, p, n)))
    return rc;
  *body = p;
  *len = n;
  return 0;
}

struct postings *index_read_postings(struct tsdb_bytes *src,
                                     struct tc_buf *scratch, uint64_t off,
                                     bool borrow) {
  const uint8_t *p;
  uint32_t len;
  int rc = index_read_section(src, scratch, off, "postings list", &p, &len);
  if (rc)
    return postings_error(rc);
  uint32_t n = len >= 4 ? be32_at(p) : 0;
  if (len < 4 || (uint64_t)n * 4 + 4 != len)
    return postings_error(corrupt(src, "postings list", "bad entry count"));
  /* The scratch buffer is reused by the next read: never borrow it. */
  bool in_scratch = scratch->data && (const char *)p >= scratch->data &&
                    (const char *)p < scratch->data + scratch->cap;
  if (borrow && !in_scratch)
    return postings_from_be32(p + 4, n);
  uint64_t *ids = xmalloc(((size_t)n + 1) * sizeof(uint64_t));
  for (uint32_t i = 0; i < n; i++)
    ids[i] = be32_at(p + 4 + 4 * i);
  struct postings *it = postings_from_ids(ids, n);
  free(ids);
  return it;
}

void index_series_release(struct index_series *s) {
  labels_release(&s->lset);
  free(s->chunks);
  memset(s, 0, sizeof(*s));
}

/* Decodes a series entry's body: label references, then chunk metas
 * (the first absolute, the rest as deltas). */
static int decode_series(const struct tsdb_bytes *src, const char *sect,
                         const uint8_t *p, uint64_t len, index_symbol_fn *sym,
                         void *ctx, struct index_series *s) {
  struct decbuf d = decbuf_make(p, (size_t)len);
  labels_reset(&s->lset);
  s->lset.flags = LABELS_BORROWED;
  s->nchunks = 0;
  uint64_t nl = decbuf_uvarint(&d);
  if (nl > len)
    return corrupt(src, sect, "bad label count");
  for (uint64_t i = 0; i < nl; i++) {
    uint64_t nr = decbuf_uvarint(&d), vr = decbuf_uvarint(&d);
    if (d.err)
      return corrupt(src, sect, "truncated labels");
    const char *ns = sym(ctx, nr), *vs = sym(ctx, vr);
    if (!ns || !vs)
      return corrupt(src, sect, "symbol reference out of range");
    labels_add_borrowed(&s->lset, ns, vs);
  }
  uint64_t nc = decbuf_uvarint(&d);
  if (d.err || nc > len)
    return corrupt(src, sect, "bad chunk count");
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
    return corrupt(src, sect, "truncated chunk metas");
  s->nchunks = (size_t)nc;
  return 0;
}

int index_read_series(struct tsdb_bytes *src, struct tc_buf *scratch,
                      int version, uint64_t id, index_symbol_fn *sym, void *ctx,
                      struct index_series *s) {
  /* v2 series are 16-byte aligned and referenced by offset / 16. */
  uint64_t off = version == 1 ? id : id * 16;
  const uint8_t *p;
  char sect[48];
  snprintf(sect, sizeof(sect), "series %llu", (unsigned long long)id);
  if ((version != 1 && id > UINT32_MAX) || off >= src->size)
    return corrupt(src, sect, "reference past the end of the file");
  size_t hl = (size_t)TC_MIN((uint64_t)10, src->size - off);
  int rc = tsdb_bytes_read(src, off, hl, scratch, &p);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, hl);
  uint64_t len = decbuf_uvarint(&d);
  size_t vl = hl - decbuf_len(&d);
  uint64_t room = src->size - off - vl; /* vl <= hl <= size - off */
  if (d.err || room < 4 || len > room - 4)
    return corrupt(src, sect, "length runs past the end of the file");
  rc = tsdb_bytes_read(src, off + vl, (size_t)len + 4, scratch, &p);
  if (rc)
    return rc;
  if ((rc = checksum(src, sect, p, (size_t)len)))
    return rc;
  return decode_series(src, sect, p, len, sym, ctx, s);
}

/* ---- PostingsForMatchers ---- */

struct collect {
  const struct index_lookup *l;
  const struct matcher *m;
  bool invert;
  struct postings **its;
  size_t n, cap;
};

static void collect_add(struct collect *c, uint64_t off) {
  TC_GROW(c->its, c->cap, c->n + 1);
  c->its[c->n++] = c->l->postings_at(c->l->ctx, off);
}

static int collect_value(void *data, const char *v, size_t vl, uint64_t off) {
  struct collect *c = data;
  if (matcher_matches(c->m, v, vl) != c->invert)
    collect_add(c, off);
  return 0;
}

/* Merged postings of the values of m->name that match m (or, with
 * invert, that do not). */
static struct postings *postings_for_values(const struct index_lookup *l,
                                            const struct matcher *m,
                                            bool invert) {
  struct collect c = {.l = l, .m = m, .invert = invert};
  const char *const *set;
  size_t nset = invert ? 0 : matcher_set_values(m, &set);
  int rc = 0;
  if (nset) { /* a literal or an alternation of literals: look them up */
    for (size_t i = 0; i < nset; i++) {
      uint64_t off;
      if (l->find(l->ctx, m->name, set[i], &off))
        collect_add(&c, off);
    }
  } else {
    rc = l->each_value(l->ctx, m->name, collect_value, &c);
  }
  if (rc) {
    while (c.n)
      postings_free(c.its[--c.n]);
    free(c.its);
    return postings_error(rc);
  }
  return postings_merge(c.its, c.n);
}

/* The matcher with the opposite type (= vs !=, =~ vs !~). */
static int matcher_inverse(const struct matcher *m, struct matcher *out) {
  static const enum matcher_type inv[] = {MATCH_NEQ, MATCH_EQ, MATCH_NRE,
                                          MATCH_RE};
  return matcher_init(out, inv[m->type], m->name, m->value);
}

static struct postings *all_postings(const struct index_lookup *l) {
  uint64_t off;
  if (!l->find(l->ctx, "", "", &off))
    return postings_empty();
  return l->postings_at(l->ctx, off);
}

struct postings *index_select(const struct index_lookup *l,
                              const struct matchers *ms) {
  struct postings **its = NULL, **nots = NULL;
  size_t nits = 0, capits = 0, nnots = 0, capnots = 0;
  for (size_t i = 0; i < ms->n; i++) {
    const struct matcher *m = &ms->v[i];
    bool matches_empty = matcher_matches(m, "", 0);
    bool is_not = m->type == MATCH_NEQ || m->type == MATCH_NRE;
    bool must_be_set = false;
    for (size_t j = 0; j < ms->n; j++)
      if (!strcmp(ms->v[j].name, m->name) && !matcher_matches(&ms->v[j], "", 0))
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
        p = postings_for_values(l, &inv, false);
        matcher_release(&inv);
      }
      to_nots = true;
    } else if (must_be_set) {
      /* Includes l!="" and l!~"": series having a value the matcher
       * accepts. */
      p = postings_for_values(l, m, false);
      to_nots = false;
    } else {
      /* Matches "": everything but the series with a non-matching value. */
      p = postings_for_values(l, m, true);
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
    its[nits++] = all_postings(l);
  }
  struct postings *it = postings_intersect(its, nits);
  for (size_t i = 0; i < nnots; i++)
    it = postings_without(it, nots[i]);
  free(nots);
  return it;
}
