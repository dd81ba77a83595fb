#!/usr/bin/python3
# t0304-store-s3: the same blocks as t0301, uploaded to s3rver (loopback)
# with `thanosc tools bucket put` in Thanos's order (chunks, index,
# meta.json last); `thanosc store` reads them over S3 (ranged GETs for the
# index-header and chunks) and must answer exactly as Prometheus 2.42 does
# on the same blocks. A block whose meta.json is not uploaded yet is
# skipped, then served after the next sync.
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402

t = G.Tap("t0304-store-s3")
S.kill_on_exit(t)
cfg_file = S.start_s3rver(t)
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


def upload(b, meta=True):
    S.upload_block(cfg_file, os.path.join(src, b), b, meta)


for b in ids[:3]:
    upload(b)
upload(ids[3], meta=False)

g, h = G.free_port(), G.free_port()
log = open(os.path.join(t.tmp, "store.log"), "w")
store = t.start([G.THANOSC, "store", "--objstore.config-file=" + cfg_file,
                 "--data-dir=" + os.path.join(t.tmp, "data"),
                 "--grpc-address=127.0.0.1:%d" % g,
                 "--http-address=127.0.0.1:%d" % h,
                 "--sync-block-duration=1s", "--grpc-grace-period=1s",
                 "--http-grace-period=1s"], stdout=log,
                stderr=subprocess.STDOUT)
t.ok(S.wait_ready(h), "store over S3 is ready")
ch = grpc.insecure_channel("127.0.0.1:%d" % g)
info = info_pb2_grpc.InfoStub(ch)


def nblocks():
    return len(info.Info(info_pb2.InfoRequest(), timeout=10).store.tsdb_infos)


t.ok(nblocks() == 3, "the block without meta.json is not served yet",
     nblocks())
S.bucket_put(cfg_file, ids[3] + "/meta.json",
             os.path.join(src, ids[3], "meta.json"))
end = time.time() + 15
while time.time() < end and nblocks() != 4:
    time.sleep(0.2)
t.ok(nblocks() == 4, "it is served once meta.json is uploaded")

prom = S.start_prometheus(t, src)
c = S.Client(t, rpc_grpc.StoreStub(ch), rpc, types, prom.port)
S.compare_samples(c, selectors=S.SELECTORS[:7])
S.compare_labels(c, ranges=S.RANGES[:3])
mtext = S.http_get("http://127.0.0.1:%d/metrics" % h)
t.ok('thanos_objstore_bucket_operations_total' in mtext and
     'operation="get_range"' in mtext,
     "ranged reads are counted in the objstore metrics")
t.stop(store)
t.stop(prom)
t.done()
