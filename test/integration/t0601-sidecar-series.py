# t0601-sidecar-series.py - thanosc sidecar in front of real Prometheus 2.42
# and 3.5 (history written by promtool create-blocks-from openmetrics, plus
# live self-scraping): Series asked by a python grpcio client and by
# `thanosc tools store series` return exactly the samples Prometheus's own
# query API returns, with the external labels; streamed and SAMPLES modes;
# external-label matchers, without_replica_labels, skip_chunks, label APIs,
# Info, request limits; Prometheus down -> not ready and Unavailable, back
# -> recovers without a restart; empty external labels stop the start-up.
import atexit
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib  # noqa: E402

t = grpclib.Tap("t0601-sidecar-series")
if not os.environ.get("KEEP_TMP"):
    atexit.register(shutil.rmtree, t.tmp, True)
os.makedirs(os.path.join(t.tmp, "stubs"))
grpclib.gen_stubs(os.path.join(t.tmp, "stubs"))
import grpc  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

TOP = grpclib.TOP
PROMS = [("2.42", "/usr/bin/prometheus", "/usr/bin/promtool"),
         ("3.5", os.path.join(TOP, ".deps/prom3/usr/bin/prometheus"),
          os.path.join(TOP, ".deps/prom3/usr/bin/promtool"))]

NOW = int(time.time())
HIST_END = (NOW - 3 * 3600) // 60 * 60      # history ends 3 h ago
HIST_START = HIST_END - 5 * 3600            # 5 h of it, every 30 s
NSERIES = 4


# ------------------------------------------------------------ XOR chunks

