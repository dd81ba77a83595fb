/*
 * sidecar.h - the pieces of `thanosc sidecar`: a client of Prometheus's
 * HTTP API (src/sidecar/promclient.c), the StoreAPI served on top of it
 * (src/sidecar/store.c) and the shared state both read.
 *
 * Every prom_*() call is blocking (libcurl): run it on the worker pool,
 * never on the loop. They are thread-safe. Errors are negative codes with a
 * tc_error() message on the calling thread: TC_EUNAVAIL when Prometheus
 * cannot be reached or answers 503, TC_EINVAL for 4xx, TC_EPARSE for
 * answers that are not what the API documents, TC_ECANCELED when a
 * callback asked to stop.
 */
#ifndef THANOSC_SIDECAR_H
#define THANOSC_SIDECAR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "prompb_remote.pb-c.h"
#include "storepb_types.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/flags.h"
#include "thanosc/grpc.h"
#include "thanosc/labels.h"

/* ------------------------------------------------------------ promclient */

/* Parses a Prometheus configuration's YAML and appends
 * global.external_labels to out (sorted). No section: no labels. */
int prom_config_external_labels(const char *yaml, size_t n,
                                 struct labels *out);
/* GET /api/v1/status/config: the external labels into out (initialised by
 * the call, released by the caller even on error). */
int prom_external_labels(const char *url, long timeout_ms,
                         struct labels *out);
/* GET /api/v1/status/flags: storage.tsdb.{min,max}-block-duration in ms.
 * A 404 (very old Prometheus) gives TC_ENOTFOUND. */
int prom_block_durations(const char *url, long timeout_ms,
                         int64_t *min_ms /* OUT */, int64_t *max_ms /* OUT */);
/* The value of prometheus_tsdb_lowest_timestamp_seconds in an exposition
 * text, in ms; TC_ENOTFOUND when absent. INT64_MAX when Prometheus reports
 * no data yet. */
int prom_parse_lowest_timestamp(const char *text, size_t n,
                                int64_t *ms /* OUT */);
/* GET /metrics and the above. */
int prom_lowest_timestamp(const char *url, long timeout_ms,
                          int64_t *ms /* OUT */);

/* One matcher of a query (types as the StoreAPI and remote read number
 * them: 0 =, 1 !=, 2 =~, 3 !~). Strings borrowed. */
struct prom_matcher {
  int type;
  const char *name, *value;
};

/* Appends the selector `{a="b",c=~"d"}` for matchers to out. */
int prom_selector(const struct prom_matcher *ms, size_t n, struct tc_buf *out);

/* Called per label set of /api/v1/series (ls borrowed for the call). A
 * non-zero return stops and is returned. */
typedef int prom_series_fn(void *data, const struct labels *ls);
/* GET /api/v1/series?match[]=...&start=&end= (ms). */
int prom_series(const char *url, const struct prom_matcher *ms, size_t n,
                int64_t start, int64_t end, long timeout_ms,
                prom_series_fn *fn, void *data);
/* GET /api/v1/labels, or /api/v1/label/<name>/values when name is set:
 * the strings into out (owned, in Prometheus's order). Matchers may be
 * empty (no match[]). */
int prom_label_api(const char *url, const char *name,
                   const struct prom_matcher *ms, size_t n, int64_t start,
                   int64_t end, long timeout_ms, struct strlist *out);

/*
 * Remote read. fn gets each series as it arrives (borrowed for the call):
 * in STREAMED_XOR_CHUNKS mode the chunks Prometheus stored, one frame at a
 * time (a long series may come in several consecutive calls with the same
 * labels); in SAMPLES mode the samples re-encoded into XOR chunks of at
 * most 120 samples. A non-zero return from fn aborts the read and is
 * returned. force_samples asks only for SAMPLES (tests, benchmarks).
 */
typedef int prom_chunked_fn(void *data, const Prometheus__ChunkedSeries *s);
/* Streamed mode without decoding: one ChunkedReadResponse message as it
 * came (checksum verified), borrowed for the call. */
