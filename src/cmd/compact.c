/*
 * compact.c - the `thanosc compact` role: Thanos's compactor flags (same
 * names and defaults) and the call into src/compact. Flags of features
 * thanosc leaves out are accepted when ignoring them changes no data (UI,
 * tuning, tracing); the ones that would change what happens to the bucket
 * are refused with an explanation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"
#include "thanosc/tsdb/meta.h"
#include "thanosc/ui.h"

#define COMPACT_CMD "thanosc compact"
#define COMPACT_FLAGS_MAX 48

struct compact_flags {
  struct server_opts srv;
  char *data_dir, *hash_func, *dedup_func;
  int64_t consistency_delay_ms, delete_delay_ms, wait_interval_ms;
  int64_t retention_raw_ms, retention_5m_ms, retention_1h_ms;
  int64_t min_time, max_time, max_level;
  int64_t compact_concurrency, downsample_concurrency, fetch_concurrency;
  int wait, downsampling_disable, vertical, halt_on_error;
  int skip_ooo, accept_malformed;
  struct strlist replica_labels;
  char *relabel_config, *relabel_config_file;
  int64_t cleanup_interval_ms;
  /* accepted and ignored: no effect on the bucket's data */
  char *discovery_strategy, *web_route_prefix, *web_external_prefix,
      *web_prefix_header, *bucket_web_label;
  int web_disable, web_disable_cors, disable_admin;
  int64_t meta_fetch_concurrency, files_concurrency, viewer_sync_ms,
      viewer_timeout_ms, progress_interval_ms;
};

static const char compact_summary[] =
    "Continuously compacts blocks in an object store bucket.";

