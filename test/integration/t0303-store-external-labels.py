#!/usr/bin/python3
# t0303-store-external-labels: blocks with a Thanos meta.json section.
# Two replicas ({cluster="eu", replica="0|1"}) of four promtool blocks and
# one block of {cluster="us", replica="0", job="ext"} whose external label
# job clashes with a series label. Checked: external labels in Series
# (winning on a clash, clashing series merged), matchers on external
# labels choosing blocks (hints name the queried blocks),
# without_replica_labels merging replicas, LabelNames / LabelValues with
# external labels, Info label sets, the duplicate filter (a block whose
# sources another covers), and --selector.relabel-config keep and hashmod.
import hashlib
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402

t = G.Tap("t0303-store-external-labels")
S.kill_on_exit(t)
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import hintspb_pb2  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(old, n):
    """Same time part, a random part derived from n."""
    tail = ""
    for _ in range(16):
        tail = CROCKFORD[n % 32] + tail
        n //= 32
    return old[:10] + tail


def copy_block(src, bucket, ulid, labels, sources=None, resolution=0):
    dst = os.path.join(bucket, ulid)
    shutil.copytree(src, dst)
    with open(os.path.join(dst, "meta.json")) as f:
        m = json.load(f)
    m["ulid"] = ulid
    m["compaction"]["sources"] = sources or [ulid]
    m["thanos"] = {"labels": labels, "downsample": {"resolution": resolution},
                   "source": "sidecar", "segment_files": ["000001"]}
    with open(os.path.join(dst, "meta.json"), "w") as f:
        json.dump(m, f, indent="\t")
        f.write("\n")
    return dst


src = os.path.join(t.tmp, "src")
os.makedirs(src)
ids = S.make_blocks(t, src)
bucket = os.path.join(t.tmp, "bucket")
os.makedirs(bucket)
n = 1
eu = {0: [], 1: []}
for r in (0, 1):
    for b in ids:
        u = new_ulid(b, n)
        n += 1
        copy_block(os.path.join(src, b), bucket, u,
                   {"cluster": "eu", "replica": str(r)})
        eu[r].append(u)
US = new_ulid(ids[0], 999)
copy_block(os.path.join(src, ids[0]), bucket, US,
           {"cluster": "us", "replica": "0", "job": "ext"})
# A "compacted" block whose sources cover eu replica 0's first two blocks:
# those two are duplicates and are filtered out.
COMP = new_ulid(ids[0], 5000)
copy_block(os.path.join(src, ids[0]), bucket, COMP,
           {"cluster": "eu", "replica": "0"}, sources=eu[0][:2])

store = S.start_store(t, bucket, os.path.join(t.tmp, "data"))
ch = grpc.insecure_channel("127.0.0.1:%d" % store.grpc)
stub = rpc_grpc.StoreStub(ch)
T0, T1 = S.T0 * 1000, (S.T0 + S.DURATION) * 1000
OPS = {"=": types.LabelMatcher.EQ, "!=": types.LabelMatcher.NEQ,
       "=~": types.LabelMatcher.RE, "!~": types.LabelMatcher.NRE}


def m(name, op, value):
    return types.LabelMatcher(type=OPS[op], name=name, value=value)


def series(ms, **kw):
    out, hints = [], None
    for r in stub.Series(rpc.SeriesRequest(min_time=T0, max_time=T1,
                                           matchers=ms, **kw), timeout=30):
        w = r.WhichOneof("result")
        if w == "series":
            out.append(({lb.name: lb.value for lb in r.series.labels},
                        len(r.series.chunks)))
        elif w == "hints":
            hints = hintspb_pb2.SeriesResponseHints()
            r.hints.Unpack(hints)
    return out, hints


def metric(name):
    mm = re.search(r'^%s (\S+)$' % re.escape(name), S.http_get(
        "http://127.0.0.1:%d/metrics" % store.http), re.M)
    return float(mm.group(1)) if mm else None


t.ok(metric('thanos_blocks_meta_synced{state="duplicate"}') == 2,
     "two blocks covered by a compacted block are duplicates",
     metric('thanos_blocks_meta_synced{state="duplicate"}'))
t.ok(metric("thanos_bucket_store_blocks_loaded") == 8,
     "8 blocks loaded (4 + 4 replicas + 1 us + 1 compacted - 2)")

got, _ = series([m("__name__", "=", "up")])
eu_series = [ls for ls, _ in got if ls.get("cluster") == "eu"]
us_series = [ls for ls, _ in got if ls.get("cluster") == "us"]
t.ok(len(eu_series) == 20 and all("replica" in ls for ls in eu_series),
     "external labels are added to every series", len(eu_series))
t.ok(len(us_series) == 5 and all(ls["job"] == "ext" for ls in us_series),
     "the external label wins on a clash; clashing series merge",
     us_series[:2])
keys = [tuple(sorted(ls.items())) for ls, _ in got]
t.ok(keys == sorted(keys), "series sorted with external labels")

got, hints = series([m("__name__", "=", "up"), m("replica", "=", "1")])
t.ok(len(got) == 10 and all(ls["replica"] == "1" for ls, _ in got),
     "a matcher on an external label selects blocks", len(got))
t.ok(hints is not None and sorted(b.id for b in hints.queried_blocks) ==
     sorted(eu[1]), "hints name the queried blocks",
     hints and [b.id for b in hints.queried_blocks])
