#!/usr/bin/python3
# t0803-compact-errors: what `thanosc compact` refuses and how it merges
# overlaps. A block with a truncated index stops a run with exit 1 and a
# message naming it, and the bucket keeps every object; with --wait the
# compactor halts (thanos_compact_halted 1) and keeps serving. Overlapping
# blocks halt with Thanos's overlap error unless vertical compaction is
# on; two replicas' blocks with --deduplication.replica-label merge into
# blocks without the replica label holding each sample once, and with
# --deduplication.func=penalty replicas scraping at other times keep one
# replica's samples instead of both interleaved. A partial
# upload (no meta.json) is left alone. A block that cannot be downsampled
# fails the run without holding back retention; a no-compact mark keeps a
# block out of compactions.
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

t = G.Tap("t0803-compact-errors")
S.kill_on_exit(t)

src = os.path.join(t.tmp, "src")
os.makedirs(src)
ids = S.make_blocks(t, src, duration=10 * 3600)


new_ulid = C.new_ulid
snapshot = C.snapshot


def put(bucket, b, labels, as_id=None):
    C.put(src, bucket, b, labels, as_id)


def compact(bucket, *extra):
    return C.compact(t, bucket, os.path.join(t.tmp, "data"), *extra)


# ---- a corrupt block ----
bad = os.path.join(t.tmp, "bad")
for b in ids:
    put(bad, b, {"cluster": "c1"})
