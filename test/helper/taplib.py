"""taplib.py - TAP output and paths shared by the Python integration tests
(test/integration/t*.py): import it with
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helper"))
"""
import os
import subprocess

TOP = os.environ.get("THANOSC_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("THANOSC_BUILD") or os.path.join(TOP, "build")
THANOSC = os.environ.get("THANOSC") or os.path.join(BUILD, "thanosc")
TESTTOOL = os.path.join(BUILD, "test", "test-tool")
PROM3 = os.path.join(TOP, ".deps/prom3/usr/bin/prometheus")
PROMTOOL3 = os.path.join(TOP, ".deps/prom3/usr/bin/promtool")
PROMTOOL2 = "/usr/bin/promtool"


class Tap:
    """Counts and prints TAP results; finish() prints the plan and the
    "<name>: N passed, M failed" line and returns the exit code."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def result(self, ok, what, detail=""):
        n = self.passed + self.failed + 1
        if ok:
            self.passed += 1
            print(f"ok {n} - {what}")
        else:
            self.failed += 1
            print(f"not ok {n} - {what}")
            for line in str(detail).splitlines()[:20]:
                print(f"# {line}")

    def finish(self):
        print(f"1..{self.passed + self.failed}")
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def run(cmd, stdin=None, timeout=120):
    """(returncode, stdout, stderr) of cmd."""
    p = subprocess.run(cmd, capture_output=True, text=True, input=stdin,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr
