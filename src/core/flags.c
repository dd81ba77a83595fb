/*
 * flags.c - kingpin-compatible flag parsing and the value parsers shared
 * with the HTTP API (durations, byte sizes, timestamps). See flags.h.
 */
#include "thanosc/flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

void strlist_push(struct strlist *l, const char *s) {
  TC_GROW(l->v, l->cap, l->n + 2);
  l->v[l->n++] = xstrdup(s);
  l->v[l->n] = NULL;
}

void strlist_release(struct strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

/*
 * Durations: Prometheus's model.ParseDuration units (y w d h m s ms, each at
 * most once, largest first) and Go's time.ParseDuration extras (fractions,
 * us, µs, ns), so every duration flag Thanos accepts parses here.
 */
int parse_duration_ms(const char *s, int64_t *ms) {
  static const struct { const char *u; double ms; } units[] = {
      {"ms", 1}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ns", 1e-6},
      {"y", 365 * 86400e3}, {"w", 7 * 86400e3}, {"d", 86400e3},
      {"h", 3600e3}, {"m", 60e3}, {"s", 1e3},
  };
  const char *p = s;
  int neg = 0;
  double total = 0;
  if (*p == '-' || *p == '+')
    neg = *p++ == '-';
  if (!strcmp(p, "0")) {
    *ms = 0;
    return 0;
  }
  if (!*p)
    return tc_error(TC_EINVAL, "empty duration");
  while (*p) {
    char *end;
    if (!isdigit((unsigned char)*p) && *p != '.')
      return tc_error(TC_EINVAL, "not a valid duration string: \"%s\"", s);
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno)
      return tc_error(TC_EINVAL, "not a valid duration string: \"%s\"", s);
    p = end;
    size_t i;
    for (i = 0; i < TC_ARRAY_SIZE(units); i++) {
      size_t n = strlen(units[i].u);
      if (!strncmp(p, units[i].u, n)) {
        total += v * units[i].ms;
        p += n;
        break;
      }
    }
    if (i == TC_ARRAY_SIZE(units))
      return tc_error(TC_EINVAL, "not a valid duration string: \"%s\"", s);
  }
  if (total > 9.2e18)
    return tc_error(TC_EINVAL, "duration out of range: \"%s\"", s);
  *ms = (int64_t)llround(neg ? -total : total);
  return 0;
}

void format_duration_ms(int64_t ms, char *out, size_t n) {
  static const struct { char u[3]; int64_t ms; } units[] = {
      {"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000},
      {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
  };
  size_t off = 0;
  if (ms == 0) {
    snprintf(out, n, "0s");
    return;
  }
  if (ms < 0) {
    off += (size_t)snprintf(out, n, "-");
    ms = -ms;
  }
  for (size_t i = 0; i < TC_ARRAY_SIZE(units) && off < n; i++) {
    if (ms >= units[i].ms) {
      off += (size_t)snprintf(out + off, n - off, "%lld%s",
                              (long long)(ms / units[i].ms), units[i].u);
      ms %= units[i].ms;
    }
  }
}

/* Byte sizes as alecthomas/units.ParseBase2Bytes: KB = KiB = 1024. */
int parse_bytes(const char *s, uint64_t *bytes) {
  static const struct { const char *u; double mul; } units[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
      {"TiB", 1099511627776.0}, {"PiB", 1125899906842624.0},
      {"KB", 1024.0}, {"MB", 1048576.0}, {"GB", 1073741824.0},
      {"TB", 1099511627776.0}, {"PB", 1125899906842624.0},
      {"kB", 1024.0}, {"B", 1.0}, {"", 1.0},
  };
  const char *p = s;
  double total = 0;
  if (!*p)
    return tc_error(TC_EINVAL, "empty byte size");
  while (*p) {
    char *end;
    if (!isdigit((unsigned char)*p) && *p != '.')
      return tc_error(TC_EINVAL, "not a valid byte size: \"%s\"", s);
    double v = strtod(p, &end);
    p = end;
    size_t i;
    for (i = 0; i < TC_ARRAY_SIZE(units); i++) {
      size_t n = strlen(units[i].u);
      if (!strncmp(p, units[i].u, n) && (n || !*p)) {
        total += v * units[i].mul;
        p += n;
        break;
      }
    }
    if (i == TC_ARRAY_SIZE(units))
      return tc_error(TC_EINVAL, "not a valid byte size: \"%s\"", s);
  }
  *bytes = (uint64_t)total;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any year >= 0). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int parse_rfc3339(const char *s, int64_t *ms) {
  int Y, M, D, h, m, sec, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec,
             &n) != 6 || n != 19)
    return TC_EINVAL;
  const char *p = s + 19;
  double frac = 0;
  if (*p == '.') {
    char *end;
    frac = strtod(p, &end);
    p = end;
  }
  int64_t off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
      return TC_EINVAL;
    off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return TC_EINVAL;
  }
  if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
    return TC_EINVAL;
  int64_t secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 +
                 h * 3600 + m * 60 + sec - off;
  *ms = secs * 1000 + (int64_t)llround(frac * 1000);
  return 0;
}

