#!/usr/bin/python3
"""t0204: our index, chunk segment and tombstones writers are byte-identical
to Prometheus: blocks made by `promtool tsdb create-blocks-from openmetrics`
(3.5 and 2.42) are copied series by series, raw chunks included, through
our block reader and writer (test-tool rewrite-block), and index,
chunks/000001 and tombstones must come out with the same bytes; meta.json
must differ only in the ULID. With the XOR chunks decoded and encoded again
by our encoder, the 3.5 blocks are still byte-identical (2.x chunks carry
the trailing empty byte that 3.x and we do not write)."""
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
from taplib import PROMTOOL2, PROMTOOL3, TESTTOOL, Tap, run  # noqa: E402

NAME = "t0204-tsdb-writer-byte-identical"
tap = Tap(NAME)


def gen(path):
    rnd = random.Random(3)
    base = 1700000000
    lines = ["# TYPE m gauge"]
    for i in range(200):
        v = 0.0
        for k in range(0, 400 if i % 20 == 0 else 3):
            v += rnd.choice([0, 1, 0.5, rnd.random()])
            lines.append(f'm{{i="{i:03d}",z="é{i % 3}"}} {v!r} {base + 30 * k}')
    lines.append("# TYPE n counter")
    lines.append('n_total{a="\\"q\\""} 1 1700000001')
    lines.append("# EOF")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def same(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def main():
    tmp = tempfile.mkdtemp(prefix="thanosc-t0204-")
    try:
        om = os.path.join(tmp, "in.om")
        gen(om)
        for ver, promtool in (("3.5", PROMTOOL3), ("2.42", PROMTOOL2)):
            data = os.path.join(tmp, "data-" + ver)
            rc, _, err = run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, data])
            tap.result(rc == 0, f"promtool {ver} writes blocks", err)
            for b in sorted(os.listdir(data)):
                src = os.path.join(data, b)
                rc, out, err = run([TESTTOOL, "rewrite-block", src, os.path.join(tmp, "out")])
                dst = out.strip()
                if rc:
                    tap.result(False, f"{ver} {b}: rewrite", err)
                    continue
                files = ["index", "chunks/000001", "tombstones"]
                diff = [f for f in files if not same(os.path.join(src, f), os.path.join(dst, f))]
                tap.result(not diff, f"{ver} {b}: index, chunks and tombstones byte-identical",
                           "differ: " + " ".join(diff))
                with open(os.path.join(src, "meta.json")) as f:
                    theirs = f.read()
                with open(os.path.join(dst, "meta.json")) as f:
                    ours = f.read()
                new_ulid = os.path.basename(dst)
                want = theirs.replace(f'"ulid": "{b}"', f'"ulid": "{new_ulid}"', 1)
                tap.result(ours == want, f"{ver} {b}: meta.json identical but for the ULID",
                           ours + "\n---\n" + want)
                if ver != "3.5":
                    continue
                rc, out, err = run([TESTTOOL, "rewrite-block", src,
                                    os.path.join(tmp, "re"), "--reencode"])
                dst = out.strip()
                diff = [f for f in files if rc or
                        not same(os.path.join(src, f), os.path.join(dst, f))]
                tap.result(not diff, f"{ver} {b}: re-encoded XOR chunks byte-identical",
                           err + "differ: " + " ".join(diff))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


sys.exit(main())
