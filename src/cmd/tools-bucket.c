/*
 * tools-bucket.c - `thanosc tools bucket ...`: flags and wiring only.
 *
 * `ls` lists the blocks of a bucket as Thanos does (ULID per line; -o wide
 * adds time range, compaction level, resolution and source; -o json prints
 * each meta.json). mark, cleanup, retention, downsample and verify run the
 * compactor's steps (src/compact) on their own, with Thanos's flags. The hidden commands (acceptance, get, put, rm, iter,
 * stat, sign) reach single objects and the objstore acceptance suite, so
 * the integration tests drive every backend through the same C code the
 * unit tests run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "objstore/s3.h"
#include "thanosc/buf.h"
#include "thanosc/compact.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"
#include "thanosc/tsdb/meta.h"
#include "thanosc/ui.h"

#define META_MAX (16 << 20)

/* --- shared setup ---------------------------------------------------------------- */

struct bucket_cmd {
  struct server_opts so;
  struct flag_def common[CMD_SERVER_FLAGS_MAX + 1];
  int print_metrics;
  struct strlist pos;
  struct objstore *os;
  const char *name;           /* "thanosc tools bucket ls" */
  unsigned sets;              /* server flags beyond objstore and log */
  const struct flag_def *own; /* the command's own flags, or NULL */
};

static const struct flag_def hidden_flags[] = {
    {"print-metrics", FLAG_BOOL, NULL, NULL,
     "print the metrics exposition on stderr at the end", NULL, FLAG_HIDDEN},
    {0},
};

/*
 * Parses the objstore and log flags plus own (may be NULL), opens the
 * bucket. Returns 0, or the exit code to return (after bucket_cmd_done()).
 */
static int bucket_cmd_open(struct bucket_cmd *c, const char *name,
                           const char *summary, const struct flag_def *own,
                           int argc, char **argv) {
  struct flag_def hidden[2];
  memcpy(hidden, hidden_flags, sizeof hidden);
  hidden[0].dst = &c->print_metrics;
  c->name = name;
  c->own = own;
  cmd_server_flags(c->common, &c->so,
                   CMD_FLAGS_OBJSTORE | CMD_FLAGS_LOG | c->sets,
                   "0.0.0.0:10902", NULL);
  const struct flag_def *const tables[] = {c->common, hidden, own, NULL};
  int rc = flags_parse(tables, name, summary, argc, argv, &c->pos);
  if (rc)
    return rc == 1 ? 0 : rc;
  if ((rc = cmd_server_opts_check(&c->so, name)))
    return rc;
  char *yaml = cmd_objstore_yaml(&c->so, name);
  if (!yaml)
    return 2;
  rc = objstore_open(yaml, &c->os);
  memset(yaml, 0, strlen(yaml));
  free(yaml);
  if (rc < 0) {
    fprintf(stderr, "%s: error: %s\n", name, tc_errmsg(rc));
    return 1;
  }
  return -1; /* go on */
}

static int bucket_cmd_done(struct bucket_cmd *c, int rc) {
  if (c->print_metrics) {
    struct tc_buf b = TC_BUF_INIT;
    metrics_write(&b);
    if (b.len)
      fwrite(b.data, 1, b.len, stderr);
    tc_buf_release(&b);
  }
  objstore_close(c->os);
  strlist_release(&c->pos);
  const struct flag_def *const tables[] = {c->common, c->own, NULL};
  cmd_flags_release(tables);
  return rc;
}

static int fail(struct bucket_cmd *c, int code) {
  fprintf(stderr, "%s: error: %s\n", c->name, tc_errmsg(code));
  return 1;
}

/* --- ls ---------------------------------------------------------------------------- */

/* What ls prints of a meta.json (a small reader; src/tsdb has the full one). */
struct ls_meta {
  json_t *json;
  char ulid[27];
  int64_t min_time, max_time;
  int64_t level, resolution;
  const char *source;
};

static int meta_read(struct objstore *os, const char *ulid,
                     struct ls_meta *m) {
  struct tc_buf b;
  char name[64];
  json_error_t je;
  int rc;
  memset(m, 0, sizeof *m);
  tc_buf_init(&b, META_MAX);
  snprintf(name, sizeof name, "%s/meta.json", ulid);
  if ((rc = objstore_get_buf(os, name, OBJSTORE_OPTIONAL, &b)) < 0)
    goto out;
  m->json = json_loadb(b.data ? b.data : "", b.len, 0, &je);
  if (!json_is_object(m->json)) {
    rc = tc_error(TC_ECORRUPT, "block '%s': meta.json: %s", ulid,
                  m->json ? "not an object" : je.text);
    goto out;
  }
  json_int_t mint = 0, maxt = 0, level = 0, res = 0;
  const char *id = NULL, *src = NULL;
  if (json_unpack_ex(m->json, &je, 0, "{s:s, s:I, s:I, s?{s?I}, s?{s?{s?I}, s?s}}",
                     "ulid", &id, "minTime", &mint, "maxTime", &maxt,
                     "compaction", "level", &level, "thanos", "downsample",
                     "resolution", &res, "source", &src) < 0) {
    rc = tc_error(TC_ECORRUPT, "block '%s': meta.json: %s", ulid, je.text);
    goto out;
  }
  snprintf(m->ulid, sizeof m->ulid, "%s", id);
  m->min_time = mint;
  m->max_time = maxt;
  m->level = level;
  m->resolution = res;
  m->source = src ? src : "";
out:
  tc_buf_release(&b);
  return rc;
}

static void meta_release(struct ls_meta *m) { json_decref(m->json); }

