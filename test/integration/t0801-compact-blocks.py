#!/usr/bin/python3
# t0801-compact-blocks: `thanosc compact` over a FILESYSTEM bucket holding
# five consecutive 2h blocks (promtool-made, given a sidecar's Thanos
# meta). One run compacts the first four into a level-2 block covering the
# 8h range (the newest block is left alone) with the right meta, marks the
# inputs for deletion, and the new block holds exactly the inputs' samples
# (our dump and promtool's agree; promtool accepts the block). A second
# run changes nothing; inputs left unmarked by an interrupted run are
# marked (garbage collection); --wait serves Thanos's metrics;
# --delete-delay=0s removes the marked inputs, also between iterations
# (--compact.cleanup-interval); retention marks blocks older than it.
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0801-compact-blocks")
S.kill_on_exit(t)
H2 = C.H2
PROMTOOL3 = os.path.join(G.TOP, ".deps/prom3/usr/bin/promtool")

src = os.path.join(t.tmp, "src")
os.makedirs(src)
ids = S.make_blocks(t, src, duration=10 * 3600)
bucket = os.path.join(t.tmp, "bucket")
os.makedirs(bucket)


def read_meta(d):
    with open(os.path.join(d, "meta.json")) as f:
        return json.load(f)


for b in ids:
    C.put(src, bucket, b, {"cluster": "c1"})
bucket_yml = S.bucket_yml(t, bucket)
data = os.path.join(t.tmp, "data")


def compact(*extra):
    return C.compact(t, bucket, data, *extra)


def snapshot():
    return C.snapshot(bucket)


def blocks():
    return sorted(d for d in os.listdir(bucket) if len(d) == 26)


