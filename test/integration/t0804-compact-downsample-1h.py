#!/usr/bin/python3
# t0804-compact-downsample-1h: a raw block of ten days and an hour gets,
# in one `thanosc compact` run, a 5m block and from that a 1h block; the
# 1h AggrChunks the store gateway serves equal the model of Thanos's
# second-level downsampling (whole 5m chunks combined, counts summed,
# counter resets between chunks applied) run over the model's 5m chunks.
# --downsampling.disable leaves the bucket alone.
import json
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0804-compact-downsample-1h")
S.kill_on_exit(t)
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

R5M, R1H = 300000, 3600000
T = 1768845600  # a multiple of 486h: promtool cuts one block
STEP = 60
N = (10 * 24 + 1) * 3600 // STEP


def counter(k):
    # Resets every 997 minutes, so some fall inside 5m chunks and some
    # between them.
    return float((k % 997) * 3 + k // 997)


series = {
    'g{job="a"}': [(T + k * STEP, float("nan") if k == 5000 else
                    float((k * 7919) % 1000) / 10.0) for k in range(N)],
    'c_total{job="a"}': [(T + k * STEP, counter(k)) for k in range(N)],
}
om = os.path.join(t.tmp, "data.om")
with open(om, "w") as f:
    f.write("# TYPE g gauge\n")
    for ts, v in series['g{job="a"}']:
        f.write('g{job="a"} %s %d\n' % ("NaN" if math.isnan(v) else repr(v),
                                        ts))
    f.write("# TYPE c counter\n")
    for ts, v in series['c_total{job="a"}']:
        f.write('c_total{job="a"} %r %d\n' % (v, ts))
    f.write("# EOF\n")
src = os.path.join(t.tmp, "src")
subprocess.check_call([S.PROMTOOL, "tsdb", "create-blocks-from",
                       "openmetrics", "--max-block-duration=486h", om, src],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ids = sorted(d for d in os.listdir(src) if len(d) == 26)
t.ok(len(ids) == 1, "promtool made one block of 10d1h", ids)
bucket = os.path.join(t.tmp, "bucket")
C.put(src, bucket, ids[0], {"cluster": "c1"}, align=False)
data = os.path.join(t.tmp, "data")

before = C.snapshot(bucket)
rc, log = C.compact(t, bucket, data, "--downsampling.disable")
t.ok(rc == 0 and C.snapshot(bucket) == before,
     "--downsampling.disable changes nothing", log[-1000:])

rc, log = C.compact(t, bucket, data)
res = {}
for d in os.listdir(bucket):
    with open(os.path.join(bucket, d, "meta.json")) as f:
        m = json.load(f)
    res[m["thanos"]["downsample"]["resolution"]] = m
t.ok(rc == 0 and sorted(res) == [0, R5M, R1H],
     "one run made a 5m and a 1h block", (sorted(res), log[-1500:]))
t.ok(all((m["minTime"], m["maxTime"], m["compaction"]["sources"]) ==
         (res[0]["minTime"], res[0]["maxTime"], [ids[0]])
         for m in res.values()), "all three cover the same range and source")

store = S.start_store(t, bucket, os.path.join(t.tmp, "store"))
stub = rpc_grpc.StoreStub(grpc.insecure_channel("127.0.0.1:%d" % store.grpc))


def served(sel, window):
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


for sel, raw in series.items():
    l1 = C.downsample_raw([(ts * 1000, v) for ts, v in raw], R5M)
    want = C.downsample_aggr(l1, R5M, R1H)
    diff = C.same_chunks(served(sel, R1H), want)
    t.ok(not diff, "%s: %d 1h chunks as Thanos computes them" %
         (sel, len(want)), diff)
shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
