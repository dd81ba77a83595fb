/*
 * query.c - the `thanosc query` role: Thanos's querier flags (same names,
 * defaults and help) and the wiring of its services on the runtime: the
 * querier (src/querier: endpoint set, fan-out, evaluation threads), its
 * Prometheus HTTP API on the HTTP server next to the built-in routes
 * (/metrics, /-/healthy, /-/ready), and its StoreAPI on the gRPC server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"
#include "thanosc/querier.h"
#include "thanosc/ui.h"
#include "thanosc/json.h"

#define QUERY_CMD "thanosc query"

struct query_cmd_opts {
  struct server_opts srv;
  int grpc_client_tls_secure, grpc_client_tls_skip_verify;
  char *grpc_client_tls_cert, *grpc_client_tls_key, *grpc_client_tls_ca;
  char *grpc_client_server_name, *grpc_compression;
  char *web_route_prefix, *web_external_prefix, *web_prefix_header;
  int web_disable_cors;
  int64_t query_timeout_ms;
  char *promql_engine, *query_mode;
  int64_t max_concurrent, max_concurrent_select, max_samples;
  int64_t lookback_delta_ms, default_eval_interval_ms, default_step_ms;
  int64_t metadata_default_range_ms;
  char *dedup_func;
  struct strlist replica_labels, selector_labels, endpoints, endpoints_strict;
  struct strlist endpoint_groups, stores, store_sd_files, features;
  int auto_downsampling, partial_response, dynamic_lookback, raw_counters;
  char *active_query_path;
  int64_t store_response_timeout_ms, store_unhealthy_timeout_ms;
  int64_t store_sd_interval_ms, store_sd_dns_interval_ms;
  char *endpoint_sd_config_file, *endpoint_sd_config;
  int64_t endpoint_sd_reload_ms;
  char *alert_query_url;
  char *tenant_header, *default_tenant, *tenant_label;
  int enforce_tenancy;
  char *tenant_cert_field;
  struct strlist partition_labels, endpoint_groups_strict;
  int enable_x_functions;
  int64_t store_limit_series, store_limit_samples;
  char *selector_relabel_file, *selector_relabel;
  char *request_logging_file, *request_logging;
};

static const char query_summary[] =
    "Query node exposing PromQL enabled Query API with data retrieved from "
    "multiple store nodes.";

#define QUERY_FLAGS_MAX 96

/* The querier's own flags; the shared http/grpc/log flags come first. */
static void query_flags(struct flag_def *f, struct query_cmd_opts *o) {
  struct flag_def t[] = {
      {"grpc-client-tls-secure", FLAG_BOOL, &o->grpc_client_tls_secure, "false",
       "Use TLS when talking to the gRPC server"},
      {"grpc-client-tls-skip-verify", FLAG_BOOL,
       &o->grpc_client_tls_skip_verify, "false",
       "Disable TLS certificate verification i.e self signed, signed by fake "
       "CA"},
      {"grpc-client-tls-cert", FLAG_STRING, &o->grpc_client_tls_cert, "",
       "TLS Certificates to use to identify this client to the server"},
      {"grpc-client-tls-key", FLAG_STRING, &o->grpc_client_tls_key, "",
       "TLS Key for the client's certificate"},
      {"grpc-client-tls-ca", FLAG_STRING, &o->grpc_client_tls_ca, "",
       "TLS CA Certificates to use to verify gRPC servers"},
      {"grpc-client-server-name", FLAG_STRING, &o->grpc_client_server_name, "",
       "Server name to verify the hostname on the returned gRPC "
       "certificates. See https://tools.ietf.org/html/rfc4366#section-3.1"},
      {"grpc-compression", FLAG_ENUM, &o->grpc_compression, "none",
       "Compression algorithm to use for gRPC requests to other clients. "
       "Must be one of: snappy, none",
       "snappy|none"},
      {"web.route-prefix", FLAG_STRING, &o->web_route_prefix, "",
       "Prefix for API and UI endpoints. This allows thanos UI to be served "
       "on a sub-path. Defaults to the value of --web.external-prefix. This "
       "option is analogous to --web.route-prefix of Prometheus."},
      {"web.external-prefix", FLAG_STRING, &o->web_external_prefix, "",
       "Static prefix for all HTML links and redirect URLs in the UI query "
       "web interface. Actual endpoints are still served on / or the "
       "web.route-prefix. This allows thanos UI to be served behind a "
       "reverse proxy that strips a URL sub-path."},
      {"web.prefix-header", FLAG_STRING, &o->web_prefix_header, "",
       "Name of HTTP request header used for dynamic prefixing of UI links "
       "and redirects. This option is ignored if web.external-prefix "
       "argument is set. Security risk: enable this option only if a "
       "reverse proxy in front of thanos is resetting the header."},
      {"web.disable-cors", FLAG_BOOL, &o->web_disable_cors, "false",
       "Whether to disable CORS headers to be set by Thanos. By default "
       "Thanos sets CORS headers to be allowed by all."},
      {"query.timeout", FLAG_DURATION, &o->query_timeout_ms, "2m",
       "Maximum time to process query by query node."},
      {"query.promql-engine", FLAG_ENUM, &o->promql_engine, "prometheus",
       "Default PromQL engine to use.", "prometheus|thanos"},
      {"query.mode", FLAG_ENUM, &o->query_mode, "local",
       "PromQL query mode. One of: local, distributed.", "local|distributed"},
      {"query.max-concurrent", FLAG_INT, &o->max_concurrent, "20",
       "Maximum number of queries processed concurrently by query node."},
      {"query.lookback-delta", FLAG_DURATION, &o->lookback_delta_ms, NULL,
       "The maximum lookback duration for retrieving metrics during "
       "expression evaluations. PromQL always evaluates the query for the "
       "certain timestamp (query range timestamps are deduced by step). "
       "Since scrape intervals might be different, PromQL looks back for "
       "given amount of time to get latest sample. If it exceeds the maximum "
       "lookback delta it assumes series is stale and returns none (a gap). "
       "This is why lookback delta should be set to at least 2 times of the "
       "slowest scrape interval. If unset it will use the promql default of "
       "5m."},
      {"query.max-concurrent-select", FLAG_INT, &o->max_concurrent_select, "4",
       "Maximum number of select requests made concurrently per a "
       "query."},
      {"query.max-samples", FLAG_INT, &o->max_samples, "50000000",
       "Maximum number of samples a single query can load into memory "
       "(thanosc; Prometheus's --query.max-samples).",
       NULL, FLAG_HIDDEN},
      {"deduplication.func", FLAG_ENUM, &o->dedup_func, "penalty",
       "Experimental. Deduplication algorithm for merging overlapping "
       "series. Possible values are: \"penalty\", \"chain\". If no value is "
       "specified, penalty based deduplication algorithm will be used. When "
       "set to chain, the default compact deduplication merger is used, "
       "which performs 1:1 deduplication for samples. At least one replica "
       "label has to be set via --query.replica-label flag.",
       "penalty|chain"},
      {"query.replica-label", FLAG_STRINGS, &o->replica_labels, NULL,
       "Labels to treat as a replica indicator along which data is "
       "deduplicated. Still you will be able to query without deduplication "
       "using 'dedup=false' parameter. Data includes time series, recording "
       "rules, and alerting rules. Flag may be specified multiple times as "
       "well as a comma separated list of labels."},
      {"query.metadata.default-time-range", FLAG_DURATION,
       &o->metadata_default_range_ms, "0s",
       "The default metadata time range duration for retrieving labels "
       "through Labels and Series API when the range parameters are not "
       "specified. The zero value means range covers the time since the "
       "beginning."},
      {"selector-label", FLAG_STRINGS, &o->selector_labels, NULL,
       "Query selector labels that will be exposed in info endpoint "
       "(repeated)."},
      {"query.auto-downsampling", FLAG_BOOL, &o->auto_downsampling, "false",
       "Enable automatic adjustment (step / 5) to what source of data should "
       "be used in store gateways if no max_source_resolution param is "
       "specified."},
      {"query.partial-response", FLAG_BOOL, &o->partial_response, "true",
       "Enable partial response for queries if no partial_response param is "
       "specified. --no-query.partial-response for disabling."},
      {"query.active-query-path", FLAG_STRING, &o->active_query_path, "",
       "Directory to log currently active queries in the queries.active "
       "file."},
      {"enable-feature", FLAG_STRINGS, &o->features, NULL,
       "Comma separated feature names to enable. Valid options for now: "
       "promql-experimental-functions (enables promql experimental "
       "functions in query)"},
      {"query.default-evaluation-interval", FLAG_DURATION,
       &o->default_eval_interval_ms, "1m",
       "Set default evaluation interval for sub queries."},
      {"query.default-step", FLAG_DURATION, &o->default_step_ms, "1s",
       "Set default step for range queries. Default step is only used when "
       "step is not set in UI. In such cases, Thanos UI will use default "
       "step to calculate resolution (resolution = max(rangeSeconds / 250, "
       "defaultStep)). This will not work from Grafana, but Grafana has "
       "__step variable which can be used."},
      {"store.response-timeout", FLAG_DURATION, &o->store_response_timeout_ms,
       "0ms",
       "If a Store doesn't send any data in this specified duration then a "
       "Store will be ignored and partial data will be returned if it's "
       "enabled. 0 disables timeout."},
      {"alert.query-url", FLAG_STRING, &o->alert_query_url, NULL,
       "The external Thanos Query URL that would be set in all alerts "
       "'Source' field."},
      {"query.tenant-header", FLAG_STRING, &o->tenant_header, "THANOS-TENANT",
       "HTTP header to determine tenant."},
      {"query.default-tenant-id", FLAG_STRING, &o->default_tenant,
       "default-tenant",
       "Default tenant ID to use if tenant header is not present"},
      {"query.enforce-tenancy", FLAG_BOOL, &o->enforce_tenancy, "false",
       "Enforce tenancy on Query APIs. Responses are returned only if the "
       "label value of the configured tenant-label-name and the value of the "
       "tenant header matches."},
      {"query.tenant-label-name", FLAG_STRING, &o->tenant_label, "tenant_id",
       "Label name to use when enforcing tenancy (if --query.enforce-tenancy "
       "is enabled)."},
      {"store.sd-dns-interval", FLAG_DURATION, &o->store_sd_dns_interval_ms,
       "30s", "Interval between DNS resolutions."},
      {"store.unhealthy-timeout", FLAG_DURATION, &o->store_unhealthy_timeout_ms,
       "5m",
       "Timeout before an unhealthy store is cleaned from the store UI "
       "page."},
      {"endpoint.sd-config-file", FLAG_STRING, &o->endpoint_sd_config_file,
       NULL, "Path to Config File with endpoint definitions"},
      {"endpoint.sd-config", FLAG_STRING, &o->endpoint_sd_config, NULL,
       "Alternative to 'endpoint.sd-config-file' flag (mutually exclusive). "
       "Content of Config File with endpoint definitions"},
      {"endpoint.sd-config-reload-interval", FLAG_DURATION,
       &o->endpoint_sd_reload_ms, "5m",
       "Interval between endpoint config refreshes"},
      {"store.sd-files", FLAG_STRINGS, &o->store_sd_files, NULL,
       "(Deprecated) Path to files that contain addresses of store API "
       "servers. The path can be a glob pattern (repeatable)."},
      {"store.sd-interval", FLAG_DURATION, &o->store_sd_interval_ms, "5m",
       "(Deprecated) Refresh interval to re-read file SD files. It is used "
       "as a resync fallback."},
      {"endpoint", FLAG_STRINGS, &o->endpoints, NULL,
       "(Deprecated): Addresses of statically configured Thanos API servers "
       "(repeatable). The scheme may be prefixed with 'dns+' or 'dnssrv+' to "
       "detect Thanos API servers through respective DNS lookups."},
      {"endpoint-group", FLAG_STRINGS, &o->endpoint_groups, NULL,
       "(Deprecated, Experimental): DNS name of statically configured Thanos "
       "API server groups (repeatable). Targets resolved from the DNS name "
       "will be queried in a round-robin, instead of a fanout manner."},
      {"endpoint-strict", FLAG_STRINGS, &o->endpoints_strict, NULL,
       "(Deprecated): Addresses of only statically configured Thanos API "
       "servers that are always used, even if the health check fails. "
       "Useful if you have a caching layer on top."},
      {"endpoint-group-strict", FLAG_STRINGS, &o->endpoint_groups_strict, NULL,
       "(Deprecated, Experimental): DNS name of statically configured Thanos "
       "API server groups (repeatable) that are always used, even if the "
       "health check fails."},
      {"query.enable-x-functions", FLAG_BOOL, &o->enable_x_functions, "false",
       "Whether to enable extended rate functions (xrate, xincrease and "
       "xdelta). Only has effect when used with Thanos engine."},
      {"query.conn-metric.label", FLAG_STRINGS, NULL, NULL,
       "Optional selection of query connection metric labels to be collected "
       "from endpoint set"},
      {"query.partition-label", FLAG_STRINGS, &o->partition_labels, NULL,
       "Labels that partition the leaf queriers. This is used to scope down "
       "the labelsets of leaf queriers when using the distributed query "
       "mode. If set, these labels must form a partition of the leaf "
       "queriers. Partition labels must not intersect with replica labels. "
       "Every TSDB of a leaf querier must have these labels."},
      {"selector.relabel-config-file", FLAG_STRING, &o->selector_relabel_file,
       NULL,
       "Path to YAML file with relabeling configuration that allows "
       "selecting blocks to query based on their external labels. It "
       "follows the Thanos sharding relabel-config syntax. For format "
       "details see: https://thanos.io/tip/thanos/sharding.md/#relabelling"},
      {"selector.relabel-config", FLAG_STRING, &o->selector_relabel, NULL,
       "Alternative to 'selector.relabel-config-file' flag (mutually "
       "exclusive). Content of YAML file with relabeling configuration that "
       "allows selecting blocks to query based on their external labels."},
      {"request.logging-config-file", FLAG_STRING, &o->request_logging_file,
       NULL,
       "Path to YAML file with request logging configuration. See format "
       "details: https://thanos.io/tip/thanos/logging.md/#configuration"},
      {"request.logging-config", FLAG_STRING, &o->request_logging, NULL,
       "Alternative to 'request.logging-config-file' flag (mutually "
       "exclusive). Content of YAML file with request logging "
       "configuration. See format details: "
       "https://thanos.io/tip/thanos/logging.md/#configuration"},
      {"query.telemetry.request-duration-seconds-quantiles", FLAG_STRINGS, NULL,
       NULL,
       "The quantiles for exporting metrics about the request duration "
       "quantiles."},
      {"query.telemetry.request-samples-quantiles", FLAG_STRINGS, NULL, NULL,
       "The quantiles for exporting metrics about the samples count "
       "quantiles."},
      {"query.telemetry.request-series-seconds-quantiles", FLAG_STRINGS, NULL,
       NULL,
       "The quantiles for exporting metrics about the series count "
       "quantiles."},
      {"query.tenant-certificate-field", FLAG_STRING, &o->tenant_cert_field, "",
       "Use TLS client's certificate field to determine tenant for write "
       "requests. Must be one of organization, organizationalUnit or "
       "commonName. This setting will cause the query.tenant-header flag "
       "value to be ignored."},
      {"store.limits.request-series", FLAG_INT, &o->store_limit_series, "0",
       "The maximum series allowed for a single Series request. The Series "
       "call fails if this limit is exceeded. 0 means no limit."},
      {"store.limits.request-samples", FLAG_INT, &o->store_limit_samples, "0",
       "The maximum samples allowed for a single Series request, The Series "
       "call fails if this limit is exceeded. 0 means no limit. NOTE: For "
       "efficiency the limit is internally implemented as 'chunks limit' "
       "considering each chunk contains a maximum of 120 samples."},
      /* Hidden or deprecated in Thanos: accepted so that existing command
       * lines keep working. */
      {"store", FLAG_STRINGS, &o->stores, NULL,
       "Deprecation Warning - This flag is deprecated and replaced with "
       "`endpoint`. Addresses of statically configured store API servers "
       "(repeatable).",
       NULL, FLAG_HIDDEN},
      {"store-strict", FLAG_STRINGS, NULL, NULL,
       "Deprecated, replaced with `endpoint-strict`.", NULL, FLAG_HIDDEN},
      {"rule", FLAG_STRINGS, NULL, NULL,
       "Deprecated, replaced with `endpoint`.", NULL, FLAG_HIDDEN},
      {"metadata", FLAG_STRINGS, NULL, NULL,
       "Deprecated, replaced with `endpoint`.", NULL, FLAG_HIDDEN},
      {"exemplar", FLAG_STRINGS, NULL, NULL,
       "Deprecated, replaced with `endpoint`.", NULL, FLAG_HIDDEN},
      {"target", FLAG_STRINGS, NULL, NULL,
       "Deprecated, replaced with `endpoint`.", NULL, FLAG_HIDDEN},
      {"log.request.decision", FLAG_STRING, NULL, "",
       "Deprecated, replaced with `request.logging-config`.", NULL,
       FLAG_HIDDEN},
      {"query.dynamic-lookback-delta", FLAG_BOOL, &o->dynamic_lookback, "true",
       "Allow for larger lookback duration for queries based on resolution.",
       NULL, FLAG_HIDDEN},
      {"query.instant.default.max_source_resolution", FLAG_DURATION, NULL, "0s",
       "Default value for max_source_resolution for instant queries.", NULL,
       FLAG_HIDDEN},
      {"store.sd-dns-resolver", FLAG_STRING, NULL, "miekgdns",
       "Resolver to use. Possible options: [golang, miekgdns]", NULL,
       FLAG_HIDDEN},
      {"endpoint.info-timeout", FLAG_DURATION, NULL, "5s",
       "Timeout of gRPC Info requests.", NULL, FLAG_HIDDEN},
      {"rule.partial-response", FLAG_BOOL, NULL, "true",
       "Enable partial response for rules endpoint.", NULL, FLAG_HIDDEN},
      {"target.partial-response", FLAG_BOOL, NULL, "true",
       "Enable partial response for targets endpoint.", NULL, FLAG_HIDDEN},
      {"metric-metadata.partial-response", FLAG_BOOL, NULL, "true",
       "Enable partial response for metric metadata endpoint.", NULL,
       FLAG_HIDDEN},
      {"exemplar.partial-response", FLAG_BOOL, NULL, "true",
       "Enable partial response for exemplar endpoint.", NULL, FLAG_HIDDEN},
      {"query.raw-counters", FLAG_BOOL, &o->raw_counters, "true",
       "thanosc: read raw chunks under rate/increase/irate/resets as "
       "Prometheus does (--no-query.raw-counters: through Thanos's "
       "counter-reset iterator, where resets() counts none).",
       NULL, FLAG_HIDDEN},
      {"grpc.proxy-strategy", FLAG_ENUM, NULL, "eager",
       "Strategy to use when proxying Series requests to leaf nodes.",
       "eager|lazy", FLAG_HIDDEN},
      {0},
  };
  if (TC_ARRAY_SIZE(t) > QUERY_FLAGS_MAX)
    TC_BUG("query: %zu flags, room for %d", TC_ARRAY_SIZE(t), QUERY_FLAGS_MAX);
  memcpy(f, t, sizeof t);
}