/* Crockford base32, 26 characters: a block directory name. */
static int is_ulid(const char *s, size_t n) {
  if (n != 26 || s[0] > '7')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", s[i]) || !s[i])
      return 0;
  return 1;
}

static int add_block(void *data, const char *name) {
  size_t n = strlen(name);
  if (n && name[n - 1] == '/' && is_ulid(name, n - 1)) {
    char id[27];
    memcpy(id, name, 26);
    id[26] = '\0';
    strlist_push(data, id);
  }
  return 0;
}

static int cmp_strp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Go's Duration.String() for whole seconds. */
static void go_duration(int64_t s, char *out, size_t n) {
  const char *sign = s < 0 ? "-" : "";
  if (s < 0)
    s = -s;
  if (s == 0)
    snprintf(out, n, "0s");
  else if (s < 60)
    snprintf(out, n, "%s%llds", sign, (long long)s);
  else if (s < 3600)
    snprintf(out, n, "%s%lldm%llds", sign, (long long)(s / 60),
             (long long)(s % 60));
  else
    snprintf(out, n, "%s%lldh%lldm%llds", sign, (long long)(s / 3600),
             (long long)(s / 60 % 60), (long long)(s % 60));
}

static void rfc3339(int64_t s, char *out, size_t n) {
  time_t t = (time_t)s;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_tools_bucket_ls(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct strlist blocks = {0};
  char *output = NULL;
  int exclude_delete = 0, rc;
  const struct flag_def own[] = {
      {"output", FLAG_ENUM, &output, "",
       "Optional format in which to print each block's information. Options "
       "are 'json', 'wide'.", "|wide|json", 0, NULL, 'o'},
      {"exclude-delete", FLAG_BOOL, &exclude_delete, "false",
       "Exclude blocks marked for deletion."},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket ls",
                            "List all blocks in the bucket.", own, argc,
                            argv)) >= 0)
    goto out;
  if ((rc = objstore_iter(c.os, "", 0, add_block, &blocks)) < 0) {
    rc = fail(&c, rc);
    goto out;
  }
  rc = 0;
  for (size_t i = 0; i < blocks.n; i++) {
    const char *id = blocks.v[i];
    char name[64];
    if (exclude_delete) {
      snprintf(name, sizeof name, "%s/deletion-mark.json", id);
      int ex = objstore_exists(c.os, name);
      if (ex != 0) {
        if (ex < 0)
          rc = fail(&c, ex);
        continue;
      }
    }
    struct ls_meta m;
    int r = meta_read(c.os, id, &m);
    if (r == TC_ENOTFOUND) {
      meta_release(&m);
      continue; /* no meta.json: a partial upload, not a block yet */
    }
    if (r == TC_ECORRUPT) {
      /* As Thanos's fetcher: a corrupt meta.json is skipped, not fatal. */
      LOG_WARN("skipping block with a corrupt meta.json", "block", id, "err",
               tc_errmsg(r));
      meta_release(&m);
      continue;
    }
    if (r < 0) {
      rc = fail(&c, r);
      meta_release(&m);
      continue;
    }
    if (!*output) {
      printf("%s\n", id);
    } else if (!strcmp(output, "wide")) {
      char from[32], to[32], diff[48];
      rfc3339(m.min_time / 1000, from, sizeof from);
      rfc3339(m.max_time / 1000, to, sizeof to);
      go_duration(m.max_time / 1000 - m.min_time / 1000, diff, sizeof diff);
      printf("%s -- %s - %s Diff: %s, Compaction: %lld, Downsample: %lld, "
             "Source: %s\n", m.ulid, from, to, diff, (long long)m.level,
             (long long)m.resolution, m.source);
    } else {
      /* Go's encoder with a tab indent: one tab per level. */
      char *js = json_dumps(m.json, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
      for (const char *p = js ? js : "{}"; *p; p++) {
        putchar(*p);
        if (*p == '\n')
          for (; p[1] == ' '; p++)
            putchar('\t');
      }
      putchar('\n');
      free(js);
    }
    meta_release(&m);
  }
out:
  strlist_release(&blocks);
  return bucket_cmd_done(&c, rc);
}

/* --- inspect ------------------------------------------------------------------------ */

/* Go's Duration.String() of a millisecond count: "1h59m59.999s", "500ms". */
static void go_duration_ms(int64_t ms, char *out, size_t n) {
  const char *sign = ms < 0 ? "-" : "";
  uint64_t u = ms < 0 ? (uint64_t)-(ms + 1) + 1 : (uint64_t)ms;
  if (u == 0) {
    snprintf(out, n, "0s");
    return;
  }
  if (u < 1000) {
    snprintf(out, n, "%s%llums", sign, (unsigned long long)u);
    return;
  }
  char secs[32];
  unsigned long long s = u / 1000 % 60, frac = u % 1000;
  if (frac) {
    snprintf(secs, sizeof secs, "%llu.%03llu", s, frac);
    size_t l = strlen(secs);
    while (secs[l - 1] == '0')
      secs[--l] = '\0';
  } else {
    snprintf(secs, sizeof secs, "%llu", s);
  }
  unsigned long long h = u / 3600000, m = u / 60000 % 60;
  if (h)
    snprintf(out, n, "%s%lluh%llum%ss", sign, h, m, secs);
  else if (m)
    snprintf(out, n, "%s%llum%ss", sign, m, secs);
  else
    snprintf(out, n, "%s%ss", sign, secs);
}

