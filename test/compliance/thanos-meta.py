#!/usr/bin/python3
"""Adds a Thanos section to the meta.json of every block in a directory.

    thanos-meta.py DIR [--label NAME=VALUE ...] [--source SOURCE]
                       [--replicas N --replica-label NAME]

promtool writes Prometheus-only meta.json files. A block uploaded by Thanos
also carries external labels, the downsampling resolution, its producer and
the list of its files; this writes that section (as the shipper would, with
tab indentation and a final newline) so stores can be tested on both kinds.

With --replicas N every block becomes N blocks holding the same data, as
if N Prometheus replicas had uploaded them: each gets a new ULID (same time
part, the rest derived from the old ULID and the replica number, so reruns
give the same names) and the external label NAME="0" .. "N-1".
"""

import hashlib

import argparse
import json
import os
import shutil
import sys


def thanos_section(block, labels, source):
    files = []
    chunks = os.path.join(block, "chunks")
    for name in sorted(os.listdir(chunks)):
        files.append({"rel_path": "chunks/" + name,
                      "size_bytes": os.path.getsize(os.path.join(chunks, name))})
    files.append({"rel_path": "index",
                  "size_bytes": os.path.getsize(os.path.join(block, "index"))})
    files.append({"rel_path": "meta.json"})
    files.sort(key=lambda f: f["rel_path"].encode())
    return {
        "labels": dict(sorted(labels.items())),
        "downsample": {"resolution": 0},
        "source": source,
        "segment_files": sorted(os.listdir(chunks)),
        "files": files,
        "index_stats": {},
    }


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def replica_ulid(ulid, i):
    """A ULID with the same 48-bit time as `ulid` and 80 bits from a hash."""
    h = int.from_bytes(hashlib.sha256(("%s/%d" % (ulid, i)).encode()).digest()[:10], "big")
    tail = ""
    for _ in range(16):
        tail = CROCKFORD[h & 31] + tail
        h >>= 5
    return ulid[:10] + tail


def write_meta(path, meta):
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(meta, indent="\t") + "\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--label", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--source", default="test")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--replica-label", default="replica")
    a = ap.parse_args()
    labels = {}
    for kv in a.label:
        name, sep, value = kv.partition("=")
        if not sep or not name:
            ap.error("--label wants NAME=VALUE, not %r" % kv)
        labels[name] = value
    n = 0
    for entry in sorted(os.listdir(a.dir)):
        block = os.path.join(a.dir, entry)
        path = os.path.join(block, "meta.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            meta = json.load(f)
        if a.replicas <= 1:
            meta["thanos"] = thanos_section(block, labels, a.source)
            write_meta(path, meta)
            n += 1
            continue
        for i in range(a.replicas):
            ulid = replica_ulid(meta["ulid"], i)
            copy = os.path.join(a.dir, ulid)
            shutil.copytree(block, copy)
            m = dict(meta, ulid=ulid, compaction=dict(meta["compaction"], sources=[ulid]))
            m["thanos"] = thanos_section(copy, dict(labels, **{a.replica_label: str(i)}),
                                         a.source)
            write_meta(os.path.join(copy, "meta.json"), m)
            n += 1
        shutil.rmtree(block)
    print("thanos-meta: %d blocks in %s" % (n, a.dir))
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
