/*
 * sidecar.c - the `thanosc sidecar` role: Thanos's sidecar flags (same
 * names, defaults and help texts) and the call into src/sidecar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/log.h"
#include "thanosc/sidecar.h"
#include "thanosc/shipper.h"

#define SIDECAR_CMD "thanosc sidecar"

struct sidecar_flags {
  struct server_opts srv;
  char *prom_url, *tsdb_path, *meta_file, *hash_func;
  int64_t ready_timeout_ms, config_interval_ms, config_timeout_ms;
  int64_t min_time, limit_series, limit_samples, upload_concurrency;
  int64_t ship_interval_ms;
  int upload_compacted, force_samples;
  char *http_client_file, *http_client;
  /* accepted for drop-in compatibility, not implemented */
  char *reloader_cfg, *reloader_envsubst, *reloader_method, *reloader_proc;
  struct strlist reloader_rule_dirs;
  int64_t reloader_watch_ms, reloader_retry_ms;
  char *reqlog_file, *reqlog;
};

static const char sidecar_summary[] = "Sidecar for Prometheus server.";

#define SIDECAR_FLAGS_MAX 40

static void sidecar_flags(struct flag_def *f, struct sidecar_flags *o) {
  struct flag_def t[] = {
      {"prometheus.url", FLAG_STRING, &o->prom_url, "http://localhost:9090",
       "URL at which to reach Prometheus's API. For better performance use "
       "local network."},
      {"prometheus.ready_timeout", FLAG_DURATION, &o->ready_timeout_ms, "10m",
       "Maximum time to wait for the Prometheus instance to start up"},
      {"prometheus.get_config_interval", FLAG_DURATION,
       &o->config_interval_ms, "30s", "How often to get Prometheus config"},
      {"prometheus.get_config_timeout", FLAG_DURATION, &o->config_timeout_ms,
       "30s", "Timeout for getting Prometheus config"},
      {"prometheus.http-client-file", FLAG_STRING, &o->http_client_file, NULL,
       "Path to YAML file or string with http client configs. See Format "
       "details: https://thanos.io/tip/components/sidecar.md/#configuration."},
      {"prometheus.http-client", FLAG_STRING, &o->http_client, NULL,
       "Alternative to 'prometheus.http-client-file' flag (mutually "
       "exclusive). Content of YAML file or string with http client "
       "configs. See Format details: "
       "https://thanos.io/tip/components/sidecar.md/#configuration."},
      {"tsdb.path", FLAG_STRING, &o->tsdb_path, "./data",
       "Data directory of TSDB."},
      {"shipper.upload-compacted", FLAG_BOOL, &o->upload_compacted, "false",
       "If true shipper will try to upload compacted blocks as well. Useful "
       "for migration purposes. Works only if compaction is disabled on "
       "Prometheus. Do it once and then disable the flag when done."},
      CMD_FLAG_HASH_FUNC(&o->hash_func),
      {"shipper.meta-file-name", FLAG_STRING, &o->meta_file,
       SHIPPER_META_FILE, "the file to store shipper metadata in"},
      {"shipper.upload-concurrency", FLAG_INT, &o->upload_concurrency, "0",
       "Number of goroutines to use when uploading block files to object "
       "storage."},
      {"shipper.sync-interval", FLAG_DURATION, &o->ship_interval_ms, "30s",
       "How often the shipper looks for new blocks (thanosc, for tests).",
       NULL, FLAG_HIDDEN},
      {"prometheus.remote-read-samples", FLAG_BOOL, &o->force_samples,
       "false",
       "Ask remote read for SAMPLES only (thanosc, for tests and "
       "benchmarks).",
       NULL, FLAG_HIDDEN},
      {"store.limits.request-series", FLAG_INT, &o->limit_series, "0",
       "The maximum series allowed for a single Series request. The Series "
       "call fails if this limit is exceeded. 0 means no limit."},
      {"store.limits.request-samples", FLAG_INT, &o->limit_samples, "0",
       "The maximum samples allowed for a single Series request, The Series "
       "call fails if this limit is exceeded. 0 means no limit. NOTE: For "
       "efficiency the limit is internally implemented as 'chunks limit' "
       "considering each chunk contains a maximum of 120 samples."},
      {"reloader.config-file", FLAG_STRING, &o->reloader_cfg, "",
       "Config file watched by the reloader."},
      {"reloader.config-envsubst-file", FLAG_STRING, &o->reloader_envsubst,
       "", "Output file for environment variable substituted config file."},
      {"reloader.rule-dir", FLAG_STRINGS, &o->reloader_rule_dirs, NULL,
       "Rule directories for the reloader to refresh (repeated field)."},
      {"reloader.watch-interval", FLAG_DURATION, &o->reloader_watch_ms, "3m",
       "Controls how often reloader re-reads config and rules."},
      {"reloader.retry-interval", FLAG_DURATION, &o->reloader_retry_ms, "5s",
       "Controls how often reloader retries config reload in case of "
       "error."},
      {"reloader.method", FLAG_ENUM, &o->reloader_method, "http",
       "Method used to reload the configuration.", "http|signal"},
      {"reloader.process-name", FLAG_STRING, &o->reloader_proc, "prometheus",
       "Executable name used to match the process being reloaded when using "
       "the signal method."},
      {"request.logging-config-file", FLAG_STRING, &o->reqlog_file, NULL,
       "Path to YAML file with request logging configuration. See format "
       "details: https://thanos.io/tip/thanos/logging.md/#configuration"},
      {"request.logging-config", FLAG_STRING, &o->reqlog, NULL,
       "Alternative to 'request.logging-config-file' flag (mutually "
       "exclusive). Content of YAML file with request logging "
       "configuration. See format details: "
       "https://thanos.io/tip/thanos/logging.md/#configuration"},
      {"min-time", FLAG_TIME, &o->min_time, "0000-01-01T00:00:00Z",
       "Start of time range limit to serve. Thanos sidecar will serve only "
       "metrics, which happened later than this value. Option can be a "
       "constant time in RFC3339 format or time duration relative to "
       "current time, such as -1d or 2h45m. Valid duration units are ms, s, "
       "m, h, d, w, y."},
      {0},
  };
  memcpy(f, t, sizeof t);
}

