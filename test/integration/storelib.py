# storelib.py - helpers of the store gateway tests (t03*-store*.py): a small
# deterministic OpenMetrics data set turned into blocks by promtool, a
# FILESYSTEM bucket, an S3 bucket on s3rver, `thanosc store` and
# Prometheus 2.42 started on free ports, a python3-grpcio StoreAPI client
# and an XOR chunk decoder.
import atexit
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import grpclib as G

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"

# 2026-01-10T00:00:00Z: a 2 h boundary; data runs 6 h 30 m, so promtool
# cuts four blocks.
T0 = 1768003200
DURATION = 6 * 3600 + 1800
STEP = 30


def kill_on_exit(t):
    """Stops the test's processes (by pid) even when it dies early."""
    def stop():
        for p in t.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    atexit.register(stop)


def gen_openmetrics(path, t0=T0, duration=DURATION, step=STEP):
    """Writes three gauge families; some temp series carry an extra label."""
    fams = []
    up = []
    for job in ("a", "b"):
        for i in range(5):
            up.append(({"job": job, "instance": "i%d" % i},
                       lambda k, i=i: float((k // (7 + i)) % 2)))
    fams.append(("up", up))
    req = []
    for method in ("GET", "POST"):
        for code in ("200", "404", "500"):
            for i in range(3):
                req.append(({"job": "a", "instance": "i%d" % i,
                             "method": method, "code": code},
                            lambda k, i=i, c=code: k * (1.5 + i) +
                            (0.25 if c == "500" else 0)))
    fams.append(("http_requests", req))
    temp = []
    for r in range(10):
        ls = {"room": "r%d" % r}
        if r % 3 == 0:
            ls["extra"] = "x%d" % (r % 2)
        temp.append((ls, lambda k, r=r: 20.0 + r / 7.0 + (k % 13) * 0.1))
    fams.append(("temp", temp))
    n = duration // step
    with open(path, "w") as f:
        for name, series in fams:
            f.write("# TYPE %s gauge\n" % name)
            for ls, fn in series:
                lab = ",".join('%s="%s"' % (k, v) for k, v in sorted(ls.items()))
                for k in range(n):
                    f.write("%s{%s} %r %d\n" % (name, lab, fn(k),
                                                t0 + k * step))
        f.write("# EOF\n")


def make_blocks(t, outdir, **kw):
    om = os.path.join(t.tmp, "data.om")
    gen_openmetrics(om, **kw)
    subprocess.check_call([PROMTOOL, "tsdb", "create-blocks-from",
                           "openmetrics", om, outdir],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sorted(d for d in os.listdir(outdir) if len(d) == 26)


def bucket_yml(t, bucket):
    p = os.path.join(t.tmp, "bucket-%d.yml" % G.free_port())
    with open(p, "w") as f:
        f.write("type: FILESYSTEM\nconfig:\n  directory: %s\n" % bucket)
    return p


S3RVER = os.path.join(G.TOP, ".deps", "node", "node_modules", ".bin",
                      "s3rver")


def start_s3rver(t, bucket="blocks"):
    """Starts s3rver on loopback with one bucket; returns the path of an S3
    objstore config for it. Without s3rver the whole test is skipped."""
    if not os.access(S3RVER, os.X_OK):
        print("1..0 # SKIP s3rver is not installed")
        print("%s: 0 passed, 0 failed" % t.name)
        sys.exit(0)
    port = G.free_port()
    os.makedirs(os.path.join(t.tmp, "s3"))
    # s3rver's v2 continuation tokens use a cipher newer OpenSSL hides.
    env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
    t.start([S3RVER, "-d", os.path.join(t.tmp, "s3"), "-a", "127.0.0.1",
             "-p", str(port), "--silent", "--configure-bucket", bucket],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    G.wait_port(port)
    cfg = os.path.join(t.tmp, "s3.yml")
    with open(cfg, "w") as f:
        f.write("type: S3\nconfig:\n  bucket: %s\n  endpoint: 127.0.0.1:%d\n"
                "  insecure: true\n  access_key: S3RVER\n"
                "  secret_key: S3RVER\n" % (bucket, port))
    return cfg


def bucket_put(cfg, name, path):
    """Uploads the file at path as object name (`tools bucket put`)."""
    subprocess.run([G.THANOSC, "tools", "bucket", "put",
                    "--objstore.config-file=" + cfg, name, path],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)


def upload_block(cfg, d, b, meta=True):
    """Uploads the local block directory d as b/ in Thanos's order: chunks,
    index, then (with meta) meta.json."""
    for c in sorted(os.listdir(os.path.join(d, "chunks"))):
        bucket_put(cfg, "%s/chunks/%s" % (b, c), os.path.join(d, "chunks", c))
    bucket_put(cfg, b + "/index", os.path.join(d, "index"))
    if meta:
        bucket_put(cfg, b + "/meta.json", os.path.join(d, "meta.json"))


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_ready(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            http_get("http://127.0.0.1:%d/-/ready" % port, 1)
            return True
        except Exception:
            time.sleep(0.1)
    return False


def start_store(t, bucket, datadir, *extra):
    g, h = G.free_port(), G.free_port()
    log = open(os.path.join(t.tmp, "store-%d.log" % g), "w")
    p = t.start([G.THANOSC, "store", "--objstore.config-file=" +
                 bucket_yml(t, bucket), "--data-dir=" + datadir,
                 "--grpc-address=127.0.0.1:%d" % g,
                 "--http-address=127.0.0.1:%d" % h,
                 "--grpc-grace-period=1s", "--http-grace-period=1s"] +
                list(extra), stdout=log, stderr=subprocess.STDOUT)
    p.log = log.name
    p.grpc, p.http = g, h
    if not wait_ready(h):
        raise RuntimeError("store not ready; log:\n" + open(log.name).read())
    return p


def start_prometheus(t, blocks_src):
    d = os.path.join(t.tmp, "prom-%d" % G.free_port())
    shutil.copytree(blocks_src, d)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    port = G.free_port()
    p = t.start([PROMETHEUS, "--config.file=" + cfg,
                 "--storage.tsdb.path=" + d,
                 "--storage.tsdb.retention.time=100y",
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.port = port
    if not wait_ready(port):
        raise RuntimeError("prometheus not ready")
    return p


def prom_api(port, path, params):
    q = urllib.parse.urlencode(params, doseq=True)
    body = json.loads(http_get("http://127.0.0.1:%d/api/v1/%s?%s" %
                               (port, path, q)))
    if body.get("status") != "success":
        raise RuntimeError(str(body))
    return body["data"]


# ---- XOR chunks (Prometheus chunkenc) ----

class _Bits:
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

    def uvarint(self):
        x, s = 0, 0
        while True:
            c = self.bits(8)
            x |= (c & 0x7F) << s
            if c < 0x80:
                return x
            s += 7

    def varint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)


def xor_decode(data):
    n = struct.unpack(">H", data[:2])[0]
    br = _Bits(data[2:])
    out = []
    t = v = delta = 0
    lead = trail = 0
    vbits = 0
    for i in range(n):
        if i == 0:
            t = br.varint()
            vbits = br.bits(64)
        else:
            if i == 1:
                delta = br.uvarint()
            else:
                dod, sz = 0, None
                if br.bit():
                    sz = 14
                    if br.bit():
                        sz = 17
                        if br.bit():
                            sz = 20
                            if br.bit():
                                sz = 64
                if sz is not None:
                    dod = br.bits(sz)
                    if sz != 64 and dod > (1 << (sz - 1)):
                        dod -= 1 << sz
                    if sz == 64 and dod >= 1 << 63:
                        dod -= 1 << 64
                delta += dod
            t += delta
            if br.bit():
                if br.bit():
                    lead = br.bits(5)
                    sig = br.bits(6)
                    if sig == 0:
                        sig = 64
                    trail = 64 - lead - sig
                sig = 64 - lead - trail
                vbits ^= br.bits(sig) << trail
        v = struct.unpack(">d", struct.pack(">Q", vbits))[0]
        out.append((t, v))
    return out


# ---- comparing a store with Prometheus ----

def parse_sel(types, sel):
    """A tiny selector parser for the tests' own selectors."""
    ops = {"=": types.LabelMatcher.EQ, "!=": types.LabelMatcher.NEQ,
           "=~": types.LabelMatcher.RE, "!~": types.LabelMatcher.NRE}
    name, rest = sel.split("{", 1) if "{" in sel else (sel, "}")
    ms = []
    if name:
        ms.append(types.LabelMatcher(type=ops["="], name="__name__",
                                     value=name))
    rest = rest.rstrip("}")
    for part in filter(None, rest.split(",")):
        for op in ("!=", "=~", "!~", "="):
            if op in part:
                k, v = part.split(op, 1)
                ms.append(types.LabelMatcher(type=ops[op], name=k.strip(),
                                             value=v.strip().strip('"')))
                break
    return ms


def store_series(c, sel, mint, maxt, skip=False, **kw):
    """Series of sel: [(labels dict, samples in range, label names)]."""
    req = c.rpc.SeriesRequest(min_time=mint, max_time=maxt,
                              matchers=parse_sel(c.types, sel),
                              skip_chunks=skip, **kw)
    out = []
    for r in c.stub.Series(req, timeout=30):
        if r.WhichOneof("result") == "series":
            ls = {lb.name: lb.value for lb in r.series.labels}
            samples = []
            for ch in r.series.chunks:
                samples += [(ts, v) for ts, v in xor_decode(ch.raw.data)
                            if mint <= ts <= maxt]
            out.append((ls, samples, [lb.name for lb in r.series.labels]))
    return out


def key(ls):
    return tuple(sorted(ls.items()))


class Client:
    """What the comparison needs: the TAP, stubs and Prometheus's port."""

    def __init__(self, t, stub, rpc, types, prom_port):
        self.t, self.stub, self.rpc, self.types = t, stub, rpc, types
        self.prom = prom_port


T0_MS, T1_MS = T0 * 1000, (T0 + DURATION) * 1000
RANGES = [
    ("all data", T0_MS - 3600000, T1_MS + 3600000),
    ("inside one block", T0_MS + 1800000, T0_MS + 3600000),
    ("across three blocks", T0_MS + 3600000, T0_MS + 5 * 3600000 + 60000),
    ("last block only", T0_MS + 6 * 3600000, T1_MS),
    ("before the data", T0_MS - 7200000, T0_MS - 3600000),
]
SELECTORS = [
    'up', 'up{job="a"}', 'up{job!="a"}', '{__name__=~"up|temp"}',
    'http_requests{code=~"5.."}', 'http_requests{method!~"GET"}',
    'temp{extra=""}', 'temp{extra!=""}', 'temp{extra=~"x1|nope"}',
    'nonexistent', 'up{job=~"a|b",instance!~"i[0-2]"}',
    '{__name__=~".+",instance="i4"}', 'temp{room=~"r.*",extra!~"x0"}',
]


def compare_samples(c, ranges=RANGES, selectors=SELECTORS):
    """Series (chunks decoded) against Prometheus 2.42's raw samples of a
    range selector, [time - range, time]; and the stream's order."""
    t = c.t
    for rname, mint, maxt in ranges:
        for sel in selectors:
            rng = (maxt - mint) // 1000
            want = {}
            for s in prom_api(c.prom, "query", {
                    "query": "%s[%ds]" % (sel, rng),
                    "time": "%.3f" % (maxt / 1000)})["result"]:
                want[key(s["metric"])] = [(int(round(float(ts) * 1000)),
                                           float(v)) for ts, v in s["values"]]
            got_list = store_series(c, sel, mint, maxt)
            got = {key(ls): smp for ls, smp, _ in got_list if smp}
            t.ok(got == want, "Series samples %s, %s (%d series)" %
                 (sel, rname, len(want)),
                 "store %d series, prometheus %d; first diff: %s" % (
                     len(got), len(want),
                     next((k for k in set(got) | set(want)
                           if got.get(k) != want.get(k)), None)))
            order = [key(ls) for ls, _, _ in got_list]
            names_sorted = all(n == sorted(n) for _, _, n in got_list)
            t.ok(order == sorted(order) and names_sorted,
                 "Series sorted by labels %s, %s" % (sel, rname))


def compare_labels(c, ranges=RANGES, selectors=SELECTORS[:8]):
    """Series with skip_chunks, LabelNames and LabelValues against
    /api/v1/series, /api/v1/labels and /api/v1/label/<name>/values."""
    t, rpc, stub = c.t, c.rpc, c.stub
    for rname, mint, maxt in ranges:
        for sel in selectors:
            want = {key(m) for m in prom_api(
                c.prom, "series", {"match[]": sel, "start": mint / 1000,
                                   "end": maxt / 1000})}
            got = {key(ls) for ls, _, _ in store_series(c, sel, mint, maxt,
                                                        True)}
            t.ok(got == want, "Series skip_chunks %s, %s" % (sel, rname),
                 "store %s\nprometheus %s" % (sorted(got)[:3],
                                               sorted(want)[:3]))
    for rname, mint, maxt in ranges:
        params = {"start": mint / 1000, "end": maxt / 1000}
        want = prom_api(c.prom, "labels", params)
        got = list(stub.LabelNames(rpc.LabelNamesRequest(start=mint,
                                                         end=maxt),
                                   timeout=30).names)
        t.ok(got == want, "LabelNames, %s" % rname, "%s\n%s" % (got, want))
        for sel in ('up{job="b"}', 'temp{extra!=""}', 'nonexistent'):
            want = prom_api(c.prom, "labels", dict(params, **{"match[]": sel}))
            got = list(stub.LabelNames(rpc.LabelNamesRequest(
                start=mint, end=maxt, matchers=parse_sel(c.types, sel)),
                timeout=30).names)
            t.ok(got == want, "LabelNames %s, %s" % (sel, rname),
                 "%s\n%s" % (got, want))
        for name in ("__name__", "instance", "extra", "code", "nope"):
            want = prom_api(c.prom, "label/%s/values" % name, params)
            got = list(stub.LabelValues(rpc.LabelValuesRequest(
                label=name, start=mint, end=maxt), timeout=30).values)
            t.ok(got == want, "LabelValues %s, %s" % (name, rname),
                 "%s\n%s" % (got, want))
        for name, sel in (("instance", 'up{job="b"}'), ("extra", 'temp'),
                          ("code",
                           'http_requests{method="POST",code!="404"}')):
            want = prom_api(c.prom, "label/%s/values" % name,
                            dict(params, **{"match[]": sel}))
            got = list(stub.LabelValues(rpc.LabelValuesRequest(
                label=name, start=mint, end=maxt,
                matchers=parse_sel(c.types, sel)), timeout=30).values)
            t.ok(got == want, "LabelValues %s of %s, %s" % (name, sel, rname),
                 "%s\n%s" % (got, want))