/* 1234567 as "1,234,567" (Go's message printer, English). */
static void grouped(int64_t v, char *out, size_t n) {
  char d[32];
  snprintf(d, sizeof d, "%lld", (long long)(v < 0 ? -v : v));
  size_t l = strlen(d), o = 0;
  if (v < 0 && o + 1 < n)
    out[o++] = '-';
  for (size_t i = 0; i < l && o + 2 < n; i++) {
    if (i && (l - i) % 3 == 0)
      out[o++] = ',';
    out[o++] = d[i];
  }
  out[o] = '\0';
}

static const char *const inspect_cols[] = {
    "ULID", "FROM", "UNTIL", "RANGE", "UNTIL-DOWN", "#SERIES", "#SAMPLES",
    "#CHUNKS", "COMP-LEVEL", "COMP-FAILED", "LABELS", "RESOLUTION", "SOURCE"};
#define NCOLS 13

struct inspect_row {
  char *cell[NCOLS];
  int64_t key[NCOLS]; /* sort key of numeric, time and duration cells */
  int numeric[NCOLS];
};

static int *sort_cols;
static size_t nsort_cols;

static int cmp_cell(const struct inspect_row *a, const struct inspect_row *b,
                    int c) {
  if (a->numeric[c] && b->numeric[c])
    return a->key[c] < b->key[c] ? -1 : a->key[c] > b->key[c];
  return strcmp(a->cell[c], b->cell[c]);
}

static int cmp_rows(const void *x, const void *y) {
  const struct inspect_row *a = x, *b = y;
  for (size_t i = 0; i < nsort_cols; i++) {
    int c = cmp_cell(a, b, sort_cols[i]);
    if (c)
      return c;
  }
  return cmp_cell(a, b, 0);
}