idx = os.path.join(bad, ids[1], "index")
with open(idx, "r+b") as f:
    f.truncate(os.path.getsize(idx) // 2)
# A partial upload: no meta.json.
shutil.copytree(os.path.join(src, ids[0]), os.path.join(bad, new_ulid(7)),
                ignore=shutil.ignore_patterns("meta.json"))
before = snapshot(bad)
rc, log = compact(bad)
t.ok(rc == 1, "a truncated index fails the run with exit 1", log[-1500:])
t.ok(re.search(r"level=error.*%s.*index" % ids[1], log) is not None,
     "the error names the block and its index", log[-1500:])
t.ok(snapshot(bad) == before, "the bucket lost and gained nothing")

port = G.free_port()
p = t.start([G.THANOSC, "compact", "--objstore.config-file=" +
             S.bucket_yml(t, bad), "--data-dir=" + os.path.join(t.tmp, "d2"),
             "--http-address=127.0.0.1:%d" % port, "--consistency-delay=0s",
             "--wait", "--wait-interval=1s", "--http-grace-period=1s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
halted = False
end = time.time() + 30
while time.time() < end and not halted:
    try:
        halted = re.search(r"^thanos_compact_halted 1$", S.http_get(
            "http://127.0.0.1:%d/metrics" % port, 2), re.M) is not None
    except Exception:
        pass
    time.sleep(0.2)
t.ok(halted and p.poll() is None, "--wait: halted, still serving metrics")
t.stop(p)
err = p.stderr.read().decode()
t.ok(p.returncode == 0 and "critical error detected; halting" in err and
     C.clean_log(err), "it logged the halt and stopped on SIGTERM",
     err[-500:])
t.ok(snapshot(bad) == before, "the halted compactor touched nothing")

# ---- a block that cannot be downsampled ----
# Its meta claims 48h (so it is due for 5m) and its index is cut short:
# the run fails, yet retention still marks it.
dsb = os.path.join(t.tmp, "dsbad")
put(dsb, ids[0], {"cluster": "c1"})
mp = os.path.join(dsb, ids[0], "meta.json")
with open(mp) as f:
    m = json.load(f)
m["maxTime"] = m["minTime"] + 48 * 3600 * 1000
with open(mp, "w") as f:
    json.dump(m, f, indent="\t")
idx = os.path.join(dsb, ids[0], "index")
with open(idx, "r+b") as f:
    f.truncate(os.path.getsize(idx) // 2)
rc, log = compact(dsb, "--retention.resolution-raw=1d")
t.ok(rc == 1 and re.search(r"downsampling failed.*%s" % ids[0], log),
     "a failed downsampling fails the run and names the block", log[-1500:])
t.ok(os.path.exists(os.path.join(dsb, ids[0], "deletion-mark.json")),
     "retention still ran")

# ---- a no-compact mark ----
# The second block is marked: the first stays alone, the third and fourth
# are compacted together.
nc = os.path.join(t.tmp, "nocompact")
for b in ids:
    put(nc, b, {"cluster": "c1"})
with open(os.path.join(nc, ids[1], "no-compact-mark.json"), "w") as f:
    f.write('{"id":"%s","version":1,"no_compact_time":1,"reason":"manual"}'
            % ids[1])
rc, log = compact(nc)
made = []
for d in sorted(os.listdir(nc)):
    if d not in ids:
        with open(os.path.join(nc, d, "meta.json")) as f:
            made.append(json.load(f)["compaction"]["sources"])
t.ok(rc == 0 and made == [sorted(ids[2:4])],
     "a no-compact mark splits the range around the block", (made, log[-800:]))

# ---- overlapping blocks of one group ----
ov = os.path.join(t.tmp, "ov")
for b in ids:
    put(ov, b, {"cluster": "c1"})
put(ov, ids[1], {"cluster": "c1"}, as_id=new_ulid(1))
before = snapshot(ov)
rc, log = compact(ov)
t.ok(rc == 1 and "pre compaction overlap check: overlaps found while "
     "gathering blocks." in log, "overlaps halt without vertical compaction",
     log[-1500:])
t.ok(snapshot(ov) == before, "the bucket is untouched")

# ---- two replicas deduplicated ----
dd = os.path.join(t.tmp, "dedup")
copies = [new_ulid(100 + i) for i in range(len(ids))]
for b, c in zip(ids, copies):
    put(dd, b, {"cluster": "c1", "replica": "a"})
    put(dd, b, {"cluster": "c1", "replica": "b"}, as_id=c)
rc, log = compact(dd, "--deduplication.replica-label=replica")
left = []
for d in sorted(os.listdir(dd)):
    if os.path.exists(os.path.join(dd, d, "deletion-mark.json")):
        continue
    with open(os.path.join(dd, d, "meta.json")) as f:
        left.append(json.load(f))
t.ok(rc == 0 and left and all(m["thanos"]["labels"] == {"cluster": "c1"}
                              for m in left),
     "replica blocks merged into blocks without the replica label",
     (log[-1500:], [m["thanos"]["labels"] for m in left]))
srcs = sorted(s for m in left for s in m["compaction"]["sources"])
t.ok(srcs ==
     sorted(ids + copies),
     "every source is in exactly one remaining block", srcs)


def dump(path):
    os.makedirs(os.path.join(path, "wal"), exist_ok=True)
    r = subprocess.run([S.PROMTOOL, "tsdb", "dump", path],
                       capture_output=True, text=True, timeout=60)
    return sorted(r.stdout.splitlines())


got_dir = os.path.join(t.tmp, "got")
for m in left:
    shutil.copytree(os.path.join(dd, m["ulid"]),
                    os.path.join(got_dir, m["ulid"]))
want = dump(src)
got = dump(got_dir)
t.ok(len(want) > 1000 and got == want, "each sample once (%d)" % len(want),
     "%d vs %d lines" % (len(got), len(want)))

# ---- penalty deduplication of replicas scraping 5 s apart ----
rc, log = compact(dd, "--deduplication.func=penalty")
t.ok(rc == 2 and "penalty based deduplication needs at least one replica "
     "label specified" in log, "penalty needs a replica label", log[-500:])
src_b = os.path.join(t.tmp, "src_b")
os.makedirs(src_b)
ids_b = S.make_blocks(t, src_b, t0=S.T0 + 5, duration=10 * 3600)
dp = os.path.join(t.tmp, "penalty")
for b in ids:
    put(dp, b, {"cluster": "c1", "replica": "a"})
for b in ids_b:
    C.put(src_b, dp, b, {"cluster": "c1", "replica": "b"})
rc, log = compact(dp, "--deduplication.replica-label=replica",
                  "--deduplication.func=penalty")
pen_dir = os.path.join(t.tmp, "pen")
for d in sorted(os.listdir(dp)):
    if (len(d) == 26 and
            not os.path.exists(os.path.join(dp, d, "deletion-mark.json"))):
        shutil.copytree(os.path.join(dp, d), os.path.join(pen_dir, d))
got = dump(pen_dir)
both = set(want) | set(dump(src_b))
# Replica a throughout (it starts first and has no gap), perhaps with b's
# last sample after a's last: one sample a scrape, not two.
t.ok(rc == 0 and len(want) <= len(got) <= len(want) + 50 and
     set(got) <= both, "penalty: one replica's samples, not both (%d)" %
     len(got), (log[-1500:], len(got), len(want)))
shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
