# complib.py - helpers of the compactor tests (t08*-compact-*.py): blocks
# put into a FILESYSTEM bucket as a sidecar would have uploaded them, one
# `thanosc compact` run, and a fingerprint of every object of a bucket.
import hashlib
import json
import os
import shutil
import subprocess
import time

import grpclib as G
import storelib as S

H2 = 2 * 3600 * 1000


def new_ulid(i):
    """A ULID of now (never an old partial upload) ending in i."""
    enc = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    ms, head = int(time.time() * 1000), ""
    for _ in range(10):
        head = enc[ms % 32] + head
        ms //= 32
    return head + "%016d" % i


def put(src, bucket, b, labels, as_id=None, align=True):
    """Copies block b of src into bucket (as as_id) with a Thanos section
    and, with align, maxTime at the end of its 2h range as Prometheus
    writes it (promtool stops at the last sample)."""
    bid = as_id or b
    dst = os.path.join(bucket, bid)
    shutil.copytree(os.path.join(src, b), dst,
                    ignore=shutil.ignore_patterns("tombstones"))
    with open(os.path.join(dst, "meta.json")) as f:
        m = json.load(f)
    m["ulid"] = bid
    m["compaction"]["sources"] = [bid]
    if align:
        m["maxTime"] = m["minTime"] + H2
    m["thanos"] = {"labels": labels, "downsample": {"resolution": 0},
                   "source": "sidecar"}
    with open(os.path.join(dst, "meta.json"), "w") as f:
        json.dump(m, f, indent="\t")
    return m


def snapshot(bucket):
    """Every object's path and SHA-256."""
    out = {}
    for root, _, files in os.walk(bucket):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, bucket)] = hashlib.sha256(
                G.read(p)).hexdigest()
    return out


def compact(t, bucket, data, *extra, timeout=120):
    """One run without --wait: (exit code, log)."""
    p = subprocess.run([G.THANOSC, "compact", "--objstore.config-file=" +
                        S.bucket_yml(t, bucket), "--data-dir=" + data,
                        "--http-address=127.0.0.1:%d" % G.free_port(),
                        "--consistency-delay=0s"] + list(extra),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr
