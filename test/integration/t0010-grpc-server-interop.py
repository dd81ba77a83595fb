# t0010-grpc-server-interop: python3-grpcio (stubs generated from our
# proto/ files) calls thanosc's gRPC server (`tools store serve-test`):
# unary calls, a 100k-message Series stream, cancellation, deadlines,
# unknown methods, oversized requests, graceful stop, TLS and mTLS, and the
# grpc_server_* metrics names are checked through the status codes.
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402

t = G.Tap("t0010-grpc-server-interop")
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402

N = 100000


def matcher(name, value):
    return types.LabelMatcher(type=types.LabelMatcher.EQ, name=name,
                              value=value)


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


srv, port = G.serve_test(t, "--series=%d" % N, "--external-label=replica=a",
                         "--grpc-grace-period=60s",
                         "--max-recv-msg-size=1MiB")
ch = grpc.insecure_channel("127.0.0.1:%d" % port)
store = rpc_grpc.StoreStub(ch)

# Unary calls.
r = store.LabelNames(rpc.LabelNamesRequest(), timeout=10)
t.ok(list(r.names) == ["__name__", "i", "job"], "LabelNames over h2c",
     r)
r = store.LabelValues(rpc.LabelValuesRequest(label="job"), timeout=10)
t.ok(list(r.values) == ["serve-test"], "LabelValues", r)
c, d = code_of(lambda: store.LabelValues(rpc.LabelValuesRequest(label=""),
                                         timeout=10))
t.ok(c == grpc.StatusCode.INVALID_ARGUMENT and "empty" in d,
     "handler status InvalidArgument with message", (c, d))
r = info_pb2_grpc.InfoStub(ch).Info(info_pb2.InfoRequest(), timeout=10)
t.ok(r.ComponentType == "store" and r.HasField("store") and
     r.label_sets[0].labels[0].name == "replica" and
     r.store.supports_sharding, "thanos.info.Info/Info", r)
r = store.Info(rpc.InfoRequest(), timeout=10)
t.ok(r.storeType == rpc.STORE and r.min_time == 1700000000000,
     "legacy thanos.Store/Info", r)

# The standard health service answers SERVING.
health = ch.unary_unary("/grpc.health.v1.Health/Check")
t.ok(health(b"", timeout=5) == b"\x08\x01", "grpc.health.v1 Check: SERVING")
t.ok(health(b"\x0a\x0cthanos.Store", timeout=5) == b"\x08\x01",
     "health of thanos.Store: SERVING")
c, _ = code_of(lambda: health(b"\x0a\x03foo", timeout=5))
t.ok(c == grpc.StatusCode.NOT_FOUND, "health of an unknown service", c)

# A Series stream of 100k messages, in order, each a well-formed series.
t0 = time.time()
n = 0
ok_order = True
last = ""
for m in store.Series(rpc.SeriesRequest(max_time=1 << 62), timeout=60):
    s = m.series
    idx = s.labels[1].value
    if idx <= last:
        ok_order = False
    last = idx
    n += 1
dt = time.time() - t0
t.ok(n == N, "Series streams %d messages (got %d, %.1fs)" % (N, n, dt))
t.ok(ok_order, "series arrive sorted by labels")
t.ok(len(m.series.chunks) == 1 and
     m.series.chunks[0].raw.data[:2] == b"\x00\x01",
     "last series carries one XOR chunk of one sample", m)

# Cancel a stream after a few messages; the server keeps serving.
it = store.Series(rpc.SeriesRequest(), timeout=60)
got = 0
for m in it:
    got += 1
    if got == 10:
        it.cancel()
        break
c, _ = code_of(lambda: list(it))
t.ok(c == grpc.StatusCode.CANCELLED, "client cancels a Series stream", c)
it = store.Series(rpc.SeriesRequest(matchers=[matcher("__name__", "slow")]))
threading.Timer(0.3, it.cancel).start()
c, _ = code_of(lambda: list(it))
t.ok(c == grpc.StatusCode.CANCELLED, "cancel a call that never answers", c)

# Deadlines: grpc-timeout reaches the server, which ends the call.
t0 = time.time()
c, d = code_of(lambda: list(store.Series(
    rpc.SeriesRequest(matchers=[matcher("__name__", "slow")]), timeout=0.3)))
t.ok(c == grpc.StatusCode.DEADLINE_EXCEEDED and time.time() - t0 < 5,
     "expired deadline gives DeadlineExceeded", (c, d))

# Errors chosen by the handler, unknown methods and services.
c, d = code_of(lambda: list(store.Series(
    rpc.SeriesRequest(matchers=[matcher("__name__", "error")]), timeout=10)))
t.ok(c == grpc.StatusCode.INVALID_ARGUMENT, "streaming handler error", (c, d))
unk = ch.unary_unary("/thanos.Store/Nope")
c, d = code_of(lambda: unk(b"", timeout=10))
t.ok(c == grpc.StatusCode.UNIMPLEMENTED and "unknown method" in d,
     "unknown method is Unimplemented", (c, d))
unk = ch.unary_unary("/thanos.Rules/Rules")
c, d = code_of(lambda: unk(b"", timeout=10))
t.ok(c == grpc.StatusCode.UNIMPLEMENTED and "unknown service" in d,
     "unknown service is Unimplemented", (c, d))

