#!/usr/bin/python3
"""PromQL compliance: expand the query list, record answers, compare them.

    compliance.py list                         print the expanded queries
    compliance.py record [--instant] --url URL --out F     run every query, write JSON lines
    compliance.py record [--instant] --engine CMD --blocks DIR --out F
    compliance.py check [--instant] --ref F (--url URL | --engine CMD --blocks DIR | --got F)
                       [--expect-diff LIST] [--save F] [--only REGEX] [--drop-label NAME]

A recorded line is {"query", "should_fail", "status", "error", "resultType",
"result"}: the matrix of a range query over the fixed window (see
gen-data.py), or the error the server gave. With --instant every query runs
as an instant query at each of INSTANT_TIMES instead, and the line also has
"time".

`check` compares every query with the reference as the upstream tester does:
label sets and timestamps exactly, values with a relative tolerance of 1e-5,
NaN equal to NaN; a should_fail query passes when it fails (unless the
reference answered it: then the answers are compared). It prints one
block per mismatch and ends with "compliance: N passed, M failed".
--only REGEX checks a subset; --drop-label NAME removes a label (an
external label, say) from both sides first. With --expect-diff, the queries
listed in that file (one a line, "QUERY @ TIME" for instant queries, "#"
comments) are expected to differ: they are counted as passed when they do,
and a listed query that matches is reported as a failure.

--engine CMD runs `CMD BLOCKS START END STEP QUERY` once per query (an
instant query as START = END = its time and STEP 0); it must print a
Prometheus API response body (JSON) on standard output.
"""

import argparse
import concurrent.futures
import json
import math
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
QUERIES = os.path.join(HERE, "..", "..", "..", "shared", "promql-compliance",
                       "promql-test-queries.yml")

# The query window: the 10 minutes ending 2026-03-01 00:05:00 UTC, 10 s step.
WINDOW_END = 1772323500
WINDOW_START = WINDOW_END - 600
STEP = 10
# Instant queries: on a step where the intermittent metric's lookback ends,
# just after the 00:00 block boundary off the steps, and the window's end.
INSTANT_TIMES = [WINDOW_END - 360, WINDOW_END - 297.5, WINDOW_END]

FRACTION = 1e-5

# Values of each template variable, in the order the upstream tester uses.
VARIANT_ARGS = {
    "range": ["1s", "15s", "1m", "5m", "15m", "1h"],
    "offset": ["1m", "5m", "10m"],
    "simpleAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar"],
    "simpleTimeAggrOp": ["sum", "avg", "max", "min", "count", "stddev",
                         "stdvar", "absent", "last"],
    "topBottomOp": ["topk", "bottomk"],
    "quantile": ["-0.5", "0.1", "0.5", "0.75", "0.95", "0.90", "0.99", "1",
                 "1.5"],
    "arithBinOp": ["+", "-", "*", "/", "%", "^"],
    "compBinOp": ["==", "!=", "<", ">", "<=", ">="],
    "binOp": ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="],
    "simpleMathFunc": ["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2",
                       "log10", "round"],
    "extrapolatedRateFunc": ["delta", "rate", "increase"],
    "clampFunc": ["clamp_min", "clamp_max"],
    "instantRateFunc": ["idelta", "irate"],
    "dateFunc": ["day_of_month", "day_of_week", "days_in_month", "hour",
                 "minute", "month", "year"],
    "smoothingFactor": ["0.1", "0.5", "0.8"],
    "trendFactor": ["0.1", "0.5", "0.8"],
}

_FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def fill(template, args):
    """Substitutes {{.name}} fields, the only template action the list uses."""
    def sub(m):
        if m.group(1) not in args:
            return "<no value>"
        return args[m.group(1)]
    out = _FIELD.sub(sub, template)
    if "{{" in out:
        raise ValueError("unsupported template action in %r" % template)
    return out


def variants(template, names, args=None):
    """Every combination of the named variables' values, first name outermost."""
    args = dict(args or {})
    if not names:
        return [fill(template, args)]
    first, rest = names[0], [n for n in names if n != names[0]]
    if first not in VARIANT_ARGS:
        raise ValueError("unknown variant arg %r" % first)
    out = []
    for v in VARIANT_ARGS[first]:
        args[first] = v
        out.extend(variants(template, rest, args))
    return out