static void compact_flags(struct flag_def *f, struct compact_flags *o) {
  struct flag_def t[] = {
      {"data-dir", FLAG_STRING, &o->data_dir, "./data",
       "Data directory in which to cache blocks and process compactions."},
      {"consistency-delay", FLAG_DURATION, &o->consistency_delay_ms, "30m",
       "Minimum age of fresh (non-compacted) blocks before they are being "
       "processed. Malformed blocks older than the maximum of "
       "consistency-delay and 48h0m0s will be removed."},
      {"retention.resolution-raw", FLAG_DURATION, &o->retention_raw_ms, "0d",
       "How long to retain raw samples in bucket. Setting this to 0d will "
       "retain samples of this resolution forever"},
      {"retention.resolution-5m", FLAG_DURATION, &o->retention_5m_ms, "0d",
       "How long to retain samples of resolution 1 (5 minutes) in bucket. "
       "Setting this to 0d will retain samples of this resolution forever"},
      {"retention.resolution-1h", FLAG_DURATION, &o->retention_1h_ms, "0d",
       "How long to retain samples of resolution 2 (1 hour) in bucket. "
       "Setting this to 0d will retain samples of this resolution forever"},
      {"wait", FLAG_BOOL, &o->wait, "false",
       "Do not exit after all compactions have been processed and wait for "
       "new work.",
       NULL, 0, NULL, 'w'},
      {"wait-interval", FLAG_DURATION, &o->wait_interval_ms, "5m",
       "Wait interval between consecutive compaction runs and bucket "
       "refreshes. Only works when --wait flag specified."},
      {"downsampling.disable", FLAG_BOOL, &o->downsampling_disable, "false",
       "Disables downsampling. This is not recommended as querying long "
       "time ranges without non-downsampled data is not efficient and "
       "useful e.g it is not possible to render all samples for a human eye "
       "anyway"},
      {"block-discovery-strategy", FLAG_ENUM, &o->discovery_strategy,
       "concurrent",
       "One of concurrent, recursive. When set to concurrent, stores will "
       "concurrently issue one call per directory to discover active blocks "
       "in the bucket. The recursive strategy iterates through all objects "
       "in the bucket, recursively traversing into each directory. This "
       "avoids N+1 calls at the expense of having slower bucket iterations.",
       "concurrent|recursive"},
      {"block-meta-fetch-concurrency", FLAG_INT, &o->meta_fetch_concurrency,
       "32",
       "Number of goroutines to use when fetching block metadata from "
       "object storage."},
      {"block-files-concurrency", FLAG_INT, &o->files_concurrency, "1",
       "Number of goroutines to use when fetching/uploading block files from "
       "object storage."},
      {"block-viewer.global.sync-block-interval", FLAG_DURATION,
       &o->viewer_sync_ms, "1m",
       "Repeat interval for syncing the blocks between local and remote view "
       "for /global Block Viewer UI."},
      {"block-viewer.global.sync-block-timeout", FLAG_DURATION,
       &o->viewer_timeout_ms, "5m",
       "Maximum time for syncing the blocks between local and remote view "
       "for /global Block Viewer UI."},
      {"compact.cleanup-interval", FLAG_DURATION, &o->cleanup_interval_ms, "5m",
       "How often we should clean up partially uploaded blocks and blocks "
       "with deletion mark in the background when --wait has been enabled. "
       "Setting it to \"0s\" disables it - the cleaning will only happen at "
       "the end of an iteration."},
      {"compact.progress-interval", FLAG_DURATION, &o->progress_interval_ms,
       "5m",
       "Frequency of calculating the compaction progress in the background "
       "when --wait has been enabled. Setting it to \"0s\" disables it. Now "
       "compaction, downsampling and retention progress are supported."},
      {"compact.concurrency", FLAG_INT, &o->compact_concurrency, "1",
       "Number of goroutines to use when compacting groups."},
      {"compact.blocks-fetch-concurrency", FLAG_INT, &o->fetch_concurrency, "1",
       "Number of goroutines to use when download block during "
       "compaction."},
      {"downsample.concurrency", FLAG_INT, &o->downsample_concurrency, "1",
       "Number of goroutines to use when downsampling blocks."},
      {"delete-delay", FLAG_DURATION, &o->delete_delay_ms, "48h",
       "Time before a block marked for deletion is deleted from bucket. If "
       "delete-delay is non zero, blocks will be marked for deletion and "
       "compactor component will delete blocks marked for deletion from the "
       "bucket. If delete-delay is 0, blocks will be deleted straight away. "
       "Note that deleting blocks immediately can cause query failures, if "
       "store gateway still has the block loaded, or compactor is ignoring "
       "the deletion because it's compacting the block at the same time."},
      {"deduplication.func", FLAG_ENUM, &o->dedup_func, "",
       "Experimental. Deduplication algorithm for merging overlapping "
       "blocks. Possible values are: \"\", \"penalty\". If no value is "
       "specified, the default compact deduplication merger is used, which "
       "performs 1:1 deduplication for samples. When set to penalty, "
       "penalty based deduplication algorithm will be used. At least one "
       "replica label has to be set via --deduplication.replica-label flag.",
       "|penalty"},
      {"deduplication.replica-label", FLAG_STRINGS, &o->replica_labels, NULL,
       "Experimental. Label to treat as a replica indicator of blocks that "
       "can be deduplicated (repeated flag). This will merge multiple "
       "replica blocks into one. This process is irreversible. Flag may be "
       "specified multiple times as well as a comma separated list of "
       "labels. When one or more labels are set, compactor will ignore the "
       "given labels so that vertical compaction can merge the blocks."},
      CMD_FLAG_HASH_FUNC(&o->hash_func),
      {"min-time", FLAG_TIME, &o->min_time, "0000-01-01T00:00:00Z",
       "Start of time range limit to compact. Thanos Compactor will compact "
       "only blocks, which happened later than this value. Option can be a "
       "constant time in RFC3339 format or time duration relative to current "
       "time, such as -1d or 2h45m. Valid duration units are ms, s, m, h, d, "
       "w, y."},
      {"max-time", FLAG_TIME, &o->max_time, "9999-12-31T23:59:59Z",
       "End of time range limit to compact. Thanos Compactor will compact "
       "only blocks, which happened earlier than this value. Option can be a "
       "constant time in RFC3339 format or time duration relative to current "
       "time, such as -1d or 2h45m. Valid duration units are ms, s, m, h, d, "
       "w, y."},
      {"web.disable", FLAG_BOOL, &o->web_disable, "false",
       "Disable Block Viewer UI."},
      {"selector.relabel-config-file", FLAG_STRING, &o->relabel_config_file,
       NULL,
       "Path to YAML file with relabeling configuration that allows "
       "selecting blocks to act on based on their external labels. It "
       "follows thanos sharding relabel-config syntax. For format details "
       "see: https://thanos.io/tip/thanos/sharding.md/#relabelling"},
      {"selector.relabel-config", FLAG_STRING, &o->relabel_config, NULL,
       "Alternative to 'selector.relabel-config-file' flag (mutually "
       "exclusive). Content of YAML file with relabeling configuration that "
       "allows selecting blocks to act on based on their external labels."},
      {"web.route-prefix", FLAG_STRING, &o->web_route_prefix, "",
       "Prefix for API and UI endpoints."},
      {"web.external-prefix", FLAG_STRING, &o->web_external_prefix, "",
       "Static prefix for all HTML links and redirect URLs in the bucket web "
       "UI interface."},
      {"web.prefix-header", FLAG_STRING, &o->web_prefix_header, "",
       "Name of HTTP request header used for dynamic prefixing of UI links "
       "and redirects."},
      {"web.disable-cors", FLAG_BOOL, &o->web_disable_cors, "false",
       "Whether to disable CORS headers to be set by Thanos. By default "
       "Thanos sets CORS headers to be allowed by all."},
      {"bucket-web-label", FLAG_STRING, &o->bucket_web_label, NULL,
       "External block label to use as group title in the bucket web UI"},
      {"disable-admin-operations", FLAG_BOOL, &o->disable_admin, "false",
       "Disable UI/API admin operations like marking blocks for deletion and "
       "no compaction."},
      /* Hidden in Thanos too. */
      {"compact.enable-vertical-compaction", FLAG_BOOL, &o->vertical, "false",
       "Experimental. When set to true, compactor will allow overlaps and "
       "perform **irreversible** vertical compaction.",
       NULL, FLAG_HIDDEN},
      {"debug.max-compaction-level", FLAG_INT, &o->max_level, "4",
       "Maximum compaction level, default is 4: 2h, 8h, 2d, 14d", NULL,
       FLAG_HIDDEN},
      {"debug.halt-on-error", FLAG_BOOL, &o->halt_on_error, "true",
       "Halt the process if a critical compaction error is detected.", NULL,
       FLAG_HIDDEN},
      {"compact.skip-block-with-out-of-order-chunks", FLAG_BOOL, &o->skip_ooo,
       "false",
       "When set to true, mark blocks containing index with out-of-order "
       "chunks for no compact instead of halting the compaction"},
      {"debug.accept-malformed-index", FLAG_BOOL, &o->accept_malformed, "false",
       "Compaction index verification will ignore out of order label names.",
       NULL, FLAG_HIDDEN},
      {0},
  };
  memcpy(f, t, sizeof t);
}

