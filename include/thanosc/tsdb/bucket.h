/*
 * tsdb/bucket.h - whole blocks in a bucket (thanos-formats.md section 1):
 * upload (chunks, index, then meta.json last, so a block without meta.json
 * is an unfinished upload), download, deletion in Thanos's order (meta.json
 * first, deletion-mark.json last) and marker files.
 *
 * Blocking: run on a worker thread.
 */
#ifndef THANOSC_TSDB_BUCKET_H
#define THANOSC_TSDB_BUCKET_H

#include <stdint.h>

#include "thanosc/objstore.h"
#include "thanosc/tsdb/meta.h"

/*
 * Uploads the local block at dir as <ULID>/ of bkt. Its meta.json (read
 * from dir, rewritten there) gets the thanos section's segment_files,
 * files (sizes, and SHA-256 hashes when hash_func is "SHA256") and
 * upload_time; the rest of the thanos section is the caller's.
 */
int block_upload(struct objstore *bkt, const char *dir, const char *hash_func);

/* Downloads <id>/meta.json, index and chunks/ of bkt into dir (created;
 * files written atomically). */
int block_download(struct objstore *bkt, const char *id, const char *dir);

/* Deletes every object of <id>/: meta.json first, deletion-mark.json last. */
int block_delete(struct objstore *bkt, const char *id);

/* Uploads <id>/<marker file> with time = now; reason only for the
 * no-compact and no-downsample markers. */
int block_mark(struct objstore *bkt, enum marker_kind kind, const char *id,
               const char *details, const char *reason);

/* Reads <id>/<marker file>: 0, TC_ENOTFOUND, or another error. */
int block_marker_get(struct objstore *bkt, enum marker_kind kind,
                     const char *id, struct block_marker *mk /* OUT */);


#endif
