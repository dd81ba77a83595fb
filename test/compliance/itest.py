"""What the t04*-compliance integration tests share: TAP output, thanosc
processes started and stopped by pid, the data set and the 3.5 reference.

    def run(t, blocks):                  # data set and reference are ready
        grpc, _ = t.start_role("store", ["--objstore.config-file=..."])
        if grpc:
            t.query_and_check(grpc)
    itest.main("t0401-compliance", ["store", "query"], run, data="bucket")
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("THANOSC_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("THANOSC_BUILD") or os.path.join(TOP, "build")
THANOSC = os.environ.get("THANOSC") or os.path.join(BUILD, "thanosc")
PROM3 = os.path.join(TOP, ".deps", "prom3", "usr", "bin", "prometheus")
sys.path.insert(0, HERE)
import compliance  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main(name, roles, run, data="data", make_data_args=()):
    """Unless one of the thanosc roles is not written yet: builds the data set
    and the reference, copies the blocks to <scratch>/<data> (with run.sh
    --make-data's extra make_data_args) and calls run(test, that directory)."""
    t = Test(name)
    t.need_roles(*roles)
    try:
        dest = os.path.join(t.scratch(), data)
        if t.data_set(dest, make_data_args):
            run(t, dest)
    finally:
        t.cleanup()
    t.finish()


class Test:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = 0
        self.procs = []
        self.tmp = None

    # ---- TAP -----------------------------------------------------------------
    def ok(self, desc):
        self.passed += 1
        print("ok %d - %s" % (self.passed + self.failed, desc), flush=True)

    def not_ok(self, desc, detail=()):
        self.failed += 1
        print("not ok %d - %s" % (self.passed + self.failed, desc), flush=True)
        for line in detail:
            print("# " + line, flush=True)

    def skip_all(self, reason):
        """Skips the whole test: exit 0 with a zero count."""
        self.cleanup()
        print("ok %d - %s # SKIP" % (self.passed + self.failed + 1, reason))
        print("1..%d" % (self.passed + self.failed + 1))
        print("# SKIP %s" % reason)
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(0)

    def finish(self):
        self.cleanup()
        print("1..%d" % (self.passed + self.failed))
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)

    # ---- processes ---------------------------------------------------------------
    def need_roles(self, *roles):
        if not os.access(THANOSC, os.X_OK):
            self.skip_all("no thanosc binary at %s" % THANOSC)
        for role in roles:
            try:
                p = subprocess.run([THANOSC, role, "--help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.skip_all("thanosc %s --help: %s" % (role, e))
            err = p.stderr.decode("utf-8", "replace").strip()
            if p.returncode == 2 and "not written yet" in err:
                self.skip_all("thanosc %s is not written yet (%s)" % (role, err))

    def scratch(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="thanosc-%s-" % self.name)
        return self.tmp

    def start(self, name, argv):
        log = open(os.path.join(self.scratch(), name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, p, log))
        return p

    def log_tail(self, name, n=15):
        try:
            with open(os.path.join(self.scratch(), name + ".log"), errors="replace") as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []

    def wait_ready(self, url, proc, what, seconds=60):
        """A TAP case: url answers 2xx before proc exits or time runs out."""
        end = time.time() + seconds
        while time.time() < end and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if 200 <= r.status < 300:
                        self.ok("%s becomes ready" % what)
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        name = [n for n, p, _ in self.procs if p is proc]
        self.not_ok("%s becomes ready" % what, self.log_tail(name[0]) if name else ())
        return False

    def still_running(self):
        for name, p, _ in self.procs:
            if p.poll() is not None:
                self.not_ok("%s still running after the queries" % name, self.log_tail(name))

    def cleanup(self):
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.terminate()
        for _, p, log in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
        self.procs = []
        if self.tmp and not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # ---- data and queries ------------------------------------------------------
    def data_set(self, dest, make_data_args=()):
        """Builds (or reuses) the data set and the 3.5 reference; copies the
        blocks into dest. Returns False (after a failed case) on trouble."""
        runsh = os.path.join(HERE, "run.sh")
        for args in (["--reference-only"], ["--make-data", dest] + list(make_data_args)):
            p = subprocess.run(["bash", runsh] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if p.returncode != 0:
                self.not_ok("run.sh %s" % " ".join(args),
                            p.stdout.decode(errors="replace").splitlines()[-15:])
                return False
        self.ok("data set and Prometheus 3.5 reference ready")
        return True

    def wait_series(self, url, query="demo_num_cpus", want=3, seconds=60):
        """A TAP case: the query API finds `want` series for `query`. Skips
        the whole test while the API answers 404 (not served yet)."""
        def count():
            q = urllib.parse.urlencode({"query": query, "start": compliance.WINDOW_START,
                                        "end": compliance.WINDOW_END,
                                        "step": compliance.STEP})
            try:
                with urllib.request.urlopen(url + "/api/v1/query_range?" + q,
                                            timeout=10) as r:
                    return len(json.loads(r.read())["data"]["result"]), r.status
            except urllib.error.HTTPError as e:
                return -1, e.code
            except (OSError, ValueError, KeyError, TypeError):
                return -1, None
        end = time.time() + seconds
        n, status = count()
        while n != want and status != 404 and time.time() < end:
            time.sleep(0.5)
            n, status = count()
        if status == 404:
            self.skip_all("%s/api/v1/query_range answers 404: not served yet" % url)
        desc = "the query API sees the %d %s series" % (want, query)
        if n == want:
            self.ok(desc)
            return True
        self.not_ok(desc, ["found %d (HTTP status %s)" % (n, status)])
        return False

    def start_role(self, role, flags):
        """Starts `thanosc ROLE FLAGS --grpc-address --http-address` on free
        ports and waits until it is ready (a TAP case). Returns its gRPC
        address and HTTP URL, or (None, None)."""
        grpc, http = free_port(), free_port()
        proc = self.start(role, [THANOSC, role] + list(flags) +
                          ["--grpc-address=127.0.0.1:%d" % grpc,
                           "--http-address=127.0.0.1:%d" % http])
        url = "http://127.0.0.1:%d" % http
        if not self.wait_ready(url + "/-/ready", proc, "thanosc " + role):
            return None, None
        return "127.0.0.1:%d" % grpc, url

    def start_store(self, bucket):
        """`thanosc store` on a FILESYSTEM bucket; returns its gRPC address."""
        objstore = os.path.join(self.scratch(), "bucket.yml")
        with open(objstore, "w") as f:
            f.write("type: FILESYSTEM\nconfig:\n  directory: %s\n" % bucket)
        grpc, _ = self.start_role("store", [
            "--objstore.config-file=" + objstore,
            "--data-dir=" + os.path.join(self.scratch(), "store")])
        return grpc

    def query_and_check(self, endpoint, drop_labels=(), flags=()):
        """`thanosc query --endpoint=endpoint [flags]`, then every compliance
        query through it, then a check that every process is still up."""
        _, url = self.start_role("query", ["--endpoint=" + endpoint] + list(flags))
        # The querier finds the series once it has asked the endpoint for its info.
        if url and self.wait_series(url):
            self.check_queries(url, drop_labels)
            self.still_running()

    def check_queries(self, url, drop_labels=(), parallel=2):
        """One TAP case per compliance query against the 3.5 references: the
        range queries, then the instant queries."""
        for refname in ("ref-3.5.jsonl", "ref-3.5-instant.jsonl"):
            ref = compliance.load(os.path.join(BUILD, "compliance", refname))
            t0 = time.time()
            cases = [(r["query"], r["should_fail"], r.get("time")) for r in ref]
            answers = compliance.run_all(
                cases, lambda q, f, at: compliance.query_http(url, q, f, at), parallel)
            for r, g in zip(ref, answers):
                if drop_labels:
                    compliance.drop_labels(r, drop_labels)
                    compliance.drop_labels(g, drop_labels)
                problems = compliance.compare(r, g)
                name = "compliance: " + compliance.case_name(r["query"], r.get("time"))
                if problems:
                    self.not_ok(name, problems)
                else:
                    self.ok(name)
            print("# %s: %d queries in %.1f s" % (refname, len(cases), time.time() - t0),
                  flush=True)
