#!/usr/bin/python3
"""`lightreasoner --version`: the library, LibTorch and the BLAS the program
runs on, and the warning when that BLAS is the slow reference one.

Usage: test_version.py LIGHTREASONER
Prints one line per check and a closing 'N passed, N failed' line.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402

BIN = sys.argv[1]
REFERENCE_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/blas"  # Debian's libblas3 (the netlib reference BLAS)
WARNING = "the reference BLAS is loaded"


def version(env=None):
    p = subprocess.run([BIN, "--version"], capture_output=True, timeout=120, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


rc, out, err = version()
blas = [l for l in out.splitlines() if l.startswith("BLAS: ")]
check("--version exits 0", rc == 0, err[-500:])
check("--version names the library and LibTorch",
      "liblightreasoner" in out and "ABI" in out and "LibTorch " in out, out)
check("--version prints one BLAS line with the thread count", len(blas) == 1 and "threads: LibTorch " in blas[0], out)
if blas and "OpenBLAS" in blas[0]:
    check("with OpenBLAS, no warning", WARNING not in out + err, out)

if os.path.isdir(REFERENCE_BLAS_DIR):
    rc, out, err = version(dict(os.environ, LD_LIBRARY_PATH=REFERENCE_BLAS_DIR))
    check("with the reference BLAS: --version exits 0 and names it",
          rc == 0 and "BLAS: reference BLAS (netlib)" in out, out + err[-500:])
    check("with the reference BLAS: a one-line warning that says what to install",
          any(WARNING in l and "9x slower" in l and "apt-get install libopenblas0-openmp" in l
              for l in out.splitlines()), out)
else:
    print("skipped: the reference-BLAS case (%s is absent)" % REFERENCE_BLAS_DIR)
finish()