/* A service that marks the process ready once the services before it
 * started, and not ready when the stop begins. */
static int ready_start(struct service *svc, struct runtime *rt) {
  (void)svc;
  runtime_set_ready(rt, 1);
  LOG_INFO("changing probe status", "status", "ready");
  return 0;
}

static void ready_stop(struct service *svc, service_stopped_fn *done) {
  done(svc);
}

/*
 * The gRPC server on --grpc-address as a runtime service, serving the
 * querier's StoreAPI and Info.
 */
struct query_grpc {
  struct service svc;
  struct grpc_server *srv;
  struct grpc_server_opts opts;
  const struct grpc_method *methods;
  service_stopped_fn *done;
};

static int grpc_start(struct service *svc, struct runtime *rt) {
  struct query_grpc *g = svc->data;
  int rc = grpc_server_new(rt->loop, g->methods, &g->opts, &g->srv);
  if (rc == 0) {
    char port[16];
    snprintf(port, sizeof port, "%d", grpc_server_port(g->srv));
    LOG_INFO("listening for serving gRPC", "service", "gRPC/server", "address",
             g->opts.address, "port", port);
  }
  return rc;
}

static void grpc_stopped(struct grpc_server *s, void *data) {
  (void)s;
  struct query_grpc *g = data;
  g->done(&g->svc);
}

