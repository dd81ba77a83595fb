# t0011-grpc-client-interop: thanosc's gRPC client (`thanosc tools store
# ...`) calls a python3-grpcio StoreAPI server built from our proto/ files:
# Info with the legacy fallback, label calls, a 100k-message Series stream,
# deadlines, handler errors, a server that dies mid-stream (Unavailable, no
# crash), a server that is not there, TLS and mTLS.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402

t = G.Tap("t0011-grpc-client-interop")
G.gen_stubs(t.tmp)
certs = G.make_certs(t.tmp)

SERVER = r'''
import os, sys, time
from concurrent import futures
sys.path.insert(0, sys.argv[1])
import grpc
import storepb_rpc_pb2 as rpc, storepb_rpc_pb2_grpc as rpc_grpc
import storepb_types_pb2 as types
port, mode, nseries = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
certdir = sys.argv[5]

def series(i):
    return rpc.SeriesResponse(series=types.Series(
        labels=[types.Label(name="__name__", value="py_metric"),
                types.Label(name="i", value="%08d" % i)],
        chunks=[types.AggrChunk(min_time=1000, max_time=1000,
                raw=types.Chunk(type=types.Chunk.XOR,
                                data=b"\x00\x01\xd0\x0f" + b"\x00" * 8))]))

class Store(rpc_grpc.StoreServicer):
    def Series(self, req, ctx):
        name = [m.value for m in req.matchers if m.name == "__name__"]
        name = name[0] if name else ""
        if name == "slow":
            while ctx.is_active():
                time.sleep(0.05)
            return
        if name == "error":
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad matcher % here")
        if name == "warn":
            yield rpc.SeriesResponse(warning="partial \u00e9 result")
        for i in range(nseries):
            if name == "die" and i == 50:
                sys.stdout.flush()
                os._exit(3)
            yield series(i)
    def LabelNames(self, req, ctx):
        return rpc.LabelNamesResponse(names=["__name__", "i"])
    def LabelValues(self, req, ctx):
        if not req.label:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty label")
        return rpc.LabelValuesResponse(values=["a", "b"])
    def Info(self, req, ctx):
        return rpc.InfoResponse(min_time=5, max_time=6, storeType=rpc.SIDECAR,
            label_sets=[types.ZLabelSet(labels=[types.Label(name="r",
                                                            value="1")])])

s = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
rpc_grpc.add_StoreServicer_to_server(Store(), s)
addr = "127.0.0.1:%d" % port
def rd(n):
    return open(os.path.join(certdir, n), "rb").read()
if mode == "plain":
    s.add_insecure_port(addr)
else:
    creds = grpc.ssl_server_credentials(
        [(rd("server.key"), rd("server.pem"))],
        root_certificates=rd("ca.pem") if mode == "mtls" else None,
        require_client_auth=(mode == "mtls"))
    s.add_secure_port(addr, creds)
s.start()
s.wait_for_termination()
'''
script = os.path.join(t.tmp, "pyserver.py")
with open(script, "w") as f:
    f.write(SERVER)


