/*
 * tools-block.c - `thanosc tools block ...`: flags and wiring only; the
 * work is in src/tsdb/block/dump.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "thanosc/error.h"
#include "thanosc/labels.h"
#include "thanosc/tsdb/dump.h"

int cmd_tools_block_dump(int argc, char **argv) {
  char *path = NULL;
  struct strlist match = {0};
  int64_t mint = 0, maxt = 0;
  const struct flag_def defs[] = {
      {"path", FLAG_STRING, &path, NULL,
       "Path to a block directory, or to a data directory of blocks.", NULL,
       FLAG_REQUIRED},
      {"match", FLAG_STRINGS, &match, NULL,
       "Series selector. Can be specified multiple times."},
      {"min-time", FLAG_INT, &mint, "-9223372036854775808",
       "Minimum timestamp to dump, in milliseconds since the Unix epoch."},
      {"max-time", FLAG_INT, &maxt, "9223372036854775807",
       "Maximum timestamp to dump, in milliseconds since the Unix epoch."},
      {0}};
  const struct flag_def *const tables[] = {defs, NULL};
  int rc = flags_parse(tables, "thanosc tools block dump",
                       "Print every sample of a local block as promtool tsdb "
                       "dump does.", argc, argv, NULL);
  if (rc)
    return rc == 1 ? 0 : 2;
  size_t nsels = match.n ? match.n : 1;
  struct matchers *sels = calloc(nsels, sizeof(*sels));
  int exit_code = 0;
  for (size_t i = 0; i < nsels; i++) {
    const char *s = match.n ? match.v[i] : "{__name__=~'(?s:.*)'}";
    if ((rc = selector_parse(s, &sels[i]))) {
      fprintf(stderr, "thanosc tools block dump: error: %s\n",
              tc_errmsg(rc));
      exit_code = 2;
      goto out;
    }
  }
  rc = tsdb_dump(path, sels, nsels, mint, maxt, stdout);
  if (fflush(stdout) != 0 && !rc)
    rc = tc_error(TC_EIO, "write to stdout");
  if (rc) {
    fprintf(stderr, "thanosc tools block dump: %s\n", tc_errmsg(rc));
    exit_code = 1;
  }
out:
  for (size_t i = 0; i < nsels; i++)
    matchers_release(&sels[i]);
  free(sels);
  strlist_release(&match);
  free(path);
  return exit_code;
}