static void grpc_stop(struct service *svc, service_stopped_fn *done) {
  struct query_grpc *g = svc->data;
  g->done = done;
  grpc_server_stop(g->srv, grpc_stopped, g);
}

/*
 * Thanos reads repeatable label flags as "a,b" lists too: split on commas,
 * trim spaces, drop empty names (--query.replica-label=replica,az).
 */
static void split_label_flags(struct strlist *l) {
  struct strlist out = {0};
  for (size_t i = 0; i < l->n; i++) {
    char *save = NULL, *copy = xstrdup(l->v[i]);
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
      while (*t == ' ' || *t == '\t')
        t++;
      size_t n = strlen(t);
      while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = '\0';
      if (n)
        strlist_push(&out, t);
    }
    free(copy);
  }
  strlist_release(l);
  *l = out;
}

static const char *nonempty(const char *s) {
  return s && *s ? s : NULL;
}

/* The querier as a service: nothing to start (it was created with the
 * loop), stopped last so that HTTP and gRPC requests drain first. */
struct query_svc {
  struct service svc;
  struct querier *q;
  service_stopped_fn *done;
};

static int querier_svc_start(struct service *svc, struct runtime *rt) {
  (void)svc;
  (void)rt;
  return 0;
}

static void querier_svc_stopped(void *data) {
  struct query_svc *s = data;
  s->done(&s->svc);
}

