/*
 * dump.c - prints every sample of a block, or of all blocks of a data
 * directory, as `promtool tsdb dump` does: one `{labels} value ts` line per
 * sample, series in label order, values formatted like Go's %g. Across
 * blocks the series are merged like Prometheus's querier: one series per
 * label set, its samples from every block in time order, a timestamp
 * printed once.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/block.h"
#include "thanosc/tsdb/dump.h"

struct dump_src {
  struct block_reader b;
  struct block_series_set ss;
  bool has;         /* ss is on a series */
  bool open;        /* b and ss need releasing */
  struct series_iter it;
  bool it_has;      /* it is on a sample */
};

static int src_advance(struct dump_src *s) {
  s->has = block_series_set_next(&s->ss);
  return s->has ? 0 : block_series_set_err(&s->ss);
}

static void print_sample(FILE *out, struct tc_buf *line,
                         const struct tc_buf *lbl, int64_t t, double v) {
  tc_buf_reset(line);
  tc_buf_add(line, lbl->data, lbl->len);
  tc_buf_addc(line, ' ');
  tc_format_float(line, v);
  tc_buf_addf(line, " %lld\n", (long long)t);
  fwrite(line->data, 1, line->len, out);
}

/* Prints the current series of srcs[idx[0..k)] (equal label sets, blocks in
 * min-time order) as one series. */
static int dump_series(struct dump_src **srcs, size_t k, FILE *out,
                       struct tc_buf *line, struct tc_buf *lbl) {
  tc_buf_reset(lbl);
  labels_format(block_series_set_labels(&srcs[0]->ss), lbl);
  for (size_t i = 0; i < k; i++) {
    block_series_set_iter(&srcs[i]->ss, &srcs[i]->it);
    srcs[i]->it_has = series_iter_next(&srcs[i]->it);
  }
  bool any = false;
  int64_t last = 0;
  for (;;) {
    struct dump_src *best = NULL;
    for (size_t i = 0; i < k; i++) {
      if (!srcs[i]->it_has)
        continue;
      if (!best || chunk_iter_t(&srcs[i]->it.it) < chunk_iter_t(&best->it.it))
        best = srcs[i];
    }
    if (!best)
      break;
    int64_t t;
    double v;
    series_iter_at(&best->it, &t, &v);
    if (!any || t != last)
      print_sample(out, line, lbl, t, v);
    any = true;
    last = t;
    best->it_has = series_iter_next(&best->it);
  }
  for (size_t i = 0; i < k; i++)
    if (series_iter_err(&srcs[i]->it))
      return series_iter_err(&srcs[i]->it);
  return 0;
}

static int cmp_src_time(const void *a, const void *b) {
  const struct dump_src *x = *(struct dump_src *const *)a,
                        *y = *(struct dump_src *const *)b;
  if (x->b.meta.min_time != y->b.meta.min_time)
    return x->b.meta.min_time < y->b.meta.min_time ? -1 : 1;
  return strcmp(x->b.meta.ulid, y->b.meta.ulid);
}

static int dump_blocks(char **dirs, size_t n, const struct matchers *sels,
                       size_t nsels, int64_t mint, int64_t maxt, FILE *out) {
  struct dump_src **srcs = xcalloc(n ? n : 1, sizeof(*srcs));
  struct dump_src **cur = xcalloc(n ? n : 1, sizeof(*cur));
  struct tc_buf line, lbl;
  tc_buf_init(&line, 0);
  tc_buf_init(&lbl, 0);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    srcs[i] = xcalloc(1, sizeof(**srcs));
    if ((rc = block_reader_open(&srcs[i]->b, dirs[i])))
      break;
    srcs[i]->open = true;
    struct postings **its = xcalloc(nsels ? nsels : 1, sizeof(*its));
    for (size_t k = 0; k < nsels; k++)
      its[k] = index_reader_select(&srcs[i]->b.index, &sels[k]);
    block_select_postings(&srcs[i]->b, postings_merge(its, nsels), mint, maxt,
                          &srcs[i]->ss);
    rc = src_advance(srcs[i]);
  }
  if (!rc && n > 1)
    qsort(srcs, n, sizeof(*srcs), cmp_src_time);
  while (!rc) {
    /* The smallest current label set, and every block that has it. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (!srcs[i]->has)
        continue;
      int c = k ? labels_compare(block_series_set_labels(&srcs[i]->ss),
                                 block_series_set_labels(&cur[0]->ss))
                : -1;
      if (c < 0)
        k = 0;
      if (c <= 0)
        cur[k++] = srcs[i];
    }
    if (!k)
      break;
    rc = dump_series(cur, k, out, &line, &lbl);
    for (size_t i = 0; i < k && !rc; i++)
      rc = src_advance(cur[i]);
  }
  for (size_t i = 0; i < n; i++) {
    if (srcs[i] && srcs[i]->open) {
      block_series_set_release(&srcs[i]->ss);
      block_reader_close(&srcs[i]->b);
    }
    free(srcs[i]);
  }
  free(srcs);
  free(cur);
  tc_buf_release(&line);
  tc_buf_release(&lbl);
  return rc;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int tsdb_dump(const char *path, const struct matchers *sels, size_t nsels,
              int64_t mint, int64_t maxt, FILE *out) {
  char *meta = xasprintf("%s/meta.json", path);
  struct stat st;
  int is_block = stat(meta, &st) == 0;
  free(meta);
  if (is_block) {
    char *one = (char *)path;
    return dump_blocks(&one, 1, sels, nsels, mint, maxt, out);
  }
  DIR *d = opendir(path);
  if (!d)
    return tc_error(TC_ENOTFOUND, "dump '%s': neither a block nor a "
                    "directory of blocks", path);
  char **dirs = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (tsdb_ulid_parse(de->d_name, NULL)) {
      TC_GROW(dirs, cap, n + 1);
      dirs[n++] = xasprintf("%s/%s", path, de->d_name);
    }
  closedir(d);
  if (n > 1)
    qsort(dirs, n, sizeof(char *), cmp_name);
  int rc = dump_blocks(dirs, n, sels, nsels, mint, maxt, out);
  for (size_t i = 0; i < n; i++)
    free(dirs[i]);
  free(dirs);
  return rc;
}
