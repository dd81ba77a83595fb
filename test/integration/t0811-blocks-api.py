#!/usr/bin/python3
# t0811-blocks-api: the Block Viewer's routes and API, as `thanosc compact`
# and `thanosc tools bucket web` serve them over a FILESYSTEM bucket of
# promtool-made 2h blocks (given a sidecar's Thanos meta):
#   compact     /api/v1/blocks?view=global lists every block with a valid
#               meta.json (a block marked for deletion too), view=loaded
#               the blocks it works on (not the marked one), in Thanos's
#               shape (label from --bucket-web-label, refreshedAt, err);
#               "/" goes to loaded; the page answers /loaded and /global;
#               --web.route-prefix moves it all;
#   bucket web  lists every block, "/" goes to blocks, and a block added
#               to the bucket shows after --refresh; a broken meta.json
#               is left out; --web.disable turns the compactor's UI off.
#   progress    thanos_compact_todo_* per group, every
#               --compact.progress-interval, also while halted.
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0811-blocks-api")
S.kill_on_exit(t)

src, ids, bucket, yml = C.bucket_of_blocks(t)
with open(os.path.join(bucket, ids[0], "deletion-mark.json"), "w") as f:
    json.dump({"id": ids[0], "deletion_time": int(time.time()),
               "version": 1}, f)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def get(url):
    """(status, headers, body) without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def blocks(base, view=None, want=None, timeout=20):
    """The API's data once it has been refreshed (and, with want, once it
    lists exactly those ULIDs)."""
    url = base + "/api/v1/blocks" + ("?view=" + view if view else "")
    end = time.time() + timeout
    d = None
    while time.time() < end:
        try:
            d = json.loads(S.http_get(url))
            data = d["data"]
            got = sorted(m["ulid"] for m in data["blocks"])
            if not data["refreshedAt"].startswith("0001-") and \
                    (want is None or got == sorted(want)):
                return d
        except Exception:
            pass
        time.sleep(0.2)
    return d


logs = []


def start(*args):
    port = G.free_port()
    logs.append(os.path.join(t.tmp, "log-%d" % port))
    log = open(logs[-1], "w")
    p = t.start([G.THANOSC] + list(args) + [
        "--objstore.config-file=" + yml,
        "--http-address=127.0.0.1:%d" % port, "--http-grace-period=1s"],
        stdout=log, stderr=subprocess.STDOUT)
    S.wait_ready(port)
    return p, "http://127.0.0.1:%d" % port


# ---- compact ----
p, base = start("compact", "--wait", "--wait-interval=1h",
                "--consistency-delay=0s", "--bucket-web-label=cluster",
                "--data-dir=" + os.path.join(t.tmp, "data"))
g = blocks(base, "global", ids)
ok = g is not None and g["status"] == "success"
data = g["data"] if ok else {}
t.ok(ok and data["label"] == "cluster" and data["err"] is None and
     sorted(m["ulid"] for m in data["blocks"]) == sorted(ids),
     "compact: the global view lists every block", g)
meta = next((m for m in data.get("blocks", []) if m["ulid"] == ids[1]), {})
t.ok(meta.get("thanos", {}).get("labels") == {"cluster": "c1"} and
     meta.get("minTime", 0) > 0 and "compaction" in meta,
     "each block is its meta.json", meta)
when = data.get("refreshedAt", "")
try:
    ts = datetime.datetime.fromisoformat(when.replace("Z", "+00:00")[:26])
    fresh = abs(time.time() - ts.timestamp()) < 600
except ValueError:
    fresh = False
t.ok(fresh, "refreshedAt is RFC3339 and recent", when)
lo = blocks(base, "loaded", ids[1:])
t.ok(lo and sorted(m["ulid"] for m in lo["data"]["blocks"]) ==
     sorted(ids[1:]), "the loaded view leaves the marked block out",
     lo and [m["ulid"] for m in lo["data"]["blocks"]])
st, hd, _ = get(base + "/")
t.ok(st == 302 and hd["Location"] == "loaded", "/ goes to loaded",
     (st, dict(hd)))
st1, hd1, body = get(base + "/loaded")
st2, _, _ = get(base + "/global")
t.ok(st1 == 200 and st2 == 200 and "text/html" in hd1["Content-Type"] and
     "<html" in body.lower(), "the page answers /loaded and /global",
     (st1, st2))
t.stop(p)
t.ok(p.returncode == 0, "compact stops on SIGTERM", p.returncode)

p, base = start("compact", "--wait", "--wait-interval=1h",
                "--consistency-delay=0s", "--web.route-prefix=/thanos",
                "--data-dir=" + os.path.join(t.tmp, "data2"))
d = blocks(base + "/thanos", "global", ids)
st, hd, _ = get(base + "/thanos/")
t.ok(d and d["data"]["label"] == "" and st == 302 and
     hd["Location"] == "loaded", "--web.route-prefix moves the routes",
     (st, d and d["data"]["label"]))
t.ok(get(base + "/api/v1/blocks")[0] == 404, "and nothing is left at /")
t.stop(p)

p, base = start("compact", "--wait", "--wait-interval=1h",
                "--consistency-delay=0s", "--web.disable",
                "--data-dir=" + os.path.join(t.tmp, "data3"))
t.ok(get(base + "/api/v1/blocks")[0] == 404 and
     get(base + "/-/ready")[0] == 200, "--web.disable: probes, no UI")
t.stop(p)

# ---- progress metrics of a halted compactor ----
ov = os.path.join(t.tmp, "overlap")
copies = [C.new_ulid(10 + i) for i in range(2)]
for c in copies:
    C.put(src, ov, ids[1], {"cluster": "c1"}, as_id=c)
port = G.free_port()
logs.append(os.path.join(t.tmp, "log-progress"))
p = t.start([G.THANOSC, "compact", "--objstore.config-file=" +
             S.bucket_yml(t, ov), "--http-address=127.0.0.1:%d" % port,
             "--data-dir=" + os.path.join(t.tmp, "data4"), "--wait",
             "--consistency-delay=0s", "--compact.progress-interval=1s",
             "--retention.resolution-raw=1d", "--http-grace-period=1s"],
            stdout=open(logs[-1], "w"), stderr=subprocess.STDOUT)
S.wait_ready(port)
want = {"thanos_compact_todo_compactions": "1",
        "thanos_compact_todo_compaction_blocks": "2",
        "thanos_compact_todo_downsample_blocks": "0",
        "thanos_compact_todo_deletion_blocks": "2"}
got = {}
end = time.time() + 20
while time.time() < end and got != want:
    got = {}
    for line in S.http_get("http://127.0.0.1:%d/metrics" % port).split("\n"):
        name = line.split("{")[0]
        if name in want and 'group="0@' in line:
            got[name] = line.split()[-1]
    time.sleep(0.3)
t.ok(got == want, "the progress of a halted compactor: one compaction of "
     "two blocks left, two blocks past retention", got)
t.stop(p)

# ---- tools bucket web ----
p, base = start("tools", "bucket", "web", "--refresh=1s", "--label=cluster")
d = blocks(base, None, ids)
t.ok(d and d["data"]["label"] == "cluster" and
     sorted(m["ulid"] for m in d["data"]["blocks"]) == sorted(ids),
     "bucket web lists every block", d and d["data"]["label"])
st, hd, _ = get(base + "/")
st2, _, _ = get(base + "/blocks")
t.ok(st == 302 and hd["Location"] == "blocks" and st2 == 200,
     "/ goes to blocks, the page answers", (st, dict(hd), st2))
new = C.new_ulid(42)
C.put(src, bucket, ids[1], {"cluster": "c2"}, as_id=new)
broken = C.new_ulid(43)
os.makedirs(os.path.join(bucket, broken))
with open(os.path.join(bucket, broken, "meta.json"), "w") as f:
    f.write("{not json")
d = blocks(base, None, ids + [new], timeout=15)
t.ok(d is not None and sorted(m["ulid"] for m in d["data"]["blocks"]) ==
     sorted(ids + [new]), "a new block shows after --refresh; a broken "
     "meta.json is left out", d and [m["ulid"] for m in d["data"]["blocks"]])
t.stop(p)
t.ok(p.returncode == 0, "bucket web stops on SIGTERM", p.returncode)
r = subprocess.run([G.THANOSC, "tools", "bucket", "web", "--refresh=0s",
                    "--objstore.config-file=" + yml], capture_output=True,
                   text=True, timeout=30)
t.ok(r.returncode == 2 and "--refresh must be positive" in r.stderr,
     "bucket web refuses --refresh=0s", (r.returncode, r.stderr[-300:]))
dirty = [f for f in logs if not C.clean_log(open(f).read())]
t.ok(not dirty, "no sanitizer report in any log", dirty)
t.done()
