#!/usr/bin/python3
"""blocks_stub.py PORT WEBDIR: a stand-in for the block viewer's server,
for t0812-blocks-ui.sh. Serves WEBDIR/blocks.html for /global, /loaded and
/blocks, WEBDIR/static/* for /static/*, and canned JSON for
/api/v1/blocks, all under an optional first path segment that picks a mode:

  (none), /thanos  the canned blocks (/thanos plays a route prefix)
  /errstr          the canned blocks with an err string (a failed refresh)
  /empty           "blocks": null
  /fail            HTTP 500 with a Prometheus-style error body
  /bad             HTTP 200 that is not JSON

/_last answers the path and query string of the last API request.
Listens on 127.0.0.1 only."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

H = 3600 * 1000
T0 = 1795392000000  # 2026-11-23T00:00:00Z


def meta(ulid, lo, hi, level, labels, res=0, series=10, files=True,
         parents=None, source="compactor"):
    m = {
        "ulid": ulid, "minTime": T0 + lo * H, "maxTime": T0 + hi * H,
        "stats": {"numSamples": series * 120, "numSeries": series,
                  "numChunks": series * 2},
        "compaction": {"level": level,
                       "sources": [ulid[:-1] + "S"] * (2 ** (level - 1))},
        "version": 1,
        "thanos": {"labels": labels, "downsample": {"resolution": res},
                   "source": source, "segment_files": ["000001"]},
    }
    if files:
        m["thanos"]["files"] = [
            {"rel_path": "chunks/000001", "size_bytes": 3 * 1024 * 1024},
            {"rel_path": "index", "size_bytes": 4096},
            {"rel_path": "meta.json"}]
    if parents:
        m["compaction"]["parents"] = [
            {"ulid": p, "minTime": T0, "maxTime": T0 + 2 * H}
            for p in parents]
    return m


EAST = {"cluster": "east", "replica": "r0"}
WEST = {"cluster": "west", "replica": "r0"}
BLOCKS = [
    meta("01JDBV0E0000000000000000A1", 0, 2, 1, EAST, series=4711,
         source="sidecar"),
    meta("01JDBV0E0000000000000000A2", 2, 4, 1, EAST, source="sidecar"),
    # Overlaps A1 and A2 in the same row: a lane of its own.
    meta("01JDBV0E0000000000000000A3", 0, 8, 3, EAST,
         parents=["01JDBV0E0000000000000000P1",
                  "01JDBV0E0000000000000000P2"]),
    meta("01JDBV0E0000000000000000B1", 0, 8, 3, EAST, res=300000),
    meta("01JDBV0E0000000000000000C1", 0, 4, 2, WEST, files=False),
    meta("01JDBV0E0000000000000000C2", 4, 6, 1, WEST, source="sidecar"),
    # No "cluster" label: titled by the whole label set.
    meta("01JDBV0E0000000000000000D1", 2, 6, 2, {"region": "eu"},
         res=3600000),
]
REFRESHED = "2026-11-24T07:45:11.104Z"


class Handler(BaseHTTPRequestHandler):
    last = "none"

    def log_message(self, fmt, *args):
        sys.stderr.write("stub: " + fmt % args + "\n")

    def send(self, code, ctype, body):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def api(self, mode):
        if mode == "fail":
            return self.send(500, "application/json", json.dumps({
                "status": "error", "errorType": "internal",
                "error": "bucket unreachable: connection refused"}))
        if mode == "bad":
            return self.send(200, "application/json", "<html>oops</html>")
        data = {"label": "cluster", "blocks": BLOCKS,
                "refreshedAt": REFRESHED, "err": None}
        if mode == "errstr":
            data["err"] = "iter bucket: context deadline exceeded"
        if mode == "empty":
            data["blocks"] = None
        self.send(200, "application/json",
                  json.dumps({"status": "success", "data": data}))

    def do_GET(self):
        u = urlsplit(self.path)
        parts = [p for p in u.path.split("/") if p]
        mode = ""
        if parts and parts[0] in ("thanos", "errstr", "empty", "fail",
                                  "bad"):
            mode = parts.pop(0)
        rest = "/".join(parts)
        if rest in ("global", "loaded", "blocks"):
            with open(os.path.join(WEB, "blocks.html"), "rb") as f:
                return self.send(200, "text/html; charset=utf-8", f.read())
        if rest.startswith("static/") and ".." not in parts:
            p = os.path.join(WEB, rest)
            if os.path.isfile(p):
                ctype = {"js": "text/javascript", "css": "text/css",
                         "html": "text/html"}.get(
                    p.rsplit(".", 1)[-1], "application/octet-stream")
                with open(p, "rb") as f:
                    return self.send(200, ctype + "; charset=utf-8", f.read())
        if rest == "api/v1/blocks":
            Handler.last = u.path + "?" + u.query
            return self.api(mode)
        if rest == "_last":
            return self.send(200, "text/plain", Handler.last + "\n")
        self.send(404, "text/plain", "not found\n")


if __name__ == "__main__":
    WEB = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                        Handler).serve_forever()
