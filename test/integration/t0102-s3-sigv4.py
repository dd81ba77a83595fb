#!/usr/bin/env python3
"""t0102: SigV4 signatures of thanosc equal botocore's for a battery of S3
requests (methods, keys with spaces and unicode, query strings, ranges,
session tokens, UNSIGNED-PAYLOAD and real payload hashes, regions), and the
published test-suite example get-vanilla."""
import datetime as real_dt
import os
import subprocess
import sys
import types
from unittest import mock
from urllib.parse import quote, urlsplit, parse_qsl

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

THANOSC = os.environ.get("THANOSC") or os.path.join(
    os.path.dirname(__file__), "../../build/thanosc")
NAME = "t0102-s3-sigv4"
passed = failed = 0


def report(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok {passed + failed} - {what}")
    else:
        failed += 1
        print(f"not ok {passed + failed} - {what}")
        for line in detail.splitlines():
            print(f"# {line}")


class FixedDT(real_dt.datetime):
    @classmethod
    def utcnow(cls):
        return real_dt.datetime(2026, 11, 24, 1, 2, 3)

    @classmethod
    def now(cls, tz=None):
        return real_dt.datetime(2026, 11, 24, 1, 2, 3, tzinfo=tz)


def botocore_sign(method, url, headers, body, region, token):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        token)
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    fake = types.SimpleNamespace(datetime=FixedDT, timezone=real_dt.timezone,
                                 timedelta=real_dt.timedelta)
    auth = S3SigV4Auth(creds, "s3", region)
    with mock.patch("botocore.auth.datetime", fake):
        auth.add_auth(req)
        creq = auth.canonical_request(req)
    return req, creq


def thanosc_sign(method, raw_path, url, req, region, canonical=False):
    auth = req.headers["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    args = [THANOSC, "tools", "bucket", "sign", "--method", method,
            "--path", raw_path, "--region", region,
            "--date", req.headers["X-Amz-Date"],
            "--payload-hash", req.headers["X-Amz-Content-SHA256"],
            "--secret-key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"]
    for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        args += ["--query", f"{k}={v}"]
    for h in signed:
        v = urlsplit(url).netloc if h == "host" else req.headers[h]
        args += ["--header", f"{h}: {v}"]
    if canonical:
        args.append("--canonical")
    out = subprocess.run(args, capture_output=True, timeout=30)
    return out.stdout.decode().strip(), out.stderr.decode()


CASES = [
    # name, method, scheme, key, query, headers, body, region, token
    ("get object", "GET", "http", "bucket/key.txt", "", {}, b"", "us-east-1", None),
    ("head object", "HEAD", "https", "bucket/a/b/meta.json", "", {}, b"", "us-east-1", None),
    ("key with spaces and unicode", "GET", "http",
     "bucket/dir with space/\u00e9 \u00fc+%&=?.txt", "", {}, b"", "us-east-1", None),
    ("key with reserved characters", "GET", "http",
     "bucket/a~b!$'()*,;=:@[].txt", "", {}, b"", "us-east-1", None),
    ("ranged get", "GET", "http", "bucket/01JD/chunks/000001", "",
     {"Range": "bytes=100-199"}, b"", "eu-central-1", None),
    ("put with a payload hash", "PUT", "http", "bucket/obj", "",
     {"Content-Type": "application/octet-stream"}, b"hello world", "us-east-1", None),
    ("put over https: UNSIGNED-PAYLOAD", "PUT", "https", "bucket/obj", "",
     {}, b"hello world", "us-west-2", None),
    ("session token", "GET", "http", "bucket/obj", "", {}, b"", "us-east-1",
     "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token="),
    ("list v2 with odd prefix and token", "GET", "http", "bucket/",
     "list-type=2&prefix=" + quote("a b/\u00e9/", safe="") + "&delimiter=%2F"
     "&continuation-token=" + quote("1/a+b==", safe=""), {}, b"", "us-east-1", None),
    ("list v1 with marker", "GET", "http", "bucket/",
     "prefix=x%2F&marker=x%2Fk00999", {}, b"", "us-east-1", None),
    ("initiate multipart", "POST", "http", "bucket/big/object", "uploads=",
     {"x-amz-server-side-encryption": "AES256"}, b"", "us-east-1", None),
    ("upload part", "PUT", "http", "bucket/big/object",
     "partNumber=3&uploadId=abc~def.ghi_JKL-1", {}, b"x" * 1000, "us-east-1", None),
    ("complete multipart", "POST", "http", "bucket/big/object", "uploadId=abc",
     {"Content-Type": "application/xml"},
     b"<CompleteMultipartUpload></CompleteMultipartUpload>", "us-east-1", None),
    ("abort multipart", "DELETE", "http", "bucket/big/object", "uploadId=abc",
     {}, b"", "ap-southeast-2", None),
    ("user metadata with spaces", "PUT", "http", "bucket/m", "",
     {"x-amz-meta-note": "  a   b  c ", "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="},
     b"hello", "us-east-1", "tok"),
    ("virtual-hosted root", "GET", "https", "", "location=", {}, b"", "us-east-1", None),
]

for name, method, scheme, key, query, headers, body, region, token in CASES:
    host = "127.0.0.1:9000" if scheme == "http" else "bucket.s3.amazonaws.com"
    path = "/" + key
    url = f"{scheme}://{host}{quote(path.encode(), safe='/~')}"
    if query:
        url += "?" + query
    req, creq = botocore_sign(method, url, dict(headers), body or None, region, token)
    got, err = thanosc_sign(method, path, url, req, region)
    want = req.headers["Authorization"]
    detail = ""
    if got != want:
        mine, _ = thanosc_sign(method, path, url, req, region, canonical=True)
        detail = f"want {want}\ngot  {got}\n{err}\nbotocore canonical:\n{creq}\nthanosc canonical:\n{mine}"
    report(got == want, f"sigv4 equals botocore: {name}", detail)

# The published test-suite example get-vanilla (facts: credentials, date,
# region, service and the resulting signature).
out = subprocess.run(
    [THANOSC, "tools", "bucket", "sign", "--service", "service",
     "--header", "Host: example.amazonaws.com", "--header",
     "X-Amz-Date: 20150830T123600Z",
     "--secret-key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"],
    capture_output=True, timeout=30).stdout.decode().strip()
report(out == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
       "service/aws4_request, SignedHeaders=host;x-amz-date, Signature="
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
       "aws test suite: get-vanilla", out)

print(f"1..{passed + failed}")
print(f"{NAME}: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
