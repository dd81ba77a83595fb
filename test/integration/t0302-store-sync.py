#!/usr/bin/python3
# t0302-store-sync: the store gateway's view of a changing FILESYSTEM bucket
# with --sync-block-duration=1s. A block with a damaged index, a partial
# upload (no meta.json) and a directory with a broken meta.json are skipped
# with a log line and a metric while the good blocks are served; a
# completed upload, a deletion mark and a removed block are picked up at
# the next sync; a restart reuses the index-headers in --data-dir, and a
# damaged index-header is rebuilt.
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402

t = G.Tap("t0302-store-sync")
S.kill_on_exit(t)
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

src = os.path.join(t.tmp, "src")
os.makedirs(src)
ids = S.make_blocks(t, src)
A, B, C, D = ids
bucket = os.path.join(t.tmp, "bucket")
os.makedirs(bucket)
for b in (A, B, C):
    shutil.copytree(os.path.join(src, b), os.path.join(bucket, b))
# C: an index cut in half (its TOC is gone).
idx = os.path.join(bucket, C, "index")
with open(idx, "r+b") as f:
    f.truncate(os.path.getsize(idx) // 2)
# D: a partial upload, meta.json still missing.
shutil.copytree(os.path.join(src, D), os.path.join(bucket, D),
                ignore=shutil.ignore_patterns("meta.json"))
# A directory whose meta.json is not JSON.
BAD = "01JBADBADBADBADBADBADBADBA"
os.makedirs(os.path.join(bucket, BAD))
with open(os.path.join(bucket, BAD, "meta.json"), "w") as f:
    f.write("{not json")

data = os.path.join(t.tmp, "data")
store = S.start_store(t, bucket, data, "--sync-block-duration=1s",
                      "--ignore-deletion-marks-delay=0s")
ch = grpc.insecure_channel("127.0.0.1:%d" % store.grpc)
stub = rpc_grpc.StoreStub(ch)
info = info_pb2_grpc.InfoStub(ch)


def metrics():
    out = {}
    for line in S.http_get("http://127.0.0.1:%d/metrics" % store.http
                           ).splitlines():
        m = re.match(r'^([a-z_]+(?:\{[^}]*\})?) (\S+)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def wait_metric(name, value, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if metrics().get(name) == value:
            return True
        time.sleep(0.2)
    return False


def blocks_served():
    r = info.Info(info_pb2.InfoRequest(), timeout=10)
    return sorted((i.min_time, i.max_time) for i in r.store.tsdb_infos)


def metas(*bs):
    out = []
    for b in bs:
        with open(os.path.join(src, b, "meta.json")) as f:
            m = json.load(f)
        out.append((m["minTime"], m["maxTime"]))
    return sorted(out)


def up_samples():
    req = rpc.SeriesRequest(min_time=0, max_time=2 ** 62, matchers=[
        types.LabelMatcher(type=types.LabelMatcher.EQ, name="__name__",
                           value="up")])
    n = 0
    for r in stub.Series(req, timeout=30):
        if r.WhichOneof("result") == "series":
            for c in r.series.chunks:
                n += len(S.xor_decode(c.raw.data))
    return n


m = metrics()
t.ok(m.get("thanos_bucket_store_blocks_loaded") == 2,
     "two good blocks loaded", m.get("thanos_bucket_store_blocks_loaded"))
t.ok(m.get("thanos_bucket_store_block_load_failures_total", 0) >= 1,
     "the damaged block counts as a load failure")
t.ok(m.get('thanos_blocks_meta_synced{state="no-meta-json"}') == 1,
     "the partial upload is counted as no-meta-json")
t.ok(m.get('thanos_blocks_meta_synced{state="corrupted-meta-json"}') == 1,
     "the broken meta.json is counted as corrupted-meta-json")
log = open(store.log).read()
t.ok(re.search(r'loading block failed.*%s' % C, log) is not None,
     "a log line names the damaged block", log[-2000:])
t.ok(blocks_served() == metas(A, B), "Info lists the two good blocks",
     blocks_served())
t.ok(up_samples() == 10 * 2 * 240, "Series serves the good blocks' samples",
     up_samples())

# The upload completes: meta.json appears.
shutil.copy(os.path.join(src, D, "meta.json"), os.path.join(bucket, D))
t.ok(wait_metric("thanos_bucket_store_blocks_loaded", 3),
     "a completed upload is loaded at the next sync")
t.ok(blocks_served() == metas(A, B, D), "Info lists it", blocks_served())

# A deletion mark older than the delay (0s) drops A.
with open(os.path.join(bucket, A, "deletion-mark.json"), "w") as f:
    json.dump({"id": A, "deletion_time": int(time.time()) - 5,
               "version": 1}, f)
t.ok(wait_metric("thanos_bucket_store_blocks_loaded", 2),
     "a block marked for deletion is dropped")
t.ok(blocks_served() == metas(B, D), "Info no longer lists it",
     blocks_served())
t.ok(wait_metric('thanos_blocks_meta_synced{state="marked-for-deletion"}', 1),
     "it is counted as marked-for-deletion")
t.ok(not os.path.exists(os.path.join(data, A)),
     "its index-header is removed from --data-dir")

# B disappears from the bucket.
shutil.rmtree(os.path.join(bucket, B))
t.ok(wait_metric("thanos_bucket_store_blocks_loaded", 1),
     "a removed block is dropped")
t.ok(metrics().get("thanos_bucket_store_block_drops_total", 0) >= 2,
     "drops are counted")
t.ok(blocks_served() == metas(D), "only the remaining block is served",
     blocks_served())
t.stop(store)

# Restart: D's index-header is reused as it is.
ih = os.path.join(data, D, "index-header")
before = os.stat(ih).st_mtime_ns
store = S.start_store(t, bucket, data, "--sync-block-duration=1s",
                      "--ignore-deletion-marks-delay=0s")
ch = grpc.insecure_channel("127.0.0.1:%d" % store.grpc)
stub = rpc_grpc.StoreStub(ch)
info = info_pb2_grpc.InfoStub(ch)
t.ok(os.stat(ih).st_mtime_ns == before and blocks_served() == metas(D),
     "a restart reuses the index-header")
t.stop(store)

# A damaged index-header is rebuilt with a warning.
with open(ih, "r+b") as f:
    f.seek(os.path.getsize(ih) - 3)
    f.write(b"\xff\xff\xff")
store = S.start_store(t, bucket, data, "--ignore-deletion-marks-delay=0s")
info = info_pb2_grpc.InfoStub(grpc.insecure_channel("127.0.0.1:%d" %
                                                    store.grpc))
log = open(store.log).read()
t.ok(blocks_served() == metas(D) and "rebuilding" in log,
     "a damaged index-header is rebuilt", log[-1500:])
t.stop(store)

# --consistency-delay: promtool's blocks are ULID-stamped now, too fresh.
store = S.start_store(t, bucket, data, "--consistency-delay=1h",
                      "--ignore-deletion-marks-delay=0s")
m = metrics()
t.ok(m.get('thanos_blocks_meta_synced{state="too-fresh"}', 0) >= 1 and
     m.get("thanos_bucket_store_blocks_loaded") == 0,
     "blocks younger than --consistency-delay are not loaded",
     m.get('thanos_blocks_meta_synced{state="too-fresh"}'))
t.stop(store)

# --min-time/--max-time: blocks outside are excluded, chunks are cut.
t0 = S.T0 * 1000
store = S.start_store(t, bucket, data, "--ignore-deletion-marks-delay=0s",
                      "--min-time=%s" % time.strftime(
                          "%Y-%m-%dT%H:%M:%SZ",
                          time.gmtime(S.T0 + 6 * 3600 + 900)))
ch = grpc.insecure_channel("127.0.0.1:%d" % store.grpc)
stub = rpc_grpc.StoreStub(ch)
info = info_pb2_grpc.InfoStub(ch)
m = metrics()
t.ok(m.get('thanos_blocks_meta_synced{state="time-excluded"}', 0) >= 1 and
     m.get("thanos_bucket_store_blocks_loaded") == 1,
     "blocks before --min-time are excluded, the one across it stays",
     m.get('thanos_blocks_meta_synced{state="time-excluded"}'))
r = info.Info(info_pb2.InfoRequest(), timeout=10)
t.ok(r.store.min_time == t0 + (6 * 3600 + 900) * 1000,
     "Info's min time is --min-time", r.store.min_time)
req = rpc.SeriesRequest(min_time=0, max_time=2 ** 62, matchers=[
    types.LabelMatcher(type=types.LabelMatcher.EQ, name="__name__",
                       value="up")])
first = min(c.min_time for r in stub.Series(req, timeout=30)
            if r.WhichOneof("result") == "series" for c in r.series.chunks)
t.ok(first >= t0 + 6 * 3600 * 1000, "chunks before --min-time are cut",
     first)
store2 = S.start_store(t, bucket, data + "2", "--ignore-deletion-marks-delay=0s",
                       "--max-time=%s" % time.strftime(
                           "%Y-%m-%dT%H:%M:%SZ", time.gmtime(S.T0 + 3600)))
m2 = S.http_get("http://127.0.0.1:%d/metrics" % store2.http)
t.ok(re.search(r'thanos_blocks_meta_synced\{state="time-excluded"\} [12]\b',
               m2) is not None and
     "thanos_bucket_store_blocks_loaded 0" in m2,
     "blocks after --max-time are time-excluded")
t.stop(store2)
t.stop(store)
t.done()
