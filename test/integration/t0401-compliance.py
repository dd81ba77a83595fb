#!/usr/bin/python3
"""t0401-compliance: the PromQL compliance queries through thanosc store and
thanosc query, compared with Prometheus 3.5's answers.

The compliance data set (test/compliance) goes into a FILESYSTEM bucket as
the blocks promtool wrote (no "thanos" section in meta.json); `thanosc store`
serves the bucket and `thanosc query --endpoint` asks it. Each of the 539
queries is one TAP case. While either role answers "not written yet" (exit
code 2) the test is skipped.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compliance"))
import itest  # noqa: E402  (test/compliance/itest.py)


def run(t, bucket):
    grpc = t.start_store(bucket)
    if grpc:
        t.query_and_check(grpc)


if __name__ == "__main__":
    itest.main("t0401-compliance", ["store", "query"], run, data="bucket")
