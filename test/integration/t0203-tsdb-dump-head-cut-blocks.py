#!/usr/bin/python3
"""t0203: blocks cut from the head of a live Prometheus (3.5 and 2.42, which
writes the 2.x trailing chunk byte) scraping itself every second with 10s
block ranges: `thanosc tools block dump` prints exactly what
`promtool tsdb dump` prints for each block, order included."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
from taplib import PROM3, PROMTOOL2, PROMTOOL3, THANOSC, Tap, run  # noqa: E402

NAME = "t0203-tsdb-dump-head-cut-blocks"
tap = Tap(NAME)
VERSIONS = [("3.5", PROM3, PROMTOOL3), ("2.42", "/usr/bin/prometheus", PROMTOOL2)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def blocks(d):
    return sorted(x for x in os.listdir(d) if len(x) == 26 and
                  os.path.exists(os.path.join(d, x, "meta.json")))


def main():
    tmp = tempfile.mkdtemp(prefix="thanosc-t0203-")
    procs = {}
    try:
        for ver, prom, _ in VERSIONS:
            if not os.path.exists(prom):
                continue
            port = free_port()
            cfg = os.path.join(tmp, f"prom-{ver}.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        "  - job_name: self\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{port}']\n")
            log = open(os.path.join(tmp, f"prom-{ver}.log"), "w")
            procs[ver] = subprocess.Popen(
                [prom, "--config.file=" + cfg,
                 "--storage.tsdb.path=" + os.path.join(tmp, "data-" + ver),
                 "--web.listen-address=127.0.0.1:%d" % port,
                 "--storage.tsdb.min-block-duration=10s",
                 "--storage.tsdb.max-block-duration=10s"],
                stdout=log, stderr=subprocess.STDOUT)
        # Head blocks appear after 1.5 block ranges of data.
        deadline = time.time() + 75
        while time.time() < deadline:
            if all(os.path.isdir(os.path.join(tmp, "data-" + v)) and
                   len(blocks(os.path.join(tmp, "data-" + v))) >= 2 for v in procs):
                break
            time.sleep(1)
        for ver, p in procs.items():
            p.terminate()
            p.wait(timeout=30)
        for ver, _, promtool in VERSIONS:
            if ver not in procs:
                tap.result(True, f"prometheus {ver} not installed # SKIP")
                continue
            data = os.path.join(tmp, "data-" + ver)
            bl = blocks(data)
            tap.result(len(bl) >= 2, f"prometheus {ver} cut {len(bl)} blocks from its head")
            for b in bl:
                solo = os.path.join(tmp, f"solo-{ver}-{b}")
                os.makedirs(os.path.join(solo, "wal"))
                shutil.copytree(os.path.join(data, b), os.path.join(solo, b))
                rc, theirs, err = run([promtool, "tsdb", "dump", solo])
                rc2, ours, err2 = run([THANOSC, "tools", "block", "dump",
                                       "--path=" + os.path.join(solo, b)])
                detail = err + err2
                if ours != theirs:
                    a, c = set(ours.splitlines()), set(theirs.splitlines())
                    detail += "\nonly ours: " + "\n".join(sorted(a - c)[:5])
                    detail += "\nonly promtool: " + "\n".join(sorted(c - a)[:5])
                tap.result(rc == 0 and rc2 == 0 and ours == theirs and ours,
                           f"{ver} block {b}: dump identical to promtool "
                           f"({len(theirs.splitlines())} samples)", detail)
                rc2, ours, err2 = run([THANOSC, "tools", "block", "dump",
                                       "--path=" + os.path.join(solo, b),
                                       "--match=up", "--match={__name__=~\"go_gc.*\"}"])
                rc, theirs, err = run([promtool, "tsdb", "dump", "--match=up", solo])
                want = [l for l in theirs.splitlines()]
                tap.result(rc2 == 0 and all(l in ours.splitlines() for l in want) and
                           want and all(l.startswith("{__name__=\"up\"") or
                                        l.startswith("{__name__=\"go_gc")
                                        for l in ours.splitlines()),
                           f"{ver} block {b}: selectors pick the right series",
                           err + err2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


sys.exit(main())