static void querier_svc_stop(struct service *svc, service_stopped_fn *done) {
  struct query_svc *s = svc->data;
  s->done = done;
  querier_stop(s->q, querier_svc_stopped, s);
}

/* /api/v1/status/flags: every flag with its value as a string. */
static char *flags_json(const struct flag_def *const *tables) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_obj_begin(&w);
  for (const struct flag_def *const *t = tables; *t; t++) {
    for (const struct flag_def *f = *t; f->name; f++) {
      char v[64] = "";
      const char *val = v;
      struct tc_buf list = TC_BUF_INIT;
      if (!f->dst) {
        val = f->def ? f->def : "";
      } else if (f->type == FLAG_STRING || f->type == FLAG_ENUM) {
        val = *(char **)f->dst ? *(char **)f->dst : "";
      } else if (f->type == FLAG_BOOL) {
        val = *(int *)f->dst ? "true" : "false";
      } else if (f->type == FLAG_INT) {
        snprintf(v, sizeof v, "%lld", (long long)*(int64_t *)f->dst);
      } else if (f->type == FLAG_DURATION) {
        format_duration_ms(*(int64_t *)f->dst, v, sizeof v);
      } else if (f->type == FLAG_STRINGS) {
        const struct strlist *l = f->dst;
        for (size_t i = 0; i < l->n; i++)
          tc_buf_addf(&list, "%s%s", i ? "," : "", l->v[i]);
        val = list.data ? list.data : "";
      } else {
        val = f->def ? f->def : "";
      }
      jsonw_key(&w, f->name);
      jsonw_cstr(&w, val);
      tc_buf_release(&list);
    }
  }
  jsonw_obj_end(&w);
  jsonw_finish(&w);
  return tc_buf_detach(&b, NULL);
}

