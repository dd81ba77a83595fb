/*
 * fuzz-http-server: arbitrary bytes sent to a live HTTP server on loopback
 * (llhttp, the request state machine, routing, pipelining, error answers).
 * Each input is one connection: the bytes are written, the write side is
 * shut, and the loop runs until the server closes or 2 s pass. The server
 * must never crash and must keep answering a health probe afterwards.
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

#include "thanosc/http.h"
#include "thanosc/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t *loop;
static struct http_server *srv;

static void echo(struct http_req *req, void *d) {
  (void)d;
  struct http_params p = HTTP_PARAMS_INIT;
  int rc = http_req_params(req, &p);
  http_params_release(&p);
  if (rc < 0) {
    http_respond_error(req, 400, "bad params");
    return;
  }
  const struct tc_buf *b = http_req_body(req);
  http_stream_begin(req, 200, "application/octet-stream");
  http_stream_write(req, http_req_rest(req), strlen(http_req_rest(req)));
  http_stream_write(req, b->data ? b->data : "", b->len);
  http_stream_end(req);
}

static void setup(void) {
  tc_log_setup("error", "logfmt");
  loop = uv_default_loop();
  http_server_new(loop,
                  &(struct http_server_opts){.address = "127.0.0.1:0",
                                             .max_header_bytes = 4096,
                                             .max_body_bytes = 4096,
                                             .header_timeout_ms = 2000},
                  &srv);
  http_server_add_builtin_routes(srv);
  http_server_route(srv,
                    &(struct http_route){.methods = HTTP_M_GET | HTTP_M_POST,
                                         .path = "/e/",
                                         .flags = HTTP_ROUTE_PREFIX,
                                         .name = "echo",
                                         .fn = echo});
  if (http_server_listen(srv) < 0)
    abort();
}

/* Sends data on a new connection and reads until the server closes. */
static size_t exchange(const uint8_t *data, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons(http_server_port(srv))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
    abort();
  fcntl(fd, F_SETFL, O_NONBLOCK);
  size_t off = 0, got = 0;
  int eof = 0;
  uint64_t deadline = uv_hrtime() + 2000000000ull;
  while (!eof && uv_hrtime() < deadline) {
    if (off < size) {
      ssize_t w = write(fd, data + off, size - off);
      if (w > 0)
        off += (size_t)w;
      else if (w < 0 && errno != EAGAIN)
        off = size;
      if (off == size)
        shutdown(fd, SHUT_WR);
    } else if (size == 0 && off == 0) {
      shutdown(fd, SHUT_WR);
      off = 1;
    }
    uv_run(loop, UV_RUN_NOWAIT);
    char buf[65536];
    ssize_t r = read(fd, buf, sizeof buf);
    if (r > 0)
      got += (size_t)r;
    else if (r == 0 || (r < 0 && errno != EAGAIN))
      eof = 1;
  }
  close(fd);
  for (int i = 0; i < 10; i++)
    uv_run(loop, UV_RUN_NOWAIT);
  return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    setup();
  exchange(data, size);
  static const char probe[] = "GET /-/healthy HTTP/1.0\r\n\r\n";
  if (exchange((const uint8_t *)probe, sizeof probe - 1) == 0)
    abort();
  return 0;
}
