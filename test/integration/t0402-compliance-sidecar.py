#!/usr/bin/python3
"""t0402-compliance-sidecar: the PromQL compliance queries through thanosc
sidecar (in front of Prometheus 3.5 serving the data set) and thanosc query,
compared with Prometheus 3.5's own answers.

Prometheus gets the external label prometheus="p1", which a sidecar needs;
the querier adds it to every series, so it is dropped before comparing (as
the upstream tester's Thanos settings do). Skipped while thanosc sidecar or
thanosc query answer "not written yet".
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compliance"))
import itest  # noqa: E402  (test/compliance/itest.py)
from itest import PROM3, free_port  # noqa: E402


def run(t, data):
    tmp = t.scratch()
    config = os.path.join(tmp, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n  external_labels:\n    prometheus: p1\n")

    pport = free_port()
    prom = t.start("prometheus", [PROM3, "--config.file=" + config,
                                  "--storage.tsdb.path=" + data,
                                  "--storage.tsdb.retention.time=100y",
                                  "--web.listen-address=127.0.0.1:%d" % pport])
    purl = "http://127.0.0.1:%d" % pport
    if not t.wait_ready(purl + "/-/ready", prom, "Prometheus 3.5"):
        return

    grpc, _ = t.start_role("sidecar", ["--prometheus.url=" + purl, "--tsdb.path=" + data])
    if grpc:
        t.query_and_check(grpc, drop_labels=["prometheus"])


if __name__ == "__main__":
    itest.main("t0402-compliance-sidecar", ["sidecar", "query"], run, data="prometheus")
