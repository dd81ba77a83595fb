#!/usr/bin/python3
"""t0406-query-limits: the querier's limits and per-request options over
thanosc store on the compliance bucket.

  - --query.max-samples: a query loading more samples fails with
    Prometheus's message (errorType execution, 422);
  - timeout=: an expired request timeout is errorType timeout, not a
    partial-response warning;
  - stats=all adds Prometheus's "stats" object to the data;
  - storeMatch[] on __address__ selects endpoints: a non-matching one
    gives an empty result;
  - --query.max-concurrent=1: concurrent queries queue and all answer;
  - /metrics exposes the gate and endpoint metrics.
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compliance"))
import compliance  # noqa: E402
import itest  # noqa: E402

END = compliance.WINDOW_END
START = compliance.WINDOW_START


def get(url, path, params):
    q = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url + path + "?" + q, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def run(t, bucket):
    grpc = t.start_store(bucket)
    if not grpc:
        return
    _, url = t.start_role("query", ["--endpoint=" + grpc, "--query.max-samples=1000"])
    _, curl = t.start_role("query", ["--endpoint=" + grpc, "--query.max-concurrent=1"])
    if not url or not curl or not t.wait_series(url) or not t.wait_series(curl):
        return
    rng = {"query": "demo_cpu_usage_seconds_total", "start": START, "end": END, "step": "1"}

    st, b = get(url, "/api/v1/query_range", rng)
    if st == 422 and b.get("errorType") == "execution" and "too many samples" in b.get("error", ""):
        t.ok("--query.max-samples: execution error (%s)" % b["error"])
    else:
        t.not_ok("--query.max-samples: execution error", [str(st), json.dumps(b)[:300]])

    st, b = get(url, "/api/v1/query", {"query": "demo_num_cpus", "time": END,
                                       "timeout": "1ms"})
    # Either it made it in time, or it is a timeout: never a partial
    # response warning about the request's own deadline.
    if (st == 503 and b.get("errorType") == "timeout") or \
            (st == 200 and not b.get("warnings")):
        t.ok("timeout=1ms: in time or errorType timeout (%s)" % st)
    else:
        t.not_ok("timeout=1ms: in time or errorType timeout", [str(st), json.dumps(b)[:300]])

    st, b = get(url, "/api/v1/query", {"query": "demo_num_cpus", "time": END, "stats": "all"})
    if st == 200 and "stats" in b.get("data", {}) and len(b["data"]["result"]) == 3:
        t.ok("stats=all adds stats")
    else:
        t.not_ok("stats=all adds stats", [json.dumps(b)[:300]])

    st, b = get(url, "/api/v1/query", {"query": "demo_num_cpus", "time": END,
                                       "storeMatch[]": '{__address__="%s"}' % grpc})
    st2, b2 = get(url, "/api/v1/query", {"query": "demo_num_cpus", "time": END,
                                         "storeMatch[]": '{__address__="nowhere:1"}'})
    if st == st2 == 200 and len(b["data"]["result"]) == 3 and b2["data"]["result"] == []:
        t.ok("storeMatch[] selects endpoints by __address__")
    else:
        t.not_ok("storeMatch[] selects endpoints by __address__",
                 [json.dumps(b)[:200], json.dumps(b2)[:200]])

    results = []

    def one():
        results.append(get(curl, "/api/v1/query_range", {
            "query": "sum(rate(demo_cpu_usage_seconds_total[1m]))",
            "start": START, "end": END, "step": "10"}))
    ths = [threading.Thread(target=one) for _ in range(6)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if len(results) == 6 and all(s == 200 and b["status"] == "success" for s, b in results):
        t.ok("--query.max-concurrent=1: six concurrent queries all answered")
    else:
        t.not_ok("--query.max-concurrent=1: six concurrent queries all answered",
                 [str(s) for s, _ in results])

    with urllib.request.urlopen(curl + "/metrics", timeout=10) as r:
        m = r.read().decode()
    want = ["thanos_query_concurrent_gate_queries_max 1",
            "thanos_query_concurrent_gate_duration_seconds_count",
            'thanos_store_nodes_grpc_connections{external_labels="{}",store_type="store"} 1',
            'http_requests_total{code="200",handler="query_range",method="get"}']
    missing = [w for w in want if w not in m]
    if not missing:
        t.ok("/metrics: gate, endpoint and HTTP handler metrics")
    else:
        t.not_ok("/metrics: gate, endpoint and HTTP handler metrics", missing)
    t.still_running()


if __name__ == "__main__":
    itest.main("t0406-query-limits", ["store", "query"], run, data="bucket")