int cmd_sidecar(int argc, char **argv) {
  struct sidecar_flags o = {0};
  struct flag_def shared[CMD_SERVER_FLAGS_MAX + 1];
  struct flag_def own[SIDECAR_FLAGS_MAX];
  char *yaml = NULL;
  cmd_server_flags(shared, &o.srv,
                   CMD_FLAGS_HTTP | CMD_FLAGS_GRPC | CMD_FLAGS_LOG |
                       CMD_FLAGS_OBJSTORE,
                   "0.0.0.0:10902", "0.0.0.0:10901");
  sidecar_flags(own, &o);
  const struct flag_def *tables[] = {shared, own, NULL};
  int rc = flags_parse(tables, SIDECAR_CMD, sidecar_summary, argc, argv, NULL);
  int code = rc == 1 ? 0 : rc;
  if (rc == 0)
    code = cmd_server_opts_check(&o.srv, SIDECAR_CMD);
  if (rc || code)
    goto out;
  if (strncmp(o.prom_url, "http://", 7) && strncmp(o.prom_url, "https://", 8)) {
    fprintf(stderr, SIDECAR_CMD ": error: --prometheus.url: \"%s\" is not an "
                                "http(s) URL\n", o.prom_url);
    code = 2;
    goto out;
  }
  if (o.http_client_file || o.http_client) {
    fprintf(stderr, SIDECAR_CMD ": error: --prometheus.http-client is not "
                                "supported yet\n");
    code = 2;
    goto out;
  }
  if ((o.reloader_cfg && *o.reloader_cfg) || o.reloader_rule_dirs.n)
    LOG_WARN("the config reloader is not implemented in thanosc: "
             "--reloader.* flags are ignored");
  if (o.reqlog_file || o.reqlog)
    LOG_WARN("request logging is not implemented in thanosc: "
             "--request.logging-config is ignored");
  if (o.limit_series < 0 || o.limit_samples < 0) {
    fprintf(stderr, SIDECAR_CMD ": error: --store.limits.* must not be "
                                "negative\n");
    code = 2;
    goto out;
  }
  if (o.srv.objstore_config_file || o.srv.objstore_config) {
    yaml = cmd_objstore_yaml(&o.srv, SIDECAR_CMD);
    if (!yaml) {
      code = 2;
      goto out;
    }
  }
  struct sidecar_opts so = {
      .prom_url = o.prom_url, .tsdb_path = o.tsdb_path,
      .ready_timeout_ms = o.ready_timeout_ms,
      .config_interval_ms = o.config_interval_ms > 0 ? o.config_interval_ms
                                                     : 30000,
      .config_timeout_ms = o.config_timeout_ms > 0 ? o.config_timeout_ms
                                                   : 30000,
      .min_time = o.min_time, .limit_series = o.limit_series,
      .limit_samples = o.limit_samples,
      .upload_compacted = o.upload_compacted,
      .shipper_meta_file = o.meta_file, .hash_func = o.hash_func,
      .shipper_interval_ms = o.ship_interval_ms > 0 ? o.ship_interval_ms
                                                    : 30000,
      .force_samples = o.force_samples, .objstore_yaml = yaml,
      .http_address = o.srv.http_address, .grpc_address = o.srv.grpc_address,
      .http_grace_ms = o.srv.http_grace_ms,
      .grpc_grace_ms = o.srv.grpc_grace_ms,
      .grpc_tls_cert = o.srv.grpc_tls_cert, .grpc_tls_key = o.srv.grpc_tls_key,
      .grpc_tls_client_ca = o.srv.grpc_tls_client_ca};
  code = sidecar_run(&so);
out:
  free(yaml);
  cmd_flags_release(tables);
  return code;
}