def pyserver(mode="plain", nseries=100000):
    port = G.free_port()
    p = t.start([G.PY, script, t.tmp, str(port), mode, str(nseries), t.tmp],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not G.wait_port(port):
        raise RuntimeError("python server did not start")
    return p, port


def tool(*args, timeout=60):
    p = subprocess.run([G.THANOSC, "tools", "store"] + list(args),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


srv, port = pyserver()
ep = "--endpoint=127.0.0.1:%d" % port

rc, out, err = tool("info", ep)
t.ok(rc == 0 and "legacy" in out and "SIDECAR" in out and '{r="1"}' in out,
     "info falls back to legacy thanos.Store/Info on Unimplemented",
     out + err)
rc, out, err = tool("label-names", ep)
t.ok(rc == 0 and out.split() == ["__name__", "i"], "label-names", out + err)
rc, out, err = tool("label-values", ep, "--label=x")
t.ok(rc == 0 and out.split() == ["a", "b"], "label-values", out + err)
rc, out, err = tool("label-values", ep, "--label=")
t.ok(rc == 1 and "InvalidArgument" in err and "empty label" in err,
     "handler error reaches the client", err)

rc, out, err = tool("series", ep, "--match=py_metric")
lines = out.splitlines()
t.ok(rc == 0 and len(lines) == 100000 and "series=100000" in err,
     "Series stream of 100k messages", err)
t.ok(lines and lines[0] == '{__name__="py_metric", i="00000000"} chunks=1 '
     'samples=1', "series line format", lines[:1])

rc, out, err = tool("series", ep, '--match={__name__="py_metric"}',
                    "--samples")
lines = out.splitlines()
t.ok(rc == 0 and len(lines) == 100000 and
     lines[1] == '{__name__="py_metric", i="00000001"} 0 1000',
     "--samples decodes the XOR chunks", lines[:2] + [err])
rc, out, err = tool("series", ep, "--match=py_metric", "--samples",
                    "--max-time=1970-01-01T00:00:00Z")
t.ok(rc == 0 and out == "", "--samples trims to the time range", out[:200])
rc, out, err = tool("series", ep, "--match=error")
t.ok(rc == 1 and "InvalidArgument" in err and "bad matcher % here" in err,
     "grpc-message is percent-decoded", err)
rc, out, err = tool("series", ep, "--match=warn")
t.ok(rc == 0 and "warning: partial \u00e9 result" in err and
     "warnings=1" in err, "warning frames", err)
rc, out, err = tool("series", ep, "--match=slow", "--timeout=300ms")
t.ok(rc == 1 and "DeadlineExceeded" in err, "deadline", err)
rc, out, err = tool("series", ep, "--match=bad{")
t.ok(rc == 2 and "selector" in err, "bad selector is a usage error", err)

rc, out, err = tool("series", ep, "--match=die")
t.ok(rc == 1 and "Unavailable" in err and len(out.splitlines()) == 50,
     "server dying mid-stream gives Unavailable after 50 series", err)
srv.wait(10)
rc, out, err = tool("series", ep, "--match=py_metric")
t.ok(rc == 1 and "Unavailable" in err and "refused" in err,
     "endpoint not listening gives Unavailable", err)
rc, out, err = tool("series", "--endpoint=nohost.invalid:1", "--match=x")
t.ok(rc == 1 and "Unavailable" in err, "unresolvable host gives Unavailable",
     err)

# TLS: verified against the test CA, by IP and by server name.
srv, port = pyserver("tls", 1000)
ep = "--endpoint=127.0.0.1:%d" % port
rc, out, err = tool("series", ep, "--match=py_metric",
                    "--grpc-client-tls-secure",
                    "--grpc-client-tls-ca=" + certs["ca.pem"])
t.ok(rc == 0 and "series=1000" in err, "Series over TLS", err)
rc, out, err = tool("label-names", ep, "--grpc-client-tls-secure",
                    "--grpc-client-tls-ca=" + certs["ca.pem"],
                    "--grpc-client-server-name=localhost")
t.ok(rc == 0, "TLS with --grpc-client-server-name", err)
rc, out, err = tool("label-names", ep, "--grpc-client-tls-secure",
                    "--grpc-client-tls-ca=" + certs["ca.pem"],
                    "--grpc-client-server-name=wrong.example")
t.ok(rc == 1 and "Unavailable" in err, "TLS name mismatch is refused", err)
rc, out, err = tool("label-names", ep, "--grpc-client-tls-secure")
t.ok(rc == 1 and "Unavailable" in err and "verify" in err,
     "unknown CA is refused", err)
rc, out, err = tool("label-names", ep, "--grpc-client-tls-secure",
                    "--grpc-client-tls-skip-verify")
t.ok(rc == 0, "--grpc-client-tls-skip-verify", err)
t.stop(srv)

srv, port = pyserver("mtls", 1000)
ep = "--endpoint=127.0.0.1:%d" % port
rc, out, err = tool("series", ep, "--match=py_metric",
                    "--grpc-client-tls-secure",
                    "--grpc-client-tls-ca=" + certs["ca.pem"],
                    "--grpc-client-tls-cert=" + certs["client.pem"],
                    "--grpc-client-tls-key=" + certs["client.key"])
t.ok(rc == 0 and "series=1000" in err, "Series over mTLS", err)
rc, out, err = tool("label-names", ep, "--grpc-client-tls-secure",
                    "--grpc-client-tls-ca=" + certs["ca.pem"])
t.ok(rc == 1 and "Unavailable" in err,
     "mTLS server refuses the client without a certificate", err)
t.stop(srv)

t.done()
