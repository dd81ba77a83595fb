# t0012-grpc-robustness: raw HTTP/2 against thanosc's gRPC server - garbage
# instead of the preface, malformed frames, malformed gRPC messages, a
# request stream that never ends, and a peer that never reads a 1M-series
# stream: the server stays up, keeps serving others, and its memory stays
# bounded.
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402

t = G.Tap("t0012-grpc-robustness")
G.gen_stubs(t.tmp)
import grpc  # noqa: E402
import storepb_rpc_pb2 as rpc  # noqa: E402
import storepb_rpc_pb2_grpc as rpc_grpc  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINUP = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_literal(name, value):
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request_headers(path):
    h = b"".join(hpack_literal(n, v) for n, v in [
        (":method", "POST"), (":scheme", "http"), (":path", path),
        (":authority", "x"), ("content-type", "application/grpc"),
        ("te", "trailers")])
    return h


def settings(**kw):
    ids = {"initial_window": 4}
    return b"".join(struct.pack(">HI", ids[k], v) for k, v in kw.items())


def read_frames(s, until, timeout=5):
    """Reads frames until until(frames) is true, EOF or timeout."""
    s.settimeout(timeout)
    buf, frames = b"", []
    end = time.time() + timeout
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionError:
            frames.append(("eof",))
            break
        if not d:
            frames.append(("eof",))
            break
        buf += d
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") &
                           0x7fffffff, buf[9:9 + n]))
            buf = buf[9 + n:]
        if until(frames):
            break
    return frames


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return s


def has(frames, typ, sid=None, flag=None):
    return any(f[0] == typ and (sid is None or f[2] == sid) and
               (flag is None or f[1] & flag) for f in frames if len(f) == 4)


def eof(frames):
    return any(f == ("eof",) for f in frames)


srv, port = G.serve_test(t, "--series=1000000")
store = rpc_grpc.StoreStub(grpc.insecure_channel("127.0.0.1:%d" % port))


def alive():
    try:
        return len(store.LabelNames(rpc.LabelNamesRequest(),
                                    timeout=5).names) == 3
    except grpc.RpcError:
        return False


# Not HTTP/2 at all.
s = socket.create_connection(("127.0.0.1", port), 5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
fr = read_frames(s, eof)
t.ok(eof(fr), "HTTP/1.1 request: connection closed", fr)
s.close()
t.ok(alive(), "server alive after garbage preface")

# DATA on stream 0 is a connection error: GOAWAY, then close.
s = connect(port)
s.sendall(frame(DATA, 0, 0, b"xx"))
fr = read_frames(s, eof)
t.ok(has(fr, GOAWAY) and eof(fr), "DATA on stream 0: GOAWAY and close", fr)
s.close()

# A frame length over SETTINGS_MAX_FRAME_SIZE.
s = connect(port)
s.sendall(struct.pack(">I", 1 << 20)[1:] + bytes([DATA, 0]) +
          struct.pack(">I", 1) + b"\x00" * 1000)
fr = read_frames(s, eof)
t.ok(has(fr, GOAWAY) and eof(fr), "oversized frame: GOAWAY and close", fr)
s.close()

# Truncated HPACK block.
s = connect(port)
s.sendall(frame(HEADERS, END_HEADERS, 1, b"\x00\x7f"))
fr = read_frames(s, eof)
t.ok(has(fr, GOAWAY) and eof(fr), "bad HPACK: GOAWAY and close", fr)
s.close()
t.ok(alive(), "server alive after malformed frames")


# Malformed gRPC messages on an otherwise valid stream end that stream with
# a status (HEADERS with END_STREAM) and leave the connection usable.
def grpc_case(body, what):
    s = connect(port)
    s.sendall(frame(HEADERS, END_HEADERS, 1,
                    request_headers("/thanos.Store/LabelNames")) +
              frame(DATA, END_STREAM, 1, body))
    fr = read_frames(s, lambda f: has(f, HEADERS, 1, END_STREAM) or
                     has(f, RST, 1))
    ok = has(fr, HEADERS, 1, END_STREAM) and not eof(fr)
    # The connection still works: a PING is answered.
    s.sendall(frame(PING, 0, 0, b"12345678"))
    fr2 = read_frames(s, lambda f: has(f, PING, 0, ACK))
    t.ok(ok and has(fr2, PING, 0, ACK), what, fr + fr2)
    s.close()


grpc_case(b"\x01\x00\x00\x00\x02ab", "compressed flag without encoding")
grpc_case(b"\x07\x00\x00\x00\x00", "bad compressed-flag value")
grpc_case(b"\x00\x00\x00\x00\x64abc", "message shorter than its prefix")
grpc_case(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
          "two messages on a unary call")
grpc_case(b"\x00\x7f\xff\xff\xff", "2 GiB length prefix")
grpc_case(b"", "no message at all")

# A request stream that never ends holds no handler; closing it is fine.
s = connect(port)
s.sendall(frame(HEADERS, END_HEADERS, 1,
                request_headers("/thanos.Store/Series")) +
          frame(DATA, 0, 1, b"\x00\x00\x00\x00\x00"))
time.sleep(0.3)
s.close()
t.ok(alive(), "half-sent request then disconnect")

# A peer that never reads: a huge window so only TCP pushes back. The
# 1M-series stream must not pile up in the server.
rss0 = G.rss_kib(srv.pid)
s = socket.create_connection(("127.0.0.1", port), 5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings(initial_window=0x7fffffff))
          + frame(WINUP, 0, 0, struct.pack(">I", 0x7fffffff - 65535)) +
          frame(HEADERS, END_HEADERS, 1,
                request_headers("/thanos.Store/Series")) +
          frame(DATA, END_STREAM, 1, b"\x00\x00\x00\x00\x00"))