static int64_t jint(json_t *o, const char *a, const char *b) {
  json_t *v = json_object_get(json_object_get(o, a), b);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void set_cell(struct inspect_row *r, int c, const char *s, int numeric,
                     int64_t key) {
  r->cell[c] = xstrdup(s);
  r->numeric[c] = numeric;
  r->key[c] = key;
}

static void inspect_row_fill(struct inspect_row *r, struct ls_meta *m) {
  char b[64];
  int64_t range = m->max_time - m->min_time;
  set_cell(r, 0, m->ulid, 0, 0);
  time_t t = (time_t)(m->min_time / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(b, sizeof b, "%d-%m-%Y %H:%M:%S", &tm);
  set_cell(r, 1, b, 1, m->min_time / 1000);
  t = (time_t)(m->max_time / 1000);
  gmtime_r(&t, &tm);
  strftime(b, sizeof b, "%d-%m-%Y %H:%M:%S", &tm);
  set_cell(r, 2, b, 1, m->max_time / 1000);
  go_duration_ms(range, b, sizeof b);
  set_cell(r, 3, b, 1, range);
  /* Until the next downsampling: raw at 40h, 5m at 10d, 1h never. */
  if (m->resolution == 0 || m->resolution == 300000) {
    int64_t until = (m->resolution == 0 ? 40LL * 3600000 : 240LL * 3600000) -
                    range;
    go_duration_ms(until, b, sizeof b);
    set_cell(r, 4, b, 1, until);
  } else {
    set_cell(r, 4, "-", 0, 0);
  }
  static const char *const stats[] = {"numSeries", "numSamples", "numChunks"};
  for (int i = 0; i < 3; i++) {
    int64_t v = jint(m->json, "stats", stats[i]);
    grouped(v, b, sizeof b);
    set_cell(r, 5 + i, b, 1, v);
  }
  grouped(m->level, b, sizeof b);
  set_cell(r, 8, b, 1, m->level);
  json_t *failed = json_object_get(json_object_get(m->json, "compaction"),
                                   "failed");
  set_cell(r, 9, json_is_true(failed) ? "true" : "false", 0, 0);
  /* Labels sorted by name, "a=b,c=d". */
  json_t *labels = json_object_get(json_object_get(m->json, "thanos"), "labels");
  struct strlist names = {0};
  const char *k;
  json_t *v;
  json_object_foreach(labels, k, v) strlist_push(&names, k);
  if (names.n)
    qsort(names.v, names.n, sizeof *names.v, cmp_strp);
  struct tc_buf lb = TC_BUF_INIT;
  tc_buf_adds(&lb, "");
  for (size_t i = 0; i < names.n; i++)
    tc_buf_addf(&lb, "%s%s=%s", i ? "," : "", names.v[i],
                json_string_value(json_object_get(labels, names.v[i])) ?: "");
  set_cell(r, 10, lb.data, 0, 0);
  tc_buf_release(&lb);
  strlist_release(&names);
  go_duration_ms(m->resolution, b, sizeof b);
  set_cell(r, 11, b, 1, m->resolution);
  set_cell(r, 12, m->source, 0, 0);
}

/* tablewriter's layout as Thanos configures it: side borders, "|" joints,
 * centred headers, left-aligned cells. */
static void print_table(struct inspect_row *rows, size_t n) {
  size_t w[NCOLS];
  for (int c = 0; c < NCOLS; c++) {
    w[c] = strlen(inspect_cols[c]);
    for (size_t i = 0; i < n; i++)
      w[c] = TC_MAX(w[c], strlen(rows[i].cell[c]));
  }
  printf("|");
  for (int c = 0; c < NCOLS; c++) {
    size_t gap = w[c] - strlen(inspect_cols[c]), left = gap / 2;
    printf(" %*s%s%*s |", (int)left, "", inspect_cols[c], (int)(gap - left), "");
  }
  printf("\n|");
  for (int c = 0; c < NCOLS; c++) {
    for (size_t i = 0; i < w[c] + 2; i++)
      putchar('-');
    putchar('|');
  }
  printf("\n");
  for (size_t i = 0; i < n; i++) {
    printf("|");
    for (int c = 0; c < NCOLS; c++)
      printf(" %-*s |", (int)w[c], rows[i].cell[c]);
    printf("\n");
  }
}

static void print_sep(struct inspect_row *rows, size_t n, char sep) {
  for (int c = 0; c < NCOLS; c++)
    printf("%s%c", inspect_cols[c], c + 1 < NCOLS ? sep : '\n');
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < NCOLS; c++) {
      const char *v = rows[i].cell[c];
      if (sep == ',' && strpbrk(v, ",\"\n")) {
        putchar('"');
        for (; *v; v++) {
          if (*v == '"')
            putchar('"');
          putchar(*v);
        }
        putchar('"');
      } else {
        fputs(v, stdout);
      }
      putchar(c + 1 < NCOLS ? sep : '\n');
    }
}

/* Every "name=value" of sel is among the block's labels. */
static int matches(struct ls_meta *m, struct strlist *sel) {
  json_t *labels = json_object_get(json_object_get(m->json, "thanos"), "labels");
  for (size_t i = 0; i < sel->n; i++) {
    const char *eq = strchr(sel->v[i], '=');
    char *name = xstrndup(sel->v[i], (size_t)(eq - sel->v[i]));
    const char *v = json_string_value(json_object_get(labels, name));
    free(name);
    if (!v || strcmp(v, eq + 1))
      return 0;
  }
  return 1;
}

int cmd_tools_bucket_inspect(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct strlist blocks = {0}, selector = {0}, sortby = {0};
  struct inspect_row *rows = NULL;
  size_t nrows = 0, cap = 0;
  char *output = NULL;
  int64_t timeout = 0;
  int rc, sort_seen = 0;
  const struct flag_def own[] = {
      {"selector", FLAG_STRINGS, &selector, NULL,
       "Only blocks with this external label, as key=\"value\" (repeatable; "
       "all must match).", NULL, 0, NULL, 'l'},
      {"sort-by", FLAG_STRINGS, &sortby, "FROM",
       "Columns to sort by, in order (repeatable); FROM then UNTIL when not "
       "given.", NULL, 0, &sort_seen},
      {"timeout", FLAG_DURATION, &timeout, "5m",
       "Time allowed for reading the blocks' metadata."},
      {"output", FLAG_ENUM, &output, "table",
       "Output format: table, tsv or csv.", "table|tsv|csv", 0, NULL, 'o'},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket inspect",
                            "Inspect all blocks in the bucket in detailed, "
                            "table-like way.", own, argc, argv)) >= 0)
    goto out;
  rc = 0;
  for (size_t i = 0; i < selector.n; i++) {
    /* key="value" or key=value */
    char *v = selector.v[i], *eq = strchr(v, '=');
    size_t l = strlen(v);
    if (!eq || eq == v) {
      fprintf(stderr, "%s: error: bad --selector '%s', want key=\"value\"\n",
              c.name, v);
      rc = 2;
      goto out;
    }
    if (l >= 2 && eq[1] == '"' && v[l - 1] == '"' && eq + 1 < v + l - 1) {
      memmove(eq + 1, eq + 2, l - (size_t)(eq - v) - 3);
      v[l - 2] = '\0';
    }
  }
  int cols[16];
  nsort_cols = 0;
  for (size_t i = 0; i < sortby.n && i < TC_ARRAY_SIZE(cols); i++) {
    int k = -1;
    for (int j = 0; j < NCOLS; j++)
      if (!strcmp(inspect_cols[j], sortby.v[i]))
        k = j;
    if (k < 0) {
      fprintf(stderr, "%s: error: column %s not found\n", c.name, sortby.v[i]);
      rc = 1;
      goto out;
    }
    cols[nsort_cols++] = k;
  }
  if (!sort_seen)
    cols[nsort_cols++] = 2; /* FROM, then UNTIL */
  sort_cols = cols;
  if ((rc = objstore_iter(c.os, "", 0, add_block, &blocks)) < 0) {
    rc = fail(&c, rc);
    goto out;
  }
  for (size_t i = 0; i < blocks.n; i++) {
    struct ls_meta m;
    int r = meta_read(c.os, blocks.v[i], &m);
    if (r < 0) {
      meta_release(&m);
      if (r == TC_ENOTFOUND || r == TC_ECORRUPT)
        continue;
      rc = fail(&c, r);
      goto out;
    }
    if (matches(&m, &selector)) {
      TC_GROW(rows, cap, nrows + 1);
      memset(&rows[nrows], 0, sizeof *rows);
      inspect_row_fill(&rows[nrows++], &m);
    }
    meta_release(&m);
  }
  if (nrows)
    qsort(rows, nrows, sizeof *rows, cmp_rows);
  if (!strcmp(output, "table"))
    print_table(rows, nrows);
  else
    print_sep(rows, nrows, !strcmp(output, "tsv") ? '\t' : ',');
out:
  for (size_t i = 0; i < nrows; i++)
    for (int k = 0; k < NCOLS; k++)
      free(rows[i].cell[k]);
  free(rows);
  strlist_release(&blocks);
  return bucket_cmd_done(&c, rc);
}

/* --- compactor steps: mark, cleanup, retention, downsample, verify ----------------- */

