#!/usr/bin/python3
"""Differential testing of thanosc's PromQL engine against a running
Prometheus: random queries over the compliance data set, evaluated by both
(Prometheus over HTTP, thanosc via `tools promql eval --load=DATA.om`),
answers compared (label sets and timestamps exactly, values to 1e-6
relative, NaN equal to NaN, both-fail counts as agreement).

    test/promql/diff-prom.py --url http://127.0.0.1:PORT --data data.om \
        [--n 500] [--seed 1] [--thanosc BIN]
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import urllib.parse
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--n", type=int, default=500)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--thanosc", default=os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "thanosc"))
a = ap.parse_args()
R = random.Random(a.seed)
END = 1772323500
START = END - 600

SEL = [
    'demo_memory_usage_bytes', 'demo_memory_usage_bytes{type=~"c.*|f.*"}',
    'demo_cpu_usage_seconds_total', 'demo_cpu_usage_seconds_total{mode!="idle"}',
    'demo_api_request_duration_seconds_count', 'demo_num_cpus',
    'demo_api_request_duration_seconds_count{status="500"}',
    'demo_intermittent_metric', 'demo_disk_usage_bytes',
    'demo_batch_last_success_timestamp_seconds',
    'demo_api_request_duration_seconds_sum{method="GET"}',
]
RANGES = ["15s", "1m", "90s", "5m", "7m13s"]
RFUNCS = ["rate", "irate", "increase", "delta", "idelta", "deriv", "resets",
          "changes", "avg_over_time", "min_over_time", "max_over_time",
          "sum_over_time", "count_over_time", "stddev_over_time",
          "stdvar_over_time", "last_over_time", "present_over_time",
          "absent_over_time"]
IFUNCS = ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn",
          "timestamp", "sort", "sort_desc", "-", "day_of_week", "hour",
          "minute", "month", "year", "days_in_month", "deg", "rad", "sin",
          "cos", "atan", "tanh", "asinh", "absent"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
LBLS = ["instance", "job", "mode", "type", "status", "method", "path"]
OPS = ["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=",
       "and", "or", "unless", "atan2"]


def mod():
    r = R.random()
    if r < 0.1:
        return " offset %s" % R.choice(["1m", "30s", "-1m"])
    if r < 0.15:
        return " @ %s" % R.choice(["start()", "end()", str(END - 123)])
    return ""


def rangev(depth):
    if R.random() < 0.75 or depth > 2:
        return "%s[%s]%s" % (R.choice(SEL), R.choice(RANGES), mod())
    return "%s[%s:%s]%s" % (vec(depth + 1), R.choice(["2m", "5m"]),
                            R.choice(["", "20s", "1m"]), mod())


def grouping():
    if R.random() < 0.3:
        return ""
    ls = ", ".join(R.sample(LBLS, R.randint(0, 2)))
    return " %s (%s)" % (R.choice(["by", "without"]), ls)


def vec(depth=0):
    r = R.random()
    if depth > 3 or r < 0.2:
        return R.choice(SEL) + mod()
    if r < 0.45:
        f = R.choice(RFUNCS)
        return "%s(%s)" % (f, rangev(depth))
    if r < 0.55:
        return R.choice([
            "quantile_over_time(%s, %s)" % (R.choice(["0.5", "0.9", "0"]), rangev(depth)),
            "predict_linear(%s, %s)" % (rangev(depth), R.choice(["60", "-30"])),
            "histogram_quantile(%s, sum by (le%s) (rate(demo_api_request_duration_seconds_bucket[%s])))"
            % (R.choice(["0.5", "0.99", "1", "0"]), R.choice(["", ", path", ", instance"]),
               R.choice(RANGES)),
            "clamp(%s, %s, %s)" % (vec(depth + 1), R.choice(["0", "-1"]), R.choice(["1e9", "2"])),
            "round(%s, %s)" % (vec(depth + 1), R.choice(["1", "0.5", "10"])),
            "label_replace(%s, \"x\", \"$1\", \"instance\", \"(.*):.*\")" % vec(depth + 1),
            "label_join(%s, \"y\", \"-\", \"job\", \"instance\")" % vec(depth + 1),
            "topk(%s, %s)" % (R.choice(["1", "3"]), vec(depth + 1)),
            "bottomk(2, %s)" % vec(depth + 1),
            "quantile(%s, %s)" % (R.choice(["0.25", "0.5"]), vec(depth + 1)),
            "count_values(\"v\", %s)" % vec(depth + 1),
            "vector(%s)" % sc(depth + 1),
            "histogram_fraction(%s, %s, rate(demo_api_request_duration_seconds_bucket[%s]))"
            % (R.choice(["0", "0.1", "-1"]), R.choice(["0.25", "1", "+Inf"]), R.choice(RANGES)),
            "double_exponential_smoothing(%s, 0.5, %s)" % (rangev(depth), R.choice(["0.1", "0.9"])),
            "mad_over_time(%s)" % rangev(depth),
            "sort_by_label(%s, \"instance\", \"type\")" % vec(depth + 1),
            "limitk(2, %s)" % vec(depth + 1),
            "limit_ratio(%s, %s)" % (R.choice(["0.5", "-0.5", "1"]), vec(depth + 1)),
            "clamp_min(%s, %s)" % (vec(depth + 1), sc(depth + 1)),
            "%s group_right %s" % (vec(depth + 1).rstrip(), "") if False else "(%s * on(instance) group_right %s)" % (R.choice(['demo_num_cpus', 'sum by (instance) (demo_disk_usage_bytes)']), R.choice(SEL)),
            "last_over_time(%s[%s:%s] @ %s)" % (vec(depth + 1), R.choice(["1m", "3m"]), R.choice(["10s", "17s"]), R.choice(["end()", "start()", str(END - 77)])),
            "absent(%s)" % R.choice(SEL + ['nope{job="x"}', 'nope{job=~"x"}']),
            "(%s offset -%s)" % (R.choice(SEL), R.choice(["10s", "1m"])),
            "timestamp(%s)" % rangev(depth).replace("[", "[", 1).split("[")[0],
        ])
    if r < 0.7:
        f = R.choice(IFUNCS)
        if f == "-":
            return "-%s" % vec(depth + 1)
        return "%s(%s)" % (f, vec(depth + 1))
    if r < 0.85:
        return "%s%s (%s)" % (R.choice(AGGS), grouping(), vec(depth + 1))
    op = R.choice(OPS)
    l, rr = vec(depth + 1), vec(depth + 1)
    if R.random() < 0.4:
        rr = sc(depth + 1)
        if op in ("and", "or", "unless"):
            op = "+"
    boolm = " bool" if op in ("==", "!=", ">", "<", ">=", "<=") and R.random() < 0.5 else ""
    match = ""
    if rr[0] not in "0123456789(" and R.random() < 0.4:
        match = " %s(%s)" % (R.choice(["on", "ignoring"]),
                             ", ".join(R.sample(LBLS, R.randint(0, 2))))
        if op not in ("and", "or", "unless") and R.random() < 0.3:
            match += " group_left"
    return "(%s %s%s%s %s)" % (l, op, boolm, match, rr)


def sc(depth=0):
    r = R.random()
    if r < 0.5 or depth > 3:
        return R.choice(["1", "2.5", "0", "-3", "1e3", "NaN"])
    if r < 0.7:
        return "scalar(%s)" % vec(depth + 1)
    if r < 0.8:
        return "time()"
    return "(%s %s %s)" % (sc(depth + 1), R.choice(["+", "*", "/", "-"]), sc(depth + 1))


def prom(q, t0, t1, step):
    if step:
        api, p = "/api/v1/query_range", {"query": q, "start": t0, "end": t1, "step": step}
    else:
        api, p = "/api/v1/query", {"query": q, "time": t0}
    req = urllib.request.Request(a.url + api, data=urllib.parse.urlencode(p).encode())
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def norm(doc):
    if doc.get("status") != "success":
        return ("error", None)
    d = doc["data"]
    t, res = d["resultType"], d["result"]
    if t in ("scalar", "string"):
        return (t, {(): [(res[0], res[1])]})
    out = {}
    for s in res:
        k = tuple(sorted(s["metric"].items()))
        pts = s.get("values") or [s["value"]]
        out[k] = [(p[0], p[1]) for p in pts]
    return (t, out)


def close(x, y):
    if x == y:
        return True
    try:
        a_, b_ = float(x), float(y)
    except ValueError:
        return False
    if math.isnan(a_) and math.isnan(b_):
        return True
    if math.isinf(a_) or math.isinf(b_):
        return a_ == b_
    return abs(a_ - b_) <= 1e-6 * max(abs(a_), abs(b_)) or abs(a_ - b_) < 1e-300


def same(p, t):
    if p[0] != t[0]:
        return "type %s vs %s" % (p[0], t[0])
    if p[0] == "error":
        return None
    if set(p[1]) != set(t[1]):
        return "series: only prometheus %s; only thanosc %s" % (
            list(set(p[1]) - set(t[1]))[:2], list(set(t[1]) - set(p[1]))[:2])
    for k in p[1]:
        a_, b_ = p[1][k], t[1][k]
        if len(a_) != len(b_):
            return "%s: %d vs %d points" % (k, len(a_), len(b_))
        for x, y in zip(a_, b_):
            if float(x[0]) != float(y[0]) or not close(x[1], y[1]):
                return "%s: %s vs %s" % (k, x, y)
    return None


eng = subprocess.Popen([a.thanosc, "tools", "promql", "eval", "--load=" + a.data,
                        "--enable-feature=promql-experimental-functions"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       universal_newlines=True)
bad = 0
for i in range(a.n):
    q = vec() if R.random() < 0.9 else sc()
    if R.random() < 0.5:
        args = (str(START), str(END), "10")
    else:
        t = str(R.choice([END, END - 297.5, END - 1, START + 3.789, END - 300, 1772324400 + 300, 1772316000, 1772324396]))
        args = (t, t, "0")
    eng.stdin.write("\t".join(args + (q,)) + "\n")
    eng.stdin.flush()
    mine = json.loads(eng.stdout.readline())
    theirs = prom(q, args[0], args[1], args[2] if args[2] != "0" else None)
    d = same(norm(theirs), norm(mine))
    if d:
        bad += 1
        print("DIFF %s @ %s..%s/%s\n  %s" % (q, args[0], args[1], args[2], d))
        if theirs.get("status") != "success" or mine.get("status") != "success":
            print("  prometheus: %s\n  thanosc:    %s" % (
                theirs.get("error", "ok"), mine.get("error", "ok")))
eng.stdin.close()
eng.wait()
print("diff-prom: %d queries, %d differ" % (a.n, bad))
sys.exit(1 if bad else 0)
