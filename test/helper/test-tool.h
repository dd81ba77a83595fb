/*
 * test-tool.h - commands of the test-tool multicall helper (git's
 * t/helper). Each command gets argv without its own name and returns the
 * exit code. Add a command: declare it here, add it to the table in
 * test-tool.c, define it in test/helper/<area>-tool.c.
 */
#ifndef THANOSC_TEST_TOOL_H
#define THANOSC_TEST_TOOL_H

/* tsdb-tool.c */
int tt_make_block(int argc, char **argv);
int tt_gen_block(int argc, char **argv);
int tt_dump_index(int argc, char **argv);
int tt_bench_tsdb(int argc, char **argv);
int tt_rewrite_block(int argc, char **argv);

/* crc-tool.c */
int tt_bench_crc(int argc, char **argv);

#endif
