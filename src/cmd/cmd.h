/*
 * cmd.h - the roles and tools of the thanosc executable.
 *
 * Adding a role or a tool:
 *   1. write src/cmd/<role>.c (or src/cmd/tools-<group>.c) with one
 *      `int cmd_<name>(int argc, char **argv)` that parses its flags with
 *      flags_parse() and calls into src/<subsystem>/ - no logic here;
 *   2. add the entry to `commands[]` in src/main.c or `tools[]` in
 *      src/cmd/tools.c, and declare the function below;
 *   3. add a test under test/integration/ (family digit: 0 core, 1 objstore,
 *      2 tsdb, 3 store, 4 query, 5 compact, 6 sidecar, 7 tools);
 *   4. mention it in README.md.
 *
 * A command gets argv without its own name: argv[0] is the first flag.
 * It returns the process exit code: 0 ok, 1 runtime failure, 2 bad usage.
 */
#ifndef THANOSC_CMD_H
#define THANOSC_CMD_H

#include <stdint.h>

#include "thanosc/flags.h"

typedef int cmd_fn(int argc, char **argv);

struct cmd {
  const char *name;
  cmd_fn *fn;
  const char *summary; /* NULL: hidden from the usage */
};

/* Roles. */
int cmd_sidecar(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_tools(int argc, char **argv);

/* Tools, by group (src/cmd/tools-<group>.c). */
int cmd_tools_bucket_ls(int argc, char **argv);
int cmd_tools_bucket_inspect(int argc, char **argv);
int cmd_tools_bucket_upload_blocks(int argc, char **argv);
int cmd_tools_bucket_mark(int argc, char **argv);
int cmd_tools_bucket_cleanup(int argc, char **argv);
int cmd_tools_bucket_retention(int argc, char **argv);
int cmd_tools_bucket_downsample(int argc, char **argv);
int cmd_tools_bucket_web(int argc, char **argv);
int cmd_tools_bucket_verify(int argc, char **argv);
/* Hidden object-level helpers (src/cmd/tools-bucket.c). */
int cmd_tools_bucket_acceptance(int argc, char **argv);
int cmd_tools_bucket_get(int argc, char **argv);
int cmd_tools_bucket_put(int argc, char **argv);
int cmd_tools_bucket_rm(int argc, char **argv);
int cmd_tools_bucket_iter(int argc, char **argv);
int cmd_tools_bucket_stat(int argc, char **argv);
int cmd_tools_bucket_sign(int argc, char **argv);
int cmd_tools_block_dump(int argc, char **argv);
int cmd_tools_store_info(int argc, char **argv);
int cmd_tools_store_series(int argc, char **argv);
int cmd_tools_store_label_names(int argc, char **argv);
int cmd_tools_store_label_values(int argc, char **argv);
int cmd_tools_store_serve_test(int argc, char **argv); /* hidden, tests */
int cmd_tools_promql_parse(int argc, char **argv);
int cmd_tools_promql_test(int argc, char **argv);
int cmd_tools_promql_bench(int argc, char **argv);
int cmd_tools_promql_eval(int argc, char **argv);

/* Looks name up in a NULL-terminated table and runs it; prints the table on
 * --help or an unknown name. prefix is what precedes name ("thanosc tools"). */
int cmd_dispatch(const struct cmd *table, const char *prefix, int argc,
                 char **argv);
/* "thanosc <what>: not written yet" and exit code 2. */
int cmd_not_yet(const char *what);

/*
 * Shared flags of the long-running roles. cmd_server_flags() fills `out`
 * (room for CMD_SERVER_FLAGS_MAX entries plus the {0} terminator) with the
 * http, grpc, log and objstore flags, writing into o.
 */
struct server_opts {
  char *http_address;
  int64_t http_grace_ms;
  char *grpc_address;
  int64_t grpc_grace_ms;
  char *grpc_tls_cert;
  char *grpc_tls_key;
  char *grpc_tls_client_ca;
  char *grpc_tls_min_version;
  int64_t grpc_max_connection_age_ms;
  char *log_level;
  char *log_format;
  char *objstore_config_file;
  char *objstore_config;
};

enum server_flag_set {
  CMD_FLAGS_HTTP = 1 << 0,
  CMD_FLAGS_GRPC = 1 << 1,
  CMD_FLAGS_LOG = 1 << 2,
  CMD_FLAGS_OBJSTORE = 1 << 3,
};

#define CMD_SERVER_FLAGS_MAX 24

/* --hash-func, as the sidecar, compact and tools bucket downsample take it
 * (dst: char *). */
#define CMD_FLAG_HASH_FUNC(dst)                                                \
  {"hash-func", FLAG_ENUM, (dst), "",                                          \
   "Specify which hash function to use when calculating the hashes of "        \
   "produced files. If no function has been specified, it does not happen. "   \
   "This permits avoiding downloading some files twice albeit at some "        \
   "performance cost. Possible values are: \"\", \"SHA256\".",                  \
   "|SHA256"}
void cmd_server_flags(struct flag_def *out, struct server_opts *o,
                      unsigned sets, const char *http_default,
                      const char *grpc_default);
/* Applies log flags; checks objstore flags are not both given. 0 or 2. */
int cmd_server_opts_check(struct server_opts *o, const char *cmd);
/* Frees what flags_parse() stored in the tables: strings, enums and string
 * lists (the other values need no freeing). */
void cmd_flags_release(const struct flag_def *const *tables);
/* The objstore YAML from --objstore.config or the file; NULL + message. */
char *cmd_objstore_yaml(struct server_opts *o, const char *cmd);
/* Opens the bucket the objstore flags name. 0, 1 (it failed to open: a
 * log line says why) or 2 (bad flags: a message says why). */
struct objstore;
int cmd_objstore_open(struct server_opts *o, const char *cmd,
                      struct objstore **out /* OUT */);
/* --selector.relabel-config (config) or -file (file), at most one, parsed
 * into *out (NULL when neither is given). 0, or 2 after a message. */
struct store_relabel;
int cmd_relabel_config(const char *config, const char *file, const char *cmd,
                       struct store_relabel **out /* OUT */);

#endif
