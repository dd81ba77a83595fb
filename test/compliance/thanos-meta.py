#!/usr/bin/python3
"""Adds a Thanos section to the meta.json of every block in a directory.

    thanos-meta.py DIR [--label NAME=VALUE ...] [--source SOURCE]

promtool writes Prometheus-only meta.json files. A block uploaded by Thanos
also carries external labels, the downsampling resolution, its producer and
the list of its files; this writes that section (as the shipper would, with
tab indentation and a final newline) so stores can be tested on both kinds.
"""

import argparse
import json
import os
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--label", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--source", default="test")
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
        meta["thanos"] = thanos_section(block, labels, a.source)
        with open(path + ".tmp", "w") as f:
            f.write(json.dumps(meta, indent="\t") + "\n")
        os.replace(path + ".tmp", path)
        n += 1
    print("thanos-meta: %d blocks in %s" % (n, a.dir))
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