/* Refusals of flags whose effect thanosc does not have, and of flag
 * combinations Thanos refuses. 0 or 2. */
static int check_unsupported(const struct compact_flags *o) {
  if (o->dedup_func && *o->dedup_func && !o->replica_labels.n) {
    fprintf(stderr, COMPACT_CMD ": error: penalty based deduplication needs "
                                "at least one replica label specified\n");
    return 2;
  }
  if (o->max_level < 1) {
    fprintf(stderr, COMPACT_CMD ": error: --debug.max-compaction-level must "
                                "be at least 1\n");
    return 2;
  }
  if (o->compact_concurrency > 1 || o->downsample_concurrency > 1 ||
      o->fetch_concurrency > 1 || o->files_concurrency > 1)
    LOG_WARN("concurrency flags are accepted but thanosc compacts, "
             "downsamples and transfers one block at a time");
  return 0;
}

/* Splits comma-separated replica labels, as Thanos accepts them. */
static void split_labels(struct strlist *in, struct strlist *out) {
  for (size_t i = 0; i < in->n; i++) {
    const char *s = in->v[i];
    while (*s) {
      size_t k = strcspn(s, ",");
      if (k) {
        char *one = xstrndup(s, k);
        strlist_push(out, one);
        free(one);
      }
      s += k + (s[k] == ',');
    }
  }
}

