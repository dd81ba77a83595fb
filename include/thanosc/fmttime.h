/*
 * fmttime.h - times as Go's time.Time writes them in RFC3339Nano, the form
 * of JSON time values (the stores API, the blocks API) and of meta.json's
 * upload_time: "2006-01-02T15:04:05.999999999Z" in UTC, the fraction
 * trimmed of trailing zeros (none when whole).
 */
#ifndef THANOSC_FMTTIME_H
#define THANOSC_FMTTIME_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the form may need, the '\0' included. */
#define FMTTIME_MAX 40

/* Writes unix_ns and a '\0' to out (FMTTIME_MAX bytes); returns the
 * length. */
size_t fmttime_rfc3339nano(char *out, int64_t unix_ns);
/* The same for the current time. */
size_t fmttime_rfc3339nano_now(char *out);

#endif
