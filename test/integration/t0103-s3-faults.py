#!/usr/bin/env python3
"""t0103: the S3 backend against a faulty S3 played by a small server on
127.0.0.1: a connection closed mid-body, 500/503 then success, 403 (not
retried), a server that never answers, a multipart upload failing halfway
(aborted, nothing left), and credentials from STS web identity and from
EC2 instance metadata (IMDSv2), refreshed before they expire."""
import datetime
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, unquote

THANOSC = os.environ.get("THANOSC") or os.path.join(
    os.path.dirname(__file__), "../../build/thanosc")
NAME = "t0103-s3-faults"
passed = failed = 0

store = {}        # key -> bytes
parts = {}        # upload id -> {part number: bytes}
rules = []        # [method, path regex, action], consumed in order
log = []          # (method, path, query, headers)
sts_calls = [0]
sts_ttl = [3600]
lock = threading.Lock()


def now_iso(delta):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def error_xml(code, msg):
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f'<Message>{msg}</Message></Error>').encode()


class S3(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        u = urlsplit(self.path)
        path, q = unquote(u.path), parse_qs(u.query, keep_blank_values=True)
        data = self.body() if self.command in ("PUT", "POST") else b""
        with lock:
            log.append((self.command, path, u.query,
                        {k.lower(): v for k, v in self.headers.items()}))
            action = None
            for r in rules:
                if r[0] == self.command and re.search(r[1], self.path):
                    action = r[2]
                    rules.remove(r)
                    break
        if path.startswith("/latest/"):
            return self.imds(path)
        if self.command == "POST" and path == "/":
            return self.sts(data)
        if action == "drop_conn":
            self.close_connection = True
            return
        if action == "hang":
            time.sleep(6)
            self.close_connection = True
            return
        if action and action.startswith("status:"):
            _, st, code = action.split(":")
            return self.send(int(st), error_xml(code, "injected"))
        if (self.headers.get("Host") or "").startswith("bkt."):
            key = path[1:]  # virtual-hosted: the bucket is in the host name
        else:
            key = path.split("/", 2)[2] if path.count("/") >= 2 else ""
        if "location" in q:
            return self.send(200, b'<?xml version="1.0"?><LocationConstraint>'
                             b'eu-west-3</LocationConstraint>')
        if self.command == "PUT" and "partNumber" in q:
            with lock:
                parts.setdefault(q["uploadId"][0], {})[int(q["partNumber"][0])] = data
            return self.send(200, headers={"ETag": f'"p{q["partNumber"][0]}"'})
        if self.command == "POST" and "uploads" in q:
            uid = f"up{len(parts) + 1}"
            with lock:
                parts[uid] = {}
            return self.send(200, f"<InitiateMultipartUploadResult><UploadId>{uid}"
                             f"</UploadId></InitiateMultipartUploadResult>".encode())
        if self.command == "POST" and "uploadId" in q:
            with lock:
                p = parts.pop(q["uploadId"][0])
                store[key] = b"".join(p[i] for i in sorted(p))
            return self.send(200, b"<CompleteMultipartUploadResult/>")
        if self.command == "DELETE" and "uploadId" in q:
            with lock:
                parts.pop(q["uploadId"][0], None)
            return self.send(204)
        if self.command == "PUT":
            with lock:
                store[key] = data
            return self.send(200, headers={"ETag": '"x"'})
        if self.command == "DELETE":
            with lock:
                store.pop(key, None)
            return self.send(204)
        obj = store.get(key)
        if obj is None:
            return self.send(404, error_xml("NoSuchKey", "no such key")
                             if self.command == "GET" else b"")
        start, end = 0, len(obj) - 1
        m = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if action == "ignore_range":
            m = None
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)), end) if m.group(2) else end
        chunk = obj[start:end + 1]
        status = 206 if m else 200
        if action == "drop_mid_body":
            self.send_response(status)
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            self.wfile.write(chunk[:len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send(status, chunk, {"Last-Modified": "Tue, 24 Nov 2026 02:00:00 GMT"})

    def sts(self, data):
        form = parse_qs(data.decode())
        with lock:
            sts_calls[0] += 1
        if form.get("Action") != ["AssumeRoleWithWebIdentity"] or \
                form.get("WebIdentityToken") != ["jwt-token-value"]:
            return self.send(400, b"<ErrorResponse><Error><Code>InvalidIdentityToken"
                             b"</Code></Error></ErrorResponse>")
        body = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                "<Credentials><AccessKeyId>ASIAWEBID</AccessKeyId>"
                "<SecretAccessKey>websecret</SecretAccessKey>"
                "<SessionToken>webtoken</SessionToken>"
                f"<Expiration>{now_iso(sts_ttl[0])}</Expiration></Credentials>"
                "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")
        self.send(200, body.encode())

    def imds(self, path):
        if path == "/latest/api/token" and self.command == "PUT":
            return self.send(200, b"imds-session")
        if self.headers.get("X-aws-ec2-metadata-token") != "imds-session":
            return self.send(401)
        if path == "/latest/meta-data/iam/security-credentials/":
            return self.send(200, b"role1")
        if path == "/latest/meta-data/iam/security-credentials/role1":
            return self.send(200, ('{"Code":"Success","AccessKeyId":"ASIAIMDS",'
                                   '"SecretAccessKey":"imdssecret","Token":"imdstoken",'
                                   f'"Expiration":"{now_iso(3600)}"}}').encode())
        self.send(404)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def report(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok {passed + failed} - {what}", flush=True)
    else:
        failed += 1
        print(f"not ok {passed + failed} - {what}", flush=True)
        for line in str(detail).splitlines()[:20]:
            print(f"# {line}")


srv = ThreadingHTTPServer(("127.0.0.1", 0), S3)
srv.daemon_threads = True
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
tmp = tempfile.mkdtemp(prefix="thanosc-t0103-")


def cfg(*extra, keys=True):
    lines = ["type: S3", "config:", "  bucket: bkt", f"  endpoint: 127.0.0.1:{port}",
             "  insecure: true"]
    if keys:
        lines += ["  access_key: AKIDTEST", "  secret_key: SuperSecretKey42"]
    return "\n".join(lines + ["  " + e for e in extra]) + "\n"


def tb(conf, *args, env=None, timeout=60):
    e = dict(os.environ)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        e.pop(k, None)
    e["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    e["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{port}/nothing-here"
    e.update(env or {})
    t0 = time.time()
    p = subprocess.run([THANOSC, "tools", "bucket", *args, "--objstore.config=" + conf],
                       capture_output=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), time.time() - t0


def count(method, pattern):
    with lock:
        return sum(1 for m, p, q, h in log if m == method and re.search(pattern, p + "?" + q))


def reset():
    with lock:
        log.clear()
        rules.clear()


obj = os.urandom(1 << 20)
store["a/obj"] = obj
base = cfg("region: us-east-1")

# 1. connection closed mid-body: resumed with a range, every byte once.
reset()
rules.append(["GET", r"/bkt/a/obj", "drop_mid_body"])
rc, out, err, _ = tb(base, "get", "a/obj")
report(rc == 0 and out == obj, "mid-body close: get resumes and returns the object intact",
       f"rc={rc} len={len(out)} {err}")
with lock:
    ranges = [h.get("range") for m, p, q, h in log if m == "GET"]
report(len(ranges) == 2 and ranges[1] == f"bytes={len(obj) // 2}-",
       "mid-body close: the retry asks for the rest only", ranges)

reset()
rules.append(["GET", r"/bkt/a/obj", "drop_mid_body"])
rc, out, err, _ = tb(base, "get", "a/obj", "--offset", "1000", "--length", "5000")
report(rc == 0 and out == obj[1000:6000], "mid-body close: a ranged get resumes too",
       f"rc={rc} len={len(out)} {err}")

reset()
rules += [["GET", r"/bkt/a/obj", "drop_mid_body"], ["GET", r"/bkt/a/obj", "ignore_range"]]
rc, out, err, _ = tb(base, "get", "a/obj")
report(rc == 0 and out == obj, "mid-body close, then a 200 ignoring the resume range: intact",
       f"rc={rc} len={len(out)} {err}")
reset()
rules.append(["GET", r"/bkt/a/obj", "ignore_range"])
rc, out, err, _ = tb(base, "get", "a/obj", "--offset", "777", "--length", "3000")
report(rc == 0 and out == obj[777:3777], "a 200 ignoring a range: the wanted bytes only",
       f"rc={rc} len={len(out)} {err}")

# 2. 500 then 503 SlowDown then success: retried, stored once.
reset()
rules += [["PUT", r"/bkt/b/obj", "status:500:InternalError"],
          ["PUT", r"/bkt/b/obj", "status:503:SlowDown"]]
path = os.path.join(tmp, "up")
with open(path, "wb") as f:
    f.write(obj[:300000])
rc, out, err, _ = tb(base, "put", "b/obj", path)
report(rc == 0 and store.get("b/obj") == obj[:300000],
       "500/503 then success: upload retried and whole", err)
report(count("PUT", r"/bkt/b/obj") == 3, "500/503 then success: three attempts, no more",
       count("PUT", r"/bkt/b/obj"))

reset()
rules.append(["PUT", r"/bkt/d/obj", "drop_conn"])
rc, out, err, _ = tb(base, "put", "d/obj", path)
report(rc == 0 and store.get("d/obj") == obj[:300000] and count("PUT", r"/bkt/d/obj") == 2,
       "connection dropped without an answer to a put: retried once, whole", err)

# 3. 403 AccessDenied: a clear error, not retried.
reset()
rules.append(["GET", r"/bkt/a/obj", "status:403:AccessDenied"])
rc, out, err, _ = tb(base, "get", "a/obj")
report(rc == 1 and "get 'a/obj'" in err and "403 AccessDenied" in err,
       "403: error names the operation, key and code", err)
report(count("GET", r"/bkt/a/obj") == 1, "403: not retried", count("GET", r"/bkt/a/obj"))

reset()
rules.append(["PUT", r"/bkt/c/obj", "status:403:SignatureDoesNotMatch"])
rc, out, err, _ = tb(base, "put", "c/obj", path)
report(rc == 1 and "SignatureDoesNotMatch" in err and "SuperSecretKey42" not in err
       and "c/obj" not in store, "SignatureDoesNotMatch: clear, no secret, nothing stored", err)

reset()
rc, out, err, _ = tb(base, "get", "nope/obj")
report(rc == 1 and "NoSuchKey" in err and count("GET", r"nope") == 1,
       "404 NoSuchKey: not retried", err)

# 4. a server that never answers: timeout, bounded retries.
reset()
rules += [["GET", r"/bkt/a/obj", "hang"], ["GET", r"/bkt/a/obj", "hang"]]
rc, out, err, took = tb(cfg("region: us-east-1", "max_retries: 2", "http_config:",
                            "  response_header_timeout: 1s"), "get", "a/obj")
report(rc == 1 and "a/obj" in err and took < 10 and out == b"",
       f"no answer: times out ({took:.1f}s) with a clear error", err)

# 5. multipart failing halfway: aborted, nothing half-written stays.
big = os.urandom(11 << 20)
with open(path, "wb") as f:
    f.write(big)
mp = cfg("region: us-east-1", "part_size: 5242880")
reset()
rules.append(["PUT", r"partNumber=2", "status:403:AccessDenied"])
rc, out, err, _ = tb(mp, "put", "big/obj", path)
report(rc == 1 and "AccessDenied" in err and "part 2" in err,
       "multipart: a failing part fails the upload", err)
report(count("DELETE", r"uploadId=") == 1 and "big/obj" not in store and not any(parts.values()),
       "multipart: the upload is aborted, nothing stays", (count("DELETE", "uploadId"), list(parts)))

reset()
rules.append(["PUT", r"partNumber=3", "status:500:InternalError"])
rc, out, err, _ = tb(mp, "put", "big/obj", path)
report(rc == 0 and store.get("big/obj") == big and count("PUT", r"partNumber") == 4,
       "multipart: a part answered 500 is retried; object whole", err)

# 6. region from GetBucketLocation.
reset()
rc, out, err, _ = tb(cfg(), "stat", "a/obj")
with lock:
    auths = [h.get("authorization", "") for m, p, q, h in log if p == "/bkt/a/obj"]
report(rc == 0 and auths and "/eu-west-3/s3/aws4_request" in auths[0],
       "region: looked up with GetBucketLocation", auths)

# 6b. virtual-hosted style: the bucket goes into the host name.
reset()
vh = cfg("region: us-east-1", "bucket_lookup_type: virtual-hosted").replace(
    f"endpoint: 127.0.0.1:{port}", f"endpoint: localhost:{port}")
rc, out, err, _ = tb(vh, "get", "a/obj")
with lock:
    h = [(p, h) for m, p, q, h in log if m == "GET"]
report(rc == 0 and out == obj and h and h[0][0] == "/a/obj"
       and h[0][1].get("host") == f"bkt.localhost:{port}",
       "virtual-hosted: bucket in the host, key in the path", f"{h[:1]} {err}")

# 7. web identity through STS, refreshed before expiry.
tok = os.path.join(tmp, "jwt")
with open(tok, "w") as f:
    f.write("jwt-token-value\n")
wi = {"AWS_WEB_IDENTITY_TOKEN_FILE": tok, "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
      "AWS_STS_ENDPOINT": f"http://127.0.0.1:{port}/"}
reset()
sts_calls[0] = 0
rc, out, err, _ = tb(cfg("region: us-east-1", keys=False), "get", "a/obj", env=wi)
with lock:
    h = [h for m, p, q, h in log if p == "/bkt/a/obj"]
report(rc == 0 and out == obj and h and "Credential=ASIAWEBID/" in h[0].get("authorization", "")
       and h[0].get("x-amz-security-token") == "webtoken",
       "web identity: requests signed with the STS credentials", err)
report(sts_calls[0] == 1, "web identity: one STS call for fresh credentials", sts_calls[0])
reset()
sts_calls[0] = 0
rules.append(["GET", r"/bkt/a/obj", "status:400:ExpiredToken"])
rc, out, err, _ = tb(cfg("region: us-east-1", keys=False), "get", "a/obj", env=wi)
report(rc == 0 and out == obj and sts_calls[0] == 2 and count("GET", r"/bkt/a/obj") == 2,
       "web identity: ExpiredToken fetches new credentials and retries",
       f"{sts_calls[0]} {err}")
sts_ttl[0] = 60  # expires within the refresh margin: refreshed for each request
sts_calls[0] = 0
rc, out, err, _ = tb(mp.replace("  access_key: AKIDTEST\n  secret_key: SuperSecretKey42\n", ""),
                     "put", "big/obj2", path, env=wi)
report(rc == 0 and store.get("big/obj2") == big and sts_calls[0] >= 3,
       f"web identity: credentials near expiry are refreshed ({sts_calls[0]} STS calls)", err)
sts_ttl[0] = 3600

# 8. EC2 instance metadata (IMDSv2).
reset()
rc, out, err, _ = tb(cfg("region: us-east-1", keys=False), "get", "a/obj",
                     env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{port}"})
with lock:
    h = [h for m, p, q, h in log if p == "/bkt/a/obj"]
report(rc == 0 and out == obj and h and "Credential=ASIAIMDS/" in h[0].get("authorization", "")
       and h[0].get("x-amz-security-token") == "imdstoken"
       and count("PUT", r"/latest/api/token") == 1,
       "imds: token, role and credentials from instance metadata", err)

# 9. headers the config asks for: user metadata, SSE, Content-MD5.
import base64
import hashlib
import json
keyfile = os.path.join(tmp, "ssec.key")
with open(keyfile, "wb") as f:
    f.write(b"k" * 32)
small = os.path.join(tmp, "small")
with open(small, "wb") as f:
    f.write(b"hello headers")
for sse, want in [
        (["sse_config:", "  type: SSE-S3"], {"x-amz-server-side-encryption": "AES256"}),
        (["sse_config:", "  type: SSE-KMS", "  kms_key_id: key-1",
          "  kms_encryption_context:", "    team: obs"],
         {"x-amz-server-side-encryption": "aws:kms",
          "x-amz-server-side-encryption-aws-kms-key-id": "key-1",
          "x-amz-server-side-encryption-context":
              base64.b64encode(json.dumps({"team": "obs"}, separators=(",", ":")).encode()).decode()}),
        (["sse_config:", "  type: SSE-C", f"  encryption_key: {keyfile}"],
         {"x-amz-server-side-encryption-customer-algorithm": "AES256",
          "x-amz-server-side-encryption-customer-key": base64.b64encode(b"k" * 32).decode(),
          "x-amz-server-side-encryption-customer-key-md5":
              base64.b64encode(hashlib.md5(b"k" * 32).digest()).decode()})]:
    reset()
    conf = cfg("region: us-east-1", "send_content_md5: true", "put_user_metadata:",
               "  team: observability", *sse)
    rc, out, err, _ = tb(conf, "put", "h/obj", small)
    with lock:
        h = [h for m, p, q, h in log if m == "PUT" and p == "/bkt/h/obj"]
    want = dict(want, **{"x-amz-meta-team": "observability",
                         "content-md5": base64.b64encode(hashlib.md5(b"hello headers").digest()).decode()})
    bad = {k: (h[0].get(k) if h else None) for k, v in want.items() if not h or h[0].get(k) != v}
    report(rc == 0 and not bad, f"headers: {sse[1].strip()} with metadata and Content-MD5", f"{bad} {err}")
    if "SSE-C" in sse[1]:
        reset()
        rc, out, err, _ = tb(conf, "get", "h/obj")
        with lock:
            h = [h for m, p, q, h in log if m == "GET" and p == "/bkt/h/obj"]
        report(rc == 0 and out == b"hello headers" and h and
               h[0].get("x-amz-server-side-encryption-customer-algorithm") == "AES256",
               "headers: SSE-C key sent on get too", err)

srv.shutdown()
print(f"1..{passed + failed}")
print(f"{NAME}: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
