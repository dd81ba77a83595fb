#!/usr/bin/python3
"""t0404-query-multicluster: thanosc query over a whole Thanos deployment.

Cluster "demo" runs two Prometheus 2.42 replicas (replica="0" and "1")
scraping the same target, cluster "staging" one (replica="0"); each has a
thanosc sidecar. A thanosc store serves a FILESYSTEM bucket holding older
blocks of both clusters (written by promtool, with Thanos meta: the
uploads of all three Prometheus servers), for the same series the
Prometheus servers scrape now. thanosc query with
--query.replica-label=replica sees all of them:

  - dedup on: one series per cluster, no replica label, old points (from
    the store) and recent points (from the sidecars) in the same series;
  - dedup=false: all three replicas;
  - series, labels and label values APIs agree;
  - killing one demo replica's sidecar changes nothing visible with dedup
    on (same series, same old and recent coverage);
  - through --endpoint-strict (always queried): a dead endpoint is an error
    with partial_response=false and a warning otherwise;
  - a second querier stacked on the first one's StoreAPI answers the same.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compliance"))
import itest  # noqa: E402
from itest import THANOSC, free_port  # noqa: E402

PROM = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
META = os.path.join(HERE, "..", "compliance", "thanos-meta.py")


def get(url, path, params):
    q = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url + path + "?" + q, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")}
    except OSError as e:
        return None, {"error": str(e)}


def old_blocks(tmp, target, start, end, labels, replicas=1):
    """promtool blocks of up{job="store",instance=target} over [start, end)
    (seconds), with Thanos meta: labels and `replicas` copies."""
    om = os.path.join(tmp, "old-%s.om" % labels[0].replace("=", "-"))
    with open(om, "w") as f:
        f.write("# TYPE up gauge\n")
        for t in range(start, end, 15):
            f.write('up{instance="%s",job="store"} 1 %d\n' % (target, t))
        f.write("# EOF\n")
    out = os.path.join(tmp, "blocks-" + labels[0].replace("=", "-"))
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, out],
                   check=True, stdout=subprocess.DEVNULL)
    args = ["/usr/bin/python3", META, out]
    for lab in labels:
        args += ["--label", lab]
    if replicas > 1:
        args += ["--replicas", str(replicas), "--replica-label", "replica"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return out


def series_key(s):
    return json.dumps(s["metric"], sort_keys=True)


def summary(result, old_before, recent_after):
    """{labels: (has old points, has recent points)}"""
    out = {}
    for s in result:
        ts = [float(v[0]) for v in s.get("values", [])]
        out[series_key(s)] = (any(t < old_before for t in ts),
                              any(t > recent_after for t in ts))
    return out


def main():
    t = itest.Test("t0404-query-multicluster")
    t.need_roles("store", "sidecar", "query")
    if not os.access(PROM, os.X_OK) or not os.access(PROMTOOL, os.X_OK):
        t.skip_all("no Prometheus 2.42 at %s" % PROM)
    try:
        run(t)
    finally:
        t.cleanup()
    t.finish()


def run(t):
    tmp = t.scratch()
    now = int(time.time())
    old_start, old_end = now - 4 * 3600, now - 3 * 3600
    store_http = free_port()
    target = "127.0.0.1:%d" % store_http

    bucket = os.path.join(tmp, "bucket")
    os.makedirs(bucket)
    for d in (old_blocks(tmp, target, old_start, old_end, ["cluster=demo"], 2),
              old_blocks(tmp, target, old_start, old_end,
                         ["cluster=staging", "replica=0"])):
        for b in os.listdir(d):
            if os.path.exists(os.path.join(d, b, "meta.json")):
                shutil.copytree(os.path.join(d, b), os.path.join(bucket, b))
    t.ok("old blocks of both clusters in the bucket (%d blocks)" % len(os.listdir(bucket)))

    objstore = os.path.join(tmp, "bucket.yml")
    with open(objstore, "w") as f:
        f.write("type: FILESYSTEM\nconfig:\n  directory: %s\n" % bucket)
    sgrpc = free_port()
    store = t.start("store", [THANOSC, "store", "--objstore.config-file=" + objstore,
                              "--data-dir=" + os.path.join(tmp, "store-data"),
                              "--grpc-address=127.0.0.1:%d" % sgrpc,
                              "--http-address=" + target])
    if not t.wait_ready("http://%s/-/ready" % target, store, "thanosc store"):
        return

    sidecars = {}
    for cluster, replica in (("demo", "0"), ("demo", "1"), ("staging", "0")):
        name = "%s-%s" % (cluster, replica)
        cfg = os.path.join(tmp, name + ".yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  external_labels:\n"
                    "    cluster: %s\n    replica: \"%s\"\n"
                    "scrape_configs:\n  - job_name: store\n    static_configs:\n"
                    "      - targets: ['%s']\n" % (cluster, replica, target))
        pport = free_port()
        tsdb = os.path.join(tmp, "prom-" + name)
        prom = t.start("prom-" + name, [PROM, "--config.file=" + cfg,
                                        "--storage.tsdb.path=" + tsdb,
                                        "--web.listen-address=127.0.0.1:%d" % pport])
        purl = "http://127.0.0.1:%d" % pport
        if not t.wait_ready(purl + "/-/ready", prom, "Prometheus " + name):
            return
        g, h = free_port(), free_port()
        sc = t.start("sidecar-" + name, [THANOSC, "sidecar", "--prometheus.url=" + purl,
                                         "--tsdb.path=" + tsdb,
                                         "--grpc-address=127.0.0.1:%d" % g,
                                         "--http-address=127.0.0.1:%d" % h])
        if not t.wait_ready("http://127.0.0.1:%d/-/ready" % h, sc, "sidecar " + name):
            return
        sidecars[name] = (sc, "127.0.0.1:%d" % g)

    eps = ["127.0.0.1:%d" % sgrpc] + [a for _, a in sidecars.values()]
    qgrpc, qurl = t.start_role("query", ["--endpoint=" + e for e in eps] +
                               ["--query.replica-label=replica"])
    _, strict_url = t.start_role("query", ["--endpoint-strict=" + e for e in eps] +
                                 ["--query.replica-label=replica"])
    _, stacked_url = t.start_role("query", ["--endpoint=" + qgrpc,
                                            "--query.replica-label=replica"])
    if not qurl or not strict_url or not stacked_url:
        return

    sel = 'up{job="store"}'

    def rng(url, **extra):
        end = time.time()
        p = {"query": sel, "start": old_start - 60, "end": end, "step": "60"}
        p.update(extra)
        return get(url, "/api/v1/query_range", p)

    # Wait until every replica's recent samples are visible.
    deadline = time.time() + 90
    while True:
        st, body = rng(qurl, dedup="false")
        res = body.get("data", {}).get("result", []) if st == 200 else []
        s = summary(res, old_end, time.time() - 600)
        if len(s) == 3 and all(o and r for o, r in s.values()):
            break
        if time.time() > deadline:
            t.not_ok("dedup=false: three replicas with old and recent points",
                     ["status %s" % st, json.dumps(s)[:500]])
            return
        time.sleep(1)
    t.ok("dedup=false: three replicas, each with old (store) and recent (sidecar) points")
    for k in s:
        if '"replica"' not in k:
            t.not_ok("dedup=false keeps the replica label", [k])
            break
    else:
        t.ok("dedup=false keeps the replica label")

    def dedup_view(url, desc):
        st, body = rng(url)
        res = body.get("data", {}).get("result", []) if st == 200 else []
        s = summary(res, old_end, time.time() - 600)
        want = {json.dumps({"__name__": "up", "cluster": c, "instance": target,
                            "job": "store"}, sort_keys=True): (True, True)
                for c in ("demo", "staging")}
        if st == 200 and s == want:
            t.ok(desc)
        else:
            t.not_ok(desc, ["status %s" % st, json.dumps(s)[:600],
                            json.dumps(body)[:300]])
        return body

    dedup_view(qurl, "dedup on: one series per cluster, old and recent points joined")
    # no doubled samples: consecutive timestamps strictly increase
    st, body = rng(qurl)
    bad = [series_key(x) for x in body.get("data", {}).get("result", [])
           if any(float(a[0]) >= float(b[0]) for a, b in zip(x["values"], x["values"][1:]))]
    if st == 200 and not bad:
        t.ok("dedup on: no doubled samples")
    else:
        t.not_ok("dedup on: no doubled samples", bad)

    # instant query
    st, body = get(qurl, "/api/v1/query", {"query": "count(%s)" % sel})
    v = body.get("data", {}).get("result", [{}])
    if st == 200 and v and v[0].get("value", [0, ""])[1] == "2":
        t.ok("instant count(up) with dedup is 2")
    else:
        t.not_ok("instant count(up) with dedup is 2", [json.dumps(body)[:300]])

    # series, labels, label values
    st, body = get(qurl, "/api/v1/series", {"match[]": sel, "start": old_start,
                                            "end": time.time()})
    if st == 200 and len(body["data"]) == 2 and all("replica" not in x for x in body["data"]):
        t.ok("series API with dedup: two series without replica")
    else:
        t.not_ok("series API with dedup: two series without replica", [json.dumps(body)[:300]])
    st, body = get(qurl, "/api/v1/series", {"match[]": sel, "dedup": "false"})
    if st == 200 and len(body["data"]) == 3:
        t.ok("series API with dedup=false: three series")
    else:
        t.not_ok("series API with dedup=false: three series", [json.dumps(body)[:300]])
    st, body = get(qurl, "/api/v1/label/cluster/values", {})
    if st == 200 and body["data"] == ["demo", "staging"]:
        t.ok("label values of cluster")
    else:
        t.not_ok("label values of cluster", [json.dumps(body)[:300]])
    st, body = get(qurl, "/api/v1/labels", {"match[]": sel})
    if st == 200 and body["data"] == ["__name__", "cluster", "instance", "job", "replica"]:
        t.ok("label names")
    else:
        t.not_ok("label names", [json.dumps(body)[:300]])
    st, body = get(qurl, "/api/v1/stores", {})
    comps = sorted((body.get("data") or {}).keys())
    if st == 200 and comps == ["sidecar", "store"] and len(body["data"]["sidecar"]) == 3:
        t.ok("/api/v1/stores lists the store and three sidecars")
    else:
        t.not_ok("/api/v1/stores lists the store and three sidecars", [json.dumps(body)[:400]])

    dedup_view(stacked_url, "stacked querier: the same deduplicated view")

    # Kill demo replica 0's sidecar.
    sc, addr = sidecars["demo-0"]
    sc.terminate()
    sc.wait(timeout=20)
    time.sleep(7)  # one Info round notices it
    body = dedup_view(qurl, "sidecar of demo replica 0 dead: nothing changes with dedup on")
    if not body.get("warnings"):
        t.ok("no warnings once the dead endpoint left the active set")
    else:
        t.not_ok("no warnings once the dead endpoint left the active set", body["warnings"])

    st, body = rng(strict_url, partial_response="false")
    if st is not None and st >= 400 and body.get("status") == "error":
        t.ok("strict endpoint dead, partial_response=false: error (%s %s)" %
             (st, body.get("errorType")))
    else:
        t.not_ok("strict endpoint dead, partial_response=false: error",
                 ["status %s" % st, json.dumps(body)[:300]])
    st, body = rng(strict_url, partial_response="true")
    if st == 200 and body.get("warnings") and len(body["data"]["result"]) == 2:
        t.ok("strict endpoint dead, partial_response=true: data and a warning")
    else:
        t.not_ok("strict endpoint dead, partial_response=true: data and a warning",
                 ["status %s" % st, json.dumps(body)[:300]])
    for name, p, _ in t.procs:
        if p is not sc and p.poll() is not None:
            t.not_ok("%s still running" % name, t.log_tail(name))


if __name__ == "__main__":
    main()
