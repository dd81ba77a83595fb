/*
 * dump.c - prints every sample of a block (or of every block in a data
 * directory) as `promtool tsdb dump` does: one `{labels} value ts` line per
 * sample, series in label order, values formatted like Go's %g.
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

static int dump_block(const char *dir, const struct matchers *sels,
                      size_t nsels, int64_t mint, int64_t maxt, FILE *out) {
  struct block_reader b;
  int rc = block_reader_open(&b, dir);
  if (rc)
    return rc;
  struct postings **its = xcalloc(nsels ? nsels : 1, sizeof(*its));
  for (size_t i = 0; i < nsels; i++)
    its[i] = index_reader_select(&b.index, &sels[i]);
  struct block_series_set ss;
  block_select_postings(&b, postings_merge(its, nsels), mint, maxt, &ss);
  struct tc_buf line, lbl;
  tc_buf_init(&line, 0);
  tc_buf_init(&lbl, 0);
  while (block_series_set_next(&ss)) {
    tc_buf_reset(&lbl);
    labels_format(block_series_set_labels(&ss), &lbl);
    struct series_iter it;
    block_series_set_iter(&ss, &it);
    while (series_iter_next(&it)) {
      int64_t t;
      double v;
      series_iter_at(&it, &t, &v);
      tc_buf_reset(&line);
      tc_buf_add(&line, lbl.data, lbl.len);
      tc_buf_addc(&line, ' ');
      tc_format_float(&line, v);
      tc_buf_addf(&line, " %lld\n", (long long)t);
      fwrite(line.data, 1, line.len, out);
    }
    if ((rc = series_iter_err(&it)))
      break;
  }
  if (!rc)
    rc = block_series_set_err(&ss);
  tc_buf_release(&line);
  tc_buf_release(&lbl);
  block_series_set_release(&ss);
  block_reader_close(&b);
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
  if (is_block)
    return dump_block(path, sels, nsels, mint, maxt, out);
  DIR *d = opendir(path);
  if (!d)
    return tc_error(TC_ENOTFOUND, "dump '%s': neither a block nor a "
                    "directory of blocks", path);
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (tsdb_ulid_parse(de->d_name, NULL)) {
      TC_GROW(names, cap, n + 1);
      names[n++] = xstrdup(de->d_name);
    }
  closedir(d);
  qsort(names, n, sizeof(char *), cmp_name);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char *dir = xasprintf("%s/%s", path, names[i]);
    if (!rc)
      rc = dump_block(dir, sels, nsels, mint, maxt, out);
    free(dir);
    free(names[i]);
  }
  free(names);
  return rc;
}
