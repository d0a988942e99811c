"""Shared helpers of the binding tests: the fixture, tolerances, a double-precision KL."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if PACKAGE_ROOT not in sys.path:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, PACKAGE_ROOT)

FIXTURE_PATH = os.environ.get(
    "LR_BINDING_FIXTURE",
    os.path.join(PACKAGE_ROOT, "..", "..", "tests", "fixtures", "binding_fixture.json"),
)


def fixture() -> Dict[str, Any]:
    """tests/fixtures/binding_fixture.json: inputs and brute-force expected outputs."""
    with open(FIXTURE_PATH, encoding="utf-8") as f:
        return json.load(f)


def ref_kl(expert: Any, amateur: Any, temperature: float = 1.0, shared_vocab: int = 0) -> Any:
    """KL(p_E || p_A) per row in float64, over the first shared_vocab ids (0 = min width)."""
    import numpy as np

    e = np.asarray(expert, dtype=np.float64)
    a = np.asarray(amateur, dtype=np.float64)
    s = shared_vocab or min(e.shape[1], a.shape[1])
    e, a = e[:, :s] / temperature, a[:, :s] / temperature
    le = e - e.max(axis=1, keepdims=True)
    le -= np.log(np.exp(le).sum(axis=1, keepdims=True))
    la = a - a.max(axis=1, keepdims=True)
    la -= np.log(np.exp(la).sum(axis=1, keepdims=True))
    return (np.exp(le) * (le - la)).sum(axis=1)