# An 8 MiB response (over grpc's 4 MiB default): the client needs a higher
# receive limit, as Thanos sets; with the default it is ResourceExhausted.
big = rpc.SeriesRequest(matchers=[matcher("__name__", "big")])
ch_big = grpc.insecure_channel("127.0.0.1:%d" % port, options=[
    ("grpc.max_receive_message_length", 64 << 20)])
msgs = list(rpc_grpc.StoreStub(ch_big).Series(big, timeout=30))
t.ok(len(msgs) == 1 and len(msgs[0].warning) == 8 << 20,
     "8 MiB response message")
c, _ = code_of(lambda: list(store.Series(big, timeout=30)))
t.ok(c == grpc.StatusCode.RESOURCE_EXHAUSTED,
     "client limit refuses the 8 MiB message", c)

# A request over the server's --max-recv-msg-size (1 MiB).
huge = rpc.LabelValuesRequest(label="x" * (2 << 20))
c, d = code_of(lambda: store.LabelValues(huge, timeout=10))
t.ok(c == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in d,
     "oversized request is ResourceExhausted", (c, d))
r = store.LabelNames(rpc.LabelNamesRequest(), timeout=10)
t.ok(len(r.names) == 3, "server still serves after the errors")

# Many concurrent streams on one connection.
res = []


def worker():
    res.append(sum(1 for _ in store.Series(rpc.SeriesRequest(), timeout=60)))


ths = [threading.Thread(target=worker) for _ in range(4)]
[th.start() for th in ths]
[th.join() for th in ths]
t.ok(res == [N] * 4, "4 concurrent Series streams multiplexed", res)

# Graceful stop: an in-flight stream completes, then the process exits 0.
it = store.Series(rpc.SeriesRequest(), timeout=60)
first = next(it)
os.kill(srv.pid, 15)  # the stream is read below while the server drains
rest = 0
try:
    for _ in it:
        rest += 1
except grpc.RpcError as e:
    print("# stream ended with %s: %s" % (e.code(), e.details()))
t.ok(rest == N - 1, "in-flight stream drains on SIGTERM (got %d)" % rest)
t.stop(srv)
t.ok(srv.returncode == 0, "serve-test exits 0 after graceful stop",
     "exit %d: %s" % (srv.returncode, srv.stderr.read().decode()[-2000:]))

# TLS and mTLS.
certs = G.make_certs(t.tmp)
srv, port = G.serve_test(t, "--series=1000",
                         "--grpc-server-tls-cert=" + certs["server.pem"],
                         "--grpc-server-tls-key=" + certs["server.key"])
cred = grpc.ssl_channel_credentials(root_certificates=G.read(certs["ca.pem"]))
sch = grpc.secure_channel("127.0.0.1:%d" % port, cred)
n = sum(1 for _ in rpc_grpc.StoreStub(sch).Series(rpc.SeriesRequest(),
                                                    timeout=30))
t.ok(n == 1000, "Series over TLS (ALPN h2)", n)
c, _ = code_of(lambda: rpc_grpc.StoreStub(grpc.insecure_channel(
    "127.0.0.1:%d" % port)).LabelNames(rpc.LabelNamesRequest(), timeout=5))
t.ok(c == grpc.StatusCode.UNAVAILABLE, "plaintext client refused by TLS server",
     c)
t.stop(srv)

srv, port = G.serve_test(t, "--series=1000",
                         "--grpc-server-tls-cert=" + certs["server.pem"],
                         "--grpc-server-tls-key=" + certs["server.key"],
                         "--grpc-server-tls-client-ca=" + certs["ca.pem"])
cred = grpc.ssl_channel_credentials(
    root_certificates=G.read(certs["ca.pem"]),
    private_key=G.read(certs["client.key"]),
    certificate_chain=G.read(certs["client.pem"]))
sch = grpc.secure_channel("127.0.0.1:%d" % port, cred)
n = sum(1 for _ in rpc_grpc.StoreStub(sch).Series(rpc.SeriesRequest(),
                                                    timeout=30))
t.ok(n == 1000, "Series over mTLS", n)
cred = grpc.ssl_channel_credentials(root_certificates=G.read(certs["ca.pem"]))
c, _ = code_of(lambda: rpc_grpc.StoreStub(grpc.secure_channel(
    "127.0.0.1:%d" % port, cred)).LabelNames(rpc.LabelNamesRequest(),
                                             timeout=5))
t.ok(c == grpc.StatusCode.UNAVAILABLE, "mTLS server refuses a client "
     "without certificate", c)
t.stop(srv)

# Bad TLS files are a clear start-up error.
p = t.start([G.THANOSC, "tools", "store", "serve-test",
             "--grpc-address=127.0.0.1:%d" % G.free_port(),
             "--grpc-server-tls-cert=/nonexistent.pem",
             "--grpc-server-tls-key=/nonexistent.key"])
_, err = p.communicate(timeout=10)
t.ok(p.returncode == 1 and b"nonexistent.pem" in err,
     "missing TLS cert file is reported", err)

t.done()
