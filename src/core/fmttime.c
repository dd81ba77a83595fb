/*
 * fmttime.c - times as Go's time.Time writes them in RFC3339Nano (what
 * JSON and meta.json carry): "2006-01-02T15:04:05.999999999Z" in UTC, the
 * fraction trimmed of trailing zeros.
 */
#include <stdio.h>
#include <time.h>

#include "thanosc/fmttime.h"

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

size_t fmttime_rfc3339nano(char *out, int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t ns = unix_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    secs--;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int n = snprintf(out, 40, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long)y,
                   m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
                   (unsigned)(rem % 60));
  if (ns) {
    char frac[16];
    snprintf(frac, sizeof(frac), "%09lld", (long long)ns);
    int fl = 9;
    while (fl > 0 && frac[fl - 1] == '0')
      fl--;
    frac[fl] = '\0';
    n += snprintf(out + n, 40 - (size_t)n, ".%s", frac);
  }
  n += snprintf(out + n, 40 - (size_t)n, "Z");
  return (size_t)n;
}

size_t fmttime_rfc3339nano_now(char *out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return fmttime_rfc3339nano(out, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}
