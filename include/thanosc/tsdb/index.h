/*
 * tsdb/index.h - the block index: postings iterators, the reader (formats
 * v2 and, for old blocks, v1) and the writer (v2, or v1 on request).
 *
 * Series IDs are the series' offset in the index divided by 16 (v1: the
 * offset itself); ascending IDs are ascending label sets. Every section's CRC32C is verified when it
 * is read; errors name the index and the section.
 */
#ifndef THANOSC_TSDB_INDEX_H
#define THANOSC_TSDB_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/buf.h"
#include "thanosc/labels.h"
#include "thanosc/tsdb/chunks.h"
#include "thanosc/tsdb/encoding.h"

#define INDEX_MAGIC 0xBAAAD700u
#define INDEX_TOC_LEN 52

/* ---- postings: sorted series IDs behind next/seek/at/err ---- */

struct postings;
struct postings_ops {
  bool (*next)(struct postings *p);
  bool (*seek)(struct postings *p, uint64_t v); /* first >= v */
  void (*free)(struct postings *p);
};

/* Base of every postings iterator; at is the current ID, err is read once
 * the iterator is exhausted. Heap-allocated, freed with postings_free(). */
struct postings {
  const struct postings_ops *ops;
  uint64_t at;
  int err;
};

static inline bool postings_next(struct postings *p) { return p->ops->next(p); }
static inline bool postings_seek(struct postings *p, uint64_t v) {
  return p->ops->seek(p, v);
}
static inline uint64_t postings_at(const struct postings *p) { return p->at; }
static inline int postings_err(const struct postings *p) { return p->err; }
void postings_free(struct postings *p); /* NULL is fine */

/* An iterator with no IDs, and one that fails with err (message kept). */
struct postings *postings_empty(void);
struct postings *postings_error(int err);
/* Over n IDs (sorted ascending); the array is copied. */
struct postings *postings_from_ids(const uint64_t *ids, size_t n);
/* Over a be32 list of n IDs at p (borrowed: must outlive the iterator). */
struct postings *postings_from_be32(const uint8_t *p, size_t n);
/* Combinators; they take ownership of their inputs (and the array its).
 * intersect of 0 inputs is empty. */
struct postings *postings_intersect(struct postings **its, size_t n);
struct postings *postings_merge(struct postings **its, size_t n);
struct postings *postings_without(struct postings *full,
                                  struct postings *drop);
/* Drains p into an owned array (*ids, *n); frees p. Returns p's error. */
int postings_expand(struct postings *p, uint64_t **ids /* OUT */,
                    size_t *n /* OUT */);

/* ---- reader ---- */

struct index_toc {
  uint64_t symbols, series, label_indices, label_indices_table, postings,
      postings_table;
};

struct index_pvalue {
  const char *value; /* borrowed from the symbol table */
  uint64_t off;      /* of the postings list */
};

struct index_pname {
  const char *name;
  struct index_pvalue *v; /* owned, sorted by value */
  size_t n, cap;
};

/* Not thread-safe: one reader serves one thread (the loop thread). */
struct index_reader {
  struct tsdb_bytes src; /* owned */
  int version;
  struct index_toc toc;
  char *symarena;       /* owned: symbols, NUL-terminated back to back */
  const char **symbols; /* owned array into symarena */
  uint64_t *symoffs;    /* owned, v1 only: file offset of each symbol */
  uint32_t nsymbols;
  struct index_pname *names; /* sorted by name; names[0] is "" (all) */
  size_t nnames;
  struct tc_buf scratch;
};

/* Reads TOC, symbol table and postings offset table of the index file at
 * path; TC_ECORRUPT / TC_ECHECKSUM naming the file and section. */
int index_reader_open_file(struct index_reader *r, const char *path);
/* Same over any source; takes ownership of src (closed on error too). */
int index_reader_open(struct index_reader *r, struct tsdb_bytes *src);
void index_reader_close(struct index_reader *r);

/* Symbol by reference as stored in series entries (v2: position, v1: file
 * offset), borrowed; TC_ECORRUPT when there is no such symbol. */
int index_reader_symbol(struct index_reader *r, uint64_t ref,
                        const char **s /* OUT */);

/* One series as read from the index; reusable across calls (reset by
 * each read), released with index_series_release(). Label strings are
 * borrowed from the reader's symbol table. */
struct index_series {
  struct labels lset; /* LABELS_BORROWED */
  struct chunk_meta *chunks;
  size_t nchunks, cap;
};

void index_series_release(struct index_series *s);
/* Reads series id (CRC verified) into s. */
int index_reader_series(struct index_reader *r, uint64_t id,
                        struct index_series *s);
/* Postings of name=value (an empty iterator when absent); name "" and
 * value "" gives all series. */
struct postings *index_reader_postings(struct index_reader *r,
                                       const char *name, const char *value);
/* Label names (without "") and the values of one name, sorted, borrowed.
 * A name with no values gives n = 0. */