def dump(tool, path):
    if tool == "thanosc":
        args = [G.THANOSC, "tools", "block", "dump", "--path=" + path]
    else:
        os.makedirs(os.path.join(path, "wal"), exist_ok=True)
        args = [tool, "tsdb", "dump", path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.returncode, sorted(p.stdout.splitlines()), p.stderr


rc, log = compact()
t.ok(rc == 0, "one run exits 0", log[-2000:])
new = [b for b in blocks() if b not in ids]
t.ok(len(new) == 1, "one new block", blocks())
N = os.path.join(bucket, new[0]) if new else bucket
m = read_meta(N) if new else {}
ins = [read_meta(os.path.join(bucket, b)) for b in ids[:4]]
t0 = ins[0]["minTime"]
t.ok(m.get("minTime") == t0 and m.get("maxTime") == t0 + 4 * H2,
     "the new block covers the 8h range", (m.get("minTime"), m.get("maxTime")))
c = m.get("compaction", {})
t.ok(c.get("level") == 2, "compaction level 2", c.get("level"))
t.ok(c.get("sources") == sorted(ids[:4]), "sources are the four inputs",
     c.get("sources"))
t.ok([p["ulid"] for p in c.get("parents", [])] == ids[:4] and
     [(p["minTime"], p["maxTime"]) for p in c["parents"]] ==
     [(i["minTime"], i["maxTime"]) for i in ins], "parents list the inputs",
     c.get("parents"))
th = m.get("thanos", {})
t.ok(th.get("labels") == {"cluster": "c1"} and
     th.get("downsample") == {"resolution": 0} and
     th.get("source") == "compactor", "thanos section: labels, resolution, "
     "source", th)
t.ok([f["rel_path"] for f in th.get("files", [])] ==
     ["chunks/000001", "index", "meta.json"] and
     th.get("segment_files") == ["000001"], "files and segment_files", th)
st = m.get("stats", {})
t.ok(st.get("numSamples") == sum(i["stats"]["numSamples"] for i in ins) and
     st.get("numSeries") == ins[0]["stats"]["numSeries"],
     "stats add up", (st, [i["stats"] for i in ins]))

marks = {}
for b in ids:
    p = os.path.join(bucket, b, "deletion-mark.json")
    if os.path.exists(p):
        with open(p) as f:
            marks[b] = json.load(f)
t.ok(sorted(marks) == ids[:4], "the four inputs carry deletion marks",
     sorted(marks))
t.ok(all(k["id"] == b and k["version"] == 1 and
         k["details"] == "source of compacted block" and
         abs(k["deletion_time"] - time.time()) < 300
         for b, k in marks.items()), "deletion marks are Thanos's", marks)

# The samples: the inputs' (as promtool dumps the source blocks) are the
# new block's (as we and both promtools dump it).
ind = os.path.join(t.tmp, "inputs")
os.makedirs(ind)
for b in ids[:4]:
    shutil.copytree(os.path.join(src, b), os.path.join(ind, b))
rc1, want, e1 = dump(S.PROMTOOL, ind)
outd = os.path.join(t.tmp, "out")
shutil.copytree(N, os.path.join(outd, new[0] if new else "x"))
rc2, ours, e2 = dump("thanosc", N)
t.ok(rc1 == 0 and rc2 == 0 and len(want) > 1000 and ours == want,
     "the new block holds exactly the inputs' samples (%d)" % len(want),
     e1 + e2)
for tool in (S.PROMTOOL, PROMTOOL3):
    rc3, theirs, e3 = dump(tool, outd)
    t.ok(rc3 == 0 and theirs == want, "%s dumps the same samples" % tool,
         e3[-500:])
p = subprocess.run([S.PROMTOOL, "tsdb", "analyze", outd, new[0]],
                   capture_output=True, text=True, timeout=60)
t.ok(p.returncode == 0 and "Duration: 8h0m0s" in p.stdout,
     "promtool tsdb analyze accepts it", p.stdout[-500:] + p.stderr[-500:])

before = snapshot()
rc, log = compact()
t.ok(rc == 0 and snapshot() == before, "a second run changes nothing",
     log[-1500:])

# As if a run had stopped between the upload and the marks: the inputs are
# found inside the new block's sources and marked (garbage collection),
# nothing is compacted again.
for b in ids[:4]:
    os.unlink(os.path.join(bucket, b, "deletion-mark.json"))
rc, log = compact()
t.ok(rc == 0 and sorted(b for b in blocks() if os.path.exists(
    os.path.join(bucket, b, "deletion-mark.json"))) == ids[:4] and
     len(blocks()) == 6, "unmarked inputs of a compacted block are marked, "
     "not compacted again", log[-1500:])

# --wait: one iteration, the metrics, then a clean stop. --delete-delay=0s
# deletes the marked inputs.
port = G.free_port()
p = t.start([G.THANOSC, "compact", "--objstore.config-file=" + bucket_yml,
             "--data-dir=" + data, "--http-address=127.0.0.1:%d" % port,
             "--consistency-delay=0s", "--wait", "--wait-interval=1h",
             "--delete-delay=0s", "--http-grace-period=1s",
             "--compact.cleanup-interval=1s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def metrics():
    out = {}
    try:
        text = S.http_get("http://127.0.0.1:%d/metrics" % port, 2)
    except Exception:
        return out
    for line in text.splitlines():
        mm = re.match(r'^([a-z_]+(?:\{[^}]*\})?) (\S+)$', line)
        if mm:
            out[mm.group(1)] = float(mm.group(2))
    return out


end = time.time() + 30
while time.time() < end and metrics().get(
        "thanos_compact_iterations_total") != 1:
    time.sleep(0.2)
mt = metrics()
t.ok(mt.get("thanos_compact_iterations_total") == 1,
     "--wait: one iteration done", mt)
t.ok(mt.get("thanos_compact_halted") == 0 and
     mt.get('thanos_blocks_meta_synced{state="loaded"}') == 2 and
     mt.get("thanos_compact_blocks_cleaned_total") == 4,
     "metrics: halted 0, 2 loaded, 4 deleted", mt)
t.ok(any(k.startswith("thanos_compact_group_compaction_runs_started_total")
         for k in mt) and
     any(k.startswith("thanos_objstore_bucket_operations_total")
         for k in mt), "group and objstore metrics are exported")
t.ok(S.http_get("http://127.0.0.1:%d/-/ready" % port, 2) is not None,
     "/-/ready answers")
t.ok(sorted(blocks()) == sorted([ids[4]] + new),
     "--delete-delay=0s deleted the marked inputs", blocks())
# Between iterations (the next is an hour away) the background cleanup
# deletes a block marked meanwhile.
with open(os.path.join(bucket, ids[4], "deletion-mark.json"), "w") as f:
    f.write('{"id":"%s","version":1,"deletion_time":%d}'
            % (ids[4], int(time.time())))
end = time.time() + 20
while time.time() < end and ids[4] in blocks():
    time.sleep(0.2)
t.ok(ids[4] not in blocks() and metrics().get(
    "thanos_compact_iterations_total") == 1,
     "--compact.cleanup-interval: deleted between iterations", blocks())
t.stop(p)
err = p.stderr.read().decode()
t.ok(p.returncode == 0 and C.clean_log(err), "SIGTERM stops it with 0",
     err[-500:])

# Retention: the data is from January 2026; keep raw data one day.
rc, log = compact("--retention.resolution-raw=1d", "--downsampling.disable")
marked = [b for b in blocks()
          if os.path.exists(os.path.join(bucket, b, "deletion-mark.json"))]
t.ok(rc == 0 and sorted(marked) == sorted(blocks()),
     "retention marks every block older than it", (marked, log[-1000:]))
with open(os.path.join(bucket, marked[0], "deletion-mark.json")) as f:
    k = json.load(f)
t.ok(k.get("details", "").startswith("block exceeding retention of 1d"),
     "retention mark details", k)

shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
