# complib.py - helpers of the compactor tests (t08*-compact-*.py): blocks
# put into a FILESYSTEM bucket as a sidecar would have uploaded them, one
# `thanosc compact` run, and a fingerprint of every object of a bucket.
import hashlib
import json
import math
import os
import shutil
import subprocess
import time

import grpclib as G
import storelib as S

H2 = 2 * 3600 * 1000


def new_ulid(i, age=0):
    """A ULID of now (never an old partial upload), or of age seconds ago,
    ending in i."""
    enc = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    ms, head = int((time.time() - age) * 1000), ""
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


def bucket_of_blocks(t, duration=6 * 3600, labels=None):
    """Promtool-made 2h blocks over duration seconds in t.tmp/src2h, copied
    with a sidecar's Thanos meta (labels, default cluster="c1") into a
    FILESYSTEM bucket t.tmp/bucket: (src, block ids, bucket, bucket YAML)."""
    src = os.path.join(t.tmp, "src2h")
    os.makedirs(src)
    ids = S.make_blocks(t, src, duration=duration)
    bucket = os.path.join(t.tmp, "bucket")
    os.makedirs(bucket)
    for b in ids:
        put(src, bucket, b, labels or {"cluster": "c1"})
    return src, ids, bucket, S.bucket_yml(t, bucket)


def one_block(t, series, max_duration):
    """Writes series ({'name{labels}': [(t s, v)]}: one gauge family and
    one counter family, whose names end in _total) as OpenMetrics and has
    promtool cut it with --max-block-duration; returns (source dir, block
    IDs)."""
    om = os.path.join(t.tmp, "data.om")
    with open(om, "w") as f:
        for typ in ("gauge", "counter"):
            names = [n for n in series
                     if n.split("{")[0].endswith("_total") == (typ ==
                                                               "counter")]
            if not names:
                continue
            f.write("# TYPE %s %s\n" % (names[0].split("{")[0].replace(
                "_total", ""), typ))
            for n in names:
                for ts, v in series[n]:
                    f.write("%s %s %d\n" % (n, "NaN" if math.isnan(v)
                                            else repr(v), ts))
        f.write("# EOF\n")
    src = os.path.join(t.tmp, "src")
    subprocess.check_call([S.PROMTOOL, "tsdb", "create-blocks-from",
                           "openmetrics", "--max-block-duration=" +
                           max_duration, om, src],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return src, sorted(d for d in os.listdir(src) if len(d) == 26)


def served_aggr(stub, rpc, types, sel, window):
    """The aggregate chunks a store gateway serves for sel at
    max_resolution_window, as (min time, max time, {aggregate: samples})."""
    req = rpc.SeriesRequest(
        min_time=0, max_time=2 ** 62, matchers=S.parse_sel(types, sel),
        max_resolution_window=window,
        aggregates=[rpc.COUNT, rpc.SUM, rpc.MIN, rpc.MAX, rpc.COUNTER])
    out = []
    for r in stub.Series(req, timeout=60):
        if r.WhichOneof("result") == "series":
            for c in r.series.chunks:
                out.append((c.min_time, c.max_time, {
                    k: S.xor_decode(getattr(c, k).data)
                    for k in ("count", "sum", "min", "max", "counter")}))
    return out


def snapshot(bucket):
    """Every object's path and SHA-256."""
    out = {}
    for root, _, files in os.walk(bucket):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, bucket)] = hashlib.sha256(
                G.read(p)).hexdigest()
    return out


def clean_log(text):
    """No sanitizer report in a log (a sanitizer build goes on after one)."""
    return "runtime error:" not in text and "Sanitizer" not in text


def compact(t, bucket, data, *extra, timeout=120, config=None):
    """One run without --wait over the FILESYSTEM bucket (or the bucket
    config given): (exit code, log); 99 for a sanitizer report."""
    config = config or S.bucket_yml(t, bucket)
    p = subprocess.run([G.THANOSC, "compact", "--objstore.config-file=" +
                        config, "--data-dir=" + data,
                        "--http-address=127.0.0.1:%d" % G.free_port(),
                        "--consistency-delay=0s"] + list(extra),
                       capture_output=True, text=True, timeout=timeout)
    # A sanitizer build reports and goes on: count a report as a failure.
    if not clean_log(p.stderr):
        return 99, p.stderr
    return p.returncode, p.stderr


# ---- Thanos's downsampling, as a model to compare with ----
# Aggregate chunks are (min time, max time, {aggregate: [(t, v)...]}).


def window(ts, r):
    return ts - ts % r + r - 1


