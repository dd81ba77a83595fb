#!/usr/bin/python3
# t0804-compact-downsample-1h: a raw block of ten days and an hour gets,
# in one `thanosc compact` run, a 5m block and from that a 1h block; the
# 1h AggrChunks the store gateway serves equal the model of Thanos's
# second-level downsampling (whole 5m chunks combined, counts summed,
# counter resets between chunks applied) run over the model's 5m chunks.
# --downsampling.disable and a no-downsample mark leave the bucket alone.
import json
import os
import shutil
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
src, ids = C.one_block(t, series, "486h")
t.ok(len(ids) == 1, "promtool made one block of 10d1h", ids)
bucket = os.path.join(t.tmp, "bucket")
C.put(src, bucket, ids[0], {"cluster": "c1"}, align=False)
data = os.path.join(t.tmp, "data")

before = C.snapshot(bucket)
rc, log = C.compact(t, bucket, data, "--downsampling.disable")
t.ok(rc == 0 and C.snapshot(bucket) == before,
     "--downsampling.disable changes nothing", log[-1000:])

mark = os.path.join(bucket, ids[0], "no-downsample-mark.json")
with open(mark, "w") as f:
    f.write('{"id":"%s","version":1,"no_downsample_time":1,"reason":'
            '"manual"}' % ids[0])
rc, log = C.compact(t, bucket, data)
t.ok(rc == 0 and len(os.listdir(bucket)) == 1,
     "a no-downsample mark keeps the block from being downsampled",
     log[-1000:])
os.unlink(mark)

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


for sel, raw in series.items():
    l1 = C.downsample_raw([(ts * 1000, v) for ts, v in raw], R5M)
    want = C.downsample_aggr(l1, R5M, R1H)
    diff = C.same_chunks(C.served_aggr(stub, rpc, types, sel, R1H),
                         want)
    t.ok(not diff, "%s: %d 1h chunks as Thanos computes them" %
         (sel, len(want)), diff)
shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