/* Every entry of ids is a ULID, or usage error 2. */
static int check_ids(struct bucket_cmd *c, const struct strlist *ids) {
  for (size_t i = 0; i < ids->n; i++)
    if (!tsdb_ulid_parse(ids->v[i], NULL)) {
      fprintf(stderr, "%s: error: --id '%s' is not a ULID\n", c->name,
              ids->v[i]);
      return 2;
    }
  return 0;
}

int cmd_tools_bucket_mark(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct strlist ids = {0};
  char *marker = NULL, *details = NULL;
  int remove = 0, rc;
  const struct flag_def own[] = {
      {"id", FLAG_STRINGS, &ids, NULL,
       "ID (ULID) of the blocks to be marked for deletion (repeated flag)"},
      {"marker", FLAG_ENUM, &marker, "", "Marker to be put.",
       "|deletion-mark.json|no-compact-mark.json|no-downsample-mark.json"},
      {"details", FLAG_STRING, &details, NULL,
       "Human readable details to be put into marker."},
      {"remove", FLAG_BOOL, &remove, "false", "Remove the marker."},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket mark",
                            "Mark block for deletion or no-compact in a safe "
                            "way. NOTE: If the compactor is currently running "
                            "compacting same block, this operation would be "
                            "potentially a noop.",
                            own, argc, argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  if (!ids.n || !*marker) {
    fprintf(stderr, "%s: error: required flag --%s not provided\n", c.name,
            ids.n ? "marker" : "id");
    return bucket_cmd_done(&c, 2);
  }
  if ((rc = check_ids(&c, &ids)))
    return bucket_cmd_done(&c, rc);
  enum marker_kind kind = MARKER_DELETION;
  for (enum marker_kind k = MARKER_DELETION; k <= MARKER_NO_DOWNSAMPLE; k++)
    if (!strcmp(marker, marker_filename(k)))
      kind = k;
  for (size_t i = 0; i < ids.n; i++) {
    int r = compact_mark(c.os, kind, ids.v[i], details, remove);
    if (r < 0)
      rc = fail(&c, r);
  }
  return bucket_cmd_done(&c, rc);
}

/* The flags of the bucket-wide compactor steps, and what they fill. */
struct step_flags {
  int64_t delete_delay_ms, consistency_delay_ms, sync_concurrency;
  int64_t retention_ms[3];
  char *relabel_config, *relabel_config_file, *discovery_strategy;
};

#define STEP_SELECTOR_FLAGS(f)                                                 \
  {"selector.relabel-config-file", FLAG_STRING, &(f)->relabel_config_file,    \
   NULL,                                                                       \
   "Path to YAML file with relabeling configuration that allows selecting "   \
   "blocks to act on based on their external labels."},                       \
      {"selector.relabel-config", FLAG_STRING, &(f)->relabel_config, NULL,     \
       "Alternative to 'selector.relabel-config-file' flag (mutually "         \
       "exclusive). Content of YAML file with relabeling configuration."},    \
      {"block-discovery-strategy", FLAG_ENUM, &(f)->discovery_strategy,       \
       "concurrent",                                                           \
       "One of concurrent, recursive (accepted; thanosc lists the bucket's "   \
       "top level once).",                                                     \
       "concurrent|recursive"},                                                \
      {"block-sync-concurrency", FLAG_INT, &(f)->sync_concurrency, "20",      \
       "Number of goroutines to use when syncing block metadata from object "  \
       "storage (accepted; thanosc reads them one at a time)."},              \
      {"consistency-delay", FLAG_DURATION, &(f)->consistency_delay_ms, "30m", \
       "Minimum age of fresh (non-compacted) blocks before they are being "   \
       "processed. Malformed blocks older than the maximum of "               \
       "consistency-delay and 48h0m0s will be removed."}

/* Runs step on the bucket with the options the flags give. */
static int run_step(struct bucket_cmd *c, struct step_flags *f,
                    compact_iterate_fn *step) {
  struct store_relabel *relabel = NULL;
  int rc = cmd_relabel_config(f->relabel_config, f->relabel_config_file,
                              c->name, &relabel);
  if (rc)
    return rc;
  struct compact_opts o = {
      .data_dir = "",
      .consistency_delay_ms = f->consistency_delay_ms,
      .delete_delay_ms = f->delete_delay_ms,
      .retention_ms = {f->retention_ms[0], f->retention_ms[1],
                       f->retention_ms[2]},
      .min_time = INT64_MIN,
      .max_time = INT64_MAX,
      .relabel = relabel,
  };
  rc = step(c->os, &o);
  store_relabel_free(relabel);
  return rc < 0 ? fail(c, rc) : 0;
}

int cmd_tools_bucket_cleanup(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct step_flags f = {0};
  int rc;
  const struct flag_def own[] = {
      {"delete-delay", FLAG_DURATION, &f.delete_delay_ms, "48h",
       "Time before a block marked for deletion is deleted from bucket."},
      STEP_SELECTOR_FLAGS(&f),
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket cleanup",
                            "Cleans up all blocks marked for deletion.", own,
                            argc, argv)) < 0)
    rc = run_step(&c, &f, compact_cleanup);
  return bucket_cmd_done(&c, rc);
}

