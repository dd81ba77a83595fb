#!/usr/bin/python3
"""t0201: `thanosc tools block dump` prints exactly what `promtool tsdb dump`
prints for blocks written by real Prometheus (promtool create-blocks-from
openmetrics, Prometheus 3.5 and 2.42), with selectors and time ranges, and
fails cleanly on corrupt blocks."""
import math
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
from taplib import PROMTOOL2, PROMTOOL3, THANOSC, Tap, run  # noqa: E402

PROMTOOLS = [("3.5", PROMTOOL3), ("2.42", PROMTOOL2)]
NAME = "t0201-tsdb-dump-promtool-blocks"
tap = Tap(NAME)
result = tap.result






def om_escape(v):
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def gen_openmetrics(path):
    rnd = random.Random(7)
    base = 1700000000  # seconds
    lines = []
    # Many series, a few samples each, special values.
    lines.append("# TYPE many gauge")
    for i in range(300):
        for k in range(4):
            v = rnd.choice(["1", "0.1", "-0.0", "1e-7", "123456789012", "NaN",
                            "+Inf", "-Inf", "1e21", "3.14159", str(i * 1000 + k)])
            lines.append(f'many{{job="j{i % 7}",instance="host-{i:04d}"}} {v} {base + 60 * k}')
    # Unicode and escaped label values.
    lines.append("# TYPE uni gauge")
    for i, val in enumerate(["é日本", "line\nbreak", "quote\"back\\slash", "tab\tx",
                             "😀 emoji", "ascii"]):
        lines.append(f'uni{{v="{om_escape(val)}",i="{i}"}} {i}.5 {base + 30}')
    # Long series spanning many chunks and more than one 2h block.
    lines.append("# TYPE long counter")
    for s in range(3):
        v = 0.0
        for k in range(1500):
            v += rnd.random() * 10
            lines.append(f'long_total{{s="{s}"}} {v!r} {base + 15 * k + (k % 5) * 0.001:.3f}')
    lines.append("# EOF")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def sorted_lines(s):
    return sorted(s.splitlines())


