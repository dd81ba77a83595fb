#!/usr/bin/python3
# t0301-store-vs-prometheus: promtool writes four 2 h blocks into a
# FILESYSTEM bucket; `thanosc store` serves the bucket and Prometheus 2.42
# serves a copy of the same blocks. For equality, regex and negative
# matchers, absent labels, empty results and time ranges within one block,
# across several blocks and outside the data, a python3-grpcio client asks
# the store (Series with chunks decoded, Series with skip_chunks,
# LabelNames, LabelValues) and Prometheus (/api/v1/query of a range
# selector, /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values);
# the answers must be equal. Also: Info, sorting, without_replica_labels,
# request limits (ResourceExhausted) and an empty label name.
import concurrent.futures
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402

t = G.Tap("t0301-store-vs-prometheus")
S.kill_on_exit(t)
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

bucket = os.path.join(t.tmp, "bucket")
os.makedirs(bucket)
blocks = S.make_blocks(t, bucket)
t.ok(len(blocks) == 4, "promtool wrote 4 blocks", blocks)

store = S.start_store(t, bucket, os.path.join(t.tmp, "data"))
prom = S.start_prometheus(t, bucket)
ch = grpc.insecure_channel("127.0.0.1:%d" % store.grpc)
stub = rpc_grpc.StoreStub(ch)

c = S.Client(t, stub, rpc, types, prom.port)
S.compare_samples(c)
S.compare_labels(c)
T0, T1 = S.T0_MS, S.T1_MS


def store_series(sel, mint, maxt, skip=False, **kw):
    return S.store_series(c, sel, mint, maxt, skip, **kw)


# Calls that give up early (deadlines of 1-20 ms) leave the store serving.
codes = set()
for i in range(20):
    try:
        for _ in stub.Series(rpc.SeriesRequest(
                min_time=T0, max_time=T1, matchers=S.parse_sel(
                    types, '{__name__=~".+"}')), timeout=0.001 * (i + 1)):
            pass
        codes.add("OK")
    except grpc.RpcError as e:
        codes.add(e.code().name)
t.ok(codes <= {"OK", "DEADLINE_EXCEEDED", "CANCELLED"} and
     store.poll() is None and len(store_series('up', T0, T1)) == 10,
     "early deadlines end calls cleanly; the store keeps serving", codes)

# Info: the blocks' range and one (empty) label set.
info = info_pb2_grpc.InfoStub(ch).Info(info_pb2.InfoRequest(), timeout=10)
t.ok(info.ComponentType == "store" and info.store.min_time == T0 and
     len(info.store.tsdb_infos) == 4,
     "Info: component store, min time, one TSDBInfo per block", str(info))
legacy = stub.Info(rpc.InfoRequest(), timeout=10)
t.ok(legacy.storeType == rpc.STORE and legacy.min_time == T0,
     "legacy thanos.Store/Info", str(legacy))

# without_replica_labels: the label disappears and order is recomputed.
got = store_series('up', T0, T1, True, without_replica_labels=["instance"])
t.ok(len(got) == 2 and all("instance" not in ls for ls, _, _ in got),
     "without_replica_labels removes the label and merges the series",
     [ls for ls, _, _ in got])


def code_of(fn):
    """The gRPC status of calling fn, with its message."""
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


code, msg = code_of(lambda: stub.LabelValues(rpc.LabelValuesRequest(
    label="", start=T0, end=T1), timeout=10))
t.ok(code == grpc.StatusCode.INVALID_ARGUMENT, "empty label name: "
     "InvalidArgument", "%s %s" % (code, msg))
code, msg = code_of(lambda: store_series('up{job="["', T0, T1))
t.ok(code == grpc.StatusCode.OK, "an equality matcher is not a regex",
     "%s %s" % (code, msg))
code, msg = code_of(lambda: store_series('up{job=~"["', T0, T1))
t.ok(code == grpc.StatusCode.INVALID_ARGUMENT, "bad regex: InvalidArgument",
     "%s %s" % (code, msg))
# The repeated selections were answered from the index cache.
mtext = S.http_get("http://127.0.0.1:%d/metrics" % store.http)
for typ in ("Postings", "Series"):
    hit = re.search(r'thanos_store_index_cache_hits_total\{item_type="%s"\} '
                    r'(\S+)' % typ, mtext)
    items = re.search(r'thanos_store_index_cache_items\{item_type="%s"\} '
                      r'(\S+)' % typ, mtext)
    t.ok(hit and float(hit.group(1)) > 0 and items and
         float(items.group(1)) > 0,
         "index cache holds %s and answers repeated reads" % typ,
         hit and hit.group(0))
t.stop(store)

limited = S.start_store(t, bucket, os.path.join(t.tmp, "data"),
                        "--store.limits.request-series=5",
                        "--store.limits.request-samples=1000")
stub = rpc_grpc.StoreStub(grpc.insecure_channel("127.0.0.1:%d" %
                                                limited.grpc))
c.stub = stub
code, msg = code_of(lambda: store_series('up', T0, T1, True))
t.ok(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "series limit" in msg,
     "series limit: ResourceExhausted naming the limit", "%s %s" % (code, msg))
code, msg = code_of(lambda: store_series('up{instance="i0"}', T0, T1))
t.ok(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "chunks limit" in msg,
     "samples limit: ResourceExhausted naming the limit",
     "%s %s" % (code, msg))
code, msg = code_of(lambda: store_series('up{instance="i0",job="a"}',
                                         T0, T0 + 600000))
t.ok(code == grpc.StatusCode.OK, "a request within the limits passes",
     "%s %s" % (code, msg))
t.stop(limited)

# --store.grpc.series-max-concurrency=1: parallel calls wait at the gate
# and all succeed; a tiny --chunk-pool-size fails clearly.
gated = S.start_store(t, bucket, os.path.join(t.tmp, "data"),
                      "--store.grpc.series-max-concurrency=1")
c.stub = stub = rpc_grpc.StoreStub(grpc.insecure_channel(
    "127.0.0.1:%d" % gated.grpc))
with concurrent.futures.ThreadPoolExecutor(6) as ex:
    outs = list(ex.map(lambda _: len(store_series(
        '{__name__=~".+"}', T0, T1)), range(6)))
t.ok(outs == [outs[0]] * 6 and outs[0] == 38,
     "six parallel calls through a gate of one all succeed", outs)
t.stop(gated)
gated = S.start_store(t, bucket, os.path.join(t.tmp, "data"),
                      "--chunk-pool-size=1KB")
c.stub = stub = rpc_grpc.StoreStub(grpc.insecure_channel(
    "127.0.0.1:%d" % gated.grpc))
code, msg = code_of(lambda: store_series('up', T0, T1))
t.ok(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "chunk-pool-size" in msg,
     "chunk pool exhausted: ResourceExhausted naming the flag",
     "%s %s" % (code, msg))
t.stop(gated)
t.stop(prom)
t.done()
