/*
 * fuzz-grpc-codec: the gRPC wire decoders that take peer input without
 * nghttp2 in front: message deframing (with and without the snappy framing
 * format), snappy frame decompression, grpc-timeout and grpc-message
 * decoding, and protobuf-c unpacking of the StoreAPI messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/internal.h"
#include "info.pb-c.h"
#include "storepb_rpc.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tc_buf out = TC_BUF_INIT, scratch = TC_BUF_INIT;
  grpc_snappy_decompress(data, size, &out, 1 << 20);
  const uint8_t *p = data;
  size_t left = size;
  for (int snappy = 0; snappy < 2; snappy++) {
    p = data, left = size;
    for (;;) {
      const uint8_t *m;
      size_t n, used;
      int rc = grpc__deframe(p, left, snappy, 1 << 20, &scratch, &m, &n, &used);
      if (rc)
        break;
      ProtobufCMessage *msg = protobuf_c_message_unpack(
          &thanos__series_response__descriptor, NULL, n, m);
      if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
      msg = protobuf_c_message_unpack(&thanos__info__info_response__descriptor,
                                      NULL, n, m);
      if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
      p += used, left -= used;
    }
  }
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  int64_t ms;
  grpc_timeout_parse(s, &ms);
  free(grpc_percent_decode(s));
  free(grpc_percent_encode(s));
  free(s);
  tc_buf_release(&out);
  tc_buf_release(&scratch);
  return 0;
}