/* Wires the services on the runtime and runs until stopped: exit code. */
static int query_run(struct query_cmd_opts *o,
                     const struct flag_def *const *tables) {
  struct runtime rt;
  int rc = runtime_init(&rt);
  if (rc < 0) {
    LOG_ERROR("runtime", "err", tc_errmsg(rc));
    return 1;
  }
  metrics_register_process();
  int code = 1;
  struct http_server *http = NULL;
  http_server_new(rt.loop,
                  &(struct http_server_opts){.address = o->srv.http_address,
                                             .grace_ms = o->srv.http_grace_ms,
                                             .rt = &rt},
                  &http);
  struct query_grpc grpc = {
      .opts = {.address = o->srv.grpc_address,
               .tls_cert = nonempty(o->srv.grpc_tls_cert),
               .tls_key = nonempty(o->srv.grpc_tls_key),
               .tls_client_ca = nonempty(o->srv.grpc_tls_client_ca),
               .grace_ms = o->srv.grpc_grace_ms}};
  grpc.svc = (struct service){.name = "grpc",
                              .start = grpc_start,
                              .stop = grpc_stop,
                              .data = &grpc,
                              .grace_ms = o->srv.grpc_grace_ms};
  struct service ready = {
      .name = "prober", .start = ready_start, .stop = ready_stop};
  struct grpc_client_opts copts = {
      .tls = o->grpc_client_tls_secure,
      .tls_cert = nonempty(o->grpc_client_tls_cert),
      .tls_key = nonempty(o->grpc_client_tls_key),
      .tls_ca = nonempty(o->grpc_client_tls_ca),
      .server_name = nonempty(o->grpc_client_server_name),
      .tls_skip_verify = o->grpc_client_tls_skip_verify,
      .compression = o->grpc_compression};
  struct strlist eps = {0};
  for (size_t i = 0; i < o->endpoints.n; i++)
    strlist_push(&eps, o->endpoints.v[i]);
  for (size_t i = 0; i < o->stores.n; i++)
    strlist_push(&eps, o->stores.v[i]);
  char *fj = flags_json(tables);
  struct querier_config qc = {
      .endpoints = (const char *const *)eps.v,
      .nendpoints = eps.n,
      .strict = (const char *const *)o->endpoints_strict.v,
      .nstrict = o->endpoints_strict.n,
      .sd_file = nonempty(o->endpoint_sd_config_file),
      .sd_inline = nonempty(o->endpoint_sd_config),
      .sd_reload_ms = o->endpoint_sd_reload_ms,
      .dns_interval_ms = o->store_sd_dns_interval_ms,
      .unhealthy_timeout_ms = o->store_unhealthy_timeout_ms,
      .response_timeout_ms = o->store_response_timeout_ms,
      .client = &copts,
      .route_prefix = nonempty(o->web_route_prefix)
                          ? o->web_route_prefix
                          : nonempty(o->web_external_prefix),
      .query_timeout_ms = o->query_timeout_ms,
      .max_concurrent = o->max_concurrent,
      .max_samples = o->max_samples,
      .lookback_ms = o->lookback_delta_ms,
      .dynamic_lookback = o->dynamic_lookback,
      .raw_counters = o->raw_counters,
      .dedup_algo = strcmp(o->dedup_func, "chain") == 0 ? QDEDUP_CHAIN
                                                        : QDEDUP_PENALTY,
      .selector_labels = (const char *const *)o->selector_labels.v,
      .nselector_labels = o->selector_labels.n,
      .flags_json = fj,
  };
  for (size_t i = 0; i < o->features.n; i++)
    if (strstr(o->features.v[i], "promql-experimental-functions"))
      qc.experimental_functions = 1;
  qc.defaults.partial_response = o->partial_response;
  qc.defaults.replica_labels =
      (struct qstrs){(const char **)o->replica_labels.v, o->replica_labels.n};
  qc.defaults.auto_downsampling = o->auto_downsampling;
  qc.defaults.default_step_ns = o->default_step_ms * 1000000;
  qc.defaults.metadata_range_ns = o->metadata_default_range_ms * 1000000;
  qc.defaults.engine = strcmp(o->promql_engine, "thanos") == 0
                           ? QUERY_ENGINE_THANOS
                           : QUERY_ENGINE_PROMETHEUS;
  struct querier *q = NULL;
  struct query_svc qsvc = {0};
  rc = querier_new(rt.loop, &qc, &q);
  if (rc < 0) {
    LOG_ERROR("querier", "err", tc_errmsg(rc));
    goto out;
  }
  qsvc.q = q;
  qsvc.svc = (struct service){.name = "querier",
                              .start = querier_svc_start,
                              .stop = querier_svc_stop,
                              .data = &qsvc};
  grpc.methods = querier_grpc_methods(q);
  rc = http_server_add_builtin_routes(http);
  if (rc == 0)
    rc = querier_http_routes(q, http);
  if (rc == 0)
    rc = ui_register_routes(http, qc.route_prefix);
  if (rc < 0) {
    LOG_ERROR("http routes", "err", tc_errmsg(rc));
    goto out;
  }
  runtime_add(&rt, &qsvc.svc);
  /* Started in this order, stopped in reverse: not ready first, then
   * gRPC drains, then HTTP (so probes answer until the end). */
  runtime_add(&rt, http_server_service(http));
  runtime_add(&rt, &grpc.svc);
  runtime_add(&rt, &ready);
  struct tc_buf labels = TC_BUF_INIT;
  for (size_t i = 0; i < o->replica_labels.n; i++)
    tc_buf_addf(&labels, "%s%s", i ? "," : "", o->replica_labels.v[i]);
  LOG_INFO("starting query node", "replica_labels",
           labels.data ? labels.data : "");
  tc_buf_release(&labels);
  code = runtime_run(&rt);
  if (code == 0)
    LOG_INFO("exiting");
out:
  runtime_release(&rt);
  http_server_free(http);
  if (grpc.srv)
    grpc_server_free(grpc.srv);
  querier_free(q);
  free(fj);
  strlist_release(&eps);
  return code;
}