void index_reader_label_names(struct index_reader *r,
                              const char ***names /* OUT, owned array */,
                              size_t *n /* OUT */);
const struct index_pname *index_reader_label_values(struct index_reader *r,
                                                    const char *name);
/* Prometheus's PostingsForMatchers: the series matching all of ms (a label
 * absent from a series matches as ""). */
struct postings *index_reader_select(struct index_reader *r,
                                     const struct matchers *ms);

/* ---- the format's pieces every index reader uses (format.c) ---- */

/* Checks magic and version (1 or 2) and reads the TOC (CRC checked). */
int index_read_toc(struct tsdb_bytes *src, struct tc_buf *scratch,
                   int *version /* OUT */, struct index_toc *toc /* OUT */);
/* The `be32 len | body | be32 crc32c` section at off, CRC checked; body
 * borrowed from src or scratch. Errors name src and section. */
int index_read_section(struct tsdb_bytes *src, struct tc_buf *scratch,
                       uint64_t off, const char *section,
                       const uint8_t **body /* OUT */, uint32_t *len /* OUT */);
/* The postings list at off. With borrow, the iterator points into src's
 * memory when it can (src must then outlive it); else it owns a copy. */
struct postings *index_read_postings(struct tsdb_bytes *src,
                                     struct tc_buf *scratch, uint64_t off,
                                     bool borrow);
/* The NUL-terminated symbol of a label reference in a series entry, valid
 * as long as the caller needs the series; NULL when there is none. */
typedef const char *index_symbol_fn(void *ctx, uint64_t ref);
/* Reads series id (v2: at id * 16, v1: at id), CRC checked, into s. */
int index_read_series(struct tsdb_bytes *src, struct tc_buf *scratch,
                      int version, uint64_t id, index_symbol_fn *sym,
                      void *ctx, struct index_series *s);

/* What PostingsForMatchers needs of an index's postings offset table:
 * the handle (offset) of name=value's postings list ("" and "" is every
 * series), each value of a name in order (fn's value is not terminated),
 * and the list behind a handle. */
typedef int index_value_fn(void *data, const char *v, size_t n, uint64_t off);
struct index_lookup {
  void *ctx;
  bool (*find)(void *ctx, const char *name, const char *value,
               uint64_t *off /* OUT */);
  int (*each_value)(void *ctx, const char *name, index_value_fn *fn,
                    void *data);
  struct postings *(*postings_at)(void *ctx, uint64_t off);
};
/* Prometheus's PostingsForMatchers: the series matching all of ms (a label
 * absent from a series matches as ""). */
struct postings *index_select(const struct index_lookup *l,
                              const struct matchers *ms);

/* ---- writer (stage machine: symbols, series, postings, TOC) ---- */

struct tsdb_strtab;
struct index_writer {
  int fd;
  char *path; /* owned */
  int stage;
  uint64_t pos;
  struct tc_buf buf;
  struct index_toc toc;
  char **syms; /* owned, sorted ascending */
  size_t nsyms, symcap;
  struct tsdb_strtab *symtab; /* owned: symbol -> reference */
  int version;                /* 2, or 1 after index_writer_set_version() */
  bool any_chunk_order;       /* index_writer_accept_any_chunk_order() */
  uint64_t *symoffs;          /* owned, v1: file offset of each symbol */
  /* series seen: labels of the last one, and per-pair postings */
  struct labels last;
  uint64_t last_ref;
  uint32_t nseries;
  uint32_t *ids;     /* IDs of every series in order */
  uint32_t *pairs;   /* (name sym, value sym, id) triples */
  size_t npairs, pairscap, idscap;
};

/* Creates the index file at path. */
int index_writer_open(struct index_writer *w, const char *path);
/* Writes format version 1 (symbols and series referenced by file offset)
 * instead of 2, as Prometheus 2.0 did: for tests of old blocks. Only
 * right after index_writer_open(). */
int index_writer_set_version(struct index_writer *w, int version);
/* Lets series have chunks that overlap or are out of order, as some
 * Prometheus versions wrote them: for tests of what reads such blocks. */
void index_writer_accept_any_chunk_order(struct index_writer *w);
/* Adds a symbol; symbols must come in strictly ascending byte order and
 * before any series. */
int index_writer_add_symbol(struct index_writer *w, const char *s);
/* Adds a series: label sets strictly ascending, labels sorted, every
 * name and value already a symbol, chunk refs ascending and chunks
 * ordered with mint > previous maxt. TC_ESTATE / TC_EINVAL otherwise. */
int index_writer_add_series(struct index_writer *w, const struct labels *ls,
                            const struct chunk_meta *chunks, size_t n);
/* Writes label indices, postings, offset tables and TOC, fsyncs, closes. */
int index_writer_close(struct index_writer *w);
/* Abandons the file (after an error); releases memory. */
void index_writer_abort(struct index_writer *w);

#endif
