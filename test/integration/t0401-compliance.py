#!/usr/bin/python3
"""t0401-compliance: the PromQL compliance queries through thanosc store and
thanosc query, compared with Prometheus 3.5's answers.

The compliance data set (test/compliance) goes into a FILESYSTEM bucket as
the blocks promtool wrote (no "thanos" section in meta.json); `thanosc store`
serves the bucket and `thanosc query --endpoint` asks it. Each of the 539
queries is one TAP case. While either role answers "not written yet" (exit
code 2) the test is skipped.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

NAME = "t0401-compliance"
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("THANOSC_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("THANOSC_BUILD") or os.path.join(TOP, "build")
THANOSC = os.environ.get("THANOSC") or os.path.join(BUILD, "thanosc")
COMPLIANCE = os.path.join(TOP, "test", "compliance")
sys.path.insert(0, COMPLIANCE)
import compliance  # noqa: E402

passed = failed = 0
procs = []


def ok(desc):
    global passed
    passed += 1
    print("ok %d - %s" % (passed + failed, desc), flush=True)


def not_ok(desc, detail=()):
    global failed
    failed += 1
    print("not ok %d - %s" % (passed + failed, desc), flush=True)
    for line in detail:
        print("# " + line, flush=True)


def done(skip_reason=None):
    if skip_reason:
        print("ok %d - %s # SKIP" % (passed + failed + 1, skip_reason))
        print("1..%d" % (passed + failed + 1))
        print("# SKIP %s" % skip_reason)
        print("%s: %d passed, %d failed" % (NAME, passed, failed))
        sys.exit(0)
    print("1..%d" % (passed + failed))
    print("%s: %d passed, %d failed" % (NAME, passed, failed))
    sys.exit(1 if failed else 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def not_written(role):
    """The role's "not written yet" line, or None once it is written."""
    try:
        p = subprocess.run([THANOSC, role, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "thanosc %s --help: %s" % (role, e)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode == 2 and "not written yet" in err:
        return err.strip()
    return None


def start(name, argv, tmp):
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    procs.append((name, p, log))
    return p


def stop_all():
    for _, p, _ in procs:
        if p.poll() is None:
            p.terminate()
    for _, p, log in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def wait_http(url, proc, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if 200 <= r.status < 300:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def series_count(url, query):
    q = urllib.parse.urlencode({"query": query, "start": compliance.WINDOW_START,
                                "end": compliance.WINDOW_END, "step": compliance.STEP})
    try:
        with urllib.request.urlopen(url + "/api/v1/query_range?" + q, timeout=10) as r:
            return len(json.loads(r.read())["data"]["result"])
    except (OSError, ValueError, KeyError):
        return -1


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def main():
    if not os.access(THANOSC, os.X_OK):
        done("no thanosc binary at %s" % THANOSC)
    for role in ("store", "query"):
        why = not_written(role)
        if why:
            done("thanosc %s is not written yet (%s)" % (role, why))

    tmp = tempfile.mkdtemp(prefix="thanosc-%s-" % NAME)
    try:
        run(tmp)
    finally:
        stop_all()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    done()


def run(tmp):
    # The data set and the 3.5 reference, cached under the build folder.
    runsh = os.path.join(COMPLIANCE, "run.sh")
    bucket = os.path.join(tmp, "bucket")
    for args in (["--reference-only"], ["--make-data", bucket]):
        p = subprocess.run(["bash", runsh] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            not_ok("run.sh %s" % " ".join(args), p.stdout.decode(errors="replace").splitlines()[-15:])
            return
    ok("data set and Prometheus 3.5 reference ready")
    ref = compliance.load(os.path.join(BUILD, "compliance", "ref-3.5.jsonl"))

    objstore = os.path.join(tmp, "bucket.yml")
    with open(objstore, "w") as f:
        f.write("type: FILESYSTEM\nconfig:\n  directory: %s\n" % bucket)

    sgrpc, shttp = free_port(), free_port()
    store = start("store", [THANOSC, "store", "--objstore.config-file=" + objstore,
                            "--data-dir=" + os.path.join(tmp, "store"),
                            "--grpc-address=127.0.0.1:%d" % sgrpc,
                            "--http-address=127.0.0.1:%d" % shttp], tmp)
    if not wait_http("http://127.0.0.1:%d/-/ready" % shttp, store):
        not_ok("thanosc store becomes ready", tail(os.path.join(tmp, "store.log")))
        return
    ok("thanosc store becomes ready")

    qgrpc, qhttp = free_port(), free_port()
    query = start("query", [THANOSC, "query", "--endpoint=127.0.0.1:%d" % sgrpc,
                            "--grpc-address=127.0.0.1:%d" % qgrpc,
                            "--http-address=127.0.0.1:%d" % qhttp], tmp)
    url = "http://127.0.0.1:%d" % qhttp
    if not wait_http(url + "/-/ready", query):
        not_ok("thanosc query becomes ready", tail(os.path.join(tmp, "query.log")))
        return
    ok("thanosc query becomes ready")

    # The querier finds the store's series once it has asked for its info.
    end = time.time() + 60
    while time.time() < end and series_count(url, "demo_num_cpus") != 3:
        time.sleep(0.5)
    if series_count(url, "demo_num_cpus") != 3:
        not_ok("the querier sees the 3 demo_num_cpus series through the store",
               tail(os.path.join(tmp, "query.log")))
        return
    ok("the querier sees the 3 demo_num_cpus series through the store")

    t0 = time.time()
    cases = [(r["query"], r["should_fail"]) for r in ref]
    answers = compliance.run_all(cases, lambda q, f: compliance.query_http(url, q, f), 2)
    for r, g in zip(ref, answers):
        problems = compliance.compare(r, g)
        if problems:
            not_ok("compliance: %s" % r["query"], problems)
        else:
            ok("compliance: %s" % r["query"])
    print("# %d queries in %.1f s" % (len(cases), time.time() - t0))
    for name, p, _ in procs:
        if p.poll() is not None:
            not_ok("thanosc %s still running after the queries" % name,
                   tail(os.path.join(tmp, name + ".log")))


if __name__ == "__main__":
    main()