int cmd_query(int argc, char **argv) {
  struct query_cmd_opts o = {0};
  struct flag_def shared[CMD_SERVER_FLAGS_MAX + 1];
  struct flag_def own[QUERY_FLAGS_MAX];
  cmd_server_flags(shared, &o.srv,
                   CMD_FLAGS_HTTP | CMD_FLAGS_GRPC | CMD_FLAGS_LOG,
                   "0.0.0.0:10902", "0.0.0.0:10901");
  query_flags(own, &o);
  const struct flag_def *tables[] = {shared, own, NULL};
  int rc = flags_parse(tables, QUERY_CMD, query_summary, argc, argv, NULL);
  int code = rc == 1 ? 0 : rc;
  if (rc == 0)
    code = cmd_server_opts_check(&o.srv, QUERY_CMD);
  if (rc || code)
    goto out;
  const struct {
    const char *name, *file, *inline_;
  } exclusive[] = {
      {"endpoint.sd-config", o.endpoint_sd_config_file, o.endpoint_sd_config},
      {"selector.relabel-config", o.selector_relabel_file, o.selector_relabel},
      {"request.logging-config", o.request_logging_file, o.request_logging},
  };
  for (size_t i = 0; i < TC_ARRAY_SIZE(exclusive); i++) {
    if (exclusive[i].file && exclusive[i].inline_) {
      fprintf(stderr,
              QUERY_CMD ": error: --%s-file and --%s are mutually exclusive\n",
              exclusive[i].name, exclusive[i].name);
      code = 2;
      goto out;
    }
  }
  if (o.max_concurrent <= 0) {
    fprintf(stderr,
            QUERY_CMD ": error: --query.max-concurrent must be "
                      "positive, got %lld\n",
            (long long)o.max_concurrent);
    code = 2;
    goto out;
  }

  split_label_flags(&o.replica_labels);
  code = query_run(&o, tables);
out:
  cmd_flags_release(tables);
  return code;
}
