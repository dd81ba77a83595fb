# t0604-sidecar-faults.py - thanosc sidecar in front of a fake Prometheus
# that misbehaves: remote read answering garbage, a corrupt or truncated
# stream, an error appended mid-stream, an HTML page, HTTP 500, broken
# snappy; label APIs answering errors or bad JSON; a configuration that is
# not YAML; no answer at all. Every case gets a clear gRPC error, the
# sidecar stays up, and start-up gives up after --prometheus.ready_timeout.
import atexit
import http.server
import json
import os
import shutil
import socketserver
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib  # noqa: E402

t = grpclib.Tap("t0604-sidecar-faults")
if not os.environ.get("KEEP_TMP"):
    atexit.register(shutil.rmtree, t.tmp, True)
os.makedirs(os.path.join(t.tmp, "stubs"))
grpclib.gen_stubs(os.path.join(t.tmp, "stubs"))
import grpc  # noqa: E402
import info_pb2  # noqa: E402
import info_pb2_grpc  # noqa: E402
import prompb_remote_pb2 as remote  # noqa: E402
import prompb_types_pb2 as ptypes  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402
import storepb_types_pb2 as types  # noqa: E402


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def uvarint(x):
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7f) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def frame(name):
    cs = ptypes.ChunkedSeries(labels=[ptypes.Label(name="__name__",
                                                   value=name)])
    # One XOR chunk with one sample (t=1000, v=1.0).
    data = b"\x00\x01" + uvarint(2000) + struct.pack(">d", 1.0)
    cs.chunks.append(ptypes.Chunk(min_time_ms=1000, max_time_ms=1000,
                                  type=1, data=data))
    msg = remote.ChunkedReadResponse(chunked_series=[cs]).SerializeToString()
    return uvarint(len(msg)) + struct.pack(">I", crc32c(msg)) + msg


STREAMED = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
MODE = {"read": "ok", "config": "ok", "labels": "ok"}
CONFIG = "global:\n  external_labels:\n    cluster: fake\n"


