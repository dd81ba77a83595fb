#!/usr/bin/python3
"""t0002-http-concurrency: the HTTP server of `thanosc query` under many
concurrent keep-alive clients (every answer correct, connections reused),
a deep pipeline answered in order, and SIGTERM under load: exit 0 quickly,
and no client ever reads a malformed answer."""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
from taplib import THANOSC, Tap  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from grpclib import free_port  # noqa: E402

tap = Tap("t0002-http-concurrency")


def wait_ready(port, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/-/ready")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start(port):
    return subprocess.Popen(
        [THANOSC, "query", f"--http-address=127.0.0.1:{port}",
         f"--grpc-address=127.0.0.1:{free_port()}", "--log.level=warn",
         "--http-grace-period=10s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


port = free_port()
proc = start(port)
try:
    tap.result(wait_ready(port), "query becomes ready")

    # 200 clients, 25 requests each on one keep-alive connection.
    CLIENTS, REQS = 200, 25
    errors, ok_count, reconnects = [], [0], [0]
    lock = threading.Lock()

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            for j in range(REQS):
                path, want = [("/-/healthy", 200), ("/metrics", 200),
                              ("/nope", 404)][(i + j) % 3]
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                good = r.status == want and (
                    path != "/-/healthy" or body == b"OK") and (
                    path != "/metrics" or b"process_open_fds" in body)
                with lock:
                    if good:
                        ok_count[0] += 1
                    else:
                        errors.append(f"{path}: {r.status} {body[:60]!r}")
                    if r.getheader("Connection", "").lower() == "close":
                        reconnects[0] += 1
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            with lock:
                errors.append(f"client {i}: {e!r}")
        finally:
            conn.close()

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - t0
    tap.result(ok_count[0] == CLIENTS * REQS and not errors,
               f"{CLIENTS}x{REQS} keep-alive requests all correct "
               f"({ok_count[0]} in {secs:.1f}s)", "\n".join(errors[:10]))
    tap.result(reconnects[0] == 0, "no connection was closed by the server",
               f"{reconnects[0]} Connection: close answers")

    # A deep pipeline: 500 requests in one write, answered in order.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    reqs = b"".join(
        b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" %
        (b"/-/healthy" if k % 2 == 0 else b"/nope") for k in range(500))
    s.sendall(reqs + b"GET /-/ready HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        data += b
    s.close()
    # Bodies have no final newline ("OK"), so find status lines anywhere.
    codes = [int(m.group(1)) for m in re.finditer(rb"HTTP/1\.1 (\d{3}) ", data)]
    want = [200 if k % 2 == 0 else 404 for k in range(500)] + [200]
    tap.result(codes == want, "501 pipelined requests answered in order",
               f"got {len(codes)} answers, first mismatch at "
               f"{next((k for k, (a, b) in enumerate(zip(codes, want)) if a != b), None)}")

    # SIGTERM under load: clients keep hammering; every answer they read is
    # well-formed; the process exits 0 well within the grace period.
    stop = threading.Event()
    bad = []

    def hammer():
        while not stop.is_set():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                while not stop.is_set():
                    c.request("GET", "/metrics")
                    r = c.getresponse()
                    body = r.read()
                    if r.status != 200 or b"process_open_fds" not in body:
                        bad.append(f"{r.status} {body[:60]!r}")
                    if r.getheader("Connection", "").lower() == "close":
                        break
                c.close()
            except (ConnectionError, http.client.RemoteDisconnected,
                    http.client.CannotSendRequest, BrokenPipeError,
                    socket.timeout, OSError):
                time.sleep(0.01)  # stopping or stopped: refused or closed
            except Exception as e:  # noqa: BLE001
                bad.append(repr(e))

    hammers = [threading.Thread(target=hammer) for _ in range(20)]
    for t in hammers:
        t.start()
    time.sleep(1)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    took = time.time() - t0
    stop.set()
    for t in hammers:
        t.join()
    tap.result(code == 0, f"SIGTERM under load exits 0 (in {took:.2f}s)",
               f"exit code {code}")
    tap.result(took < 5, "the stop takes well under the grace period")
    tap.result(not bad, "clients never read a malformed answer",
               "\n".join(bad[:10]))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()

sys.exit(tap.finish())
