/*
 * util.c - the small gRPC wire facts shared by the server and the client:
 * status-code names and mappings, grpc-timeout and grpc-message encodings,
 * and the snappy framing format that Thanos's "snappy" compressor puts on
 * the wire (stream identifier, then CRC-32C-checked chunks of <= 64 KiB).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "grpc/internal.h"
#include "thanosc/grpc.h"

static const char *const code_names[] = {
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
};

const char *grpc_code_name(int code) {
  if (code < 0 || (size_t)code >= TC_ARRAY_SIZE(code_names))
    return "Unknown";
  return code_names[code];
}

int grpc_code_from_tc(int rc) {
  switch (rc) {
  case 0:
    return GRPC_OK;
  case TC_EINVAL:
  case TC_EPARSE:
    return GRPC_INVALID_ARGUMENT;
  case TC_ELIMIT:
    return GRPC_RESOURCE_EXHAUSTED;
  case TC_ENOTSUP:
    return GRPC_UNIMPLEMENTED;
  case TC_ETIMEOUT:
    return GRPC_DEADLINE_EXCEEDED;
  case TC_ECANCELED:
    return GRPC_CANCELLED;
  case TC_EUNAVAIL:
    return GRPC_UNAVAILABLE;
  case TC_ENOTFOUND:
    return GRPC_NOT_FOUND;
  case TC_EDENIED:
    return GRPC_PERMISSION_DENIED;
  case TC_EEXIST:
    return GRPC_ALREADY_EXISTS;
  case TC_ESTATE:
    return GRPC_FAILED_PRECONDITION;
  default:
    return GRPC_INTERNAL;
  }
}

int grpc_code_to_tc(int code) {
  switch (code) {
  case GRPC_OK:
    return 0;
  case GRPC_CANCELLED:
    return TC_ECANCELED;
  case GRPC_INVALID_ARGUMENT:
    return TC_EINVAL;
  case GRPC_DEADLINE_EXCEEDED:
    return TC_ETIMEOUT;
  case GRPC_NOT_FOUND:
    return TC_ENOTFOUND;
  case GRPC_ALREADY_EXISTS:
    return TC_EEXIST;
  case GRPC_PERMISSION_DENIED:
  case GRPC_UNAUTHENTICATED:
    return TC_EDENIED;
  case GRPC_RESOURCE_EXHAUSTED:
    return TC_ELIMIT;
  case GRPC_FAILED_PRECONDITION:
    return TC_ESTATE;
  case GRPC_UNIMPLEMENTED:
    return TC_ENOTSUP;
  case GRPC_UNAVAILABLE:
    return TC_EUNAVAIL;
  default:
    return TC_EPROTO;
  }
}

char *grpc_percent_encode(const char *s) {
  struct tc_buf b = TC_BUF_INIT;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p > 0x7e || *p == '%')
      tc_buf_addf(&b, "%%%02X", *p);
    else
      tc_buf_addc(&b, (char)*p);
  }
  char *r = tc_buf_detach(&b, NULL);
  return r ? r : xstrdup("");
}

char *grpc_percent_decode(const char *s) {
  size_t n = strlen(s);
  char *out = xmalloc(n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = tc_hexval(s[i + 1])) >= 0 &&
        (lo = tc_hexval(s[i + 2])) >= 0) {
      *o++ = (char)(hi << 4 | lo);
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  return out;
}

int grpc_timeout_parse(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  if (n < 2 || n > 9)
    return tc_error(TC_EPARSE, "grpc-timeout '%s': bad length", s);
  int64_t v = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return tc_error(TC_EPARSE, "grpc-timeout '%s': bad digits", s);
    v = v * 10 + (s[i] - '0');
  }
  switch (s[n - 1]) {
  case 'H':
    *ms = v * 3600 * 1000;
    break;
  case 'M':
    *ms = v * 60 * 1000;
    break;
  case 'S':
    *ms = v * 1000;
    break;
  case 'm':
    *ms = v;
    break;
  case 'u':
    *ms = (v + 999) / 1000;
    break;
  case 'n':
    *ms = (v + 999999) / 1000000;
    break;
  default:
    return tc_error(TC_EPARSE, "grpc-timeout '%s': bad unit", s);
  }
  return 0;
}

void grpc_timeout_format(int64_t ms, char *out, size_t n) {
  if (ms < 1)
    ms = 1;
  if (ms < 100000000)
    snprintf(out, n, "%" PRId64 "m", ms);
  else if (ms / 1000 < 100000000)
    snprintf(out, n, "%" PRId64 "S", ms / 1000);
  else
    snprintf(out, n, "%" PRId64 "H",
             ms / 3600000 > 99999999 ? 99999999 : ms / 3600000);
}

/* ------------------------------------------------ snappy framing format */