class Bits:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def bit(self):
        v = (self.b[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return v

    def bits(self, n):
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v


def uvarint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


def xor_decode(data):
    """Prometheus's XOR chunk: [(t ms, value bits)]."""
    n = struct.unpack(">H", data[:2])[0]
    out = []
    if n == 0:
        return out
    zz, i = uvarint(data, 2)
    t0 = (zz >> 1) ^ -(zz & 1)
    v = struct.unpack(">Q", data[i:i + 8])[0]
    i += 8
    out.append((t0, v))
    if n == 1:
        return out
    td, i = uvarint(data, i)
    br = Bits(data[i:])
    tt = t0 + td
    leading = trailing = 0

    def read_value(v):
        nonlocal leading, trailing
        if br.bit() == 0:
            return v
        if br.bit() == 1:
            leading = br.bits(5)
            sig = br.bits(6) or 64
            trailing = 64 - leading - sig
        sig = 64 - leading - trailing
        return v ^ (br.bits(sig) << trailing)

    v = read_value(v)
    out.append((tt, v))
    for _ in range(n - 2):
        nb = 0
        while nb < 4 and br.bit() == 1:
            nb += 1
        width = {0: 0, 1: 14, 2: 17, 3: 20, 4: 64}[nb]
        dod = 0
        if width:
            dod = br.bits(width)
            if width != 64 and dod > (1 << (width - 1)):
                dod -= 1 << width
            elif width == 64 and dod >= 1 << 63:
                dod -= 1 << 64
        td += dod
        tt += td
        v = read_value(v)
        out.append((tt, v))
    return out


def fbits(v):
    return struct.unpack(">d", struct.pack(">Q", v))[0]


# ----------------------------------------------------------- processes

def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def http_status(url):
    try:
        return http_get(url)[0]
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def wait_until(fn, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return False


def write_history(path):
    with open(path, "w") as f:
        f.write("# HELP hist_metric backfilled history\n")
        f.write("# TYPE hist_metric gauge\n")
        for s in range(NSERIES):
            for ts in range(HIST_START, HIST_END, 30):
                val = (ts - HIST_START) / 30.0 * (s + 1) + 0.25
                f.write('hist_metric{i="%d",job="hist"} %s %d\n' %
                        (s, repr(val), ts))
        f.write("# EOF\n")


def prom_config(path, port, ext=True):
    with open(path, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n")
        if ext:
            f.write("  external_labels:\n    cluster: eu1\n"
                    "    replica: \"0\"\n")
        f.write("scrape_configs:\n  - job_name: prom\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % port)


def start_prom(bin_, data, cfg, port, log):
    return t.start([bin_, "--config.file=" + cfg,
                    "--storage.tsdb.path=" + data,
                    "--web.listen-address=127.0.0.1:%d" % port,
                    "--storage.tsdb.min-block-duration=2h",
                    "--storage.tsdb.max-block-duration=2h"],
                   stdout=log, stderr=subprocess.STDOUT)


def start_sidecar(pport, data, extra, log):
    gport, hport = grpclib.free_port(), grpclib.free_port()
    p = t.start([grpclib.THANOSC, "sidecar",
                 "--prometheus.url=http://127.0.0.1:%d" % pport,
                 "--tsdb.path=" + data,
                 "--grpc-address=127.0.0.1:%d" % gport,
                 "--http-address=127.0.0.1:%d" % hport] + extra,
                stdout=log, stderr=subprocess.STDOUT)
    return p, gport, hport


# -------------------------------------------------------------- queries

def matcher(name, value, typ=0):
    return types.LabelMatcher(type=typ, name=name, value=value)


def series(gport, ms, mint, maxt, **kw):
    ch = grpc.insecure_channel("127.0.0.1:%d" % gport)
    try:
        req = rpc.SeriesRequest(min_time=mint, max_time=maxt, matchers=ms,
                                **kw)
        out = {}
        for r in rpc_grpc.StoreStub(ch).Series(req, timeout=30):
            if not r.HasField("series"):
                continue
            key = tuple((l.name, l.value) for l in r.series.labels)
            samples = out.setdefault(key, [])
            for c in r.series.chunks:
                for ts, v in xor_decode(c.raw.data):
                    if mint <= ts <= maxt:
                        samples.append((ts, v))
        return out
    finally:
        ch.close()


def prom_range(pport, query, t_end_ms, range_ms):
    url = ("http://127.0.0.1:%d/api/v1/query?query=%s&time=%.3f" %
           (pport, urllib.request.quote("%s[%dms]" % (query, range_ms)),
            t_end_ms / 1000.0))
    body = json.loads(http_get(url, 30)[1])
    out = {}
    for r in body["data"]["result"]:
        key = tuple(sorted(r["metric"].items()))
        out[key] = [(int(round(float(ts) * 1000)), float(v))
                    for ts, v in r["values"]]
    return out


def with_ext(key, drop=()):
    d = dict(key)
    d["cluster"] = "eu1"
    d["replica"] = "0"
    for k in drop:
        d.pop(k, None)
    return tuple(sorted(d.items()))


def compare(got, want, drop=()):
    """got: sidecar {labels: [(t, bits)]}; want: prometheus {labels: [(t, v)]}"""
    want2 = {with_ext(k, drop): v for k, v in want.items()}
    if set(got) != set(want2):
        return False, "label sets differ:\n got %s\n want %s" % (
            sorted(got)[:3], sorted(want2)[:3])
    for k, ws in want2.items():
        gs = sorted(set(got[k]))
        if [g[0] for g in gs] != [w[0] for w in ws]:
            return False, "%s: timestamps differ (%d vs %d samples)" % (
                k, len(gs), len(ws))
        for (gt, gv), (wt, wv) in zip(gs, ws):
            f = fbits(gv)
            if not (f == wv or (f != f and wv != wv)):
                return False, "%s@%d: %r vs %r" % (k, gt, f, wv)
    return True, ""


def total_samples(d):
    return sum(len(set(v)) for v in d.values())


# ----------------------------------------------------------------- tests

def check_version(ver, prom, promtool):
    d = os.path.join(t.tmp, ver)
    data = os.path.join(d, "data")
    os.makedirs(data)
    om = os.path.join(d, "history.om")
    write_history(om)
    r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                        om, data], capture_output=True, text=True)
    t.ok(r.returncode == 0, "%s: promtool writes history blocks" % ver,
         r.stdout + r.stderr)
    pport = grpclib.free_port()
    cfg = os.path.join(d, "prom.yml")
    prom_config(cfg, pport)
    plog = open(os.path.join(d, "prom.log"), "w")
    p = start_prom(prom, data, cfg, pport, plog)
    t.ok(wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % pport) == 200),
        "%s: prometheus ready" % ver)
    slog = open(os.path.join(d, "sidecar.log"), "w")
    sc, gport, hport = start_sidecar(pport, data, [
        "--prometheus.get_config_interval=1s"], slog)
    t.ok(wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % hport) == 200),
        "%s: sidecar ready" % ver)
    # Let a few scrapes of `up` land (Prometheus 3 starts scraping after
    # its 5 s discovery reload).
    def have_up():
        end = int(time.time() * 1000)
        return sum(len(v) for v in prom_range(pport, "up", end,
                                              60000).values()) >= 5
    t.ok(wait_until(have_up, 30), "%s: prometheus scrapes itself" % ver)

    # History: the whole backfilled range.
    mint, maxt = (HIST_START - 60) * 1000, (HIST_END + 60) * 1000
    want = prom_range(pport, 'hist_metric', maxt, maxt - mint)
    got = series(gport, [matcher("__name__", "hist_metric")], mint, maxt)
    ok, why = compare(got, want)
    t.ok(ok and len(got) == NSERIES and total_samples(got) == NSERIES * 600,
         "%s: history Series == Prometheus query (%d series, %d samples)" %
         (ver, len(got), total_samples(got)), why)

    # A window inside the history cuts chunks: samples still exact.
    lo, hi = (HIST_START + 3600) * 1000, (HIST_START + 5400) * 1000
    want = prom_range(pport, 'hist_metric{i=~"1|2"}', hi, hi - lo)
    # Prometheus 2 range selectors are closed [lo, hi], 3's left-open.
    first = lo if ver.startswith("2.") else lo + 1
    got = series(gport, [matcher("__name__", "hist_metric"),
                         matcher("i", "1|2", 2)], first, hi)
    ok, why = compare(got, want)
    t.ok(ok and len(got) == 2, "%s: window and regex matcher exact" % ver,
         why)

    # Live data, ending a little in the past.
    end = int(time.time() * 1000) - 1500
    want = prom_range(pport, 'up', end, 60000)
    first = end - 60000 if ver.startswith("2.") else end - 60000 + 1
    got = series(gport, [matcher("__name__", "up")], first, end)
    ok, why = compare(got, want)
    t.ok(ok and total_samples(got) >= 2,
         "%s: live `up` Series == Prometheus query (%d samples)" %
         (ver, total_samples(got)), why)

    # External-label matchers answered locally.
    got = series(gport, [matcher("__name__", "hist_metric"),
                         matcher("cluster", "eu1")], mint, maxt)
    t.ok(len(got) == NSERIES, "%s: matching external label keeps all" % ver)
    got = series(gport, [matcher("__name__", "hist_metric"),
                         matcher("cluster", "us.*", 2)], mint, maxt)
    t.ok(len(got) == 0, "%s: non-matching external label: empty" % ver)
    try:
        series(gport, [matcher("cluster", "eu1")], mint, maxt)
        t.ok(False, "%s: only external matchers refused" % ver)
    except grpc.RpcError as e:
        t.ok(e.code() == grpc.StatusCode.INVALID_ARGUMENT and
             "no matchers" in e.details(),
             "%s: only external matchers refused" % ver, e.details())

    # without_replica_labels, skip_chunks.
    want = prom_range(pport, 'hist_metric', maxt, maxt - mint)
    got = series(gport, [matcher("__name__", "hist_metric")], mint, maxt,
                 without_replica_labels=["replica"])
    ok, why = compare(got, want, drop=("replica",))
    t.ok(ok, "%s: without_replica_labels drops replica" % ver, why)
    got = series(gport, [matcher("__name__", "hist_metric")], mint, maxt,
                 skip_chunks=True)
    t.ok(sorted(got) == sorted(with_ext(k) for k in want) and
         total_samples(got) == 0, "%s: skip_chunks gives labels only" % ver,
         sorted(got)[:2])

    # Sharding (Info says supported): shards are disjoint and cover all,
    # by and without labels, streamed and skip_chunks alike.
    for by in (True, False):
        for skip in (False, True):
            parts = []
            for idx in range(3):
                si = rpc.ShardInfo(shard_index=idx, total_shards=3, by=by,
                                   labels=["i"] if by else ["job"])
                parts.append(series(gport, [matcher("__name__", "up|hist_metric",
                                                    2)], mint, maxt,
                                    shard_info=si, skip_chunks=skip))
            keys = [k for p_ in parts for k in p_]
            whole = series(gport, [matcher("__name__", "up|hist_metric", 2)],
                           mint, maxt, skip_chunks=skip)
            t.ok(sorted(keys) == sorted(whole) and len(keys) == len(set(keys))
                 and sum(1 for p_ in parts if p_) >= 2
                 and len(whole) == NSERIES,
                 "%s: 3 shards (by=%s, skip_chunks=%s) split %d series %s" %
                 (ver, by, skip, len(whole), [len(p_) for p_ in parts]))

    # Our own client agrees.
    r = subprocess.run([grpclib.THANOSC, "tools", "store", "series",
                        "--endpoint=127.0.0.1:%d" % gport,
                        "--match=hist_metric",
                        "--min-time=%d" % (mint // 1000),
                        "--max-time=%d" % (maxt // 1000)],
                       capture_output=True, text=True)
    m = re.search(r"series=(\d+) chunks=(\d+) samples=(\d+)", r.stderr)
    t.ok(r.returncode == 0 and m and int(m.group(1)) == NSERIES and
         int(m.group(3)) == NSERIES * 600,
         "%s: thanosc tools store series counts %s" %
         (ver, m.group(0) if m else "?"), r.stderr + r.stdout[:500])
    t.ok('cluster="eu1"' in r.stdout and 'replica="0"' in r.stdout,
         "%s: thanosc client sees external labels" % ver, r.stdout[:300])

    # Label APIs and Info.
    ch = grpc.insecure_channel("127.0.0.1:%d" % gport)
    st = rpc_grpc.StoreStub(ch)
    names = st.LabelNames(rpc.LabelNamesRequest(start=mint, end=maxt + 10**7),
                          timeout=10).names
    t.ok("cluster" in names and "i" in names and "__name__" in names and
         list(names) == sorted(set(names)), "%s: LabelNames" % ver, names)
    vals = st.LabelValues(rpc.LabelValuesRequest(
        label="i", start=mint, end=maxt), timeout=10).values
    t.ok(list(vals) == [str(i) for i in range(NSERIES)],
         "%s: LabelValues from Prometheus" % ver, vals)
    vals = st.LabelValues(rpc.LabelValuesRequest(
        label="cluster", start=mint, end=maxt), timeout=10).values
    t.ok(list(vals) == ["eu1"], "%s: LabelValues of an external label" % ver,
         vals)
    inf = info_pb2_grpc.InfoStub(ch).Info(info_pb2.InfoRequest(), timeout=10)
    lset = [(l.name, l.value) for l in inf.label_sets[0].labels]
    t.ok(inf.ComponentType == "sidecar" and inf.store.supports_sharding and
         lset == [("cluster", "eu1"), ("replica", "0")] and
         inf.store.max_time == 2**63 - 1 and
         inf.store.min_time <= HIST_START * 1000,
         "%s: Info: sidecar, labels, min time %d" % (ver, inf.store.min_time),
         str(inf))
    ch.close()

    # SAMPLES mode (re-encoded chunks of <= 120 samples) and limits.
    slog2 = open(os.path.join(d, "sidecar-samples.log"), "w")
    sc2, gport2, hport2 = start_sidecar(pport, data, [
        "--prometheus.remote-read-samples",
        "--store.limits.request-series=%d" % (NSERIES - 1)], slog2)
    wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % hport2) == 200)
    want = prom_range(pport, 'hist_metric', maxt, maxt - mint)
    got = series(gport2, [matcher("__name__", "hist_metric"),
                          matcher("i", "0|1|2", 2)], mint, maxt)
    want = {k: v for k, v in want.items() if dict(k)["i"] != "3"}
    ok, why = compare(got, want)
    t.ok(ok and total_samples(got) == (NSERIES - 1) * 600,
         "%s: SAMPLES mode re-encoded == Prometheus" % ver, why)
    try:
        series(gport2, [matcher("__name__", "hist_metric")], mint, maxt)
        t.ok(False, "%s: series limit" % ver)
    except grpc.RpcError as e:
        t.ok(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and
             "series limit" in e.details(), "%s: series limit: %s" %
             (ver, e.details()))
    t.stop(sc2)

    # Prometheus down: not ready, Unavailable; back: recovers.
    t.stop(p)
    try:
        series(gport, [matcher("__name__", "up")], mint, maxt)
        t.ok(False, "%s: Prometheus down: Unavailable" % ver)
    except grpc.RpcError as e:
        t.ok(e.code() == grpc.StatusCode.UNAVAILABLE and
             "/api/v1/read" in e.details(), "%s: Prometheus down: %s" %
             (ver, e.details()))
    t.ok(wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % hport) == 503, 10),
        "%s: Prometheus down: sidecar not ready" % ver)
    p = start_prom(prom, data, cfg, pport, plog)
    t.ok(wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % hport) == 200, 30),
        "%s: Prometheus back: ready again" % ver)
    wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % pport) == 200)
    got = series(gport, [matcher("__name__", "hist_metric")], mint, maxt)
    t.ok(total_samples(got) == NSERIES * 600,
         "%s: Prometheus back: Series answers" % ver)
    _, body = http_get("http://127.0.0.1:%d/metrics" % hport)
    t.ok(b"thanos_sidecar_prometheus_up 1" in body,
         "%s: thanos_sidecar_prometheus_up 1" % ver)
    t.stop(sc)
    t.stop(p)


def check_empty_labels():
    prom = PROMS[1][1]
    d = os.path.join(t.tmp, "noext")
    os.makedirs(os.path.join(d, "data"))
    pport = grpclib.free_port()
    cfg = os.path.join(d, "prom.yml")
    prom_config(cfg, pport, ext=False)
    plog = open(os.path.join(d, "prom.log"), "w")
    p = start_prom(prom, os.path.join(d, "data"), cfg, pport, plog)
    wait_until(lambda: http_status(
        "http://127.0.0.1:%d/-/ready" % pport) == 200)
    log = os.path.join(d, "sidecar.log")
    sc, _, _ = start_sidecar(pport, os.path.join(d, "data"), [],
                             open(log, "w"))
    try:
        code = sc.wait(20)
    except subprocess.TimeoutExpired:
        code = None
    text = open(log).read()
    t.ok(code == 1 and "no external labels" in text and "doubled" in text,
         "empty external labels stop the start-up with a reason", text[-800:])
    t.stop(p)


for ver, prom, promtool in PROMS:
    if not os.path.exists(prom):
        t.ok(True, "%s: not installed # SKIP" % ver)
        continue
    check_version(ver, prom, promtool)
check_empty_labels()
t.done()
