"""What the driver's end-to-end Python tests share: one printed line per
check, the real binary run as a user would, and the closing count.

A test puts this folder on sys.path, calls check() for each assertion and
finish() at the end (exit status 1 when any check failed).
"""
import subprocess
import sys

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok     " if ok else "FAILED ") + name + ("" if ok else ": " + str(detail)[:2000]), flush=True)
    return ok


def finish():
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    sys.exit(1 if results["failed"] else 0)


class Cli:
    """The `lightreasoner` binary under test, with a time limit per run."""

    def __init__(self, binary, timeout):
        self.binary = binary
        self.timeout = timeout

    def run(self, args, stdin=""):
        p = subprocess.run([self.binary] + args, input=stdin.encode("utf-8"), capture_output=True,
                           timeout=self.timeout)
        return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")

    def one_line_error(self, name, args, stdin="", code=None):
        """A failing run (exit `code` if given) that prints nothing and one line of error; that line."""
        rc, out, err = self.run(args, stdin)
        lines = [l for l in err.splitlines() if l.strip()]
        ok = rc != 0 and (code is None or rc == code) and len(lines) == 1 and out == ""
        check(name, ok, "rc=%d stdout=%r stderr=%r" % (rc, out[:200], err[:400]))
        return lines[0] if lines else ""