int cmd_tools_bucket_retention(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct step_flags f = {0};
  int rc;
  const struct flag_def own[] = {
      {"retention.resolution-raw", FLAG_DURATION, &f.retention_ms[0], "0d",
       "How long to retain raw samples in bucket. Setting this to 0d will "
       "retain samples of this resolution forever"},
      {"retention.resolution-5m", FLAG_DURATION, &f.retention_ms[1], "0d",
       "How long to retain samples of resolution 1 (5 minutes) in bucket. "
       "Setting this to 0d will retain samples of this resolution forever"},
      {"retention.resolution-1h", FLAG_DURATION, &f.retention_ms[2], "0d",
       "How long to retain samples of resolution 2 (1 hour) in bucket. "
       "Setting this to 0d will retain samples of this resolution forever"},
      {"delete-delay", FLAG_DURATION, &f.delete_delay_ms, "48h",
       "Time before a block marked for deletion is deleted from bucket "
       "(accepted: retention only marks; cleanup or the compactor deletes)."},
      STEP_SELECTOR_FLAGS(&f),
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket retention",
                            "Retention applies retention policies on the "
                            "given bucket. Please make sure no compactor is "
                            "running on the same bucket at the same time.",
                            own, argc, argv)) < 0)
    rc = run_step(&c, &f, compact_retention);
  return bucket_cmd_done(&c, rc);
}

