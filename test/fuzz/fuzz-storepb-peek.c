/*
 * fuzz-storepb-peek: the light SeriesResponse reader against protobuf-c.
 * Whatever storepb_series_peek() accepts, protobuf-c must unpack to a
 * Series with the same labels, chunk count and XOR samples; what it
 * refuses is left to protobuf-c and needs no check here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storepb_rpc.pb-c.h"
#include "thanosc/labels.h"
#include "thanosc/storepb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct storepb_series_peek w;
  static int ready;
  if (!ready) {
    storepb_series_peek_init(&w);
    ready = 1;
  }
  if (storepb_series_peek(&w, data, size))
    return 0;
  Thanos__SeriesResponse *m = thanos__series_response__unpack(NULL, size, data);
  if (!m || m->result_case != THANOS__SERIES_RESPONSE__RESULT_SERIES)
    abort();
  Thanos__Series *s = m->series;
  struct labels ls;
  storepb_labels_borrow(s->labels, s->n_labels, &ls);
  if (ls.n != w.ls.n)
    abort();
  for (size_t i = 0; i < ls.n; i++)
    if (strcmp(ls.v[i].name, w.ls.v[i].name) ||
        strcmp(ls.v[i].value, w.ls.v[i].value))
      abort();
  labels_release(&ls);
  int64_t samples = 0;
  for (size_t i = 0; i < s->n_chunks; i++) {
    Thanos__Chunk *c = s->chunks[i]->raw;
    if (c && c->type == THANOS__CHUNK__ENCODING__XOR && c->data.len >= 2)
      samples += c->data.data[0] << 8 | c->data.data[1];
  }
  if ((int64_t)s->n_chunks != w.nchunks || samples != w.samples)
    abort();
  thanos__series_response__free_unpacked(m, NULL);
  return 0;
}
