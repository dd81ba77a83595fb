# grpclib.py - shared helpers of the gRPC interop tests (t00*-grpc*.py,
# t07*-store*.py): TAP output, free ports, processes stopped by pid, Python
# stubs generated from OUR proto/ files, and test certificates.
import os
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("THANOSC_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("THANOSC_BUILD") or os.path.join(TOP, "build")
THANOSC = os.environ.get("THANOSC") or os.path.join(BUILD, "thanosc")
PY = "/usr/bin/python3"


class Tap:
    def __init__(self, name):
        self.name = name
        self.n = 0
        self.passed = 0
        self.failed = 0
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="thanosc-%s-" % name)

    def ok(self, cond, what, detail=""):
        self.n += 1
        if cond:
            self.passed += 1
            print("ok %d - %s" % (self.n, what), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, what), flush=True)
            for line in str(detail).splitlines()[:20]:
                print("#   " + line, flush=True)
        return cond

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdout=kw.pop("stdout", subprocess.PIPE),
                             stderr=kw.pop("stderr", subprocess.PIPE), **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=15):
        if p.poll() is None:
            os.kill(p.pid, sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, 9)
                p.wait()

    def done(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, 9)
                p.wait()
        print("1..%d" % self.n)
        print("%s: %d passed, %d failed" % (self.name, self.passed,
                                            self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def gen_stubs(outdir):
    """Generates Python modules from proto/*.proto into outdir."""
    protos = sorted(os.path.join(TOP, "proto", f)
                    for f in os.listdir(os.path.join(TOP, "proto"))
                    if f.endswith(".proto"))
    subprocess.check_call([PY, "-m", "grpc_tools.protoc",
                           "-I" + os.path.join(TOP, "proto"),
                           "--python_out=" + outdir,
                           "--grpc_python_out=" + outdir] + protos)
    sys.path.insert(0, outdir)


def make_certs(d):
    """A CA, a server cert for 127.0.0.1/localhost, a client cert."""
    def run(*a):
        subprocess.check_call(list(a), cwd=d, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=thanosc-test-ca")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes",
            "-keyout", who + ".key", "-out", who + ".csr",
            "-subj", "/CN=" + who)
        run("openssl", "x509", "-req", "-in", who + ".csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-out", who + ".pem",
            "-days", "2", "-extfile", "ext.cnf")
    return {k: os.path.join(d, k) for k in
            ("ca.pem", "server.pem", "server.key", "client.pem",
             "client.key")}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def serve_test(t, *args):
    """Starts `thanosc tools store serve-test` on a free port."""
    port = free_port()
    p = t.start([THANOSC, "tools", "store", "serve-test",
                 "--grpc-address=127.0.0.1:%d" % port,
                 "--grpc-grace-period=1s"] + list(args),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not wait_port(port):
        raise RuntimeError("serve-test did not listen on %d" % port)
    return p, port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1