int cmd_tools_bucket_downsample(int argc, char **argv) {
  struct bucket_cmd c = {.sets = CMD_FLAGS_HTTP};
  char *data_dir = NULL, *hash_func = NULL;
  int64_t wait_ms = 0, concurrency = 0;
  int rc;
  const struct flag_def own[] = {
      {"data-dir", FLAG_STRING, &data_dir, "./data",
       "Data directory in which to cache blocks and process downsamplings."},
      {"wait-interval", FLAG_DURATION, &wait_ms, "5m",
       "Wait interval between downsample runs."},
      {"downsample.concurrency", FLAG_INT, &concurrency, "1",
       "Number of goroutines to use when downsampling blocks."},
      CMD_FLAG_HASH_FUNC(&hash_func),
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket downsample",
                            "Continuously downsamples blocks in an object "
                            "store bucket.",
                            own, argc, argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  if (concurrency > 1)
    LOG_WARN("--downsample.concurrency is accepted but thanosc downsamples "
             "one block at a time");
  struct compact_opts o = {
      .data_dir = data_dir,
      .min_time = INT64_MIN,
      .max_time = INT64_MAX,
      .hash_func = hash_func,
  };
  struct compact_run_opts r = {
      .name = "downsample",
      .iterate = compact_downsample_bucket,
      .wait = true,
      .wait_interval_ms = wait_ms,
      .http_address = c.so.http_address,
      .http_grace_ms = c.so.http_grace_ms,
  };
  return bucket_cmd_done(&c, compact_run(c.os, &o, &r));
}

int cmd_tools_bucket_web(int argc, char **argv) {
  struct bucket_cmd c = {.sets = CMD_FLAGS_HTTP};
  char *route_prefix = NULL, *external_prefix = NULL, *prefix_header = NULL;
  char *label = NULL;
  int64_t refresh_ms = 0, timeout_ms = 0;
  int disable_cors = 0, disable_admin = 0, rc;
  const struct flag_def own[] = {
      {"web.route-prefix", FLAG_STRING, &route_prefix, "",
       "Prefix for API and UI endpoints. This allows thanos UI to be served "
       "on a sub-path. Defaults to the value of --web.external-prefix."},
      {"web.external-prefix", FLAG_STRING, &external_prefix, "",
       "Static prefix for all HTML links and redirect URLs in the bucket web "
       "UI interface."},
      {"web.prefix-header", FLAG_STRING, &prefix_header, "",
       "Name of HTTP request header used for dynamic prefixing of UI links "
       "and redirects (accepted: the UI's links are relative)."},
      {"web.disable-cors", FLAG_BOOL, &disable_cors, "false",
       "Whether to disable CORS headers to be set by Thanos."},
      {"refresh", FLAG_DURATION, &refresh_ms, "30m",
       "Refresh interval to download metadata from remote storage"},
      {"timeout", FLAG_DURATION, &timeout_ms, "5m",
       "Timeout to download metadata from remote storage (accepted: each "
       "object storage call has its own timeout)."},
      {"label", FLAG_STRING, &label, NULL,
       "External block label to use as group title"},
      {"disable-admin-operations", FLAG_BOOL, &disable_admin, "false",
       "Disable UI/API admin operations (thanosc's UI has none)."},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket web",
                            "Web interface for remote storage bucket.", own,
                            argc, argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  if (refresh_ms <= 0) {
    fprintf(stderr, "thanosc tools bucket web: error: --refresh must be "
                    "positive\n");
    return bucket_cmd_done(&c, 2);
  }
  struct compact_opts o = {
      .min_time = INT64_MIN,
      .max_time = INT64_MAX,
      .blocks = ui_blocks_new(label),
  };
  struct compact_run_opts r = {
      .name = "bucket web",
      .iterate = compact_sync_views,
      .wait = true,
      .wait_interval_ms = refresh_ms,
      .http_address = c.so.http_address,
      .http_grace_ms = c.so.http_grace_ms,
      .web_prefix = *route_prefix ? route_prefix : external_prefix,
      .web_home = "blocks",
  };
  rc = compact_run(c.os, &o, &r);
  ui_blocks_free(o.blocks);
  return bucket_cmd_done(&c, rc);
}

int cmd_tools_bucket_verify(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct strlist issues = {0}, ids = {0};
  char *backup_config = NULL, *backup_config_file = NULL;
  int64_t delete_delay = 0;
  int repair = 0, rc;
  const struct flag_def own[] = {
      {"issues", FLAG_STRINGS, &issues, "index_known_issues",
       "Issues to verify: overlapped_blocks, index_known_issues (repeated "
       "flag).",
       NULL, 0, NULL, 'i'},
      {"id", FLAG_STRINGS, &ids, NULL,
       "Block IDs to verify only. If none is specified, all blocks will be "
       "verified. Repeated field"},
      {"repair", FLAG_BOOL, &repair, "false",
       "Attempt to repair blocks for which issues were detected (not "
       "supported by thanosc).",
       NULL, 0, NULL, 'r'},
      {"delete-delay", FLAG_DURATION, &delete_delay, "0s",
       "Duration after which blocks marked for deletion by a repair would be "
       "deleted (repair only)."},
      {"objstore-backup.config-file", FLAG_STRING, &backup_config_file, NULL,
       "Path to YAML file of the bucket a repair backs blocks up to (repair "
       "only)."},
      {"objstore-backup.config", FLAG_STRING, &backup_config, NULL,
       "Alternative to 'objstore-backup.config-file' flag (mutually "
       "exclusive)."},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket verify",
                            "Verify all blocks in the bucket against "
                            "specified issues.",
                            own, argc, argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  if (repair) {
    fprintf(stderr, "%s: error: --repair is not supported: thanosc only "
                    "reports issues; repair with thanos tools bucket verify "
                    "--repair or mark the bad blocks for deletion\n",
            c.name);
    return bucket_cmd_done(&c, 2);
  }
  unsigned want = 0;
  for (size_t i = 0; i < issues.n; i++) {
    if (!strcmp(issues.v[i], "overlapped_blocks")) {
      want |= COMPACT_ISSUE_OVERLAPS;
    } else if (!strcmp(issues.v[i], "index_known_issues")) {
      want |= COMPACT_ISSUE_INDEX;
    } else {
      fprintf(stderr, "%s: error: --issues=%s is not supported (%s)\n", c.name,
              issues.v[i],
              strcmp(issues.v[i], "duplicated_compaction")
                  ? "want overlapped_blocks or index_known_issues"
                  : "a repair-only issue");
      return bucket_cmd_done(&c, 2);
    }
  }
  if ((rc = check_ids(&c, &ids)))
    return bucket_cmd_done(&c, rc);
  /* The indexes are read from a scratch directory, removed afterwards. */
  char tmp[] = "/tmp/thanosc-verify-XXXXXX";
  if (!mkdtemp(tmp))
    return bucket_cmd_done(&c, fail(&c, tc_error(-errno, "mkdtemp: %s",
                                                   strerror(errno))));
  struct compact_opts o = {
      .data_dir = tmp, .min_time = INT64_MIN, .max_time = INT64_MAX};
  size_t found = 0;
  rc = compact_verify(c.os, &o, want, &ids, &found);
  rmdir(tmp);
  if (rc < 0)
    return bucket_cmd_done(&c, fail(&c, rc));
  char n[24];
  snprintf(n, sizeof n, "%zu", found);
  LOG_INFO("verify completed", "issues", n);
  return bucket_cmd_done(&c, 0);
}

/* --- hidden object helpers ------------------------------------------------------------ */

static void print_line(const char *line) {
  printf("%s\n", line);
  fflush(stdout);
}

int cmd_tools_bucket_acceptance(int argc, char **argv) {
  struct bucket_cmd c = {0};
  uint64_t big = 0;
  int64_t many = 0;
  int rc;
  const struct flag_def own[] = {
      {"big", FLAG_BYTES, &big, "8MiB", "size of the large object"},
      {"many", FLAG_INT, &many, "1100", "objects for the paginated listing"},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket acceptance",
                            "Run the objstore acceptance suite against an "
                            "empty bucket.", own, argc, argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  rc = objstore_acceptance(c.os, (size_t)big, (int)many, print_line);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

static int write_out(void *data, const void *p, size_t n) {
  (void)data;
  return fwrite(p, 1, n, stdout) == n ? 0 : tc_error(TC_EIO, "write: stdout");
}

/* Exactly n positional arguments, or usage error 2. */
static int want_args(struct bucket_cmd *c, size_t n, const char *what) {
  if (c->pos.n == n)
    return 0;
  fprintf(stderr, "%s: error: expected %s\n", c->name, what);
  return 2;
}

int cmd_tools_bucket_get(int argc, char **argv) {
  struct bucket_cmd c = {0};
  int64_t off = 0, len = -1;
  struct strlist ranges = {0};
  int rc;
  const struct flag_def own[] = {
      {"offset", FLAG_INT, &off, "0", "first byte"},
      {"length", FLAG_INT, &len, "-1", "bytes to read, -1 to the end"},
      {"range", FLAG_STRINGS, &ranges, NULL,
       "off:len, repeatable: several ranges on one connection"},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket get", "Print an object.",
                            own, argc, argv)) >= 0 ||
      (rc = want_args(&c, 1, "<name>")))
    return bucket_cmd_done(&c, rc);
  if (off < 0) {
    fprintf(stderr, "%s: error: negative --offset\n", c.name);
    return bucket_cmd_done(&c, 2);
  }
  if (!ranges.n)
    rc = objstore_get_range(c.os, c.pos.v[0], (uint64_t)off, len, 0,
                            write_out, NULL);
  for (size_t i = 0; i < ranges.n && rc >= 0; i++) {
    unsigned long long o;
    long long l;
    if (sscanf(ranges.v[i], "%llu:%lld", &o, &l) != 2) {
      fprintf(stderr, "%s: error: --range '%s' is not off:len\n", c.name,
              ranges.v[i]);
      return bucket_cmd_done(&c, 2);
    }
    rc = objstore_get_range(c.os, c.pos.v[0], o, l, 0, write_out, NULL);
  }
  fflush(stdout);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

int cmd_tools_bucket_put(int argc, char **argv) {
  struct bucket_cmd c = {0};
  int rc;
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket put",
                            "Upload a file as an object.", NULL, argc,
                            argv)) >= 0 ||
      (rc = want_args(&c, 2, "<name> <file>")))
    return bucket_cmd_done(&c, rc);
  rc = objstore_upload_file(c.os, c.pos.v[0], c.pos.v[1]);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

int cmd_tools_bucket_rm(int argc, char **argv) {
  struct bucket_cmd c = {0};
  int rc;
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket rm", "Delete an object.",
                            NULL, argc, argv)) >= 0 ||
      (rc = want_args(&c, 1, "<name>")))
    return bucket_cmd_done(&c, rc);
  rc = objstore_delete(c.os, c.pos.v[0]);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