int parse_time_ms(const char *s, int64_t *ms) {
  int64_t d;
  if (!parse_rfc3339(s, ms))
    return 0;
  /* A duration with a unit: relative to now (-1d = one day ago). */
  const char *q = s + (*s == '-' || *s == '+');
  if (*q && strpbrk(q, "yYwdhms") && !parse_duration_ms(s, &d)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + d;
    return 0;
  }
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*s && !*end && !errno && isfinite(v) && fabs(v) < 9.2e15) {
    *ms = (int64_t)llround(v * 1000);
    return 0;
  }
  tc_error_clear();
  return tc_error(TC_EINVAL, "cannot parse \"%s\" to a valid timestamp", s);
}

/* --- the flag parser -------------------------------------------------- */

static const char *type_name(const struct flag_def *f) {
  switch (f->type) {
  case FLAG_STRINGS:
  case FLAG_STRING: return "<string>";
  case FLAG_BOOL: return "";
  case FLAG_INT: return "<int>";
  case FLAG_FLOAT: return "<float>";
  case FLAG_DURATION: return "<duration>";
  case FLAG_BYTES: return "<bytes>";
  case FLAG_TIME: return "<time>";
  case FLAG_ENUM: return "<enum>";
  }
  return "";
}

static int parse_bool(const char *v, int *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(v, "false") || !strcmp(v, "0")) {
    *out = 0;
    return 0;
  }
  return tc_error(TC_EINVAL, "not a boolean: \"%s\"", v);
}

static int set_value(const struct flag_def *f, const char *v, int from_user,
                     int *strings_reset) {
  char *end;
  switch (f->type) {
  case FLAG_STRING:
    if (f->dst) {
      free(*(char **)f->dst);
      *(char **)f->dst = xstrdup(v);
    }
    return 0;
  case FLAG_ENUM: {
    size_t n = strlen(v);
    const char *c = f->choices;
    while (c && *c) {
      const char *bar = strchr(c, '|');
      size_t cl = bar ? (size_t)(bar - c) : strlen(c);
      if (cl == n && !strncmp(c, v, n)) {
        if (f->dst) {
          free(*(char **)f->dst);
          *(char **)f->dst = xstrdup(v);
        }
        return 0;
      }
      c = bar ? bar + 1 : NULL;
    }
    return tc_error(TC_EINVAL, "enum value must be one of %s, got '%s'",
                    f->choices, v);
  }
  case FLAG_STRINGS: {
    struct strlist *l = f->dst;
    if (!l)
      return 0;
    if (from_user && !*strings_reset) {
      strlist_release(l); /* the first user value replaces the defaults */
      *strings_reset = 1;
    }
    strlist_push(l, v);
    return 0;
  }
  case FLAG_BOOL:
    return f->dst ? parse_bool(v, f->dst) : 0;
  case FLAG_INT: {
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
      return tc_error(TC_EINVAL, "not an integer: \"%s\"", v);
    if (f->dst)
      *(int64_t *)f->dst = x;
    return 0;
  }
  case FLAG_FLOAT: {
    double x = strtod(v, &end);
    if (!*v || *end)
      return tc_error(TC_EINVAL, "not a number: \"%s\"", v);
    if (f->dst)
      *(double *)f->dst = x;
    return 0;
  }
  case FLAG_DURATION: {
    int64_t x;
    int rc = parse_duration_ms(v, &x);
    if (!rc && f->dst)
      *(int64_t *)f->dst = x;
    return rc;
  }
  case FLAG_BYTES: {
    uint64_t x;
    int rc = parse_bytes(v, &x);
    if (!rc && f->dst)
      *(uint64_t *)f->dst = x;
    return rc;
  }
  case FLAG_TIME: {
    int64_t x;
    int rc = parse_time_ms(v, &x);
    if (!rc && f->dst)
      *(int64_t *)f->dst = x;
    return rc;
  }
  }
  return TC_EINVAL;
}

