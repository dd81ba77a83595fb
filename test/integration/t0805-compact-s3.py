#!/usr/bin/python3
# t0805-compact-s3: the compactor over S3 (s3rver on loopback): five 2h
# blocks uploaded in Thanos's order; one run uploads the 8h level-2 block
# and marks the inputs; its objects read back over S3 hold the inputs'
# samples; a run with --delete-delay=0s deletes the inputs, every object.
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpclib as G  # noqa: E402
import storelib as S  # noqa: E402
import complib as C  # noqa: E402

t = G.Tap("t0805-compact-s3")
S.kill_on_exit(t)
cfg = S.start_s3rver(t)
src = os.path.join(t.tmp, "src")
os.makedirs(src)
ids = S.make_blocks(t, src, duration=10 * 3600)
stage = os.path.join(t.tmp, "stage")
for b in ids:
    C.put(src, stage, b, {"cluster": "c1"})


def tool(*args):
    p = subprocess.run([G.THANOSC, "tools", "bucket", args[0],
                        "--objstore.config-file=" + cfg] + list(args[1:]),
                       capture_output=True, timeout=60)
    if p.returncode:
        raise RuntimeError(p.stderr.decode())
    return p.stdout


def objects():
    return sorted(tool("iter", "--recursive", "").decode().split())


for b in ids:
    S.upload_block(cfg, os.path.join(stage, b), b)

data = os.path.join(t.tmp, "data")
rc, log = C.compact(t, None, data, config=cfg)
objs = objects()
new = sorted({o.split("/")[0] for o in objs} - set(ids))
t.ok(rc == 0 and len(new) == 1, "one run uploads one new block",
     log[-1500:])
m = json.loads(tool("get", new[0] + "/meta.json")) if new else {}
t.ok(m.get("compaction", {}).get("level") == 2 and
     m["compaction"]["sources"] == sorted(ids[:4]) and
     m["maxTime"] - m["minTime"] == 4 * C.H2, "level 2 over 8h from the "
     "first four", m.get("compaction"))
t.ok([o for o in objs if o.endswith("deletion-mark.json")] ==
     ["%s/deletion-mark.json" % b for b in ids[:4]],
     "the inputs carry deletion marks")

got = os.path.join(t.tmp, "got", "block")
os.makedirs(os.path.join(got, "chunks"))
for o in objs:
    if new and o.startswith(new[0] + "/"):
        with open(os.path.join(got, o.split("/", 1)[1]), "wb") as f:
            f.write(tool("get", o))


def dump(path):
    p = subprocess.run([G.THANOSC, "tools", "block", "dump", "--path=" + path],
                       capture_output=True, text=True, timeout=60)
    return sorted(p.stdout.splitlines())


inputs = os.path.join(t.tmp, "inputs")
for b in ids[:4]:
    os.makedirs(inputs, exist_ok=True)
    os.rename(os.path.join(src, b), os.path.join(inputs, b))
want = dump(inputs)
t.ok(len(want) > 1000 and dump(got) == want,
     "the new block read back over S3 holds the inputs' samples")

rc, log = C.compact(t, None, data, "--delete-delay=0s", config=cfg)
left = objects()
t.ok(rc == 0 and not [o for o in left if o.split("/")[0] in ids[:4]] and
     [o for o in left if o.startswith(ids[4] + "/")] and
     [o for o in left if o.startswith(new[0] + "/")],
     "--delete-delay=0s deleted every object of the inputs only", left)
shutil.rmtree(t.tmp, ignore_errors=True)
t.done()