static int print_name(void *data, const char *name) {
  (void)data;
  printf("%s\n", name);
  return 0;
}

int cmd_tools_bucket_iter(int argc, char **argv) {
  struct bucket_cmd c = {0};
  int recursive = 0, rc;
  const struct flag_def own[] = {
      {"recursive", FLAG_BOOL, &recursive, "false", "every object below"},
      {0}};
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket iter",
                            "List the names under a directory.", own, argc,
                            argv)) >= 0)
    return bucket_cmd_done(&c, rc);
  if (c.pos.n > 1)
    return bucket_cmd_done(&c, want_args(&c, 1, "at most one <dir>"));
  rc = objstore_iter(c.os, c.pos.n ? c.pos.v[0] : "",
                     recursive ? OBJSTORE_RECURSIVE : 0, print_name, NULL);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

int cmd_tools_bucket_stat(int argc, char **argv) {
  struct bucket_cmd c = {0};
  struct objstore_attrs a;
  int rc;
  if ((rc = bucket_cmd_open(&c, "thanosc tools bucket stat",
                            "Print an object's size and modification time.",
                            NULL, argc, argv)) >= 0 ||
      (rc = want_args(&c, 1, "<name>")))
    return bucket_cmd_done(&c, rc);
  rc = objstore_attributes(c.os, c.pos.v[0], 0, &a);
  if (rc == 0)
    printf("size=%lld last_modified_ms=%lld\n", (long long)a.size,
           (long long)a.last_modified_ms);
  return bucket_cmd_done(&c, rc < 0 ? fail(&c, rc) : 0);
}

/* --- sign: SigV4 of a described request, for comparing with botocore --------------------- */

static struct s3_kv *split_kv(struct strlist *l, char sep) {
  struct s3_kv *kv = xcalloc(l->n + 1, sizeof *kv);
  for (size_t i = 0; i < l->n; i++) {
    char *p = strchr(l->v[i], sep);
    if (p) {
      *p++ = '\0';
      while (sep == ':' && *p == ' ')
        p++;
    }
    kv[i].k = l->v[i];
    kv[i].v = p ? p : "";
  }
  return kv;
}

int cmd_tools_bucket_sign(int argc, char **argv) {
  char *method = NULL, *path = NULL, *hash = NULL, *date = NULL,
       *region = NULL, *service = NULL, *ak = NULL, *sk = NULL;
  struct strlist query = {0}, headers = {0};
  int creq = 0, dbl = 0;
  const struct flag_def t[] = {
      {"method", FLAG_STRING, &method, "GET", "HTTP method"},
      {"path", FLAG_STRING, &path, "/", "raw (unencoded) path"},
      {"query", FLAG_STRINGS, &query, NULL, "name=value, raw; repeatable"},
      {"header", FLAG_STRINGS, &headers, NULL, "'Name: value'; repeatable"},
      {"payload-hash", FLAG_STRING, &hash,
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "hex SHA-256 of the body or UNSIGNED-PAYLOAD"},
      {"date", FLAG_STRING, &date, "20150830T123600Z", "x-amz-date"},
      {"region", FLAG_STRING, &region, "us-east-1", "region"},
      {"service", FLAG_STRING, &service, "s3", "service"},
      {"access-key", FLAG_STRING, &ak, "AKIDEXAMPLE", "access key"},
      {"secret-key", FLAG_STRING, &sk, "", "secret key"},
      {"canonical", FLAG_BOOL, &creq, "false", "print the canonical request"},
      {"double-encode", FLAG_BOOL, &dbl, "false", "encode the path twice"},
      {0}};
  const struct flag_def *const tables[] = {t, NULL};
  int rc = flags_parse(tables, "thanosc tools bucket sign",
                       "Print the SigV4 Authorization of a request.", argc,
                       argv, NULL);
  if (rc == 1)
    rc = 0; /* --help */
  else if (rc == 0) {
    struct s3_kv *q = split_kv(&query, '='), *h = split_kv(&headers, ':');
    struct s3_sign_req r = {.method = method, .path = path, .query = q,
                            .nquery = query.n, .headers = h,
                            .nheaders = headers.n, .payload_hash = hash,
                            .amz_date = date, .region = region,
                            .service = service, .access_key = ak,
                            .secret_key = sk, .double_encode = dbl};
    struct tc_buf out = TC_BUF_INIT;
    rc = creq ? s3_canonical_request(&r, &out) : s3_sign(&r, &out);
    if (rc == 0)
      printf("%s\n", out.data);
    else
      fprintf(stderr, "thanosc tools bucket sign: error: %s\n", tc_errmsg(rc));
    rc = rc ? 1 : 0;
    tc_buf_release(&out);
    free(q);
    free(h);
  }
  cmd_flags_release(tables);
  return rc;
}
