#!/usr/bin/python3
"""Runs the PromQL compliance queries through thanosc's engine over the
compliance data set loaded in memory (`thanosc tools promql eval`), and
compares the answers with the Prometheus 3.5 references using the harness
in test/compliance (compliance.py, gen-data.py, run.sh).

    test/promql/compliance-mem.py --harness DIR --workdir DIR [--instant]
        [--only REGEX] [--thanosc BIN]

The work directory is the harness's (run.sh --reference-only --workdir
DIR makes ref-3.5*.jsonl there); the data set's text form is regenerated
into it as data.om when missing.
"""
import argparse
import os
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--harness", required=True, help="directory of compliance.py")
ap.add_argument("--workdir", required=True)
ap.add_argument("--instant", action="store_true")
ap.add_argument("--only")
ap.add_argument("--thanosc", default=os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "thanosc"))
a = ap.parse_args()

sys.path.insert(0, a.harness)
import compliance as C  # noqa: E402

om = os.path.join(a.workdir, "data.om")
if not os.path.exists(om):
    subprocess.check_call(["/usr/bin/python3", os.path.join(a.harness, "gen-data.py"), om])
cases = C.expand_cases(instant=a.instant)
lines = []
for q, _, at in cases:
    if at is None:
        lines.append("%d\t%d\t%d\t%s" % (C.WINDOW_START, C.WINDOW_END, C.STEP, q))
    else:
        lines.append("%s\t%s\t0\t%s" % (C._fmt_time(at), C._fmt_time(at), q))
p = subprocess.run([a.thanosc, "tools", "promql", "eval", "--load=" + om],
                   input="\n".join(lines) + "\n", stdout=subprocess.PIPE,
                   universal_newlines=True, check=True)
bodies = p.stdout.splitlines()
if len(bodies) != len(cases):
    sys.exit("compliance-mem: %d answers for %d queries" % (len(bodies), len(cases)))
answers = [C._answer(q, f, at, body) for (q, f, at), body in zip(cases, bodies)]
got = os.path.join(a.workdir, "got-mem%s.jsonl" % ("-instant" if a.instant else ""))
C.save(got, answers)
ref = os.path.join(a.workdir, "ref-3.5%s.jsonl" % ("-instant" if a.instant else ""))
argv = ["/usr/bin/python3", os.path.join(a.harness, "compliance.py"), "check",
        "--ref", ref, "--got", got]
if a.instant:
    argv.append("--instant")
if a.only:
    argv += ["--only", a.only]
sys.exit(subprocess.call(argv))
