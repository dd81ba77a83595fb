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
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402

t = G.Tap("t0301-store-vs-prometheus")
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

OPS = {"=": types.LabelMatcher.EQ, "!=": types.LabelMatcher.NEQ,
       "=~": types.LabelMatcher.RE, "!~": types.LabelMatcher.NRE}


def parse_sel(sel):
    """A tiny selector parser for the test's own selectors."""
    name, rest = sel.split("{", 1) if "{" in sel else (sel, "}")
    ms = []
    if name:
        ms.append(types.LabelMatcher(type=OPS["="], name="__name__",
                                     value=name))
    rest = rest.rstrip("}")
    for part in filter(None, rest.split(",")):
        for op in ("!=", "=~", "!~", "="):
            if op in part:
                k, v = part.split(op, 1)
                ms.append(types.LabelMatcher(type=OPS[op], name=k.strip(),
                                             value=v.strip().strip('"')))
                break
    return ms


def store_series(sel, mint, maxt, skip=False, **kw):
    req = rpc.SeriesRequest(min_time=mint, max_time=maxt,
                            matchers=parse_sel(sel), skip_chunks=skip, **kw)
    out = []
    for r in stub.Series(req, timeout=30):
        if r.WhichOneof("result") == "series":
            ls = {lb.name: lb.value for lb in r.series.labels}
            samples = []
            for c in r.series.chunks:
                samples += [(ts, v) for ts, v in S.xor_decode(c.raw.data)
                            if mint <= ts <= maxt]
            out.append((ls, samples, [lb.name for lb in r.series.labels]))
    return out


def key(ls):
    return tuple(sorted(ls.items()))


T0, T1 = S.T0 * 1000, (S.T0 + S.DURATION) * 1000
RANGES = [
    ("all data", T0 - 3600000, T1 + 3600000),
    ("inside one block", T0 + 1800000, T0 + 3600000),
    ("across three blocks", T0 + 3600000, T0 + 5 * 3600000 + 60000),
    ("last block only", T0 + 6 * 3600000, T1),
    ("before the data", T0 - 7200000, T0 - 3600000),
]
SELECTORS = [
    'up', 'up{job="a"}', 'up{job!="a"}', '{__name__=~"up|temp"}',
    'http_requests{code=~"5.."}', 'http_requests{method!~"GET"}',
    'temp{extra=""}', 'temp{extra!=""}', 'temp{extra=~"x1|nope"}',
    'nonexistent', 'up{job=~"a|b",instance!~"i[0-2]"}',
    '{__name__=~".+",instance="i4"}', 'temp{room=~"r.*",extra!~"x0"}',
]

for rname, mint, maxt in RANGES:
    for sel in SELECTORS:
        # Prometheus 2.42: a range selector gives the raw samples in
        # [time - range, time].
        rng = (maxt - mint) // 1000
        q = "%s[%ds]" % (sel, rng)
        want = {}
        for s in S.prom_api(prom.port, "query",
                            {"query": q, "time": "%.3f" % (maxt / 1000)})[
                "result"]:
            want[key(s["metric"])] = [(int(round(float(ts) * 1000)),
                                       float(v)) for ts, v in s["values"]]
        got_list = store_series(sel, mint, maxt)
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

for rname, mint, maxt in RANGES:
    for sel in SELECTORS[:8]:
        want = {key(m) for m in S.prom_api(
            prom.port, "series", {"match[]": sel, "start": mint / 1000,
                                  "end": maxt / 1000})}
        got = {key(ls) for ls, _, _ in store_series(sel, mint, maxt, True)}
        t.ok(got == want, "Series skip_chunks %s, %s" % (sel, rname),
             "store %s\nprometheus %s" % (sorted(got)[:3], sorted(want)[:3]))

for rname, mint, maxt in RANGES:
    params = {"start": mint / 1000, "end": maxt / 1000}
    want = S.prom_api(prom.port, "labels", params)
    got = list(stub.LabelNames(rpc.LabelNamesRequest(start=mint, end=maxt),
                               timeout=30).names)
    t.ok(got == want, "LabelNames, %s" % rname, "%s\n%s" % (got, want))
    for sel in ('up{job="b"}', 'temp{extra!=""}', 'nonexistent'):
        want = S.prom_api(prom.port, "labels", dict(params, **{"match[]": sel}))
        got = list(stub.LabelNames(rpc.LabelNamesRequest(
            start=mint, end=maxt, matchers=parse_sel(sel)), timeout=30).names)
        t.ok(got == want, "LabelNames %s, %s" % (sel, rname),
             "%s\n%s" % (got, want))
    for name in ("__name__", "instance", "extra", "code", "nope"):
        want = S.prom_api(prom.port, "label/%s/values" % name, params)
        got = list(stub.LabelValues(rpc.LabelValuesRequest(
            label=name, start=mint, end=maxt), timeout=30).values)
        t.ok(got == want, "LabelValues %s, %s" % (name, rname),
             "%s\n%s" % (got, want))
    for name, sel in (("instance", 'up{job="b"}'), ("extra", 'temp'),
                      ("code", 'http_requests{method="POST",code!="404"}')):
        want = S.prom_api(prom.port, "label/%s/values" % name,
                          dict(params, **{"match[]": sel}))
        got = list(stub.LabelValues(rpc.LabelValuesRequest(
            label=name, start=mint, end=maxt, matchers=parse_sel(sel)),
            timeout=30).values)
        t.ok(got == want, "LabelValues %s of %s, %s" % (name, sel, rname),
             "%s\n%s" % (got, want))

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
t.stop(prom)
t.done()