def expand(path=QUERIES):
    """[(query, should_fail)] in the order of the list."""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    out = []
    for tc in doc["test_cases"]:
        for q in variants(tc["query"], tc.get("variant_args") or []):
            out.append((q, bool(tc.get("should_fail", False))))
    return out


def expand_cases(path=QUERIES, instant=False):
    """[(query, should_fail, time)]: time is None for the range query, else
    each query once per instant."""
    if not instant:
        return [(q, f, None) for q, f in expand(path)]
    return [(q, f, t) for q, f in expand(path) for t in INSTANT_TIMES]


def _fmt_time(t):
    return ("%.3f" % t).rstrip("0").rstrip(".")


def case_name(query, at):
    return query if at is None else "%s @ %s" % (query, _fmt_time(at))


# ---- running queries ---------------------------------------------------------

def _answer(query, should_fail, at, body, http_error=None):
    rec = {"query": query, "should_fail": should_fail}
    if at is not None:
        rec["time"] = at
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if http_error is None and doc is not None and doc.get("status") == "success":
        data = doc.get("data") or {}
        rec["status"] = "success"
        rec["resultType"] = data.get("resultType")
        rec["result"] = data.get("result") or []
        return rec
    rec["status"] = "error"
    msg = http_error or ""
    if doc is not None:
        msg = ("%s %s: %s" % (msg, doc.get("errorType", ""), doc.get("error", ""))).strip()
    elif body:
        msg = ("%s %s" % (msg, body[:200].decode("utf-8", "replace")
                          if isinstance(body, bytes) else body[:200])).strip()
    rec["error"] = msg
    return rec


