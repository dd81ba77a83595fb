#!/usr/bin/python3
"""t0405-query-grafana-api: every call Grafana's Prometheus data source
makes, against thanosc query (over thanosc sidecar in front of Prometheus
3.5 serving the compliance data set) and against that Prometheus itself.

Grafana sends buildinfo (feature detection), a 1+1 instant query (health
check), query and query_range as POST forms, labels and series as POST
forms with start/end, label values with match[], and metadata. Answers
must equal Prometheus's, except for the external label prometheus="p1"
the querier adds (dropped before comparing) and Thanos's own additions
(buildinfo contents, "analysis" in query data, metadata from the
endpoints, a missing step meaning --query.default-step). Errors must carry the same status, errorType and message.
Also checks --web.route-prefix and /api/v1/stores.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compliance"))
import compliance  # noqa: E402
import itest  # noqa: E402
from itest import PROM3, free_port  # noqa: E402

END = compliance.WINDOW_END
START = compliance.WINDOW_START


def call(url, path, params, post=False):
    data = urllib.parse.urlencode(params, doseq=True)
    if post:
        req = urllib.request.Request(url + path, data=data.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    else:
        req = urllib.request.Request(url + path + ("?" + data if data else ""))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")}


def strip(v):
    """Drops the external label and Thanos-only keys."""
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if k not in ("prometheus", "analysis")}
    if isinstance(v, list):
        return [strip(x) for x in v if x != "prometheus"]
    return v


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
    if not grpc:
        return
    _, qurl = t.start_role("query", ["--endpoint=" + grpc])
    _, purl_prefixed = t.start_role("query", ["--endpoint=" + grpc,
                                              "--web.route-prefix=/thanos"])
    if not qurl or not purl_prefixed or not t.wait_series(qurl):
        return

    st, b = call(qurl, "/api/v1/status/buildinfo", {})
    if st == 200 and b["status"] == "success" and b["data"].get("version"):
        t.ok("buildinfo has a version (%s)" % b["data"]["version"])
    else:
        t.not_ok("buildinfo has a version", [json.dumps(b)[:300]])

    rng = {"start": START, "end": END}
    cases = [
        ("health check 1+1 (POST)", "/api/v1/query", {"query": "1+1", "time": END}, True),
        ("instant query (POST)", "/api/v1/query",
         {"query": "sum by (instance) (demo_num_cpus)", "time": END}, True),
        ("range query (POST)", "/api/v1/query_range",
         {"query": "rate(demo_cpu_usage_seconds_total[1m])", "start": START,
          "end": END, "step": "15"}, True),
        ("range query (GET)", "/api/v1/query_range",
         {"query": "demo_num_cpus", "start": START, "end": END, "step": "30"}, False),
        ("labels (POST)", "/api/v1/labels", rng, True),
        ("labels with match[] (GET)", "/api/v1/labels",
         dict(rng, **{"match[]": "demo_num_cpus"}), False),
        ("label values of __name__", "/api/v1/label/__name__/values", rng, False),
        ("label values with match[]", "/api/v1/label/instance/values",
         dict(rng, **{"match[]": "demo_num_cpus"}), False),
        ("series (POST)", "/api/v1/series",
         dict(rng, **{"match[]": ["demo_num_cpus", 'demo_disk_usage_bytes{instance="demo.promlabs.com:10000"}']}),
         True),
        ("rules (alerting UI)", "/api/v1/rules", {}, False),
        ("alerts", "/api/v1/alerts", {}, False),
        ("error: parse error", "/api/v1/query", {"query": "sum(", "time": END}, True),
        ("error: end before start", "/api/v1/query_range",
         {"query": "up", "start": END, "end": START, "step": "15"}, False),
        ("error: series without match[]", "/api/v1/series", rng, False),
        ("error: bad time", "/api/v1/query", {"query": "up", "time": "yesterday"}, False),
    ]
    for name, path, params, post in cases:
        sp, bp = call(purl, path, params, post)
        sq, bq = call(qurl, path, params, post)
        bp_, bq_ = strip(bp), strip(bq)
        if name.startswith("error"):
            # Thanos answers with its own wording in places; the shape and
            # status must match.
            same = (sp == sq and bp.get("status") == bq.get("status") == "error"
                    and bp.get("errorType") == bq.get("errorType"))
        else:
            same = sp == sq and bp_ == bq_
        if same:
            t.ok("%s: as Prometheus" % name)
        else:
            t.not_ok("%s: as Prometheus" % name,
                     ["prometheus %s %s" % (sp, json.dumps(bp)[:400]),
                      "thanosc    %s %s" % (sq, json.dumps(bq)[:400])])

    # Thanos (not Prometheus) takes a missing step as --query.default-step (1s).
    q = {"query": "demo_num_cpus", "start": END - 60, "end": END}
    sp, bp = call(purl, "/api/v1/query_range", dict(q, step="1"))
    sq, bq = call(qurl, "/api/v1/query_range", q)
    if sp == sq == 200 and strip(bp) == strip(bq):
        t.ok("query_range without step: Thanos's default step of 1s")
    else:
        t.not_ok("query_range without step: Thanos's default step of 1s",
                 [json.dumps(bq)[:300]])

    st, b = call(qurl, "/api/v1/metadata", {})
    if st == 200 and b["status"] == "success" and isinstance(b["data"], dict):
        t.ok("metadata answers success with an object")
    else:
        t.not_ok("metadata answers success with an object", [json.dumps(b)[:300]])

    st, b = call(purl_prefixed, "/thanos/api/v1/query", {"query": "1+1", "time": END})
    st2, _ = call(purl_prefixed, "/api/v1/query", {"query": "1+1", "time": END})
    if st == 200 and b["data"]["result"][1] == "2" and st2 == 404:
        t.ok("--web.route-prefix=/thanos moves the API")
    else:
        t.not_ok("--web.route-prefix=/thanos moves the API", ["%s %s" % (st, b), str(st2)])

    st, b = call(qurl, "/api/v1/stores", {})
    side = (b.get("data") or {}).get("sidecar") or []
    if st == 200 and len(side) == 1 and side[0]["labelSets"] == [{"prometheus": "p1"}] \
            and side[0]["lastError"] is None:
        t.ok("/api/v1/stores shows the sidecar with its labels")
    else:
        t.not_ok("/api/v1/stores shows the sidecar with its labels", [json.dumps(b)[:300]])
    t.still_running()


if __name__ == "__main__":
    itest.main("t0405-query-grafana-api", ["sidecar", "query"], run, data="prometheus")
