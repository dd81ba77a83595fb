/*
 * test-tool.c - entry point of build/test/test-tool: dispatches argv[1]
 * through one table of helper commands used by integration tests and
 * benchmarks.
 */
#include <stdio.h>
#include <string.h>

#include "test-tool.h"

struct tt_cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *usage;
};

static const struct tt_cmd cmds[] = {
    {"make-block", tt_make_block,
     "PARENT_DIR [--ulid-ms=MS] [--min-time=MS --max-time=MS] < samples "
     "(lines `{labels} value ts_ms`, value may be 'stale')"},
    {"gen-block", tt_gen_block,
     "PARENT_DIR --series=N --samples=M [--labels=K] [--offset=K]: "
     "synthetic block (offset shifts the unique label)"},
    {"dump-index", tt_dump_index, "INDEX_FILE: symbols, series, postings"},
    {"rewrite-block", tt_rewrite_block,
     "SRC_BLOCK PARENT_DIR: copy series and raw chunks into a new block"},
    {"bench-tsdb", tt_bench_tsdb,
     "[--chunks=N] [--block=DIR]: XOR, postings and block-read timings"},
    {"bench-crc", tt_bench_crc, ": CRC32C GB/s by buffer size"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  if (argc >= 2)
    for (const struct tt_cmd *c = cmds; c->name; c++)
      if (!strcmp(c->name, argv[1]))
        return c->fn(argc - 2, argv + 2);
  fprintf(stderr, "usage: test-tool <command> [args]\n");
  for (const struct tt_cmd *c = cmds; c->name; c++)
    fprintf(stderr, "  %s %s\n", c->name, c->usage);
  return 2;
}