typedef int prom_frame_fn(void *data, const uint8_t *msg, size_t n);
struct prom_read {
  const char *url;
  const struct prom_matcher *ms;
  size_t n;
  int64_t start, end;
  long timeout_ms;
  int force_samples;
  prom_chunked_fn *fn;
  prom_frame_fn *frame_fn; /* optional: streamed frames go here instead */
  void *data;
  /* OUT: what Prometheus answered with */
  int streamed;
  uint64_t frames, bytes;
};
int prom_remote_read(struct prom_read *r);

/*
 * SAMPLES mode helper: the samples of ts cut into XOR chunks of at most
 * 120 samples, handed to fn as one ChunkedSeries. Histogram samples are
 * refused with TC_ENOTSUP.
 */
int prom_samples_to_chunks(const Prometheus__TimeSeries *ts,
                           prom_chunked_fn *fn, void *data);

/* ------------------------------------------------------------- the store */

/*
 * State shared by the loop, the refresher and the StoreAPI handlers. The
 * external labels and the min time are refreshed from Prometheus and read
 * under mu by workers and the loop.
 */
struct sidecar {
  char *prom_url;         /* owned, without a final '/' */
  long prom_timeout_ms;   /* HTTP calls other than remote read */
  int64_t flag_min_time;  /* --min-time */
  int64_t limit_series;   /* --store.limits.request-series, 0 = none */
  int64_t limit_samples;  /* --store.limits.request-samples, 0 = none */
  int force_samples;      /* hidden: remote read in SAMPLES mode only */

  pthread_mutex_t mu;
  struct labels ext;      /* guarded: current external labels */
  int64_t min_time;       /* guarded: the lowest timestamp served */
  int have_labels;        /* guarded: Prometheus answered once */
  atomic_int prom_up;
};

void sidecar_init(struct sidecar *sc, const char *url);
void sidecar_release(struct sidecar *sc);
/* Copies the external labels into out (initialised by the call); returns
 * 0 or TC_EUNAVAIL when Prometheus never answered. */
int sidecar_ext_labels(struct sidecar *sc, struct labels *out);
int64_t sidecar_min_time(struct sidecar *sc);
/* Stores labels (moved: *ls is left empty) and the lowest timestamp. */
void sidecar_update(struct sidecar *sc, struct labels *ls, int64_t lowest_ms);

/* The gRPC methods of a sidecar (Store Series/LabelNames/LabelValues/Info,
 * thanos.info.Info/Info) on sc; the table is static: one sidecar per
 * process. */
const struct grpc_method *sidecar_store_methods(struct sidecar *sc);

/*
 * Evaluates StoreAPI matchers against external labels as Thanos does: a
 * matcher on an external label name is checked against its value and
 * dropped; the others are kept (copied into out, strings borrowed from
 * the request). Returns 1 when all external-label matchers match, 0 when
 * one does not (the answer is empty), or TC_EINVAL for a bad regex.
 */
int sidecar_match_external(const struct labels *ext, Thanos__LabelMatcher *const *ms,
                           size_t n, struct prom_matcher *out,
                           size_t *nout /* OUT */);

/* ------------------------------------------------------------ the role */

struct objstore;

/* What `thanosc sidecar` runs with (flags, borrowed). */
struct sidecar_opts {
  const char *prom_url;
  const char *tsdb_path;
  int64_t ready_timeout_ms;
  int64_t config_interval_ms;
  int64_t config_timeout_ms;
  int64_t min_time;
  int64_t limit_series, limit_samples;
  int upload_compacted;
  const char *shipper_meta_file;
  const char *hash_func;       /* --hash-func: "" or "SHA256" */
  int64_t shipper_interval_ms; /* hidden flag; Thanos: 30 s */
  int force_samples;           /* hidden flag */
  const char *objstore_yaml;   /* NULL: no uploads */
  const char *http_address, *grpc_address;
  int64_t http_grace_ms, grpc_grace_ms;
  const char *grpc_tls_cert, *grpc_tls_key, *grpc_tls_client_ca;
};

/* Runs the sidecar until a signal or a fatal error: the exit code. */
int sidecar_run(const struct sidecar_opts *o);

#endif