int cmd_compact(int argc, char **argv) {
  struct compact_flags o = {0};
  struct flag_def shared[CMD_SERVER_FLAGS_MAX + 1];
  struct flag_def own[COMPACT_FLAGS_MAX];
  cmd_server_flags(shared, &o.srv,
                   CMD_FLAGS_HTTP | CMD_FLAGS_LOG | CMD_FLAGS_OBJSTORE,
                   "0.0.0.0:10902", NULL);
  compact_flags(own, &o);
  const struct flag_def *tables[] = {shared, own, NULL};
  struct objstore *bkt = NULL;
  struct store_relabel *relabel = NULL;
  struct strlist replicas = {0};
  int rc = flags_parse(tables, COMPACT_CMD, compact_summary, argc, argv, NULL);
  int code = rc == 1 ? 0 : rc;
  if (rc == 0)
    code = cmd_server_opts_check(&o.srv, COMPACT_CMD);
  if (rc == 0 && !code)
    code = check_unsupported(&o);
  if (rc || code)
    goto out;
  code = cmd_relabel_config(o.relabel_config, o.relabel_config_file,
                            COMPACT_CMD, &relabel);
  if (code)
    goto out;
  code = cmd_objstore_open(&o.srv, COMPACT_CMD, &bkt);
  if (code)
    goto out;
  split_labels(&o.replica_labels, &replicas);
  /* Deduplication works by vertical compaction, so it turns it on. */
  bool vertical = o.vertical || replicas.n > 0;
  if (replicas.n && !o.vertical)
    LOG_INFO("deduplication.replica-label specified, enabling vertical "
             "compaction");
  struct compact_opts co = {
      .data_dir = o.data_dir,
      .consistency_delay_ms = o.consistency_delay_ms,
      .delete_delay_ms = o.delete_delay_ms,
      .retention_ms = {o.retention_raw_ms, o.retention_5m_ms,
                       o.retention_1h_ms},
      .downsampling_disable = o.downsampling_disable,
      .vertical = vertical,
      .replica_labels = &replicas,
      .dedup_penalty = o.dedup_func && !strcmp(o.dedup_func, "penalty"),
      .min_time = o.min_time,
      .max_time = o.max_time,
      .relabel = relabel,
      .hash_func = o.hash_func,
      .max_level = (int)o.max_level,
      .skip_out_of_order = o.skip_ooo,
      .accept_malformed = o.accept_malformed,
  };
  struct compact_run_opts ro = {
      .wait = o.wait,
      .wait_interval_ms = o.wait_interval_ms,
      .cleanup_interval_ms = o.cleanup_interval_ms,
      .progress_interval_ms = o.progress_interval_ms,
      .http_address = o.srv.http_address,
      .http_grace_ms = o.srv.http_grace_ms,
  };
  if (!o.web_disable) {
    co.blocks = ui_blocks_new(o.bucket_web_label);
    /* The route prefix defaults to the external prefix, as in query. */
    ro.web_prefix = o.web_route_prefix && *o.web_route_prefix
                        ? o.web_route_prefix
                        : o.web_external_prefix;
    ro.web_home = "loaded";
  }
  code = compact_run(bkt, &co, &ro);
  ui_blocks_free(co.blocks);
out:
  objstore_close(bkt);
  store_relabel_free(relabel);
  strlist_release(&replicas);
  cmd_flags_release(tables);
  return code;
}
