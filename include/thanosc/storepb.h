/*
 * storepb.h - conversions between thanosc's label/matcher types
 * (thanosc/labels.h) and the StoreAPI protobuf-c messages (storepb_*.proto),
 * for the store gateway, sidecar, querier and tools.
 */
#ifndef THANOSC_STOREPB_H
#define THANOSC_STOREPB_H

#include <stddef.h>
#include <stdint.h>

#include "storepb_types.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/labels.h"

/*
 * Builds protobuf matchers from ms. *out is an owned array of owned
 * messages whose strings are borrowed from ms (valid while ms is);
 * free it with storepb_matchers_free().
 */
void storepb_matchers_from(const struct matchers *ms,
                           Thanos__LabelMatcher ***out /* OUT */,
                           size_t *n /* OUT */);
void storepb_matchers_free(Thanos__LabelMatcher **v, size_t n);

/*
 * Builds matchers from protobuf ones (copies; regexes compiled). TC_EPARSE
 * for a bad regex, TC_EINVAL for an unknown type; ms is appended to and
 * released by the caller either way.
 */
int storepb_matchers_to(Thanos__LabelMatcher *const *v, size_t n,
                        struct matchers *ms);

/* A label set borrowing the strings of protobuf labels (which must
 * outlive it); release with labels_release(). */
void storepb_labels_borrow(Thanos__Label *const *v, size_t n,
                           struct labels *ls /* OUT */);

/*
 * The common SeriesResponse (one Series of labels and chunks, in canonical
 * encoding) read on the wire, without protobuf-c's allocation of every
 * chunk and copy of its bytes: the labels, the chunk count and the samples
 * of the XOR raw chunks (from their headers). Reused from message to
 * message; ls borrows from strs until the next call.
 */
struct storepb_series_peek {
  struct labels ls;
  int64_t nchunks, samples;
  struct tc_buf strs; /* label names and values, each NUL-terminated */
  size_t *offs, noffs, ncap; /* into strs: name, value, name, ... */
};
void storepb_series_peek_init(struct storepb_series_peek *w);
void storepb_series_peek_release(struct storepb_series_peek *w);
/* 0, or 1 for any other message (warnings, hints, unknown or repeated
 * fields, non-canonical or bad encoding): unpack those with protobuf-c,
 * which then reads what this would have. */
int storepb_series_peek(struct storepb_series_peek *w, const uint8_t *p,
                        size_t n);

#endif
