/*
 * tsdb/meta.h - block metadata: meta.json (Prometheus fields plus the
 * Thanos section), the Thanos marker files (deletion-mark.json,
 * no-compact-mark.json, no-downsample-mark.json), the tombstones file and
 * ULIDs.
 *
 * Formatting is byte-compatible with Go: meta.json is tab-indented like
 * json.MarshalIndent (Prometheus: no final newline; Thanos: a final
 * newline), markers are compact like json.Marshal. Strings are escaped as
 * Go does (<, >, & as \u003c...). Unknown keys are ignored on read;
 * `thanos.rewrites` and `thanos.extensions` are kept verbatim.
 */
#ifndef THANOSC_TSDB_META_H
#define THANOSC_TSDB_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/buf.h"
#include "thanosc/labels.h"

#define TSDB_ULID_LEN 26

/* A new ULID for time ms (random part from getrandom). out gets 27 bytes
 * (NUL-terminated). */
void tsdb_ulid_new(char out[TSDB_ULID_LEN + 1], int64_t ms);
/* Whether s is a valid ULID; *ms (may be NULL) gets its timestamp. */
bool tsdb_ulid_parse(const char *s, int64_t *ms /* OUT */);

struct block_desc {
  char ulid[TSDB_ULID_LEN + 1];
  int64_t min_time, max_time;
};

struct meta_file {
  char *rel_path;   /* owned */
  int64_t size;     /* 0 = omitted */
  char *hash_func;  /* owned, NULL = no hash */
  char *hash_value; /* owned */
};

struct block_meta {
  char ulid[TSDB_ULID_LEN + 1];
  int64_t min_time, max_time; /* [min, max) */
  struct {
    uint64_t num_samples, num_float_samples, num_histogram_samples,
        num_series, num_chunks, num_tombstones;
  } stats;
  struct {
    int level;
    char (*sources)[TSDB_ULID_LEN + 1]; /* owned */
    size_t nsources;
    bool deletable, failed;
    struct block_desc *parents; /* owned */
    size_t nparents;
    char **hints; /* owned */
    size_t nhints;
  } compaction;
  int version; /* must be 1 */

  bool has_thanos; /* a "thanos" section is present / to be written */
  struct {
    int version;           /* 0 = omitted */
    struct labels labels;  /* external labels, owned */
    int64_t resolution;    /* downsample.resolution, ms */
    char *source;          /* owned, may be NULL ("") */
    char **segment_files;  /* owned */
    size_t nsegment_files;
    struct meta_file *files; /* owned */
    size_t nfiles;
    int64_t series_max_size, chunk_max_size;
    void *rewrites;   /* json_t *, owned reference, NULL = omitted */
    void *extensions; /* json_t *, owned reference, NULL = omitted */
    char *upload_time; /* owned RFC3339Nano string, NULL = omitted */
  } thanos;
};

void block_meta_init(struct block_meta *m);
void block_meta_release(struct block_meta *m);
/* Parses meta.json text; name is used in messages. TC_EPARSE for bad JSON
 * or types, TC_ENOTSUP for a version other than 1. m is initialised by the
 * call and must be released even on error. */
int block_meta_parse(struct block_meta *m, const char *json, size_t n,
                     const char *name);
/* Reads <dir>/meta.json. */
int block_meta_read(struct block_meta *m, const char *dir);
/* Appends the Go-formatted JSON. Without a thanos section there is no
 * final newline (Prometheus); with one there is (Thanos). */
int block_meta_format(const struct block_meta *m, struct tc_buf *out);
/* Writes <dir>/meta.json via meta.json.tmp + fsync + rename. */
int block_meta_write(const struct block_meta *m, const char *dir);
void block_meta_add_source(struct block_meta *m, const char *ulid);

/* Thanos's consistency delay: a block is too fresh while its age (from
 * thanos.upload_time when set, else its ULID) is under delay_ms; blocks
 * the compactor or a repair wrote never are. */
bool block_meta_too_fresh(const struct block_meta *m, int64_t delay_ms,
                          int64_t now_ms);
/* Whether every source of a is a source of b. */
bool block_meta_sources_subset(const struct block_meta *a,
                               const struct block_meta *b);
/* Whether b makes a redundant (Thanos's deduplicate filter): the same
 * resolution, b's sources include a's, and b has more of them, or the
 * same ones and a later ULID. */
bool block_meta_covered_by(const struct block_meta *a,
                           const struct block_meta *b);

enum marker_kind {
  MARKER_DELETION,      /* deletion-mark.json, time = deletion_time */
  MARKER_NO_COMPACT,    /* no-compact-mark.json, no_compact_time + reason */
  MARKER_NO_DOWNSAMPLE, /* no-downsample-mark.json */
};

struct block_marker {
  enum marker_kind kind;
  char id[TSDB_ULID_LEN + 1];
  int version;
  char *details; /* owned, NULL = omitted */
  int64_t time;  /* Unix seconds */
  char *reason;  /* owned; not for deletion marks */
};

/* "deletion-mark.json", ... */
const char *marker_filename(enum marker_kind kind);
void block_marker_release(struct block_marker *mk);
int block_marker_parse(struct block_marker *mk, enum marker_kind kind,
                       const char *json, size_t n);
/* Compact JSON without a final newline, as Go's json.Marshal. */
int block_marker_format(const struct block_marker *mk, struct tc_buf *out);

/* ---- tombstones ---- */

struct tombstone {
  uint64_t ref;       /* series ID */
  int64_t mint, maxt; /* closed interval */
};

struct tombstones {
  struct tombstone *v; /* owned, sorted by (ref, mint) after reading */
  size_t n, cap;
};

void tombstones_release(struct tombstones *t);
/* Parses a tombstones file's bytes (CRC checked); name for messages. */
int tombstones_parse(struct tombstones *t, const uint8_t *p, size_t n,
                     const char *name);
/* Reads <dir>/tombstones; a missing file is no tombstones. */
int tombstones_read(struct tombstones *t, const char *dir);
/* Writes <dir>/tombstones (empty when t->n == 0) via a .tmp + rename. */
int tombstones_write(const struct tombstones *t, const char *dir);
/* The intervals of series ref: first index and count in t->v. */
size_t tombstones_for(const struct tombstones *t, uint64_t ref,
                      size_t *first /* OUT */);

/* Writes path atomically: path.tmp, fsync, rename. */
int tsdb_write_file_atomic(const char *path, const void *p, size_t n);

#endif
