"""`pip install --no-build-isolation --no-deps` of the package works offline, and it imports.

Exits 77 (ctest: skipped) when the interpreter has no pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from _support import PACKAGE_ROOT


def have_pip() -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0


class InstallTest(unittest.TestCase):
    def test_pip_install_offline(self):
        with tempfile.TemporaryDirectory() as tmp:
            # Build from a copy so that setuptools' build/ and *.egg-info stay out of the source tree.
            src = os.path.join(tmp, "src")
            shutil.copytree(PACKAGE_ROOT, src,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
            site = os.path.join(tmp, "site")
            env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
            env.pop("PYTHONPATH", None)
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                                "--no-index", "--target", site, src], capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(site, "lightreasoner", "py.typed")))
            code = ("import lightreasoner as lr, numpy as np; "
                    "assert lr.__file__.startswith(%r), lr.__file__; "
                    "kl, keep = lr.select_steps(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)); "
                    "print(lr.__version__, tuple(lr.abi_version()), kl.tolist())" % site)
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=dict(env, PYTHONPATH=site), cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"\(1, \d+\) \[0\.0, 0\.0\]")  # ABI major 1, any minor


if __name__ == "__main__":
    if not have_pip():
        print(f"SKIP: {sys.executable} has no pip (`{sys.executable} -m pip --version` fails)")
        sys.exit(77)
    unittest.main(verbosity=2)
