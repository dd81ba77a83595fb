#!/usr/bin/python3
# t0802-compact-downsample: a raw block spanning 48h (gauges with a NaN and
# a gap, a counter with resets) gets a 5m block from `thanosc compact`,
# with the source's range, compaction and labels, resolution 300000 and
# source "compactor". The store gateway serves its AggrChunks, and every
# aggregate (count, sum, min, max, counter with its first and last raw
# values) equals what this test computes from the raw samples with
# Thanos's batching and windows. A second run adds nothing.
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0802-compact-downsample")
S.kill_on_exit(t)
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

R5M = 300000
T = 1768068000  # a multiple of 54h: promtool cuts one 48h block
STEP = 60
N = 48 * 3600 // STEP


def gauge(k):
    if k == 1000:
        return float("nan")
    return float((k * 7919) % 1000) / 10.0


def counter(k):
    # Two resets, at k=700 and k=2000.
    if k < 700:
        return k * 1.5
    if k < 2000:
        return (k - 700) * 2.0
    return (k - 2000) * 0.5


series = {
    'g{job="a"}': [(T + k * STEP, gauge(k)) for k in range(N)],
    # A gap of five hours in the middle.
    'g{job="b"}': [(T + k * STEP, float(k % 13)) for k in range(N)
                   if not 1200 <= k < 1500],
    'c_total{job="a"}': [(T + k * STEP, counter(k)) for k in range(N)],
}

src, ids = C.one_block(t, series, "54h")
t.ok(len(ids) == 1, "promtool made one 48h block", ids)
raw = ids[0]
bucket = os.path.join(t.tmp, "bucket")
shutil.copytree(os.path.join(src, raw), os.path.join(bucket, raw))
mp = os.path.join(bucket, raw, "meta.json")
with open(mp) as f:
    meta = json.load(f)
meta["thanos"] = {"labels": {"cluster": "c1"},
                  "downsample": {"resolution": 0}, "source": "sidecar"}
with open(mp, "w") as f:
    json.dump(meta, f, indent="\t")


def compact():
    return C.compact(t, bucket, os.path.join(t.tmp, "data"))


rc, log = compact()
new = sorted(d for d in os.listdir(bucket) if len(d) == 26 and d != raw)
t.ok(rc == 0 and len(new) == 1, "one run adds one block", log[-1500:])
with open(os.path.join(bucket, new[0], "meta.json")) as f:
    dm = json.load(f)
t.ok(dm["thanos"]["downsample"] == {"resolution": R5M} and
     dm["thanos"]["source"] == "compactor" and
     dm["thanos"]["labels"] == {"cluster": "c1"}, "5m resolution, source "
     "compactor, same labels", dm["thanos"])
t.ok((dm["minTime"], dm["maxTime"]) == (meta["minTime"], meta["maxTime"]) and
     dm["compaction"]["sources"] == [raw] and
     dm["compaction"]["level"] == 1, "range and compaction of the source",
     dm)
t.ok(not os.path.exists(os.path.join(bucket, raw, "deletion-mark.json")),
     "the raw block stays")

# ---- what the store gateway serves from the 5m block ----
store = S.start_store(t, bucket, os.path.join(t.tmp, "store"))
stub = rpc_grpc.StoreStub(grpc.insecure_channel("127.0.0.1:%d" % store.grpc))
for sel, data in series.items():
    want = C.downsample_raw([(ts * 1000, v) for ts, v in data], R5M)
    got = C.served_aggr(stub, rpc, types, sel, R5M)
    diff = C.same_chunks(got, want)
    t.ok(not diff, "%s: %d aggregate chunks as Thanos computes them" %
         (sel, len(want)), diff)

rc, log = compact()
after = sorted(d for d in os.listdir(bucket) if len(d) == 26)
t.ok(rc == 0 and after == sorted([raw] + new), "a second run adds nothing",
     after)
shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
