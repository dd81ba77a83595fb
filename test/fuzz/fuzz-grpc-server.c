/*
 * fuzz-grpc-server: arbitrary HTTP/2 bytes (after the client preface) sent
 * to a live gRPC server on loopback serving the synthetic store (nghttp2
 * framing and HPACK, our stream/call state machine, request deframing,
 * snappy, deadlines). One connection per input: write, shut the write side,
 * run the loop until the server closes or 2 s pass. The server must never
 * crash, and must still answer a valid unary call afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/teststore.h"
#include "thanosc/grpc.h"
#include "thanosc/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t *loop;
static struct grpc_server *srv;
static struct grpc_teststore ts = {.nseries = 50};

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void setup(void) {
  tc_log_setup("error", "logfmt");
  loop = uv_default_loop();
  struct grpc_server_opts o = {.address = "127.0.0.1:0", .max_recv_msg = 65536};
  if (grpc_server_new(loop, grpc_teststore_methods(&ts), &o, &srv))
    abort();
}

/* Sends preface + data on a new connection, reads until the server closes;
 * returns whether the answer contained needle (if given). */
static int exchange(const uint8_t *data, size_t size, const char *needle) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons(grpc_server_port(srv))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
    abort();
  fcntl(fd, F_SETFL, O_NONBLOCK);
  uint8_t *msg = malloc(sizeof preface - 1 + size + 1);
  memcpy(msg, preface, sizeof preface - 1);
  if (size)
    memcpy(msg + sizeof preface - 1, data, size);
  size_t n = sizeof preface - 1 + size, off = 0;
  int eof = 0, seen = 0;
  uint64_t deadline = uv_hrtime() + (needle ? 10000000000ull : 2000000000ull);
  while (!eof && !seen && uv_hrtime() < deadline) {
    if (off < n) {
      ssize_t w = write(fd, msg + off, n - off);
      if (w > 0)
        off += (size_t)w;
      else if (w < 0 && errno != EAGAIN)
        off = n;
      if (off == n && !needle) /* the probe waits for its answer */
        shutdown(fd, SHUT_WR);
    }
    uv_run(loop, UV_RUN_NOWAIT);
    char buf[65536];
    ssize_t r = read(fd, buf, sizeof buf);
    if (r > 0 && needle && memmem(buf, (size_t)r, needle, strlen(needle)))
      seen = 1;
    else if (r == 0 || (r < 0 && errno != EAGAIN))
      eof = 1;
  }
  free(msg);
  close(fd);
  for (int i = 0; i < 10; i++)
    uv_run(loop, UV_RUN_NOWAIT);
  return seen;
}

/* SETTINGS, then HEADERS for LabelNames and an empty request message with
 * END_STREAM. */
static const uint8_t probe[] =
    {
        0,   0,   0,   4,   0,   0,   0,   0,   0, /* SETTINGS */
        0,   0,   105, 1,   4,   0,   0,   0,   1, /* HEADERS, literal without
                                                      indexing */
        0,   7,   ':', 'm', 'e', 't', 'h', 'o', 'd', 4,   'P', 'O', 'S', 'T',
        0,   7,   ':', 's', 'c', 'h', 'e', 'm', 'e', 4,   'h', 't', 't', 'p',
        0,   5,   ':', 'p', 'a', 't', 'h', 24,  '/', 't', 'h', 'a', 'n', 'o',
        's', '.', 'S', 't', 'o', 'r', 'e', '/', 'L', 'a', 'b', 'e', 'l', 'N',
        'a', 'm', 'e', 's', 0,   10,  ':', 'a', 'u', 't', 'h', 'o', 'r', 'i',
        't', 'y', 1,   'x', 0,   12,  'c', 'o', 'n', 't', 'e', 'n', 't', '-',
        't', 'y', 'p', 'e', 16,  'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i',
        'o', 'n', '/', 'g', 'r', 'p', 'c', 0,   0,   5,   0,   1,   0,   0,
        0,   1,   0,   0,   0,   0,   0, /* DATA */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    setup();
  exchange(data, size, NULL);
  if (!exchange(probe, sizeof probe, "__name__"))
    abort();
  return 0;
}
