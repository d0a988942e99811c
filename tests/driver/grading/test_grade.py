#!/usr/bin/python3
"""End-to-end test of `lightreasoner grade`: JSONL lines through the real binary.

Usage: test_grade.py LIGHTREASONER
Prints one line per check and a closing 'N passed, N failed' line.
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import Cli, check, finish  # noqa: E402

BIN = sys.argv[1]
cli = Cli(BIN, timeout=60)
run, one_line_error = cli.run, cli.one_line_error


rc, out, err = run(["grade", "--help"])
check("grade --help", rc == 0 and "grade" in out and "--kind" in out and "pred" in out, "rc=%d %r" % (rc, out[:300]))

lines = [
    ({"output": "So she makes $\\boxed{18}$ dollars.", "gold": "18"}, {"pred": "18", "correct": True}),
    ({"output": "The answer is 1,234.", "gold": "#### 1,234"}, {"pred": "1234", "correct": True}),
    ({"output": "\\boxed{\\frac{1}{2}}", "gold": "0.5"}, {"pred": "\\frac{1}{2}", "correct": True}),
    ({"output": "I get 25% of it", "gold": "0.25"}, {"pred": "25", "correct": True}),
    ({"output": "\\boxed{-3}", "gold": "3"}, {"pred": "-3", "correct": False}),
    ({"output": "No idea.", "gold": "7"}, {"pred": "", "correct": False}),
    ({"output": "The answer is (B).", "gold": "B"}, {"pred": "B", "correct": True}),
    ({"output": "\\boxed{C}", "gold": "2", "kind": "choice"}, {"pred": "C", "correct": True}),
    ({"output": "It is 145", "gold": 145.0}, {"pred": "145", "correct": True}),
    ({"output": "\u00e9t\u00e9: \\boxed{x^{2}}", "gold": "x^2", "kind": "math"}, {"pred": "x^{2}", "correct": True}),
]
stdin = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i, _ in lines)
rc, out, err = run(["grade"], stdin)
got = [json.loads(l) for l in out.splitlines()]
check("grade exit 0 and one line per input", rc == 0 and len(got) == len(lines), "rc=%d out=%r err=%r" % (rc, out, err))
for n, ((inp, want), g) in enumerate(zip(lines, got), 1):
    check("grade line %d %s" % (n, json.dumps(inp)[:60]), g == want, "got %r want %r" % (g, want))
check("grade output keys are exactly pred, correct",
      all(list(g.keys()) == ["pred", "correct"] for g in got), out[:300])

rc, out, err = run(["grade", "--kind", "choice"], json.dumps({"output": "Answer: d", "gold": "D"}) + "\n")
check("grade --kind choice", rc == 0 and json.loads(out) == {"pred": "D", "correct": True}, "rc=%d %r %r" % (rc, out, err))
rc, out, err = run(["grade"], "")
check("grade empty stdin prints nothing", rc == 0 and out == "", "rc=%d %r %r" % (rc, out, err))

good = json.dumps({"output": "\\boxed{1}", "gold": "1"}) + "\n"
msg = one_line_error("grade line not JSON", ["grade"], good + "not json\n" + good, code=1)
check("not-JSON message names line 2", "line 2" in msg, msg)
msg = one_line_error("grade missing gold", ["grade"], good + good + json.dumps({"output": "x"}) + "\n", code=1)
check("missing gold message names line 3 and gold", "line 3" in msg and "gold" in msg, msg)
msg = one_line_error("grade output not a string", ["grade"], json.dumps({"output": 5, "gold": "5"}) + "\n", code=1)
check("bad output message names line 1", "line 1" in msg and "output" in msg, msg)
msg = one_line_error("grade bad kind", ["grade"], good + json.dumps({"output": "a", "gold": "1", "kind": "x"}) + "\n",
                     code=1)
check("bad kind message names line 2", "line 2" in msg and "kind" in msg, msg)
msg = one_line_error("grade empty gold", ["grade"], good + json.dumps({"output": "a", "gold": ""}) + "\n", code=1)
check("empty gold message names line 2", "line 2" in msg, msg)
msg = one_line_error("grade array line", ["grade"], "[1,2]\n", code=1)
check("array line message names line 1", "line 1" in msg, msg)
one_line_error("grade bad --kind", ["grade", "--kind", "bogus"], good, code=2)

finish()
