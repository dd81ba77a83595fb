/*
 * log.c - logfmt and JSON log lines (see log.h).
 */
#include "thanosc/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "thanosc/buf.h"
#include "thanosc/error.h"

static enum tc_log_level min_level = TC_LOG_INFO;
static enum tc_log_format fmt = TC_LOG_LOGFMT;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tc_log_setup(const char *level, const char *format) {
  int l = -1;
  for (int i = 0; i < 4; i++)
    if (level && !strcmp(level, level_names[i]))
      l = i;
  if (level && l < 0)
    return TC_EINVAL;
  if (format && strcmp(format, "logfmt") && strcmp(format, "json"))
    return TC_EINVAL;
  if (l >= 0)
    min_level = (enum tc_log_level)l;
  if (format)
    fmt = strcmp(format, "json") ? TC_LOG_LOGFMT : TC_LOG_JSON;
  return 0;
}

void tc_log_set_fd(int fd) { log_fd = fd; }

int tc_log_enabled(enum tc_log_level lvl) { return lvl >= min_level; }

static void add_value(struct tc_buf *b, const char *v) {
  int quote = fmt == TC_LOG_JSON || !*v || strpbrk(v, " =\"\\\n\t") != NULL;
  if (!quote) {
    tc_buf_adds(b, v);
    return;
  }
  tc_buf_addc(b, '"');
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    switch (*p) {
    case '"': tc_buf_adds(b, "\\\""); break;
    case '\\': tc_buf_adds(b, "\\\\"); break;
    case '\n': tc_buf_adds(b, "\\n"); break;
    case '\t': tc_buf_adds(b, "\\t"); break;
    case '\r': tc_buf_adds(b, "\\r"); break;
    default:
      if (*p < 0x20)
        tc_buf_addf(b, "\\u%04x", *p);
      else
        tc_buf_addc(b, (char)*p);
    }
  }
  tc_buf_addc(b, '"');
}

static void add_kv(struct tc_buf *b, const char *k, const char *v, int first) {
  if (fmt == TC_LOG_JSON) {
    tc_buf_adds(b, first ? "{" : ",");
    add_value(b, k);
    tc_buf_addc(b, ':');
  } else {
    if (!first)
      tc_buf_addc(b, ' ');
    tc_buf_adds(b, k);
    tc_buf_addc(b, '=');
  }
  add_value(b, v);
}

void tc_logkv(enum tc_log_level lvl, const char *file, int line,
              const char *msg, ...) {
  if (lvl < min_level)
    return;
  char ts[40], caller[128];
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
  const char *base = strrchr(file, '/');
  snprintf(caller, sizeof caller, "%s:%d", base ? base + 1 : file, line);

  struct tc_buf b = TC_BUF_INIT;
  add_kv(&b, "level", level_names[lvl], 1);
  add_kv(&b, "ts", ts, 0);
  add_kv(&b, "caller", caller, 0);
  add_kv(&b, "msg", msg, 0);
  va_list ap;
  va_start(ap, msg);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k)
      break;
    const char *v = va_arg(ap, const char *);
    add_kv(&b, k, v ? v : "", 0);
  }
  va_end(ap);
  if (fmt == TC_LOG_JSON)
    tc_buf_addc(&b, '}');
  tc_buf_addc(&b, '\n');
  ssize_t w = write(log_fd, b.data, b.len);
  (void)w;
  tc_buf_release(&b);
}
