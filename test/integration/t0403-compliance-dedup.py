#!/usr/bin/python3
"""t0403-compliance-dedup: the PromQL compliance queries through thanosc
store and thanosc query with deduplication, compared with Prometheus 3.5's
answers.

The bucket holds every block of the data set twice, as two Prometheus
replicas would have uploaded it: external labels cluster="c1" and
replica="0" or "1", new ULIDs. The querier runs with
--query.replica-label=replica, so each series comes out once, without the
replica label; cluster="c1" is dropped before comparing. Skipped while
thanosc store or thanosc query answer "not written yet".
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compliance"))
import itest  # noqa: E402  (test/compliance/itest.py)


def run(t, bucket):
    grpc = t.start_store(bucket)
    if grpc:
        t.query_and_check(grpc, drop_labels=["cluster"],
                          flags=["--query.replica-label=replica"])


if __name__ == "__main__":
    itest.main("t0403-compliance-dedup", ["store", "query"], run, data="bucket",
               make_data_args=["--replicas", "2", "--replica-label", "replica",
                               "--external-label", "cluster=c1"])
