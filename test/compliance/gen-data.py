#!/usr/bin/python3
"""Writes the compliance data set as OpenMetrics text.

The data imitates three instances of the PromLabs demo service scraped every
5 s by a job named "demo". It is fully determined by the seed and the
constants below: the same arguments always give the same bytes.

    gen-data.py [--seed N] OUT.om

Layout of time (all UTC; see README.md beside this file):

    data       2026-02-28 22:00:00 .. 2026-03-01 00:20:00 (140 minutes)
    window     2026-02-28 23:55:00 .. 2026-03-01 00:05:00 (the queries)

Blocks cut by promtool at 2 h boundaries therefore split the data at
00:00, inside the query window.
"""

import argparse
import calendar
import math
import random
import sys

# Query window end; the window is the 10 minutes before it.
WINDOW_END = calendar.timegm((2026, 3, 1, 0, 5, 0))
WINDOW_START = WINDOW_END - 600
DATA_START = WINDOW_END - 125 * 60          # 22:00:00, a 2 h block boundary
DATA_END = WINDOW_END + 15 * 60             # 00:20:00 (exclusive)
SCRAPE_MS = 5000

JOB = "demo"
# Scrape offset of each target inside the 5 s interval. The first is aligned
# with the query steps so that range and lookback boundaries fall exactly on
# samples; the others are not.
INSTANCES = [
    ("demo.promlabs.com:10000", 0),
    ("demo.promlabs.com:10001", 1234),
    ("demo.promlabs.com:10002", 3789),
]

# Counter resets (process restarts), seconds since the epoch, per instance.
CPU_RESETS = {
    "demo.promlabs.com:10001": [WINDOW_END - 3 * 60],    # inside the window
    "demo.promlabs.com:10002": [WINDOW_END - 41 * 60],   # inside 1h ranges
}

GIB = 1024 ** 3
MIB = 1024 ** 2
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

# (method, path) -> requests per second, base latency (s), error ratio,
# outage length (s). During an outage errors are ten times as likely and
# latency is three times as long.
API = [
    ("GET", "/api/foo", 8.0, 0.010, 0.005, 23),
    ("POST", "/api/foo", 3.0, 0.020, 0.02, 60),
    ("GET", "/api/bar", 5.0, 0.015, 0.0025, 13),
    ("POST", "/api/bar", 2.0, 0.050, 0.01, 47),
]


def om_float(v):
    """An OpenMetrics float: shortest round-trip form, Inf and NaN spelt out."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return "%d" % v
    return repr(v)


def le_str(b):
    """The "le" value in the form Prometheus 3 normalises it to (1 -> "1.0")."""
    return repr(float(b))


def om_ts(ms):
    """Seconds with three decimals; exact for whole milliseconds."""
    return "%d.%03d" % (ms // 1000, ms % 1000)


def labels(pairs):
    return "{" + ",".join('%s="%s"' % (k, v) for k, v in pairs) + "}"


def scrape_times(offset_ms):
    """Millisecond timestamps of one target's scrapes."""
    t = DATA_START * 1000 + offset_ms
    end = DATA_END * 1000
    out = []
    while t < end:
        out.append(t)
        t += SCRAPE_MS
    return out


class Writer:
    def __init__(self, f):
        self.f = f

    def family(self, name, typ, help_text):
        self.f.write("# HELP %s %s\n# TYPE %s %s\n" % (name, help_text, name, typ))

    def sample(self, name, lbls, value, ms):
        self.f.write("%s%s %s %s\n" % (name, labels(lbls), om_float(value), om_ts(ms)))


def gen_memory(w, rng):
    w.family("demo_memory_usage_bytes", "gauge", "Simulated memory in bytes, per kind.")
    total = 16 * GIB
    for inst, off in INSTANCES:
        bases = {"used": 6 * GIB, "cached": 3 * GIB, "buffers": 512 * MIB}
        cur = dict(bases)
        series = {k: [] for k in ("buffers", "cached", "free", "used")}
        for ms in scrape_times(off):
            for k, base in bases.items():
                # A random walk that stays within 10% of its base; values
                # never repeat exactly, so topk and friends have no ties.
                v = cur[k] + int(rng.gauss(0, 16 * MIB))
                if abs(v - base) > base * 0.1:
                    v = base + int(rng.uniform(-0.05, 0.05) * base)
                cur[k] = v
                series[k].append((ms, v))
            series["free"].append((ms, total - cur["used"] - cur["cached"] - cur["buffers"]))
        for typ in sorted(series):
            lb = [("instance", inst), ("job", JOB), ("type", typ)]
            for ms, v in series[typ]:
                w.sample("demo_memory_usage_bytes", lb, v, ms)


def gen_num_cpus(w):
    w.family("demo_num_cpus", "gauge", "Simulated CPU count.")
    for inst, off in INSTANCES:
        for ms in scrape_times(off):
            w.sample("demo_num_cpus", [("instance", inst), ("job", JOB)], 4, ms)


