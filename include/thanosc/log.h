/*
 * log.h - structured logs as logfmt or JSON lines, the way Thanos logs:
 *
 *   level=info ts=2026-11-24T02:15:52.123Z caller=shipper.c:88 msg="upload done" block=01J...
 *
 * Key/value pairs are passed as NULL-terminated string pairs after the
 * message; the macros add the terminator:
 *
 *   LOG_INFO("starting", "address", addr);
 *
 * Logging is thread-safe; each line is written with one write(2).
 */
#ifndef THANOSC_LOG_H
#define THANOSC_LOG_H

enum tc_log_level { TC_LOG_DEBUG, TC_LOG_INFO, TC_LOG_WARN, TC_LOG_ERROR };
enum tc_log_format { TC_LOG_LOGFMT, TC_LOG_JSON };

/* Sets level and format; returns TC_EINVAL for an unknown name. */
int tc_log_setup(const char *level, const char *format);
void tc_log_set_fd(int fd);
int tc_log_enabled(enum tc_log_level lvl);
void tc_logkv(enum tc_log_level lvl, const char *file, int line,
              const char *msg, ...);

#define LOG_DEBUG(...) tc_logkv(TC_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__, (char *)0)
#define LOG_INFO(...) tc_logkv(TC_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__, (char *)0)
#define LOG_WARN(...) tc_logkv(TC_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__, (char *)0)
#define LOG_ERROR(...) tc_logkv(TC_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__, (char *)0)

#endif
