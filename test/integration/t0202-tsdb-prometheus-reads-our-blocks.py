#!/usr/bin/python3
"""t0202: blocks written by thanosc (test-tool make-block) are accepted by
`promtool tsdb analyze`, dumped identically by promtool 3.5 and 2.42, and a
Prometheus 3.5 started on a data directory holding them answers over its
HTTP API with exactly the samples written. Shapes: many series,
high-cardinality labels, unicode values, series spanning many chunks,
stale markers, an empty block."""
import json
import math
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
from taplib import (PROM3, PROMTOOL2, PROMTOOL3, TESTTOOL, THANOSC, Tap,  # noqa: E402
                    run)

NAME = "t0202-tsdb-prometheus-reads-our-blocks"
tap = Tap(NAME)
result = tap.result
HOUR = 3600 * 1000






def go_quote(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def fmt_labels(ls):
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(ls.items())) + "}"


def fmt_value(v):
    if v == "stale":
        return "stale"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def shapes(now_ms):
    """(name, series) where series maps a label tuple to [(t, v)]."""
    rnd = random.Random(11)
    base = (now_ms // (2 * HOUR) - 12) * 2 * HOUR  # 24h ago, 2h aligned
    out = []
    def block(k):
        return base + k * 2 * HOUR
    s = {}
    for i in range(1500):
        ls = (("__name__", "many_series"), ("job", f"job{i % 13}"), ("instance", f"i{i:05d}"))
        s[ls] = [(block(0) + 1000 * j + i % 1000, float(i * 10 + j)) for j in range(5)]
    out.append(("many series", s, block(0)))
    s = {}
    for i in range(4000):
        ls = (("__name__", "high_card"), ("id", f"{rnd.getrandbits(64):016x}"))
        s[ls] = [(block(1) + 500 + i, rnd.random() * 1e6)]
    out.append(("high-cardinality labels", s, block(1)))
    s = {}
    vals = ["é日本語", "quote\"back\\slash", "new\nline", "😀", "ασδ", "tab\tval", "a" * 300]
    for i, v in enumerate(vals):
        ls = (("__name__", "unicode"), ("v", v), ("w", f"ö{i}"))
        s[ls] = [(block(2) + 10, float(i)), (block(2) + 20, -float(i) / 3)]
    out.append(("unicode label values", s, block(2)))
    s = {}
    for k in range(4):
        t, v, pts = block(3), 0.0, []
        for j in range(1000 + k * 333):
            t += 15000 + rnd.choice([0, 0, 0, 1, -1, 7, 1000])
            v = v + rnd.random() if k != 3 else rnd.choice([0.0, 1.0, v + 1e-9, -5e300])
            pts.append((t, v))
        s[(("__name__", "long_series"), ("k", str(k)))] = pts
    out.append(("series spanning many chunks", s, block(3)))
    s = {}
    for i in range(20):
        pts = [(block(4) + 15000 * j, float(j)) for j in range(30)]
        pts[10 + i % 5] = (pts[10 + i % 5][0], "stale")
        pts[-1] = (pts[-1][0], "stale")
        s[(("__name__", "stale_markers"), ("i", str(i)))] = pts
    s[(("__name__", "special_values"),)] = [
        (block(4) + 1, float("nan")), (block(4) + 2, float("inf")),
        (block(4) + 3, float("-inf")), (block(4) + 4, -0.0), (block(4) + 5, 5e-324)]
    out.append(("stale markers and special values", s, block(4)))
    out.append(("empty block", {}, block(5)))
    return out


def sample_text(series):
    lines = []
    for ls, pts in series.items():
        lt = fmt_labels(dict(ls))
        for t, v in pts:
            lines.append(f"{lt} {fmt_value(v)} {t}")
    return "\n".join(lines) + "\n"


def vkey(v):
    """Comparable form of a sample value: NaNs (stale markers too) compare
    equal, everything else bit for bit."""
    if v == "stale" or math.isnan(v):
        return "NaN"
    return struct.pack("<d", v).hex()


def expected_dump(series):
    """What a dump must contain, as (labels, ts, value key) tuples."""
    return sorted((fmt_labels(dict(ls)), t, vkey(v))
                  for ls, pts in series.items() for t, v in pts)


def parse_dump(text):
    """promtool / thanosc dump lines as (labels, ts, value key) tuples."""
    out = []
    for line in text.splitlines():
        lbl, _, rest = line.rpartition("} ")
        v, t = rest.split(" ")
        out.append((lbl + "}", int(t), vkey(float(v))))
    return sorted(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def api(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def main():
    tmp = tempfile.mkdtemp(prefix="thanosc-t0202-")
    prom = None
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(os.path.join(data, "wal"))
        now = int(time.time() * 1000)
        all_series = {}
        starts = {}
        for name, series, start in shapes(now):
            starts[name] = start
            args = [TESTTOOL, "make-block", data, f"--ulid-ms={start}"]
            if not series:
                args += [f"--min-time={start}", f"--max-time={start + 2 * HOUR}"]
            rc, out, err = run(args, stdin=sample_text(series))
            blk = out.strip()
            result(rc == 0 and os.path.isdir(blk), f"make-block: {name}", err)
            if rc:
                continue
            all_series.update(series)
            rc, out, err = run([PROMTOOL3, "tsdb", "analyze", data, os.path.basename(blk)])
            result(rc == 0 and ("Total Series: %d" % len(series)) in out,
                   f"promtool tsdb analyze accepts: {name}", out + err)
            rc, out, err = run([THANOSC, "tools", "block", "dump", "--path=" + blk])
            result(rc == 0 and parse_dump(out) == expected_dump(series),
                   f"thanosc dump reads back: {name}", err)
            with open(os.path.join(blk, "meta.json")) as f:
                meta = json.load(f)
            nsamples = sum(len(p) for p in series.values())
            result(meta["stats"].get("numSamples", 0) == nsamples and
                   meta["stats"].get("numSeries", 0) == len(series) and
                   meta["version"] == 1 and meta["compaction"]["level"] == 1,
                   f"meta.json stats: {name}", json.dumps(meta))
        want = expected_dump(all_series)
        for ver, pt in (("3.5", PROMTOOL3), ("2.42", PROMTOOL2)):
            rc, out, err = run([pt, "tsdb", "dump", data])
            got = parse_dump(out)
            detail = err
            if got != want:
                detail += "\nonly promtool: " + "\n".join(map(str, sorted(set(got) - set(want))[:5]))
                detail += "\nonly written: " + "\n".join(map(str, sorted(set(want) - set(got))[:5]))
            result(rc == 0 and got == want,
                   f"promtool {ver} tsdb dump of our blocks = samples written ({len(want)})",
                   detail)

        # A real Prometheus serving the directory over its HTTP API.
        port = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        log = open(os.path.join(tmp, "prom.log"), "w")
        prom = subprocess.Popen([PROM3, "--config.file=" + cfg,
                                 "--storage.tsdb.path=" + data,
                                 "--storage.tsdb.retention.time=100y",
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT)
        ready = False
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                ready = True
                break
            except Exception:
                time.sleep(0.1)
        result(ready, "prometheus 3.5 starts on the data directory")
        if ready:
            # Raw samples through a range selector; stale markers are not
            # returned by the API, everything else is, bit for bit.
            evt = (now // 1000) + 60
            r = api(port, "/api/v1/query", query='{__name__=~".+"}[2d]', time=evt)
            got = {}
            for m in r["data"]["result"]:
                ls = tuple(sorted(m["metric"].items()))
                got[ls] = [(int(round(float(t) * 1000)), v) for t, v in m["values"]]
            bad = []
            nsamp = 0
            for ls, pts in all_series.items():
                exp = [(t, v) for t, v in pts if v != "stale"]
                have = got.pop(tuple(sorted(ls)), [])
                nsamp += len(exp)
                if len(have) != len(exp):
                    bad.append(f"{ls}: {len(have)} samples, want {len(exp)}")
                    continue
                for (t, v), (ht, hv) in zip(exp, have):
                    hf = float(hv)
                    same = (math.isnan(v) and math.isnan(hf)) or (
                        struct.pack("<d", v) == struct.pack("<d", hf))
                    if t != ht or not same:
                        bad.append(f"{ls}: ({ht},{hv}) want ({t},{v!r})")
                        break
            bad += [f"unexpected series {ls}" for ls in got]
            result(r["status"] == "success" and not bad,
                   f"prometheus API returns exactly the {nsamp} samples written "
                   f"in {len(all_series)} series", "\n".join(bad[:10]))
            r = api(port, "/api/v1/label/v/values")
            result(sorted(r["data"]) == sorted(v for ls in all_series for k, v in ls if k == "v"),
                   "prometheus label values API sees the unicode values", r)
            r = api(port, "/api/v1/query", query='count(high_card)',
                    time=(starts["high-cardinality labels"] + 5000) / 1000)
            result(r["data"]["result"] and r["data"]["result"][0]["value"][1] == "4000",
                   "count(high_card) at the block's time is 4000", r)
            r = api(port, "/api/v1/series", **{"match[]": "high_card", "start": 0,
                                                "end": evt})
            result(len(r["data"]) == 4000, "series API lists all 4000 high-cardinality series",
                   len(r["data"]))
    finally:
        if prom:
            prom.terminate()
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        if tap.failed and os.environ.get("KEEP_TMP"):
            print("# kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


sys.exit(main())
