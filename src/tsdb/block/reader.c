/*
 * reader.c - a local block opened for queries: meta.json, index, chunk
 * segments and tombstones. Selection turns matchers into postings, skips
 * series without a chunk in the time range, and iterates samples across a
 * series' chunks, trimmed to the range and with deleted intervals dropped
 * (what Prometheus's block querier does). Used by `tools block dump`, the
 * sidecar-less tests and the compactor.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/block.h"

int block_reader_open(struct block_reader *b, const char *dir) {
  memset(b, 0, sizeof(*b));
  b->dir = xstrdup(dir);
  int rc = block_meta_read(&b->meta, dir);
  if (rc)
    goto fail;
  char *p = xasprintf("%s/index", dir);
  rc = index_reader_open_file(&b->index, p);
  free(p);
  if (rc)
    goto fail;
  p = xasprintf("%s/chunks", dir);
  rc = chunks_reader_open_dir(&b->chunks, p);
  free(p);
  if (rc)
    goto fail;
  rc = tombstones_read(&b->tombs, dir);
  if (rc)
    goto fail;
  return 0;
fail:
  block_reader_close(b);
  return rc;
}

void block_reader_close(struct block_reader *b) {
  block_meta_release(&b->meta);
  if (b->index.symbols || b->index.src.ops)
    index_reader_close(&b->index);
  chunks_reader_close(&b->chunks);
  tombstones_release(&b->tombs);
  free(b->dir);
  memset(b, 0, sizeof(*b));
}

/* ---- samples of one series ---- */

static bool deleted(const struct series_iter *it, int64_t t) {
  for (size_t i = 0; i < it->ntomb; i++)
    if (t >= it->tomb[i].mint && t <= it->tomb[i].maxt)
      return true;
  return false;
}

/* Opens the next chunk; false at the end or on error. */
static bool open_next_chunk(struct series_iter *it) {
  while (it->ci < it->s->nchunks) {
    const struct chunk_meta *c = &it->s->chunks[it->ci++];
    if (c->maxt < it->mint || c->mint > it->maxt)
      continue;
    uint8_t enc;
    const uint8_t *data;
    size_t len;
    int rc = chunks_reader_chunk(&it->b->chunks, c->ref, &enc, &data, &len);
    if (!rc)
      rc = chunk_iter_init(&it->it, enc, data, len);
    if (rc) {
      it->err = tc_error_wrap(rc, "block '%s'", it->b->dir);
      return false;
    }
    it->open = true;
    return true;
  }
  return false;
}

bool series_iter_next(struct series_iter *it) {
  if (it->err)
    return false;
  for (;;) {
    if (!it->open && !open_next_chunk(it))
      return false;
    while (chunk_iter_next(&it->it)) {
      int64_t t = chunk_iter_t(&it->it);
      if (t < it->mint)
        continue;
      if (t > it->maxt) {
        it->ci = it->s->nchunks; /* chunks are in time order */
        break;
      }
      if (it->ntomb && deleted(it, t))
        continue;
      return true;
    }
    if ((it->err = chunk_iter_err(&it->it))) {
      it->err = tc_error_wrap(it->err, "block '%s'", it->b->dir);
      return false;
    }
    it->open = false;
  }
}

bool series_iter_seek(struct series_iter *it, int64_t t) {
  if (it->open && chunk_iter_started(&it->it) && chunk_iter_t(&it->it) >= t &&
      !it->err)
    return true;
  if (t > it->mint)
    it->mint = t; /* next() skips samples and chunks before mint */
  return series_iter_next(it);
}

/* ---- series selection ---- */

int block_select(struct block_reader *b, const struct matchers *ms,
                 int64_t mint, int64_t maxt, struct block_series_set *ss) {
  return block_select_postings(b, index_reader_select(&b->index, ms), mint,
                               maxt, ss);
}

int block_select_postings(struct block_reader *b, struct postings *p,
                          int64_t mint, int64_t maxt,
                          struct block_series_set *ss) {
  memset(ss, 0, sizeof(*ss));
  ss->b = b;
  ss->mint = mint;
  ss->maxt = maxt;
  ss->p = p;
  return 0;
}

bool block_series_set_next(struct block_series_set *ss) {
  if (ss->err || !ss->p)
    return false;
  while (postings_next(ss->p)) {
    ss->id = postings_at(ss->p);
    int rc = index_reader_series(&ss->b->index, ss->id, &ss->cur);
    if (rc) {
      ss->err = rc;
      return false;
    }
    ss->nchunks = 0;
    for (size_t i = 0; i < ss->cur.nchunks; i++) {
      const struct chunk_meta *c = &ss->cur.chunks[i];
      if (c->maxt < ss->mint || c->mint > ss->maxt)
        continue;
      TC_GROW(ss->chunks, ss->cap, ss->nchunks + 1);
      ss->chunks[ss->nchunks++] = *c;
    }
    if (ss->nchunks)
      return true;
  }
  ss->err = postings_err(ss->p);
  return false;
}

void block_series_set_iter(struct block_series_set *ss,
                           struct series_iter *it) {
  memset(it, 0, sizeof(*it));
  it->b = ss->b;
  /* Iterate only the chunks in range: point s at a view of them. */
  it->s = &ss->cur;
  it->mint = ss->mint;
  it->maxt = ss->maxt;
  size_t first;
  it->ntomb = tombstones_for(&ss->b->tombs, ss->id, &first);
  it->tomb = it->ntomb ? &ss->b->tombs.v[first] : NULL;
}

void block_series_set_release(struct block_series_set *ss) {
  postings_free(ss->p);
  index_series_release(&ss->cur);
  free(ss->chunks);
  memset(ss, 0, sizeof(*ss));
}