void flags_usage(const struct flag_def *const *tables, const char *cmd,
                 const char *summary) {
  printf("usage: %s [<flags>]\n\n", cmd);
  if (summary)
    printf("%s\n\n", summary);
  printf("Flags:\n  -h, --help  Show context-sensitive help.\n");
  for (const struct flag_def *const *t = tables; *t; t++) {
    for (const struct flag_def *f = *t; f->name; f++) {
      if (f->flags & FLAG_HIDDEN)
        continue;
      if (f->short_name)
        printf("  -%c, ", f->short_name);
      else
        printf("      ");
      if (f->type == FLAG_BOOL)
        printf("--[no-]%s", f->name);
      else if (f->def && *f->def)
        printf("--%s=\"%s\"", f->name, f->def);
      else
        printf("--%s=%s", f->name, type_name(f));
      if (f->type == FLAG_STRINGS)
        printf(" ...");
      printf("\n                 %s", f->help ? f->help : "");
      if (f->type == FLAG_BOOL && f->def)
        printf(" (default: %s)", f->def);
      if (f->flags & FLAG_REQUIRED)
        printf(" (required)");
      printf("\n");
    }
  }
}

static const struct flag_def *find_flag(const struct flag_def *const *tables,
                                        const char *name, size_t n) {
  for (const struct flag_def *const *t = tables; *t; t++)
    for (const struct flag_def *f = *t; f->name; f++)
      if (strlen(f->name) == n && !strncmp(f->name, name, n))
        return f;
  return NULL;
}

static const struct flag_def *find_short(const struct flag_def *const *tables,
                                         char c) {
  for (const struct flag_def *const *t = tables; *t; t++)
    for (const struct flag_def *f = *t; f->name; f++)
      if (c && f->short_name == c)
        return f;
  return NULL;
}

#define MAX_FLAGS 256

int flags_parse(const struct flag_def *const *tables, const char *cmd,
                const char *summary, int argc, char **argv,
                struct strlist *pos) {
  const struct flag_def *all[MAX_FLAGS];
  int seen[MAX_FLAGS] = {0}, reset[MAX_FLAGS] = {0}, nall = 0;

  for (const struct flag_def *const *t = tables; *t; t++)
    for (const struct flag_def *f = *t; f->name && nall < MAX_FLAGS; f++) {
      all[nall++] = f;
      if (f->seen)
        *f->seen = 0;
      if (f->type == FLAG_BOOL && f->dst)
        *(int *)f->dst = 0;
      if (f->def && set_value(f, f->def, 0, &reset[nall - 1]))
        TC_BUG("bad default \"%s\" for --%s", f->def, f->name);
    }

  int only_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
      if (!pos) {
        fprintf(stderr, "%s: error: unexpected argument '%s', try --help\n",
                cmd, a);
        return 2;
      }
      strlist_push(pos, a);
      continue;
    }
    if (!strcmp(a, "--")) {
      only_pos = 1;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--help-long")) {
      flags_usage(tables, cmd, summary);
      return 1;
    }
    const struct flag_def *f = NULL;
    const char *name = a + 2, *eq = NULL, *val = NULL;
    size_t nlen = 0;
    if (a[1] != '-') {
      /* -o value, -ovalue (kingpin's short forms) */
      f = find_short(tables, a[1]);
      if (!f) {
        fprintf(stderr, "%s: error: unknown short flag '%s', try --help\n",
                cmd, a);
        return 2;
      }
      val = a[2] ? a + 2 : NULL;
    } else {
      eq = strchr(name, '=');
      nlen = eq ? (size_t)(eq - name) : strlen(name);
      f = find_flag(tables, name, nlen);
      val = eq ? eq + 1 : NULL;
    }
    if (!f && nlen > 3 && !strncmp(name, "no-", 3)) {
      f = find_flag(tables, name + 3, nlen - 3);
      if (f && f->type == FLAG_BOOL && !eq)
        val = "false";
      else
        f = NULL;
    }
    if (!f) {
      fprintf(stderr, "%s: error: unknown long flag '--%.*s', try --help\n",
              cmd, (int)nlen, name);
      return 2;
    }
    if (!val) {
      if (f->type == FLAG_BOOL) {
        val = "true";
      } else if (i + 1 < argc) {
        val = argv[++i];
      } else {
        fprintf(stderr, "%s: error: expected argument for flag '--%s'\n", cmd,
                f->name);
        return 2;
      }
    }
    int k = 0;
    while (all[k] != f)
      k++;
    tc_error_clear();
    if (set_value(f, val, 1, &reset[k])) {
      fprintf(stderr, "%s: error: invalid value \"%s\" for flag '--%s': %s\n",
              cmd, val, f->name, tc_errmsg(TC_EINVAL));
      return 2;
    }
    seen[k] = 1;
    if (f->seen)
      *f->seen = 1;
  }
  for (int k = 0; k < nall; k++)
    if ((all[k]->flags & FLAG_REQUIRED) && !seen[k]) {
      fprintf(stderr, "%s: error: required flag '--%s' not provided\n", cmd,
              all[k]->name);
      return 2;
    }
  return 0;
}