class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/api/v1/status/config"):
            m = MODE["config"]
            if m == "ok":
                body = json.dumps({"status": "success",
                                   "data": {"yaml": CONFIG}})
            elif m == "badyaml":
                body = json.dumps({"status": "success",
                                   "data": {"yaml": "global: [\n"}})
            else:
                body = "{not json"
            self.send(200, "application/json", body.encode())
        elif self.path.startswith("/metrics"):
            self.send(200, "text/plain",
                      b"prometheus_tsdb_lowest_timestamp_seconds 1\n")
        elif self.path.startswith("/api/v1/label"):
            m = MODE["labels"]
            if m == "error":
                body = json.dumps({"status": "error", "errorType": "bad_data",
                                   "error": "boom from prometheus"})
                self.send(400, "application/json", body.encode())
            elif m == "badjson":
                self.send(200, "application/json", b"[1, 2")
            else:
                body = json.dumps({"status": "success", "data": ["a"]})
                self.send(200, "application/json", body.encode())
        else:
            self.send(404, "text/plain", b"404 page not found\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        m = MODE["read"]
        if m == "ok":
            self.send(200, STREAMED, frame("a") + frame("b"))
        elif m == "garbage":
            self.send(200, STREAMED, b"\x05\x00\x00\x00\x00hello")
        elif m == "midstream":
            self.send(200, STREAMED, frame("a") + b"expanding series: boom\n")
        elif m == "truncated":
            f = frame("b")
            self.send_response(200)
            self.send_header("Content-Type", STREAMED)
            self.send_header("Content-Length", str(len(f) * 2))
            self.end_headers()
            self.wfile.write(f + f[:len(f) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif m == "html":
            self.send(200, "text/html", b"<html>hello</html>")
        elif m == "500":
            self.send(500, "text/plain", b"query failed: out of memory\n")
        elif m == "badsnappy":
            self.send(200, "application/x-protobuf", b"\xff\xff\xff\xff")
        elif m == "badproto":
            msg = b"\x0a\xff\xff\xff\x0f"
            body = uvarint(len(msg)) + struct.pack(">I", crc32c(msg)) + msg
            self.send(200, STREAMED, body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


pport = grpclib.free_port()
srv = Server(("127.0.0.1", pport), Fake)
threading.Thread(target=srv.serve_forever, daemon=True).start()


def start_sidecar(extra=()):
    g, h = grpclib.free_port(), grpclib.free_port()
    log = open(os.path.join(t.tmp, "sidecar-%d.log" % g), "w")
    p = t.start([grpclib.THANOSC, "sidecar",
                 "--prometheus.url=http://127.0.0.1:%d" % pport,
                 "--tsdb.path=" + t.tmp, "--grpc-address=127.0.0.1:%d" % g,
                 "--http-address=127.0.0.1:%d" % h] + list(extra),
                stdout=log, stderr=subprocess.STDOUT)
    return p, g, h, log.name


def ready(h):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % h,
                                    timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def wait_until(fn, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return False


p, g, h, log = start_sidecar()
t.ok(wait_until(lambda: ready(h)), "sidecar ready on the fake Prometheus")
ch = grpc.insecure_channel("127.0.0.1:%d" % g)
st = rpc_grpc.StoreStub(ch)


def series():
    req = rpc.SeriesRequest(min_time=0, max_time=10**13, matchers=[
        types.LabelMatcher(type=2, name="__name__", value=".+")])
    return list(st.Series(req, timeout=10))


got = series()
t.ok(len(got) == 2 and got[0].series.labels[1].name == "cluster",
     "a good stream: two series with the external label", got)

for mode, code, words in [
        ("garbage", None, "checksum"),
        ("midstream", None, "frame"),
        ("truncated", None, "remote read"),
        ("html", None, "Content-Type"),
        ("500", grpc.StatusCode.UNAVAILABLE, "out of memory"),
        ("badsnappy", None, "snappy"),
        ("badproto", None, "protobuf")]:
    MODE["read"] = mode
    try:
        series()
        t.ok(False, "remote read %s: an error" % mode)
    except grpc.RpcError as e:
        t.ok((code is None or e.code() == code) and words in e.details(),
             "remote read %s: %s %s" % (mode, e.code().name, e.details()))
MODE["read"] = "ok"
t.ok(len(series()) == 2, "after all that: Series answers again")

for mode, words in [("error", "boom from prometheus"),
                    ("badjson", "bad JSON")]:
    MODE["labels"] = mode
    try:
        st.LabelNames(rpc.LabelNamesRequest(start=0, end=10**13), timeout=10)
        t.ok(False, "label API %s: an error" % mode)
    except grpc.RpcError as e:
        t.ok(words in e.details(), "label API %s: %s %s" %
             (mode, e.code().name, e.details()))
MODE["labels"] = "ok"
names = st.LabelNames(rpc.LabelNamesRequest(start=0, end=10**13), timeout=10)
t.ok(list(names.names) == ["a", "cluster"], "LabelNames answers again",
     names)

# Bad configuration answers: the sidecar keeps the labels it had, reports
# Prometheus down and is not ready, and recovers.
MODE["config"] = "badyaml"
p2, g2, h2, log2 = start_sidecar(["--prometheus.get_config_interval=200ms"])
time.sleep(2)
t.ok(p2.poll() is None and not ready(h2),
     "config that is not YAML: alive, not ready")
MODE["config"] = "ok"
t.ok(wait_until(lambda: ready(h2)), "config fixed: ready")
t.ok("bad YAML" in open(log2).read(), "the log says why",
     open(log2).read()[-500:])
inf = info_pb2_grpc.InfoStub(ch).Info(info_pb2.InfoRequest(), timeout=5)
t.ok(inf.ComponentType == "sidecar", "Info still answers")

# External labels changed by a Prometheus reload: picked up on the next
# refresh, no restart.
CONFIG = "global:\n  external_labels:\n    cluster: other\n    replica: b\n"
ch2 = grpc.insecure_channel("127.0.0.1:%d" % g2)


def relabelled():
    i = info_pb2_grpc.InfoStub(ch2).Info(info_pb2.InfoRequest(), timeout=5)
    return [(l.name, l.value) for l in i.label_sets[0].labels] == [
        ("cluster", "other"), ("replica", "b")]


t.ok(wait_until(relabelled, 10), "a changed configuration's labels are used")
got = list(rpc_grpc.StoreStub(ch2).Series(rpc.SeriesRequest(
    min_time=0, max_time=10**13, matchers=[
        types.LabelMatcher(type=0, name="replica", value="b"),
        types.LabelMatcher(type=2, name="__name__", value=".+")]),
    timeout=10))
t.ok(len(got) == 2 and ("replica", "b") in [
    (l.name, l.value) for l in got[0].series.labels],
    "Series matches and carries the new labels")
ch2.close()
t.ok(p.poll() is None, "the sidecar survived every case")
t.stop(p)
t.stop(p2)

# No Prometheus at all: gives up after --prometheus.ready_timeout.
dead = grpclib.free_port()
g3, h3 = grpclib.free_port(), grpclib.free_port()
r = subprocess.run([grpclib.THANOSC, "sidecar",
                    "--prometheus.url=http://127.0.0.1:%d" % dead,
                    "--tsdb.path=" + t.tmp, "--grpc-address=127.0.0.1:%d" % g3,
                    "--http-address=127.0.0.1:%d" % h3,
                    "--prometheus.ready_timeout=3s"],
                   capture_output=True, text=True, timeout=30)
t.ok(r.returncode == 1 and "ready_timeout" in r.stdout + r.stderr,
     "no Prometheus: exits 1 after the ready timeout", (r.stdout + r.stderr)[-600:])
r = subprocess.run([grpclib.THANOSC, "sidecar", "--prometheus.url=ftp://x"],
                   capture_output=True, text=True, timeout=10)
t.ok(r.returncode == 2 and "not an http" in r.stderr,
     "a bad --prometheus.url is refused", r.stderr)
ch.close()
srv.shutdown()
t.done()
