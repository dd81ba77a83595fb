/*
 * flags.h - command-line flags compatible with Thanos's kingpin parsing.
 *
 * Accepted forms: --flag=value, --flag value, --flag / --no-flag for
 * booleans, repeatable flags (FLAG_STRINGS), durations (ms s m h d w y,
 * combined as 1h30m), byte sizes (250MB, 2GiB), times as RFC3339 or relative
 * to now (-1d, -2h30m) plus the special defaults Thanos uses
 * ("0000-01-01T00:00:00Z" = minimum, "9999-12-31T23:59:59Z" = maximum).
 *
 * A role describes its flags in a table terminated by {0}; flags_parse()
 * takes a NULL-terminated list of tables so that shared tables (HTTP, gRPC,
 * objstore, log) combine with the role's own. Defaults are applied first, as
 * strings, through the same parser as user values.
 *
 * An unknown flag or a bad value prints "thanosc <cmd>: error: <what>,
 * try --help" on stderr and returns 2 (the exit code). --help prints the
 * usage with every flag's default and help text and returns 1 so the caller
 * exits 0.
 */
#ifndef THANOSC_FLAGS_H
#define THANOSC_FLAGS_H

#include <stddef.h>
#include <stdint.h>

enum flag_type {
  FLAG_STRING,   /* char **: NULL when unset and no default */
  FLAG_STRINGS,  /* struct strlist *: repeatable */
  FLAG_BOOL,     /* int * */
  FLAG_INT,      /* int64_t * */
  FLAG_FLOAT,    /* double * */
  FLAG_DURATION, /* int64_t * milliseconds */
  FLAG_BYTES,    /* uint64_t * bytes */
  FLAG_TIME,     /* int64_t * milliseconds since the epoch */
  FLAG_ENUM,     /* char **, one of def->choices ("logfmt|json") */
};

enum flag_flags {
  FLAG_REQUIRED = 1 << 0,
  FLAG_HIDDEN = 1 << 1,
};

struct strlist {
  char **v;
  size_t n;
  size_t cap;
};

void strlist_push(struct strlist *l, const char *s);
void strlist_release(struct strlist *l);

struct flag_def {
  const char *name;      /* without the leading dashes */
  enum flag_type type;
  void *dst;
  const char *def;       /* default as the user would write it, or NULL */
  const char *help;
  const char *choices;   /* FLAG_ENUM: "a|b|c" */
  unsigned flags;        /* enum flag_flags */
  int *seen;             /* OUT, optional: set to 1 when given */
  char short_name;       /* optional one-letter alias: 'o' for -o */
};

/*
 * Parses argv[0..argc) (argv[0] is the first flag, not the program name).
 * Positional arguments are collected into pos (may be NULL when none are
 * allowed). cmd names the command in messages and usage ("thanosc store").
 * Returns 0 on success, 1 after printing --help, 2 after printing an error.
 */
int flags_parse(const struct flag_def *const *tables, const char *cmd,
                const char *summary, int argc, char **argv,
                struct strlist *pos);
void flags_usage(const struct flag_def *const *tables, const char *cmd,
                 const char *summary);

/* Value parsers, shared with the HTTP API and config files. */
int parse_duration_ms(const char *s, int64_t *ms);  /* "1h30m", "5m", "0s" */
int parse_bytes(const char *s, uint64_t *bytes);     /* "250MB", "2GiB" */
int parse_time_ms(const char *s, int64_t *ms);       /* RFC3339, -1d, unix s */
/* Formats ms as Prometheus/Go do ("1h30m", "5m", "0s") into out. */
void format_duration_ms(int64_t ms, char *out, size_t n);

#define TC_TIME_MIN_MS INT64_MIN
#define TC_TIME_MAX_MS INT64_MAX

#endif
