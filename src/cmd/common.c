/*
 * common.c - what every command shares: table dispatch, the "not written
 * yet" answer, and the http/grpc/log/objstore flags of long-running roles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"

int cmd_dispatch(const struct cmd *table, const char *prefix, int argc,
                 char **argv) {
  if (argc >= 1 && argv[0][0] != '-') {
    for (const struct cmd *c = table; c->name; c++)
      if (!strcmp(c->name, argv[0]))
        return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: error: unknown command '%s', try --help\n", prefix,
            argv[0]);
    return 2;
  }
  int help = argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
  FILE *out = help ? stdout : stderr;
  fprintf(out, "usage: %s <command> [flags]\n\nCommands:\n", prefix);
  for (const struct cmd *c = table; c->name; c++)
    if (c->summary)
      fprintf(out, "  %-14s %s\n", c->name, c->summary);
  return help ? 0 : 2;
}

int cmd_not_yet(const char *what) {
  fprintf(stderr, "thanosc %s: not written yet\n", what);
  return 2;
}

void cmd_server_flags(struct flag_def *out, struct server_opts *o,
                      unsigned sets, const char *http_default,
                      const char *grpc_default) {
  int n = 0;
  if (sets & CMD_FLAGS_HTTP) {
    out[n++] = (struct flag_def){"http-address", FLAG_STRING, &o->http_address,
        http_default, "Listen host:port for HTTP endpoints."};
    out[n++] = (struct flag_def){"http-grace-period", FLAG_DURATION,
        &o->http_grace_ms, "2m", "Time to wait after an interrupt received for HTTP Server."};
    out[n++] = (struct flag_def){"http.config", FLAG_STRING, NULL, "",
        "[EXPERIMENTAL] Path to the configuration file that can enable TLS or authentication for all HTTP endpoints.", NULL, FLAG_HIDDEN};
  }
  if (sets & CMD_FLAGS_GRPC) {
    out[n++] = (struct flag_def){"grpc-address", FLAG_STRING, &o->grpc_address,
        grpc_default, "Listen ip:port address for gRPC endpoints (StoreAPI). Make sure this address is routable from other components."};
    out[n++] = (struct flag_def){"grpc-grace-period", FLAG_DURATION,
        &o->grpc_grace_ms, "2m", "Time to wait after an interrupt received for GRPC Server."};
    out[n++] = (struct flag_def){"grpc-server-tls-cert", FLAG_STRING,
        &o->grpc_tls_cert, "", "TLS Certificate for gRPC server, leave blank to disable TLS"};
    out[n++] = (struct flag_def){"grpc-server-tls-key", FLAG_STRING,
        &o->grpc_tls_key, "", "TLS Key for the gRPC server, leave blank to disable TLS"};
    out[n++] = (struct flag_def){"grpc-server-tls-client-ca", FLAG_STRING,
        &o->grpc_tls_client_ca, "", "TLS CA to verify clients against. If no client CA is specified, there is no client verification on server side. (tls.NoClientCert)"};
    out[n++] = (struct flag_def){"grpc-server-tls-min-version", FLAG_STRING,
        &o->grpc_tls_min_version, "1.3", "TLS supported minimum version for gRPC server. If no version is specified, it'll default to 1.3. Allowed values: [\"1.0\", \"1.1\", \"1.2\", \"1.3\"]"};
    out[n++] = (struct flag_def){"grpc-server-max-connection-age", FLAG_DURATION,
        &o->grpc_max_connection_age_ms, "60m", "The grpc server max connection age. This controls how often to re-establish connections and redo TLS handshakes."};
  }
  if (sets & CMD_FLAGS_LOG) {
    out[n++] = (struct flag_def){"log.level", FLAG_ENUM, &o->log_level, "info",
        "Log filtering level.", "debug|info|warn|error"};
    out[n++] = (struct flag_def){"log.format", FLAG_ENUM, &o->log_format,
        "logfmt", "Log format to use. Possible options: logfmt or json.", "logfmt|json"};
    /* Global flags of every Thanos command: accepted so that command lines
     * keep working; thanosc has no tracing and no Go runtime to limit. */
    out[n++] = (struct flag_def){"tracing.config-file", FLAG_STRING, NULL,
        NULL, "Path to YAML file with tracing configuration. See format details: https://thanos.io/tip/thanos/tracing.md/#configuration"};
    out[n++] = (struct flag_def){"tracing.config", FLAG_STRING, NULL, NULL,
        "Alternative to 'tracing.config-file' flag (mutually exclusive). Content of YAML file with tracing configuration. See format details: https://thanos.io/tip/thanos/tracing.md/#configuration"};
    out[n++] = (struct flag_def){"enable-auto-gomemlimit", FLAG_BOOL, NULL,
        "false", "Enable go runtime to automatically limit memory consumption."};
    out[n++] = (struct flag_def){"auto-gomemlimit.ratio", FLAG_FLOAT, NULL,
        "0.9", "The ratio of reserved GOMEMLIMIT memory to the detected maximum container or system memory."};
  }
  if (sets & CMD_FLAGS_OBJSTORE) {
    out[n++] = (struct flag_def){"objstore.config-file", FLAG_STRING,
        &o->objstore_config_file, NULL,
        "Path to YAML file that contains object store configuration. See format details: https://thanos.io/tip/thanos/storage.md/#configuration"};
    out[n++] = (struct flag_def){"objstore.config", FLAG_STRING,
        &o->objstore_config, NULL,
        "Alternative to 'objstore.config-file' flag (mutually exclusive). Content of YAML file that contains object store configuration. See format details: https://thanos.io/tip/thanos/storage.md/#configuration"};
  }
  out[n] = (struct flag_def){0};
}

