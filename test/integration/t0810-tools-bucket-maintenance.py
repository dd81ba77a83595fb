#!/usr/bin/python3
# t0810-tools-bucket-maintenance: the `thanosc tools bucket` commands that
# run the compactor's steps by hand, over a FILESYSTEM bucket of 2h blocks
# (promtool-made, given a sidecar's Thanos meta):
#   mark        puts and removes each marker (an existing one, or a missing
#               one removed, is a warning); a bad ULID and a missing
#               --marker are usage errors, a missing block or a broken
#               bucket config a failure;
#   cleanup     deletes blocks marked longer ago than --delete-delay and
#               partial uploads older than 48h, nothing else;
#   retention   marks blocks older than their resolution's retention;
#   verify      finds overlapping blocks and a broken index; --repair and
#               unknown issues are refused;
#   downsample  serves probes and metrics and downsamples a 48h raw block
#               to 5m, then stops on SIGTERM.
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0810-tools-bucket-maintenance")
S.kill_on_exit(t)

src, ids, bucket, yml = C.bucket_of_blocks(t)


def tool(cmd, *args, config=None):
    """(exit code, stderr) of one `tools bucket <cmd>` run."""
    conf = ["--objstore.config=" + config] if config is not None else \
        ["--objstore.config-file=" + yml]
    p = subprocess.run([G.THANOSC, "tools", "bucket", cmd] + conf +
                       list(args), capture_output=True, text=True,
                       timeout=120)
    if not C.clean_log(p.stderr):
        return 99, p.stderr
    return p.returncode, p.stderr


def obj(b, name):
    return os.path.join(bucket, b, name)


def marker(b, name):
    with open(obj(b, name)) as f:
        return json.load(f)


t.ok(len(ids) >= 3, "promtool made three or more blocks", ids)
A, B, D = ids[0], ids[1], ids[2]

# ---- mark
rc, log = tool("mark", "--id=" + A, "--marker=no-compact-mark.json",
               "--details=too big")
m = marker(A, "no-compact-mark.json") if rc == 0 else {}
t.ok(rc == 0 and m.get("id") == A and m.get("version") == 1 and
     m.get("details") == "too big" and m.get("reason") == "manual" and
     m.get("no_compact_time", 0) > 0, "mark puts a no-compact marker",
     (rc, m, log))
before = open(obj(A, "no-compact-mark.json")).read()
rc, log = tool("mark", "--id=" + A, "--marker=no-compact-mark.json")
t.ok(rc == 0 and "already has the marker" in log and
     open(obj(A, "no-compact-mark.json")).read() == before,
     "marking again warns and keeps the marker", (rc, log))
rc, log = tool("mark", "--id=" + A, "--marker=no-compact-mark.json",
               "--remove")
t.ok(rc == 0 and not os.path.exists(obj(A, "no-compact-mark.json")),
     "--remove deletes the marker", (rc, log))
rc, log = tool("mark", "--id=" + A, "--marker=no-compact-mark.json",
               "--remove")
t.ok(rc == 0 and "does not exist" in log,
     "removing a missing marker warns", (rc, log))
rc, log = tool("mark", "--id=" + A, "--marker=no-downsample-mark.json")
t.ok(rc == 0 and marker(A, "no-downsample-mark.json").get("reason") ==
     "manual", "mark puts a no-downsample marker", (rc, log))
rc, log = tool("mark", "--id=" + B, "--marker=deletion-mark.json",
               "--details=by hand")
m = marker(B, "deletion-mark.json") if rc == 0 else {}
t.ok(rc == 0 and m.get("id") == B and m.get("details") == "by hand" and
     m.get("deletion_time", 0) > 0, "mark puts a deletion marker",
     (rc, m, log))

rc, log = tool("mark", "--id=NOT-A-ULID", "--marker=deletion-mark.json")
t.ok(rc == 2 and "not a ULID" in log, "a bad ULID is a usage error",
     (rc, log))
rc, log = tool("mark", "--id=" + A)
t.ok(rc == 2 and "--marker" in log, "a missing --marker is a usage error",
     (rc, log))
rc, log = tool("mark", "--id=" + A, "--marker=tombstones")
t.ok(rc == 2, "an unknown marker is a usage error", (rc, log))
missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
rc, log = tool("mark", "--id=" + missing, "--marker=deletion-mark.json")
t.ok(rc == 1 and "not found" in log and
     not os.path.exists(os.path.join(bucket, missing)),
     "marking a missing block fails and writes nothing", (rc, log))
for bad in ("type: NOPE\nconfig: {}\n", "type: [FILESYSTEM\n"):
    rc, log = tool("mark", "--id=" + A, "--marker=deletion-mark.json",
                   config=bad)
    t.ok(rc == 1 and "error" in log and
         not os.path.exists(obj(A, "deletion-mark.json")),
         "a broken bucket config fails: %r" % bad.splitlines()[0], (rc, log))

# ---- cleanup
# A partial upload (no meta.json) from three days ago, and a fresh one.
old_id = C.new_ulid(1, age=3 * 86400)
fresh_id = C.new_ulid(2)
for p in (old_id, fresh_id):
    shutil.copytree(os.path.join(src, D), os.path.join(bucket, p))
    os.remove(obj(p, "meta.json"))
rc, log = tool("cleanup")
t.ok(rc == 0 and os.path.exists(obj(B, "meta.json")) and
     not os.path.exists(os.path.join(bucket, old_id)) and
     os.path.exists(os.path.join(bucket, fresh_id)),
     "cleanup keeps a fresh mark and a fresh partial upload, deletes an old "
     "partial upload", (rc, log, sorted(os.listdir(bucket))))