time.sleep(3)
rss1 = G.rss_kib(srv.pid)
t.ok(rss1 - rss0 < 64 * 1024, "never-reading peer: RSS grew %d KiB"
     % (rss1 - rss0))
t0 = time.time()
t.ok(alive() and time.time() - t0 < 2, "others are served meanwhile")
s.close()
time.sleep(0.5)
t.ok(alive(), "server alive after the stuck peer left")

# Flow control: a peer with a zero window gets nothing, the handler waits.
s = socket.create_connection(("127.0.0.1", port), 5)
s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings(initial_window=0)) +
          frame(HEADERS, END_HEADERS, 1,
                request_headers("/thanos.Store/Series")) +
          frame(DATA, END_STREAM, 1, b"\x00\x00\x00\x00\x00"))
fr = read_frames(s, lambda f: has(f, DATA, 1), timeout=1.5)
t.ok(not has(fr, DATA, 1) and has(fr, HEADERS, 1),
     "zero window: headers but no DATA", [f[:3] for f in fr])
s.sendall(frame(WINUP, 0, 1, struct.pack(">I", 1000)))
fr = read_frames(s, lambda f: has(f, DATA, 1), timeout=3)
got = sum(len(f[3]) for f in fr if len(f) == 4 and f[0] == DATA)
t.ok(0 < got <= 1000, "WINDOW_UPDATE of 1000 releases %d bytes" % got)
s.close()

# Many idle connections, each with a started Series call, then all gone.
rss0 = G.rss_kib(srv.pid)
socks = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings(initial_window=0)) +
              frame(HEADERS, END_HEADERS, 1,
                    request_headers("/thanos.Store/Series")) +
              frame(DATA, END_STREAM, 1, b"\x00\x00\x00\x00\x00"))
    socks.append(s)
time.sleep(1)
t.ok(alive(), "serving with 200 stalled connections open")
rss1 = G.rss_kib(srv.pid)
# Each stalled 1M-series call (100 MB of responses) may hold its send
# queue's high-water mark plus one batch: well under 1 MiB.
t.ok(rss1 - rss0 < 200 * 1024, "200 stalled calls: RSS grew %d KiB"
     % (rss1 - rss0))
for s in socks:
    s.close()
time.sleep(1)
t.ok(alive(), "serving after they all left")

t.stop(srv)
t.ok(srv.returncode == 0, "clean exit", srv.stderr.read().decode()[-1500:])
t.done()
