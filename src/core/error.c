/*
 * error.c - error codes and the thread-local error message (see error.h).
 */
#include "thanosc/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[1024];
static _Thread_local int errset;

const char *tc_strerror(int code) {
  switch (code) {
  case TC_OK:
    return "ok";
#define XX(name, val, desc)                                                  \
  case TC_##name:                                                            \
    return desc;
    TC_ERRNO_MAP(XX)
#undef XX
  }
  if (code < 0 && code > -1000)
    return strerror(-code);
  return "unknown error";
}

const char *tc_err_name(int code) {
  switch (code) {
  case TC_OK:
    return "OK";
#define XX(name, val, desc)                                                  \
  case TC_##name:                                                            \
    return #name;
    TC_ERRNO_MAP(XX)
#undef XX
  case -ENOENT: return "ENOENT";
  case -EACCES: return "EACCES";
  case -EEXIST: return "EEXIST";
  case -ENOMEM: return "ENOMEM";
  case -EINVAL: return "EINVAL";
  case -EIO: return "EIO";
  case -ECONNREFUSED: return "ECONNREFUSED";
  case -ECONNRESET: return "ECONNRESET";
  case -EPIPE: return "EPIPE";
  case -EAGAIN: return "EAGAIN";
  }
  return "EUNKNOWN";
}

int tc_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  errset = 1;
  return code;
}

int tc_error_wrap(int code, const char *fmt, ...) {
  char prev[sizeof errbuf], head[512];
  va_list ap;
  snprintf(prev, sizeof prev, "%s", errset ? errbuf : tc_strerror(code));
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  size_t n = strlen(head);
  if (n > sizeof errbuf - 3)
    n = sizeof errbuf - 3;
  memcpy(errbuf, head, n);
  memcpy(errbuf + n, ": ", 2);
  size_t m = strlen(prev);
  if (m > sizeof errbuf - n - 3)
    m = sizeof errbuf - n - 3;
  memcpy(errbuf + n + 2, prev, m);
  errbuf[n + 2 + m] = '\0';
  errset = 1;
  return code;
}

const char *tc_errmsg(int code) {
  return errset ? errbuf : tc_strerror(code);
}

void tc_error_clear(void) {
  errset = 0;
  errbuf[0] = '\0';
}

void tc__bug(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "BUG: %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}
