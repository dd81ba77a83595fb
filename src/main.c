/*
 * main.c - the thanosc executable: one command table, two entry paths.
 *
 *   thanosc <role> [flags]        thanosc query --endpoint=...
 *   thanosc-<role> [flags]        a symlink named thanosc-query
 *
 * Roles are thin (src/cmd/), the work is in the libraries below them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"

static const struct cmd commands[] = {
    {"sidecar", cmd_sidecar, "sidecar for Prometheus: serves its data over the StoreAPI and ships its blocks"},
    {"store", cmd_store, "store gateway: serves the blocks of an object-storage bucket over the StoreAPI"},
    {"query", cmd_query, "querier: PromQL over every StoreAPI endpoint, deduplicated"},
    {"compact", cmd_compact, "compactor: merges, downsamples and applies retention to bucket blocks"},
    {"tools", cmd_tools, "tools for the bucket, blocks, StoreAPI endpoints and PromQL"},
    {NULL, NULL, NULL},
};

static void version(void) {
  printf("thanosc, version %s (revision: %s)\n"
         "  build date:       %s\n"
         "  compiler:         gcc-compatible %s\n",
         TC_VERSION, TC_GIT_REV, TC_BUILD_DATE, __VERSION__);
}

static int run(const char *name, int argc, char **argv) {
  for (const struct cmd *c = commands; c->name; c++) {
    if (!strcmp(c->name, name)) {
      int rc = c->fn(argc, argv);
      /* git's run_builtin: a write error on stdout is a failure too. */
      if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "thanosc %s: error: write to standard output\n", name);
        return 1;
      }
      return rc;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (!strncmp(base, "thanosc-", 8)) {
    int rc = run(base + 8, argc - 1, argv + 1);
    if (rc >= 0)
      return rc;
  }
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    printf("usage: thanosc <role> [flags]\n\n"
           "A drop-in, C implementation of the Thanos components.\n\n"
           "Roles:\n");
    for (const struct cmd *c = commands; c->name; c++)
      printf("  %-9s %s\n", c->name, c->summary);
    printf("\nFlags:\n  --help     show this help\n"
           "  --version  show version and build information\n\n"
           "Run 'thanosc <role> --help' for the flags of a role.\n");
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    version();
    return 0;
  }
  int rc = run(argv[1], argc - 2, argv + 2);
  if (rc >= 0)
    return rc;
  fprintf(stderr, "thanosc: error: unknown role '%s', try --help\n", argv[1]);
  return 2;
}