def gen_cpu(w, rng):
    w.family("demo_cpu_usage_seconds", "counter", "Simulated CPU seconds, per mode.")
    cpus = 4
    for inst, off in INSTANCES:
        resets = [r * 1000 for r in CPU_RESETS.get(inst, [])]
        cur = {m: rng.uniform(5000, 20000) * r
               for m, r in (("idle", 0.5), ("system", 0.2), ("user", 0.3))}
        series = {m: [] for m in cur}
        for ms in scrape_times(off):
            if resets and ms >= resets[0]:
                resets.pop(0)
                cur = {m: 0.0 for m in cur}
            factor = cpus * SCRAPE_MS / 1000.0
            user = (0.3 + (rng.random() - 0.5) / 5) * factor
            system = (0.2 + (rng.random() - 0.5) / 5) * factor
            cur["user"] += user
            cur["system"] += system
            cur["idle"] += factor - user - system
            for m in cur:
                series[m].append((ms, cur[m]))
        for m in sorted(series):
            lb = [("instance", inst), ("job", JOB), ("mode", m)]
            for ms, v in series[m]:
                w.sample("demo_cpu_usage_seconds_total", lb, v, ms)


def gen_disk(w, rng):
    w.family("demo_disk_usage_bytes", "gauge", "Simulated used disk space in bytes.")
    total = 160e9
    # The third instance fills up and wraps to 10% about 25 minutes before
    # the query window ends.
    starts = [0.3 * total, 0.55 * total, 0.9 * total - 3.05e9]
    for (inst, off), usage in zip(INSTANCES, starts):
        usage = int(usage)
        for ms in scrape_times(off):
            usage += int(5 * 0.5e6 * (1 - (rng.random() - 0.5)))
            if usage > 0.9 * total:
                usage = int(0.1 * total)
            w.sample("demo_disk_usage_bytes", [("instance", inst), ("job", JOB)], usage, ms)


def gen_batch(w, rng):
    w.family("demo_batch_last_success_timestamp_seconds", "gauge",
             "Simulated time (Unix seconds) a batch run last succeeded.")
    for inst, off in INSTANCES:
        # Runs start each minute and take about 11 s; three in four succeed.
        last = DATA_START - rng.uniform(60, 600)
        runs = []
        t = DATA_START - 60
        while t < DATA_END:
            done = t + 11 + off / 1000.0 - rng.randrange(2000) / 1e6
            ok = rng.random() > 0.25
            runs.append((done, ok))
            t += 60
        i = 0
        for ms in scrape_times(off):
            while i < len(runs) and runs[i][0] * 1000 <= ms:
                if runs[i][1]:
                    last = runs[i][0]
                i += 1
            w.sample("demo_batch_last_success_timestamp_seconds",
                     [("instance", inst), ("job", JOB)], round(last, 6), ms)


def gen_api(w, rng):
    name = "demo_api_request_duration_seconds"
    w.family(name, "histogram", "Simulated API request latency in seconds.")
    dt = SCRAPE_MS / 1000.0
    for inst, off in INSTANCES:
        for method, path, rate, base, err, outage in API:
            state = {s: ([0] * (len(BUCKETS) + 1), [0.0]) for s in ("200", "500")}
            points = []
            for ms in scrape_times(off):
                since = ms / 1000.0 - DATA_START
                in_outage = since % (10 * outage) < outage
                lat_f, err_f = (3, 10) if in_outage else (1, 1)
                n = max(0, int(round(rng.gauss(rate * dt, math.sqrt(rate * dt)))))
                for _ in range(n):
                    lat = (base + rng.gauss(0, base / 10)) * lat_f
                    lat = max(lat, 0.0001)
                    status = "500" if rng.random() <= err * err_f else "200"
                    counts, total = state[status]
                    for j, b in enumerate(BUCKETS):
                        if lat <= b:
                            counts[j] += 1
                    counts[-1] += 1
                    total[0] += lat
                points.append((ms, {s: (list(c), t[0]) for s, (c, t) in state.items()}))
            for status in ("200", "500"):
                lb = [("instance", inst), ("job", JOB), ("method", method),
                      ("path", path), ("status", status)]
                for ms, snap in points:
                    counts, total = snap[status]
                    for j, b in enumerate(BUCKETS + [math.inf]):
                        le = "+Inf" if math.isinf(b) else le_str(b)
                        w.sample(name + "_bucket", lb + [("le", le)], counts[j], ms)
                    w.sample(name + "_count", lb, counts[-1], ms)
                    w.sample(name + "_sum", lb, round(total, 9), ms)


def gen_intermittent(w):
    # The demo service exposes this metric only every other minute and
    # Prometheus marks it stale in between. Backfilled data has no stale
    # markers, so the gaps here are 8 minutes long (longer than the 5 minute
    # lookback): the one from 23:54:05 to 00:02:05 shows as a 3 minute hole
    # in the query window. The last sample before it, 23:54:00 on the aligned
    # target, is exactly 5 minutes before the 23:59:00 step, which Prometheus
    # 3 no longer sees (the lookback window is open on the left).
    w.family("demo_intermittent_metric", "gauge",
             "Simulated series that comes and goes.")
    for inst, off in INSTANCES:
        for ms in scrape_times(off):
            m = (ms // 1000 - DATA_START - 5) // 60
            if (m + 6) % 16 < 8:
                w.sample("demo_intermittent_metric", [("instance", inst), ("job", JOB)], 1, ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20260301)
    ap.add_argument("out")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.out, "w", buffering=1 << 20) as f:
        w = Writer(f)
        gen_memory(w, rng)
        gen_num_cpus(w)
        gen_cpu(w, rng)
        gen_disk(w, rng)
        gen_batch(w, rng)
        gen_api(w, rng)
        gen_intermittent(w)
        f.write("# EOF\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