static uint32_t crc32c_table[256];

static void crc32c_init(void) {
  if (crc32c_table[1])
    return;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    crc32c_table[i] = c;
  }
}

static uint32_t crc32c(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  crc32c_init();
  while (n--)
    c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* The framing format stores a "masked" CRC. */
static uint32_t crc_mask(uint32_t c) {
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static const uint8_t snappy_magic[10] = {0xff, 0x06, 0x00, 0x00, 's',
                                         'N',  'a',  'P',  'p',  'Y'};
#define SNAPPY_BLOCK 65536

static void put_le24(uint8_t *p, size_t v) {
  p[0] = v & 0xff, p[1] = (v >> 8) & 0xff, p[2] = (v >> 16) & 0xff;
}
static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff, p[1] = (v >> 8) & 0xff, p[2] = (v >> 16) & 0xff,
  p[3] = v >> 24;
}

int grpc_snappy_compress(const void *data, size_t n, struct tc_buf *out) {
  const uint8_t *p = data;
  int rc = tc_buf_add(out, snappy_magic, sizeof snappy_magic);
  size_t cmax = snappy_max_compressed_length(SNAPPY_BLOCK);
  while (!rc && n > 0) {
    size_t blk = n < SNAPPY_BLOCK ? n : SNAPPY_BLOCK;
    if ((rc = tc_buf_reserve(out, 8 + cmax)))
      break;
    uint8_t *hdr = (uint8_t *)out->data + out->len;
    size_t clen = cmax;
    if (snappy_compress((const char *)p, blk, (char *)hdr + 8, &clen) !=
        SNAPPY_OK)
      return tc_error(TC_EIO, "snappy: compression error");
    put_le32(hdr + 4, crc_mask(crc32c(p, blk)));
    if (clen >= blk) { /* store uncompressed */
      hdr[0] = 0x01;
      memcpy(hdr + 8, p, blk);
      clen = blk;
    } else {
      hdr[0] = 0x00;
    }
    put_le24(hdr + 1, clen + 4);
    out->len += 8 + clen;
    out->data[out->len] = '\0';
    p += blk, n -= blk;
  }
  return rc;
}

int grpc_snappy_decompress(const void *data, size_t n, struct tc_buf *out,
                           size_t max) {
  const uint8_t *p = data, *end = p + n;
  int seen_magic = 0;
  while (p < end) {
    if (end - p < 4)
      return tc_error(TC_ECORRUPT, "snappy frame: truncated chunk header");
    uint8_t type = p[0];
    size_t len = p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16;
    p += 4;
    if ((size_t)(end - p) < len)
      return tc_error(TC_ECORRUPT, "snappy frame: truncated chunk");
    const uint8_t *body = p;
    p += len;
    if (type == 0xff) {
      if (len != 6 || memcmp(body, snappy_magic + 4, 6))
        return tc_error(TC_ECORRUPT, "snappy frame: bad stream identifier");
      seen_magic = 1;
      continue;
    }
    if (!seen_magic)
      return tc_error(TC_ECORRUPT, "snappy frame: missing stream identifier");
    if (type >= 0x80) /* skippable and padding */
      continue;
    if (type > 0x01)
      return tc_error(TC_ECORRUPT, "snappy frame: reserved chunk type 0x%02x",
                      type);
    if (len < 4)
      return tc_error(TC_ECORRUPT, "snappy frame: chunk without checksum");
    uint32_t want = body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 |
                    (uint32_t)body[3] << 24;
    const uint8_t *src = body + 4;
    size_t slen = len - 4, ulen = slen;
    if (type == 0x00 &&
        snappy_uncompressed_length((const char *)src, slen, &ulen) != SNAPPY_OK)
      return tc_error(TC_ECORRUPT, "snappy frame: bad compressed chunk");
    if (ulen > SNAPPY_BLOCK)
      return tc_error(TC_ECORRUPT, "snappy frame: chunk over 64 KiB");
    if (max && out->len + ulen > max)
      return tc_error(TC_ELIMIT, "snappy frame: output larger than %zu bytes",
                      max);
    int rc = tc_buf_reserve(out, ulen);
    if (rc)
      return rc;
    uint8_t *dst = (uint8_t *)out->data + out->len;
    if (type == 0x00) {
      size_t got = ulen;
      if (snappy_uncompress((const char *)src, slen, (char *)dst, &got) !=
              SNAPPY_OK ||
          got != ulen)
        return tc_error(TC_ECORRUPT, "snappy frame: bad compressed chunk");
    } else {
      memcpy(dst, src, ulen);
    }
    if (crc_mask(crc32c(dst, ulen)) != want)
      return tc_error(TC_ECHECKSUM, "snappy frame: chunk checksum mismatch");
    out->len += ulen;
    out->data[out->len] = '\0';
  }
  return 0;
}

/* ------------------------------------------------- message framing */

int grpc__frame_msg(struct tc_buf *out, const void *p, size_t n, int snappy,
                    size_t max) {
  if (n > max)
    return tc_error(TC_ELIMIT, "grpc: message larger than max (%zu vs. %zu)", n,
                    max);
  size_t at = out->len;
  int rc = tc_buf_add(out, "\0\0\0\0\0", 5);
  if (rc)
    return rc;
  if (snappy) {
    if ((rc = grpc_snappy_compress(p, n, out))) {
      tc_buf_truncate(out, at);
      return rc;
    }
  } else if ((rc = tc_buf_add(out, p, n))) {
    tc_buf_truncate(out, at);
    return rc;
  }
  size_t len = out->len - at - 5;
  if (len > UINT32_MAX) {
    tc_buf_truncate(out, at);
    return tc_error(TC_ELIMIT, "grpc: framed message over 4 GiB");
  }
  uint8_t *h = (uint8_t *)out->data + at;
  h[0] = snappy ? 1 : 0;
  h[1] = (uint8_t)(len >> 24), h[2] = (uint8_t)(len >> 16);
  h[3] = (uint8_t)(len >> 8), h[4] = (uint8_t)len;
  return 0;
}

int grpc__deframe(const uint8_t *in, size_t len, int snappy, size_t max,
                  struct tc_buf *scratch, const uint8_t **msg, size_t *mlen,
                  size_t *used) {
  if (len < 5)
    return 1;
  uint8_t flag = in[0];
  size_t n =
      (size_t)in[1] << 24 | (size_t)in[2] << 16 | (size_t)in[3] << 8 | in[4];
  if (flag > 1)
    return tc_error(TC_EPROTO, "grpc: bad message flag 0x%02x", flag);
  if (n > max)
    return tc_error(TC_ELIMIT,
                    "grpc: received message larger than max (%zu vs. %zu)", n,
                    max);
  if (len - 5 < n)
    return 1;
  if (flag == 1) {
    if (!snappy)
      return tc_error(TC_EPROTO,
                      "grpc: compressed flag set with identity or empty "
                      "grpc-encoding");
    tc_buf_reset(scratch);
    int rc = grpc_snappy_decompress(in + 5, n, scratch, max);
    if (rc == TC_ELIMIT)
      return tc_error(TC_ELIMIT,
                      "grpc: received message after decompression larger "
                      "than max (%zu)",
                      max);
    if (rc)
      return rc;
    *msg = (const uint8_t *)scratch->data;
    *mlen = scratch->len;
  } else {
    *msg = in + 5;
    *mlen = n;
  }
  *used = 5 + n;
  return 0;
}