got, _ = series([m("__name__", "=", "up"), m("cluster", "=~", "e.*"),
                 m("replica", "!=", "0")])
t.ok(len(got) == 10, "regex and negative matchers on external labels",
     len(got))
got, _ = series([m("__name__", "=", "up"), m("cluster", "=", "nowhere")])
t.ok(got == [], "no block matches: empty result")

one, _ = series([m("__name__", "=", "up"), m("cluster", "=", "eu"),
                 m("replica", "=", "1")])
both, _ = series([m("__name__", "=", "up"), m("cluster", "=", "eu")],
                 without_replica_labels=["replica"])
t.ok(len(both) == 10 and all("replica" not in ls for ls, _ in both),
     "without_replica_labels merges the replicas", len(both))
t.ok(sum(c for _, c in both) > sum(c for _, c in one),
     "merged series carry the chunks of both replicas")

names = list(stub.LabelNames(rpc.LabelNamesRequest(start=T0, end=T1),
                             timeout=10).names)
t.ok("cluster" in names and "replica" in names and names == sorted(names),
     "LabelNames includes external label names", names)
names = list(stub.LabelNames(rpc.LabelNamesRequest(
    start=T0, end=T1, without_replica_labels=["replica"]), timeout=10).names)
t.ok("replica" not in names and "cluster" in names,
     "LabelNames without_replica_labels", names)
names = list(stub.LabelNames(rpc.LabelNamesRequest(
    start=T0, end=T1, matchers=[m("__name__", "=", "temp")]),
    timeout=10).names)
t.ok(names == ["__name__", "cluster", "extra", "job", "replica", "room"],
     "LabelNames with a matcher: external names of matching blocks", names)


def values(label, ms=()):
    return list(stub.LabelValues(rpc.LabelValuesRequest(
        label=label, start=T0, end=T1, matchers=list(ms)),
        timeout=10).values)


t.ok(values("replica") == ["0", "1"], "LabelValues of an external label",
     values("replica"))
t.ok(values("replica", [m("cluster", "=", "us")]) == ["0"],
     "LabelValues of an external label with a matcher",
     values("replica", [m("cluster", "=", "us")]))
t.ok(values("job") == ["a", "b", "ext"],
     "LabelValues: index values and the clashing external value",
     values("job"))
t.ok(values("cluster", [m("__name__", "=", "nonexistent")]) == [],
     "LabelValues of an external label when no series matches")

info = info_pb2_grpc.InfoStub(ch).Info(info_pb2.InfoRequest(), timeout=10)
sets = sorted(tuple((lb.name, lb.value) for lb in s.labels)
              for s in info.label_sets)
t.ok(sets == [(("cluster", "eu"), ("replica", "0")),
              (("cluster", "eu"), ("replica", "1")),
              (("cluster", "us"), ("job", "ext"), ("replica", "0"))],
     "Info lists the external label sets", sets)
t.stop(store)

keep = S.start_store(t, bucket, os.path.join(t.tmp, "data-keep"),
                     "--selector.relabel-config=- action: keep\n"
                     "  source_labels: [cluster]\n  regex: us\n")
info = info_pb2_grpc.InfoStub(grpc.insecure_channel(
    "127.0.0.1:%d" % keep.grpc)).Info(info_pb2.InfoRequest(), timeout=10)
t.ok(len(info.store.tsdb_infos) == 1 and len(info.label_sets) == 1,
     "relabel keep serves only the selected blocks", str(info.label_sets))
t.stop(keep)



def hashmod(v, mod):
    """Prometheus's hashmod: MD5, low 8 bytes big-endian, modulo."""
    return int.from_bytes(hashlib.md5(v.encode()).digest()[8:], "big") % mod


every = eu[0] + eu[1] + [US, COMP]
for shard in ("0", "1"):
    mine = [u for u in every if hashmod(u, 2) == int(shard)]
    if COMP in mine:
        mine = [u for u in mine if u not in eu[0][:2]]
    want_n = len(mine)

    cfg = os.path.join(t.tmp, "relabel-%s.yml" % shard)
    with open(cfg, "w") as f:
        f.write("- action: hashmod\n  source_labels: [__block_id]\n"
                "  target_label: shard\n  modulus: 2\n"
                "- action: keep\n  source_labels: [shard]\n  regex: %s\n"
                % shard)
    p = S.start_store(t, bucket, os.path.join(t.tmp, "data-" + shard),
                      "--selector.relabel-config-file=" + cfg)
    info = info_pb2_grpc.InfoStub(grpc.insecure_channel(
        "127.0.0.1:%d" % p.grpc)).Info(info_pb2.InfoRequest(), timeout=10)
    t.ok(len(info.store.tsdb_infos) == want_n,
         "hashmod shard %s serves its %d blocks" % (shard, want_n),
         len(info.store.tsdb_infos))
    t.stop(p)

bad = t.start([G.THANOSC, "store", "--objstore.config-file=" +
               S.bucket_yml(t, bucket), "--selector.relabel-config=- action: "
               "labelmap\n"], stdout=G.subprocess.PIPE,
              stderr=G.subprocess.PIPE)
_, err = bad.communicate(timeout=10)
t.ok(bad.returncode == 2 and b"not supported" in err,
     "an unsupported relabel action is refused", err)
t.done()