def query_http(url, query, should_fail, at=None, use_get=False, timeout=60):
    if at is None:
        params = {"query": query, "start": str(WINDOW_START), "end": str(WINDOW_END),
                  "step": str(STEP)}
        api = url.rstrip("/") + "/api/v1/query_range"
    else:
        params = {"query": query, "time": _fmt_time(at)}
        api = url.rstrip("/") + "/api/v1/query"
    enc = urllib.parse.urlencode(params)
    if use_get:
        req = urllib.request.Request(api + "?" + enc)
    else:
        req = urllib.request.Request(api, data=enc.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return _answer(query, should_fail, at, r.read())
    except urllib.error.HTTPError as e:
        return _answer(query, should_fail, at, e.read(), "HTTP %d" % e.code)
    except (urllib.error.URLError, OSError) as e:
        return _answer(query, should_fail, at, None, "request failed: %s" % e)


def query_engine(cmd, blocks, query, should_fail, at=None, timeout=120):
    if at is None:
        when = [str(WINDOW_START), str(WINDOW_END), str(STEP)]
    else:
        when = [_fmt_time(at), _fmt_time(at), "0"]
    argv = shlex.split(cmd) + [blocks] + when + [query]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return _answer(query, should_fail, at, None, "engine failed: %s" % e)
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        rec = _answer(query, should_fail, at, p.stdout,
                      "engine exit %d" % p.returncode)
        if err:
            rec["error"] += ": " + err[-1]
        return rec
    return _answer(query, should_fail, at, p.stdout)


def run_all(cases, fn, parallel=4):
    """fn(query, should_fail, time) for every case, in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as ex:
        return list(ex.map(lambda c: fn(*c), cases))


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def save(path, records):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
    os.replace(tmp, path)


# ---- comparing ---------------------------------------------------------------

def _num(s):
    return float(s)  # handles "NaN", "+Inf", "-Inf"


def approx_equal(a, b):
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= FRACTION * min(abs(a), abs(b))


def _ms(t):
    return int(round(float(t) * 1000))


def _key(metric):
    return tuple(sorted(metric.items()))


def _fmt_key(k):
    return "{" + ", ".join('%s="%s"' % kv for kv in k) + "}"


def _cmp_hist(a, b):
    """Native histogram points: counts and sums approximately, buckets'
    boundaries exactly."""
    if set(a) != set(b):
        return False
    for f in a:
        if f == "buckets":
            if len(a[f]) != len(b[f]):
                return False
            for x, y in zip(a[f], b[f]):
                if x[0] != y[0] or x[1] != y[1] or x[2] != y[2] or \
                        not approx_equal(_num(x[3]), _num(y[3])):
                    return False
        elif not approx_equal(_num(a[f]), _num(b[f])):
            return False
    return True


def as_matrix(rec):
    """The result as a list of series with "values"/"histograms": a vector's
    samples and a scalar become one-point series, so one comparison serves
    range and instant answers."""
    rt, res = rec.get("resultType", "matrix"), rec.get("result")
    if rt == "matrix":
        return res or []
    if rt == "vector":
        out = []
        for s in res or []:
            if "histogram" in s:
                out.append({"metric": s.get("metric", {}), "histograms": [s["histogram"]]})
            else:
                out.append({"metric": s.get("metric", {}), "values": [s["value"]]})
        return out
    if rt == "scalar":
        return [{"metric": {}, "values": [res]}]
    if rt == "string":
        return [{"metric": {"(string)": res[1]}, "values": [[res[0], "0"]]}]
    return res or []


def diff_matrix(ref, got, limit=5):
    """Human-readable differences between two range-query results; [] if equal."""
    out = []
    rs = {_key(s.get("metric", {})): s for s in ref}
    gs = {_key(s.get("metric", {})): s for s in got}
    if len(rs) != len(ref) or len(gs) != len(got):
        out.append("duplicate label sets in a result")
    for k in sorted(set(rs) - set(gs)):
        out.append("missing series %s (%d points)" % (_fmt_key(k), len(rs[k].get("values", []))))
    for k in sorted(set(gs) - set(rs)):
        out.append("unexpected series %s (%d points)" % (_fmt_key(k), len(gs[k].get("values", []))))
    for k in sorted(set(rs) & set(gs)):
        for field in ("values", "histograms"):
            rv, gv = rs[k].get(field, []), gs[k].get(field, [])
            rt = [_ms(p[0]) for p in rv]
            gt = [_ms(p[0]) for p in gv]
            if rt != gt:
                only_r = sorted(set(rt) - set(gt))
                only_g = sorted(set(gt) - set(rt))
                out.append("%s: %s timestamps differ: %d vs %d points; only in "
                           "reference %s, only in answer %s" % (
                               _fmt_key(k), field, len(rt), len(gt),
                               [t / 1000 for t in only_r[:4]],
                               [t / 1000 for t in only_g[:4]]))
                continue
            for p, q in zip(rv, gv):
                same = (approx_equal(_num(p[1]), _num(q[1])) if field == "values"
                        else _cmp_hist(p[1], q[1]))
                if not same:
                    out.append("%s @%s: expected %s, got %s" % (
                        _fmt_key(k), p[0], p[1] if field == "values" else json.dumps(p[1]),
                        q[1] if field == "values" else json.dumps(q[1])))
                    break
    if len(out) > limit:
        out = out[:limit] + ["... and %d more" % (len(out) - limit)]
    return out


def compare(ref, got):
    """[] when `got` passes against the reference record `ref`.

    A should_fail query whose reference answer is a success (Prometheus 3
    accepts UTF-8 label names such as "~invalid") is compared like any other:
    the answers must equal the reference's."""
    if ref["status"] != "success":
        if not ref["should_fail"]:
            return ["the reference failed: %s" % ref.get("error", "")]
        if got["status"] != "error":
            return ["expected the query to fail, but it succeeded"]
        return []
    if got["status"] != "success":
        return ["unexpected failure: %s" % got.get("error", "")]
    if got.get("resultType") != ref.get("resultType"):
        return ["result type %r, expected %r" % (got.get("resultType"), ref.get("resultType"))]
    return diff_matrix(as_matrix(ref), as_matrix(got))


def drop_labels(rec, names):
    """Removes labels from every series of a recorded answer, in place."""
    if rec.get("resultType") not in ("matrix", "vector"):
        return
    for series in rec.get("result") or []:
        for n in names:
            series.get("metric", {}).pop(n, None)


def read_list(path):
    out = set()
    if not path:
        return out
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.lstrip().startswith("#"):
                out.add(line)
    return out


def check(refs, gots, expect_diff=(), out=sys.stdout):
    if len(refs) != len(gots):
        raise SystemExit("compliance: %d reference answers, %d answers" % (len(refs), len(gots)))
    passed = failed = 0
    for ref, got in zip(refs, gots):
        q = case_name(ref["query"], ref.get("time"))
        if q != case_name(got["query"], got.get("time")):
            raise SystemExit("compliance: answers out of order at %r" % q)
        problems = compare(ref, got)
        if q in expect_diff:
            if problems:
                passed += 1
            else:
                failed += 1
                print("MATCH (listed as an expected difference): %s" % q, file=out)
            continue
        if problems:
            failed += 1
            print("FAIL: %s" % q, file=out)
            for p in problems:
                print("    " + p, file=out)
        else:
            passed += 1
    print("compliance: %d passed, %d failed" % (passed, failed), file=out)
    return failed == 0


def main():
    ap = argparse.ArgumentParser(description="PromQL compliance queries and comparison")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ap.add_argument("--queries", default=QUERIES, help="the templated query list")
    ap.add_argument("--parallel", type=int, default=4)
    sl = sub.add_parser("list")
    sl.add_argument("--with-flags", action="store_true")
    sl.add_argument("--instant", action="store_true", help="the instant queries")
    for name in ("record", "check"):
        s = sub.add_parser(name)
        s.add_argument("--instant", action="store_true",
                       help="instant queries at INSTANT_TIMES instead of range queries")
        s.add_argument("--url", help="Prometheus-compatible HTTP API base URL")
        s.add_argument("--get", action="store_true", help="use GET, not POST")
        s.add_argument("--engine", help="engine command (see above)")
        s.add_argument("--blocks", help="blocks directory for --engine")
        if name == "record":
            s.add_argument("--out", required=True)
        else:
            s.add_argument("--ref", required=True)
            s.add_argument("--got", help="compare this recorded file, query nothing")
            s.add_argument("--save", help="also record the answers here")
            s.add_argument("--expect-diff", help="file of queries expected to differ")
            s.add_argument("--only", metavar="REGEX",
                           help="check only the queries this regex finds")
            s.add_argument("--drop-label", action="append", default=[], metavar="NAME",
                           help="remove this label from both sides before comparing "
                                "(e.g. an external label); repeatable")
    a = ap.parse_args()

    cases = expand_cases(a.queries, a.instant)
    if a.cmd == "list":
        for q, fail, at in cases:
            name = case_name(q, at)
            print(("%s\t%s" % ("should_fail" if fail else "ok", name)) if a.with_flags else name)
        return 0

    if a.cmd == "check":
        refs = load(a.ref)
        if [case_name(r["query"], r.get("time")) for r in refs] != \
                [case_name(q, at) for q, _, at in cases]:
            raise SystemExit("compliance: the reference %s was recorded from another "
                             "query list or mode; record it again" % a.ref)
        if a.only:
            pick = re.compile(a.only)
            keep = [i for i, c in enumerate(cases) if pick.search(c[0])]
            cases = [cases[i] for i in keep]
            refs = [refs[i] for i in keep]

    if a.cmd == "check" and a.got:
        names = {case_name(q, at) for q, _, at in cases}
        answers = [r for r in load(a.got) if case_name(r["query"], r.get("time")) in names]
    else:
        if a.url:
            fn = lambda q, f, at: query_http(a.url, q, f, at, use_get=a.get)
        elif a.engine and a.blocks:
            fn = lambda q, f, at: query_engine(a.engine, a.blocks, q, f, at)
        else:
            ap.error("need --url, or --engine with --blocks")
        answers = run_all(cases, fn, a.parallel)

    if a.cmd == "record":
        save(a.out, answers)
        bad = 0
        for r in answers:
            if r["status"] == "error" and not r["should_fail"]:
                bad += 1
                print("unexpected failure: %s: %s" % (
                    case_name(r["query"], r.get("time")), r.get("error", "")), file=sys.stderr)
            elif r["status"] != "error" and r["should_fail"]:
                print("note: should_fail query succeeded, its answer is compared: %s"
                      % case_name(r["query"], r.get("time")), file=sys.stderr)
        print("recorded %d answers in %s" % (len(answers), a.out))
        return 1 if bad else 0

    if a.save:
        save(a.save, answers)
    if a.drop_label:
        for r in refs + answers:
            drop_labels(r, a.drop_label)
    return 0 if check(refs, answers, read_list(a.expect_diff)) else 1


if __name__ == "__main__":
    sys.exit(main())
