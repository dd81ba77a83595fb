/*
 * error.h - one error-code scheme for all of thanosc.
 *
 * Every fallible function returns an int: 0 (TC_OK) or a negative code.
 * System errors are -errno; domain errors come from TC_ERRNO_MAP below. The
 * X-macro generates the enum and the tables behind tc_strerror() and
 * tc_err_name(), as libuv does with UV_ERRNO_MAP.
 *
 * tc_error() records a human message in a thread-local slot and returns the
 * code, so the usual pattern is
 *
 *     return tc_error(TC_ECORRUPT, "index '%s': bad TOC crc", name);
 *
 * Messages are lowercase, have no final period, quote their subject, and do
 * not start with "failed to". tc_errmsg() returns the last message set on
 * this thread (or tc_strerror() of the code when none was set since the last
 * tc_error_clear()).
 */
#ifndef THANOSC_ERROR_H
#define THANOSC_ERROR_H

#include <errno.h>

/* XX(name, value, description) */
#define TC_ERRNO_MAP(XX)                                                     \
  XX(ENOTFOUND, -1001, "not found")                                          \
  XX(ECORRUPT, -1002, "corrupt data")                                        \
  XX(ECHECKSUM, -1003, "checksum mismatch")                                  \
  XX(ELIMIT, -1004, "limit exceeded")                                        \
  XX(ECANCELED, -1005, "canceled")                                           \
  XX(ETIMEOUT, -1006, "deadline exceeded")                                   \
  XX(EINVAL, -1007, "invalid argument")                                      \
  XX(ENOTSUP, -1008, "not supported")                                        \
  XX(EPARSE, -1009, "parse error")                                           \
  XX(EIO, -1010, "i/o error")                                                \
  XX(EUNAVAIL, -1011, "unavailable")                                         \
  XX(EDENIED, -1012, "access denied")                                        \
  XX(EEXIST, -1013, "already exists")                                        \
  XX(ENOMEM, -1014, "out of memory")                                         \
  XX(ESTATE, -1015, "wrong state")                                           \
  XX(EPROTO, -1016, "protocol error")                                        \
  XX(EEXEC, -1017, "execution error")

enum tc_err {
  TC_OK = 0,
#define XX(name, val, desc) TC_##name = (val),
  TC_ERRNO_MAP(XX)
#undef XX
};

/* Static description of a code (negative errno values included). */
const char *tc_strerror(int code);
/* Symbolic name of a code: "ENOTFOUND", "ENOENT", ... */
const char *tc_err_name(int code);

/*
 * Formats a message into this thread's error slot and returns code. The
 * message is borrowed by callers of tc_errmsg() until the next tc_error() on
 * the same thread.
 */
int tc_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Like tc_error() but prepends "fmt: " to the message already recorded. */
int tc_error_wrap(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread, or tc_strerror(code). */
const char *tc_errmsg(int code);
void tc_error_clear(void);

/* Abort with a message: a broken invariant, never bad input. */
#define TC_BUG(...) tc__bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void tc__bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