def target_chunks(mint, maxt, in_res, out_res, count):
    max_samples = float((maxt - mint) // out_res)
    full = count / ((maxt - mint) / in_res) if maxt > mint else 1.0
    exp = int(max_samples * min(full, 1.0)) + 1
    x = 1
    while exp // x > 140:
        x += 1
    return x


def fsum(vs):
    s = 0.0
    for v in vs:
        s += v
    return s


def windows(data, r):
    """Thanos's downsampleBatch: [(window ts, values, running counter)]."""
    out, cur, nxt, total, ctr, lastv = [], [], -1, 0, 0.0, 0.0
    last = data[-1][0]
    for ts, v in data:
        if ts > nxt:
            if nxt != -1:
                out.append((nxt, cur, ctr))
            cur = []
            nxt = min(window(ts, r), last)
        ctr = v if total == 0 else ctr + (v if v < lastv else v - lastv)
        lastv = v
        total += 1
        cur.append(v)
    out.append((nxt, cur, ctr))
    return out


def downsample_raw(data, r):
    """Raw samples [(t, v)] to aggregate chunks at resolution r."""
    nch = target_chunks(data[0][0], data[-1][0], 60000, r, len(data))
    size = len(data) // nch + 1
    out = []
    while data:
        j = min(size, len(data))
        w = window(data[j - 1][0], r)
        while j < len(data) and data[j][0] <= w:
            j += 1
        b = [s for s in data[:j] if not math.isnan(s[1])]
        data = data[j:]
        if not b:
            continue
        ws = windows(b, r)
        agg = {"count": [(ts, float(len(vs))) for ts, vs, _ in ws],
               "sum": [(ts, fsum(vs)) for ts, vs, _ in ws],
               "min": [(ts, min(vs)) for ts, vs, _ in ws],
               "max": [(ts, max(vs)) for ts, vs, _ in ws],
               "counter": [b[0]] + [(ts, c) for ts, _, c in ws] +
               [(ws[-1][0], b[-1][1])]}
        out.append((ws[0][0], ws[-1][0], agg))
    return out


def expand(samples):
    """Thanos's expandChunkIterator: no going back in time (from 0)."""
    out, last = [], 0
    for ts, v in samples:
        if ts >= last:
            out.append((ts, v))
            last = ts
    return out


def counter_resets(part):
    """The counter samples of chunks with resets removed, and the true
    last value (Thanos's ApplyCounterResetsSeriesIterator)."""
    out, total, last_t, lastv, s = [], 0, 0, 0.0, 0.0
    for c in part:
        for ts, v in c[2]["counter"]:
            if math.isnan(v):
                continue
            if total == 0:
                s = v
            elif ts > last_t:
                s += v - lastv if v >= lastv else v
            else:
                if ts == last_t:
                    lastv = v
                continue
            total += 1
            last_t, lastv = ts, v
            out.append((ts, s))
    return expand(out), lastv


def downsample_aggr(chunks, in_res, r):
    """Aggregate chunks of in_res to aggregate chunks at r."""
    num = sum(len(c[2]["count"]) for c in chunks)
    nch = target_chunks(chunks[0][0], chunks[-1][1], in_res, r, num)
    size = max(len(chunks) // nch, 1)
    out = []
    for i in range(0, len(chunks), size):
        part = chunks[i:i + size]
        agg, ts_all = {}, []
        for k, f in (("count", fsum), ("sum", fsum), ("min", min),
                     ("max", max)):
            buf = []
            for c in part:
                buf += expand(c[2][k])
            if buf:
                ws = windows(buf, r)
                agg[k] = [(ts, f(vs)) for ts, vs, _ in ws]
                ts_all += [ts for ts, _, _ in ws]
        buf, lastv = counter_resets(part)
        if buf:
            ws = windows(buf, r)
            agg["counter"] = [buf[0]] + [(ts, c) for ts, _, c in ws] + \
                [(ws[-1][0], lastv)]
            ts_all += [ts for ts, _, _ in ws]
        out.append((min(ts_all), max(ts_all), agg))
    return out


def same_chunks(got, want):
    """Equal aggregate chunks (NaN equal to NaN); a message when not."""
    def eq(a, b):
        return a[0] == b[0] and (a[1] == b[1] or
                                 (math.isnan(a[1]) and math.isnan(b[1])))
    if len(got) != len(want):
        return "chunks %d vs %d" % (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        if (g[0], g[1]) != (w[0], w[1]):
            return "chunk %d range %s vs %s" % (i, g[:2], w[:2])
        for k in w[2]:
            if len(g[2][k]) != len(w[2][k]) or not all(
                    eq(a, b) for a, b in zip(g[2][k], w[2][k])):
                return "chunk %d %s: %s vs %s" % (i, k, str(g[2][k])[:300],
                                                  str(w[2][k])[:300])
    return ""
