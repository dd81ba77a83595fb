/*
 * store.c - the `thanosc store` role: Thanos's store gateway flags (same
 * names and defaults) and the wiring of its services on the runtime: the
 * HTTP server (/metrics, probes), the block sync (ready after the first
 * one) and the gRPC StoreAPI over the bucket (src/store/).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "store/storesvc.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"

#define STORE_CMD "thanosc store"

struct store_opts {
  struct server_opts srv;
  char *data_dir;
  int64_t sync_ms, consistency_delay_ms, ignore_deletion_marks_delay_ms;
  int64_t block_sync_concurrency, block_meta_fetch_concurrency;
  int64_t min_time, max_time;
  uint64_t index_cache_size, chunk_pool_size;
  char *index_cache_config, *index_cache_config_file;
  int64_t series_max_concurrency;
  int64_t request_series, request_samples;
  int64_t series_sample_limit, touched_series_limit;
  uint64_t downloaded_bytes_limit;
  char *relabel_config, *relabel_config_file;
  int disable_caching, lazy_reader, web_disable, web_disable_cors;
  char *web_external_prefix, *web_prefix_header;
  char *tracing_config, *tracing_config_file;
  char *request_logging_config, *request_logging_config_file;
};

static const char store_summary[] =
    "Store node giving access to blocks in a bucket provider. Now supported "
    "GCS, S3, Azure, Swift, Tencent COS and Aliyun OSS.";

static void store_flags(struct flag_def *f, struct store_opts *o) {
  struct flag_def t[] = {
      {"data-dir", FLAG_STRING, &o->data_dir, "./data",
       "Local data directory used for caching purposes (index-header, in-mem "
       "cache items and meta.jsons). If removed, no data will be lost, just "
       "store will have to rebuild the cache. NOTE: Putting raw blocks here "
       "will not cause the store to read them. For such use cases use "
       "Prometheus + sidecar. Ignored if --disable-caching-index-header-file "
       "option is specified."},
      {"disable-caching-index-header-file", FLAG_BOOL, &o->disable_caching,
       "false",
       "Disable caching purposes (index-header, in-mem cache items and "
       "meta.jsons)."},
      {"index-cache-size", FLAG_BYTES, &o->index_cache_size, "250MB",
       "Maximum size of items held in the in-memory index cache. Ignored if "
       "--index-cache.config or --index-cache.config-file option is "
       "specified."},
      {"index-cache.config-file", FLAG_STRING, &o->index_cache_config_file,
       NULL,
       "Path to YAML file that contains index cache configuration. See "
       "format details: https://thanos.io/tip/components/store.md/#index-cache"},
      {"index-cache.config", FLAG_STRING, &o->index_cache_config, NULL,
       "Alternative to 'index-cache.config-file' flag (mutually exclusive). "
       "Content of YAML file that contains index cache configuration. See "
       "format details: https://thanos.io/tip/components/store.md/#index-cache"},
      {"chunk-pool-size", FLAG_BYTES, &o->chunk_pool_size, "2GB",
       "Maximum size of concurrently allocatable bytes reserved strictly to "
       "reuse for chunks in memory."},
      {"store.grpc.touched-series-limit", FLAG_INT, &o->touched_series_limit,
       "0",
       "Maximum amount of touched series returned via a single Series call. "
       "The Series call fails if this limit is exceeded. 0 means no limit."},
      {"store.grpc.series-sample-limit", FLAG_INT, &o->series_sample_limit,
       "0",
       "Maximum amount of samples returned via a single Series call. The "
       "Series call fails if this limit is exceeded. 0 means no limit. NOTE: "
       "For efficiency the limit is internally implemented as 'chunks limit' "
       "considering each chunk contains 120 samples (it's the max number of "
       "samples each chunk can contain), so the actual number of samples "
       "might be lower, even though the maximum could be hit."},
      {"store.limits.request-series", FLAG_INT, &o->request_series, "0",
       "The maximum series allowed for a single Series request. The Series "
       "call fails if this limit is exceeded. 0 means no limit."},
      {"store.limits.request-samples", FLAG_INT, &o->request_samples, "0",
       "The maximum samples allowed for a single Series request, The Series "
       "call fails if this limit is exceeded. 0 means no limit. NOTE: For "
       "efficiency the limit is internally implemented as 'chunks limit' "
       "considering each chunk contains a maximum of 120 samples."},
      {"store.grpc.downloaded-bytes-limit", FLAG_BYTES,
       &o->downloaded_bytes_limit, "0",
       "Maximum amount of downloaded (either fetched or touched) bytes in a "
       "single Series/LabelNames/LabelValues call. The Series call fails if "
       "this limit is exceeded. 0 means no limit."},
      {"store.grpc.series-max-concurrency", FLAG_INT,
       &o->series_max_concurrency, "20",
       "Maximum number of concurrent Series calls."},
      {"sync-block-duration", FLAG_DURATION, &o->sync_ms, "3m",
       "Repeat interval for syncing the blocks between local and remote "
       "view."},
      {"block-sync-concurrency", FLAG_INT, &o->block_sync_concurrency, "20",
       "Number of goroutines to use when constructing index-cache.json "
       "blocks from object storage. Must be equal or greater than 1."},
      {"block-meta-fetch-concurrency", FLAG_INT,
       &o->block_meta_fetch_concurrency, "32",
       "Number of goroutines to use when fetching block metadata from object "
       "storage."},
      {"min-time", FLAG_TIME, &o->min_time, "0000-01-01T00:00:00Z",
       "Start of time range limit to serve. Thanos Store will serve only "
       "metrics, which happened later than this value. Option can be a "
       "constant time in RFC3339 format or time duration relative to current "
       "time, such as -1d or 2h45m. Valid duration units are ms, s, m, h, d, "
       "w, y."},
      {"max-time", FLAG_TIME, &o->max_time, "9999-12-31T23:59:59Z",
       "End of time range limit to serve. Thanos Store will serve only "
       "blocks, which happened earlier than this value. Option can be a "
       "constant time in RFC3339 format or time duration relative to current "
       "time, such as -1d or 2h45m. Valid duration units are ms, s, m, h, d, "
       "w, y."},
      {"selector.relabel-config-file", FLAG_STRING, &o->relabel_config_file,
       NULL,
       "Path to YAML file that contains relabeling configuration that allows "
       "selecting blocks. It follows native Prometheus relabel-config "
       "syntax. See format details: https://prometheus.io/docs/prometheus/"
       "latest/configuration/configuration/#relabel_config"},
      {"selector.relabel-config", FLAG_STRING, &o->relabel_config, NULL,
       "Alternative to 'selector.relabel-config-file' flag (mutually "
       "exclusive). Content of YAML file that contains relabeling "
       "configuration that allows selecting blocks. It follows native "
       "Prometheus relabel-config syntax. See format details: "
       "https://prometheus.io/docs/prometheus/latest/configuration/"
       "configuration/#relabel_config"},
      {"consistency-delay", FLAG_DURATION, &o->consistency_delay_ms, "0s",
       "Minimum age of all blocks before they are being read. Set it to safe "
       "value (e.g 30m) if your object storage is eventually consistent. GCS "
       "and S3 are (roughly) strongly consistent."},
      {"ignore-deletion-marks-delay", FLAG_DURATION,
       &o->ignore_deletion_marks_delay_ms, "24h",
       "Duration after which the blocks marked for deletion will be filtered "
       "out while fetching blocks. The idea of ignore-deletion-marks-delay is "
       "to ignore blocks that are marked for deletion with some delay. This "
       "ensures store can still serve blocks that are meant to be deleted "
       "but do not have a replacement yet. If delete-delay duration is "
       "provided to compactor or bucket verify component, it will upload "
       "deletion-mark.json file to mark after what duration the block should "
       "be deleted rather than deleting the block straight away. If "
       "delete-delay is non-zero for compactor or bucket verify component, "
       "ignore-deletion-marks-delay should be set to (delete-delay)/2 so "
       "that blocks marked for deletion are filtered out while fetching "
       "blocks before being deleted from bucket. Default is 24h, half of the "
       "default value for --delete-delay on compactor."},
      {"store.enable-index-header-lazy-reader", FLAG_BOOL, &o->lazy_reader,
       "false",
       "If true, Store Gateway will lazy memory map index-header only once "
       "the block is required by a query."},
      {"web.disable", FLAG_BOOL, &o->web_disable, "false",
       "Disable Block Viewer UI."},
      {"web.disable-cors", FLAG_BOOL, &o->web_disable_cors, "false",
       "Whether to disable CORS headers to be set by Thanos. By default "
       "Thanos sets CORS headers to be allowed by all."},
      {"web.external-prefix", FLAG_STRING, &o->web_external_prefix, "",
       "Static prefix for all HTML links and redirect URLs in the bucket web "
       "UI interface. Actual endpoints are still served on / or the "
       "web.route-prefix. This allows thanos bucket web UI to be served "
       "behind a reverse proxy that strips a URL sub-path."},
      {"web.prefix-header", FLAG_STRING, &o->web_prefix_header, "",
       "Name of HTTP request header used for dynamic prefixing of UI links "
       "and redirects. This option is ignored if web.external-prefix "
       "argument is set. Security risk: enable this option only if a reverse "
       "proxy in front of thanos is resetting the header."},
      {"tracing.config-file", FLAG_STRING, &o->tracing_config_file, NULL,
       "Path to YAML file with tracing configuration. See format details: "
       "https://thanos.io/tip/thanos/tracing.md/#configuration"},
      {"tracing.config", FLAG_STRING, &o->tracing_config, NULL,
       "Alternative to 'tracing.config-file' flag (mutually exclusive). "
       "Content of YAML file with tracing configuration. See format details: "
       "https://thanos.io/tip/thanos/tracing.md/#configuration"},
      {"request.logging-config-file", FLAG_STRING,
       &o->request_logging_config_file, NULL,
       "Path to YAML file with request logging configuration. See format "
       "details: https://thanos.io/tip/thanos/logging.md/#configuration"},
      {"request.logging-config", FLAG_STRING, &o->request_logging_config,
       NULL,
       "Alternative to 'request.logging-config-file' flag (mutually "
       "exclusive). Content of YAML file with request logging configuration. "
       "See format details: "
       "https://thanos.io/tip/thanos/logging.md/#configuration"},
      {0},
  };
  memcpy(f, t, sizeof t);
}

#define STORE_FLAGS_MAX 40

int cmd_store(int argc, char **argv) {
  struct store_opts o = {0};
  struct flag_def shared[CMD_SERVER_FLAGS_MAX + 1];
  struct flag_def own[STORE_FLAGS_MAX];
  cmd_server_flags(shared, &o.srv,
                   CMD_FLAGS_HTTP | CMD_FLAGS_GRPC | CMD_FLAGS_LOG |
                       CMD_FLAGS_OBJSTORE,
                   "0.0.0.0:10902", "0.0.0.0:10901");
  store_flags(own, &o);
  const struct flag_def *tables[] = {shared, own, NULL};
  struct objstore *bkt = NULL;
  struct store_relabel *relabel = NULL;
  struct index_cache *cache = NULL;
  int rc = flags_parse(tables, STORE_CMD, store_summary, argc, argv, NULL);
  int code = rc == 1 ? 0 : rc;
  if (rc == 0)
    code = cmd_server_opts_check(&o.srv, STORE_CMD);
  if (rc || code)
    goto out;
  if (o.block_sync_concurrency < 1) {
    fprintf(stderr, STORE_CMD ": error: --block-sync-concurrency must be "
            "equal or greater than 1\n");
    code = 2;
    goto out;
  }
  code = cmd_relabel_config(o.relabel_config, o.relabel_config_file,
                            STORE_CMD, &relabel);
  if (code)
    goto out;
  code = cmd_objstore_open(&o.srv, STORE_CMD, &bkt);
  if (code)
    goto out;

  struct runtime rt;
  rc = runtime_init(&rt);
  if (rc < 0) {
    LOG_ERROR("runtime", "err", tc_errmsg(rc));
    code = 1;
    goto out;
  }
  metrics_register_process();
  /* Few malloc arenas: block loads run on many threads, and per-thread
   * arenas would keep their peak after the loads are done. */
  mallopt(M_ARENA_MAX, 2);
  cache = index_cache_new(o.index_cache_size);
  struct bucket_store bs;
  uint64_t series_limit = (uint64_t)(o.request_series > 0 ? o.request_series
                                     : o.touched_series_limit > 0
                                         ? o.touched_series_limit
                                         : 0);
  uint64_t samples_limit = (uint64_t)(o.request_samples > 0
                                      ? o.request_samples
                                      : o.series_sample_limit > 0
                                          ? o.series_sample_limit
                                          : 0);
  struct bucket_store_opts bo = {
      .data_dir = o.data_dir,
      .min_time = o.min_time,
      .max_time = o.max_time,
      .consistency_delay_ms = o.consistency_delay_ms,
      .ignore_deletion_marks_delay_ms = o.ignore_deletion_marks_delay_ms,
      .block_sync_concurrency = (int)TC_MIN(o.block_sync_concurrency, 64),
      .meta_fetch_concurrency =
          (int)TC_MAX(1, TC_MIN(o.block_meta_fetch_concurrency, 64)),
      .series_limit = series_limit,
      .samples_limit = samples_limit,
      .relabel = relabel,
      .cache = cache,
      .chunk_pool_size = o.chunk_pool_size,
  };
  rc = bucket_store_init(&bs, bkt, &bo);
  if (rc) {
    LOG_ERROR("data dir", "err", tc_errmsg(rc));
    code = 1;
    bucket_store_release(&bs);
    runtime_release(&rt);
    goto out;
  }
  struct store_service svc;
  store_service_init(&svc, &bs, o.sync_ms, (int)o.series_max_concurrency);
  store_service_grpc(&svc, &(struct grpc_server_opts){
      .address = o.srv.grpc_address, .tls_cert = o.srv.grpc_tls_cert,
      .tls_key = o.srv.grpc_tls_key, .tls_client_ca = o.srv.grpc_tls_client_ca,
      .grace_ms = o.srv.grpc_grace_ms});
  struct http_server *http = NULL;
  http_server_new(rt.loop, &(struct http_server_opts){
      .address = o.srv.http_address, .grace_ms = o.srv.http_grace_ms,
      .rt = &rt}, &http);
  rc = http_server_add_builtin_routes(http);
  if (rc < 0) {
    LOG_ERROR("http routes", "err", tc_errmsg(rc));
    code = 1;
    goto release;
  }
  runtime_set_healthy(&rt, 1);
  runtime_add(&rt, http_server_service(http));
  runtime_add(&rt, &svc.grpc_svc);
  runtime_add(&rt, &svc.sync_svc);
  LOG_INFO("starting store node");
  code = runtime_run(&rt);
  if (code == 0)
    LOG_INFO("exiting");
release:
  runtime_release(&rt);
  http_server_free(http);
  store_service_release(&svc);
  bucket_store_release(&bs);
out:
  objstore_close(bkt);
  index_cache_free(cache);
  store_relabel_free(relabel);
  cmd_flags_release(tables);
  return code;
}