def main():
    tmp = tempfile.mkdtemp(prefix="thanosc-t0201-")
    try:
        om = os.path.join(tmp, "in.om")
        gen_openmetrics(om)
        for ver, promtool in PROMTOOLS:
            if not os.path.exists(promtool):
                result(True, f"promtool {ver} not installed # SKIP")
                continue
            data = os.path.join(tmp, "data-" + ver)
            rc, out, err = run([promtool, "tsdb", "create-blocks-from",
                                "openmetrics", om, data])
            result(rc == 0, f"promtool {ver} creates blocks", err)
            os.makedirs(os.path.join(data, "wal"), exist_ok=True)
            blocks = sorted(d for d in os.listdir(data) if len(d) == 26)
            result(len(blocks) >= 2, f"promtool {ver} wrote {len(blocks)} blocks")
            cases = [([], []),
                     (["--match=many{job=\"j3\"}"], []),
                     (["--match={__name__=~\"uni|long_total\",s!=\"1\"}",
                       "--match={instance=~\"host-00[0-2].*\"}"], []),
                     ([], ["--min-time=1700000600000", "--max-time=1700003600000"]),
                     # Matcher semantics: absent labels match "", negations,
                     # alternations with an empty branch, UTF-8 values.
                     (["--match={job!=\"j1\",instance=~\"host-01.*\"}"], []),
                     (["--match={v=\"\",__name__=~\"uni|many\",job!~\"j[0-5]\"}"], []),
                     (["--match={i=~\"1|2|\",__name__!=\"many\"}"], []),
                     (["--match={v=~\".*日本.*|ascii\"}"], []),
                     (["--match={s=~\".+\"}"], []),
                     (["--match={__name__=~\"LONG_TOTAL|(?i)long_total\"}"], [])]
            for sel, rng in cases:
                if ver == "2.42" and len(sel) > 1:
                    continue  # --match is repeatable only in 3.x
                rc, theirs, err = run([promtool, "tsdb", "dump"] + sel + rng + [data])
                if rc != 0:
                    result(False, f"promtool {ver} dump {sel} {rng}", err)
                    continue
                rc, ours, err2 = run([THANOSC, "tools", "block", "dump",
                                      "--path=" + data] + sel + rng)
                a, b = sorted_lines(ours), sorted_lines(theirs)
                detail = err2
                if a != b:
                    sa, sb = set(a), set(b)
                    detail += "\nonly ours: " + "\n".join(sorted(sa - sb)[:5])
                    detail += "\nonly promtool: " + "\n".join(sorted(sb - sa)[:5])
                result(rc == 0 and ours == theirs and len(a) > 0,
                       f"{ver}: dump {' '.join(sel + rng) or '(all)'} matches "
                       f"promtool, order included ({len(b)} samples)", detail)
            # One block on its own, dumped by block path.
            blk = os.path.join(data, blocks[0])
            solo = os.path.join(tmp, "solo-" + ver)
            os.makedirs(os.path.join(solo, "wal"))
            shutil.copytree(blk, os.path.join(solo, blocks[0]))
            rc, theirs, _ = run([promtool, "tsdb", "dump", solo])
            rc2, ours, err = run([THANOSC, "tools", "block", "dump", "--path=" + blk])
            result(rc2 == 0 and ours == theirs,
                   f"{ver}: single block dump is identical, order included", err)

        # Corrupt blocks: clear errors naming file and section, no crash.
        data = os.path.join(tmp, "data-3.5")
        blocks = sorted(d for d in os.listdir(data) if len(d) == 26)
        src = os.path.join(data, blocks[0])

        def corrupt(what, fn, needle):
            dst = os.path.join(tmp, "bad", blocks[0])
            shutil.rmtree(os.path.join(tmp, "bad"), ignore_errors=True)
            shutil.copytree(src, dst)
            fn(dst)
            rc, out, err = run([THANOSC, "tools", "block", "dump", "--path=" + dst])
            ok = rc == 1 and needle in err and "Sanitizer" not in err
            result(ok, f"corrupt {what}: exit 1 with '{needle}'", f"rc={rc} {err}")

        def flip(path, off):
            with open(path, "r+b") as f:
                f.seek(off if off >= 0 else os.path.getsize(path) + off)
                b = f.read(1)
                f.seek(-1, 1)
                f.write(bytes([b[0] ^ 0xff]))

        def truncate(path, n):
            with open(path, "r+b") as f:
                f.truncate(n if n >= 0 else os.path.getsize(path) + n)

        idx = lambda d: os.path.join(d, "index")
        seg = lambda d: os.path.join(d, "chunks", "000001")
        corrupt("index TOC", lambda d: flip(idx(d), -10), "TOC")
        corrupt("index symbol table", lambda d: flip(idx(d), 12), "symbol table")
        corrupt("truncated index", lambda d: truncate(idx(d), 100), "index")
        corrupt("index magic", lambda d: flip(idx(d), 0), "bad magic")
        corrupt("postings table", lambda d: flip(idx(d), -60), "index")
        corrupt("chunk data", lambda d: flip(seg(d), 20), "checksum mismatch")
        corrupt("truncated chunks", lambda d: truncate(seg(d), 30), "000001")
        corrupt("chunk magic", lambda d: flip(seg(d), 1), "magic")
        corrupt("meta.json", lambda d: open(os.path.join(d, "meta.json"), "w").write("{"), "meta")
        corrupt("meta version", lambda d: open(os.path.join(d, "meta.json"), "w").write(
            '{"ulid":"%s","version":2}' % blocks[0]), "unsupported version")
        corrupt("tombstones crc", lambda d: open(os.path.join(d, "tombstones"), "wb").write(
            bytes.fromhex("0130ba300103d00fa01f9b875939")), "tombstones")
        rc, out, err = run([THANOSC, "tools", "block", "dump", "--path=" + src,
                            "--match={a=~\"(\"}"])
        result(rc == 2 and "regex" in err, "bad selector is a usage error", err)
        rc, out, err = run([THANOSC, "tools", "block", "dump", "--path=/nonexistent"])
        result(rc == 1 and "/nonexistent" in err, "missing path names it", err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


sys.exit(main())