int cmd_server_opts_check(struct server_opts *o, const char *cmd) {
  if (o->log_level && tc_log_setup(o->log_level, o->log_format)) {
    fprintf(stderr, "%s: error: bad --log.level or --log.format\n", cmd);
    return 2;
  }
  if (o->objstore_config_file && o->objstore_config) {
    fprintf(stderr,
            "%s: error: --objstore.config-file and --objstore.config are "
            "mutually exclusive\n", cmd);
    return 2;
  }
  return 0;
}

/* The whole file at path; NULL after saying why, naming the flag. */
static char *read_text(const char *path, const char *cmd, const char *flag) {
  char *text;
  int rc = tc_read_file(path, 0, &text, NULL);
  if (rc) {
    fprintf(stderr, "%s: error: --%s: %s\n", cmd, flag, tc_errmsg(rc));
    return NULL;
  }
  return text;
}

char *cmd_objstore_yaml(struct server_opts *o, const char *cmd) {
  if (o->objstore_config)
    return xstrdup(o->objstore_config);
  if (!o->objstore_config_file) {
    fprintf(stderr, "%s: error: no object storage configured: give "
            "--objstore.config-file or --objstore.config\n", cmd);
    return NULL;
  }
  return read_text(o->objstore_config_file, cmd, "objstore.config-file");
}

int cmd_objstore_open(struct server_opts *o, const char *cmd,
                      struct objstore **out) {
  char *yaml = cmd_objstore_yaml(o, cmd);
  *out = NULL;
  if (!yaml)
    return 2;
  int rc = objstore_open(yaml, out);
  free(yaml);
  if (rc) {
    LOG_ERROR("opening the bucket", "err", tc_errmsg(rc));
    return 1;
  }
  return 0;
}

int cmd_relabel_config(const char *config, const char *file, const char *cmd,
                       struct store_relabel **out) {
  *out = NULL;
  if (config && file) {
    fprintf(stderr, "%s: error: --selector.relabel-config-file and "
            "--selector.relabel-config are mutually exclusive\n", cmd);
    return 2;
  }
  char *text = config ? xstrdup(config)
               : file   ? read_text(file, cmd, "selector.relabel-config-file")
                        : NULL;
  if (file && !text)
    return 2;
  if (!text)
    return 0;
  int rc = store_relabel_parse(text, out);
  free(text);
  if (rc) {
    fprintf(stderr, "%s: error: %s\n", cmd, tc_errmsg(rc));
    return 2;
  }
  return 0;
}

void cmd_flags_release(const struct flag_def *const *tables) {
  for (const struct flag_def *const *t = tables; *t; t++) {
    for (const struct flag_def *f = *t; f->name; f++) {
      if (!f->dst)
        continue;
      if (f->type == FLAG_STRING || f->type == FLAG_ENUM) {
        free(*(char **)f->dst);
        *(char **)f->dst = NULL;
      } else if (f->type == FLAG_STRINGS) {
        strlist_release(f->dst);
      }
    }
  }
}