rc, log = tool("cleanup", "--delete-delay=0s")
t.ok(rc == 0 and not os.path.exists(os.path.join(bucket, B)) and
     os.path.exists(obj(A, "meta.json")),
     "cleanup --delete-delay=0s deletes the marked block only", (rc, log))
shutil.rmtree(os.path.join(bucket, fresh_id))

# ---- verify
rc, log = tool("verify", "--issues=overlapped_blocks",
               "--issues=index_known_issues")
t.ok(rc == 0 and "found overlapped blocks" not in log and
     "detected index issue" not in log and "verified index" in log,
     "verify finds nothing in a clean bucket", (rc, log))
twin = C.new_ulid(3)
C.put(src, bucket, D, {"cluster": "c1"}, as_id=twin)
rc, log = tool("verify", "-i", "overlapped_blocks")
line = [x for x in log.splitlines() if "found overlapped blocks" in x]
t.ok(rc == 0 and len(line) == 1 and D in line[0] and twin in line[0],
     "verify reports the two overlapping blocks", (rc, log))
rc, log = tool("verify", "-i", "overlapped_blocks", "--id=" + A)
t.ok(rc == 0 and "found overlapped blocks" not in log,
     "--id limits the check to the given blocks", (rc, log))
with open(obj(twin, "index"), "r+b") as f:
    f.truncate(os.path.getsize(obj(twin, "index")) // 2)
rc, log = tool("verify")
line = [x for x in log.splitlines() if "detected index issue" in x]
t.ok(rc == 0 and len(line) == 1 and twin in line[0],
     "verify (index_known_issues by default) reports the broken index",
     (rc, log))
rc, log = tool("verify", "--repair")
t.ok(rc == 2 and "--repair is not supported" in log, "--repair is refused",
     (rc, log))
rc, log = tool("verify", "--issues=duplicated_compaction")
t.ok(rc == 2 and "not supported" in log, "an unsupported issue is refused",
     (rc, log))
rc, log = tool("verify", "--id=" + missing)
t.ok(rc == 1 and "not found" in log, "verify of a missing block fails",
     (rc, log))
rc, log = tool("verify", "--id=xyz")
t.ok(rc == 2, "verify of a bad ULID is a usage error", (rc, log))
shutil.rmtree(os.path.join(bucket, twin))

# ---- retention
rc, log = tool("retention")
t.ok(rc == 0 and not any(os.path.exists(obj(b, "deletion-mark.json"))
                         for b in (A, D)),
     "retention of 0d (forever) marks nothing", (rc, log))
rc, log = tool("retention", "--retention.resolution-5m=1d")
t.ok(rc == 0 and not os.path.exists(obj(A, "deletion-mark.json")),
     "a 5m retention leaves raw blocks alone", (rc, log))
rc, log = tool("retention", "--retention.resolution-raw=1d")
t.ok(rc == 0 and not os.path.exists(obj(A, "deletion-mark.json")),
     "blocks younger than --consistency-delay (by ULID) are left alone",
     (rc, log))
rc, log = tool("retention", "--retention.resolution-raw=1d",
               "--consistency-delay=0s")
m = marker(A, "deletion-mark.json") if rc == 0 else {}
t.ok(rc == 0 and all(os.path.exists(obj(b, "deletion-mark.json"))
                     for b in ids if b != B) and
     m.get("details", "").startswith("block exceeding retention of"),
     "a raw retention of 1d marks the old raw blocks", (rc, m, log))

# ---- downsample
T = 1768068000  # a multiple of 54h: promtool cuts one 48h block
series = {'g{job="a"}': [(T + k * 900, float(k % 17)) for k in range(192)]}
src48, big = C.one_block(t, series, "54h")
dbucket = os.path.join(t.tmp, "dbucket")
C.put(src48, dbucket, big[0], {"cluster": "c1"}, align=False)
dyml = S.bucket_yml(t, dbucket)
http = G.free_port()
dlog = open(os.path.join(t.tmp, "downsample.log"), "w")
p = t.start([G.THANOSC, "tools", "bucket", "downsample",
             "--objstore.config-file=" + dyml,
             "--data-dir=" + os.path.join(t.tmp, "ddata"),
             "--http-address=127.0.0.1:%d" % http, "--wait-interval=1h",
             "--http-grace-period=1s"], stdout=dlog,
            stderr=subprocess.STDOUT)
t.ok(S.wait_ready(http), "downsample serves /-/ready")
metas = []
end = time.time() + 60
while time.time() < end and not metas:
    for d in os.listdir(dbucket):
        mp = os.path.join(dbucket, d, "meta.json")
        if d != big[0] and os.path.exists(mp):
            with open(mp) as f:
                metas.append(json.load(f))
    time.sleep(0.2)
m = metas[0] if metas else {}
t.ok(len(metas) == 1 and m["thanos"]["downsample"]["resolution"] == 300000
     and m["thanos"]["source"] == "compactor" and
     m["compaction"]["sources"] == [big[0]],
     "downsample makes one 5m block of the 48h block", metas)
mt = S.http_get("http://127.0.0.1:%d/metrics" % http) if metas else ""
t.ok('thanos_compact_downsample_total{resolution="0"} 1' in mt,
     "downsample counts in /metrics", mt[-1500:])
t.ok(p.poll() is None, "downsample keeps running after its pass")
t.stop(p)
dlog.close()
out = open(dlog.name).read()
t.ok(p.returncode == 0 and C.clean_log(out), "SIGTERM stops it with 0",
     (p.returncode, out[-2000:]))

t.done()
