#!/usr/bin/python3
"""End-to-end tests of `lightreasoner eval` and `lightreasoner sft` on a tiny
random checkpoint with a small byte-level tokenizer written here (no fixture).

Checks: per-problem results and summaries; resume after a simulated kill and
after Ctrl-C equal an uninterrupted run, with nothing duplicated; settings
changes refused; datasets faults named; the SFT baseline with no correct
trajectory (kept 0, no adapter, eval skips sft) and with correct ones (ground
truths set to what the model says: LoRA trained, PEFT adapter, resumable);
sft.source = "ground_truth" (the worked solutions; another source refused).

Usage: test_eval_sft.py LIGHTREASONER SCRATCH_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import Cli, check, finish  # noqa: E402

BIN, SCRATCH = sys.argv[1:3]


run = Cli(BIN, timeout=300).run


def lines_of(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def untimed(path):
    out = lines_of(path)
    for r in out:
        r.pop("seconds", None)
    return out


def byte_char(b):
    n = 0
    for x in range(256):
        printable = (33 <= x <= 126) or (161 <= x <= 172) or x >= 174
        cp = x if printable else 256 + n
        if not printable:
            n += 1
        if x == b:
            return chr(cp)


def small_tokenizer():
    """Bytes 0..255, 37 merges, <|im_start|> 293, <|im_end|> 294, <|endoftext|> 295."""
    vocab = {byte_char(b): b for b in range(256)}
    merges = [(a, c) for a in "etaoin" for c in "etaoin"] + [(byte_char(32), "t")]
    for i, (a, b) in enumerate(merges):
        vocab[a + b] = 256 + i
    regex = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
             "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    return {"version": "1.0",
            "added_tokens": [{"id": 293, "content": "<|im_start|>", "special": True},
                             {"id": 294, "content": "<|im_end|>", "special": True},
                             {"id": 295, "content": "<|endoftext|>", "special": True}],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": vocab,
                      "merges": [[a, b] for a, b in merges]}}


shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)
tok = os.path.join(SCRATCH, "tokenizer.json")
with open(tok, "w") as f:
    json.dump(small_tokenizer(), f)
expert = os.path.join(SCRATCH, "expert")
rc, out, err = run(["make-tiny-model", "--out", expert, "--layers", "2", "--hidden", "32", "--heads", "4",
                    "--kv-heads", "2", "--vocab-from", tok, "--seed", "1"])
check("make-tiny-model", rc == 0, err[-300:])
mine = os.path.join(SCRATCH, "mine.jsonl")
with open(mine, "w") as f:
    for i in range(5):
        f.write(json.dumps({"q": "What is %d + %d?" % (i, i), "a": 2 * i}) + "\n")

run_dir = os.path.join(SCRATCH, "run")
config = os.path.join(SCRATCH, "c.toml")
with open(config, "w") as f:
    f.write('[run]\nout_dir = "%s"\ndevice = "cpu"\ndtype = "float32"\n'
            '[models]\nexpert = "%s"\namateur = "%s"\n'
            '[eval]\ndatasets = ["gsm8k", "mmlu_stem", {name = "mine", file = "%s", question_field = "q", '
            'answer_field = "a"}]\nlimit = 6\nmax_new_tokens = 16\nbatch_size = 4\n'
            '[sft]\nnum_problems = 8\nmax_new_tokens = 16\nbatch_size = 2\ngrad_accum = 1\nepochs = 2\n'
            % (run_dir, expert, expert, mine))

# --- help -----------------------------------------------------------------------
for verb in ["eval", "sft"]:
    rc, out, err = run([verb, "--help"])
    check("help " + verb, rc == 0 and "--config" in out and verb in out, out[:200])

# --- eval: results and summary -----------------------------------------------------
rc, out, err = run(["eval", "--config", config])
base = os.path.join(run_dir, "eval", "base")
check("eval prints the base summary's path", rc == 0 and out.strip() == os.path.join(base, "summary.json"),
      "rc=%d out=%r err=%s" % (rc, out, err[-400:]))
check("eval says why tuned and sft are skipped",
      "tuned: skipped" in err and "run `lightreasoner train` first" in err and "sft: skipped" in err, err[-400:])
check("eval shows progress with a rate", "eval base/gsm8k:" in err and "problems/s" in err, err[-400:])
summary = json.load(open(os.path.join(base, "summary.json"))) if rc == 0 else {}
ok = True
detail = ""
for name, n in [("gsm8k", 6), ("mmlu_stem", 6), ("mine", 5)]:
    path = os.path.join(base, name + ".jsonl")
    lines = lines_of(path) if os.path.exists(path) else []
    s = summary.get("datasets", {}).get(name, {})
    keys_ok = all(list(l)[:6] == ["id", "question", "gold", "output", "pred", "correct"] for l in lines)
    good = (len(lines) == n and [l["id"] for l in lines] == list(range(n)) and keys_ok and s.get("n") == n and
            s.get("total") == n and s.get("correct") == sum(l["correct"] for l in lines) and
            abs(s.get("accuracy", -1) - s.get("correct", 0) / n) < 1e-12 and s.get("seconds", -1) >= 0)
    if not good:
        ok = False
        detail += "%s: %d lines, summary %s; " % (name, len(lines), s)
check("eval writes one graded line per problem and a matching summary", ok and summary.get("complete") is True,
      detail)
mmlu = lines_of(os.path.join(base, "mmlu_stem.jsonl"))
check("mmlu_stem: choices in the question, letter gold",
      "Answer Choices: (A)" in mmlu[0]["question"] and mmlu[0]["gold"] in "ABCD", str(mmlu[0])[:300])
mine_lines = lines_of(os.path.join(base, "mine.jsonl"))
check("a configured JSONL: its fields read", mine_lines[3]["question"] == "What is 3 + 3?" and
      mine_lines[3]["gold"] == "6", str(mine_lines[3])[:300])

# --- resume after a kill mid-write ---------------------------------------------------
gsm = os.path.join(base, "gsm8k.jsonl")
reference = untimed(gsm)
text = open(gsm, "rb").read()
cut = [i for i, c in enumerate(text) if c == ord("\n")][1] + 1  # two complete lines...
with open(gsm, "wb") as f:
    f.write(text[:cut + 30])                                   # ...and a torn third
rc, out, err = run(["eval", "--config", config, "--model", "base"])
check("eval after a kill resumes to the same results, nothing duplicated",
      rc == 0 and untimed(gsm) == reference and "2 from an earlier run" in err, err[-400:])
rc, out, err = run(["eval", "--config", config, "--model", "base"])
check("eval again: nothing redone", rc == 0 and untimed(gsm) == reference and "6 from an earlier run" in err,
      err[-300:])

# --- Ctrl-C, then resume, equals an uninterrupted run --------------------------------
many = ["--set", "eval.limit=40", "--set", "eval.batch_size=2", "--set", 'eval.datasets=["gsm8k"]']
rc, out, err = run(["eval", "--config", config, "--set", "run.out_dir=" + os.path.join(SCRATCH, "whole"),
                    "--model", "base"] + many)
whole = untimed(os.path.join(SCRATCH, "whole", "eval", "base", "gsm8k.jsonl"))
check("eval of 40 problems", rc == 0 and len(whole) == 40, err[-300:])
cut_dir = os.path.join(SCRATCH, "ctrlc")
cut_file = os.path.join(cut_dir, "eval", "base", "gsm8k.jsonl")
p = subprocess.Popen([BIN, "eval", "--config", config, "--set", "run.out_dir=" + cut_dir, "--model", "base"] + many,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
deadline = time.time() + 60
while time.time() < deadline and p.poll() is None:
    if os.path.exists(cut_file) and os.path.getsize(cut_file) > 0:
        break
    time.sleep(0.01)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=120)
err = err.decode()
n_cut = len(lines_of(cut_file))
check("Ctrl-C stops eval cleanly (exit 1, 'interrupted', only whole lines)",
      p.returncode == 1 and "interrupted" in err and "resume" in err and 0 < n_cut < 40 and
      untimed(cut_file) == whole[:n_cut], "rc=%s lines=%d err=%s" % (p.returncode, n_cut, err[-400:]))
cut_summary = json.load(open(os.path.join(cut_dir, "eval", "base", "summary.json")))
check("an interrupted eval's summary says it is incomplete", cut_summary["complete"] is False, str(cut_summary))
rc, out, err = run(["eval", "--config", config, "--set", "run.out_dir=" + cut_dir, "--model", "base"] + many)
check("eval after Ctrl-C resumes to the uninterrupted run's results",
      rc == 0 and untimed(cut_file) == whole, "rc=%d err=%s" % (rc, err[-300:]))

# --- errors ---------------------------------------------------------------------------
def one_line_error(name, args, must_contain):
    rc, out, err = run(args)
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("eval: ")]
    ok = rc == 1 and len(lines) == 1 and all(s in lines[0] for s in must_contain)
    check(name, ok, "rc=%d err=%r" % (rc, err[-400:]))


one_line_error("eval --model tuned without an adapter names the folder", ["eval", "--config", config, "--model", "tuned"],
               [os.path.join(run_dir, "adapter"), "lightreasoner train"])
one_line_error("eval with other settings on the same results is refused",
               ["eval", "--config", config, "--model", "base", "--set", "eval.max_new_tokens=20"],
               ["settings.json", "max_new_tokens", "then 16, now 20"])
with open(mine, "a") as f:
    f.write('{"q": "broken", "a": 1\n')
one_line_error("a bad dataset line is named with its file and line", ["eval", "--config", config, "--set", "eval.limit=0"],
               ["mine.jsonl:6:", "not valid JSON"])
one_line_error("an unknown [eval] key is named", ["eval", "--config", config, "--set", "eval.bogus=1"], ["eval.bogus"])
rc, out, err = run(["eval", "--config", config, "--model", "nope"])
check("eval --model checks its value", rc == 2, err[-200:])

# --- sft: no correct trajectory --------------------------------------------------------
rc, out, err = run(["sft", "--config", config])
sft_dir = os.path.join(run_dir, "sft")
s = json.load(open(os.path.join(sft_dir, "summary.json"))) if rc == 0 else {}
traj = lines_of(os.path.join(sft_dir, "trajectories.jsonl")) if rc == 0 else []
check("sft rolls out every problem with its ids", rc == 0 and len(traj) == 8 and
      all("prompt_ids" in t and "output_ids" in t for t in traj), "rc=%d err=%s" % (rc, err[-400:]))
if s.get("kept") == 0:
    check("sft with no correct trajectory finishes: kept 0, no adapter",
          s.get("complete") is True and s.get("adapter") is None and s.get("problems") == 8 and
          not os.path.exists(os.path.join(sft_dir, "adapter")) and "no SFT adapter" in err, str(s) + err[-300:])
    rc, out, err = run(["eval", "--config", config, "--model", "sft"])
    check("eval skips the sft model with a clear message",
          rc == 0 and "sft: skipped, the SFT baseline kept no correct trajectory" in err, err[-300:])
else:
    check("sft kept some trajectories (the tiny model got one right)", s.get("adapter") is not None, str(s))

# --- sft: correct trajectories (ground truths rigged to the model's answers) -----------------
rigged = os.path.join(SCRATCH, "rigged.jsonl")
n_rigged = 0
with open(rigged, "w") as f:
    for t in traj:
        answer = t["pred"] if t["pred"] else "#### 987654321"
        n_rigged += bool(t["pred"])
        f.write(json.dumps({"question": t["question"], "answer": answer}) + "\n")
run2 = os.path.join(SCRATCH, "run2")
rigged_args = ["--set", "run.out_dir=" + run2, "--set", "data.train_file=" + rigged]
rc, out, err = run(["sft", "--config", config] + rigged_args)
sft2 = os.path.join(run2, "sft")
adapter = os.path.join(sft2, "adapter")
s2 = json.load(open(os.path.join(sft2, "summary.json"))) if rc == 0 else {}
metrics = lines_of(os.path.join(sft2, "train_metrics.jsonl")) if rc == 0 and s2.get("kept") else []
ok = (rc == 0 and out.strip() == adapter and n_rigged > 0 and s2.get("kept") == n_rigged and
      s2.get("tuned_tokens", 0) > 0 and s2.get("updates") == -(-2 * n_rigged // 2) and
      [m["update"] for m in metrics] == list(range(1, s2.get("updates", 0) + 1)) and
      os.path.exists(os.path.join(adapter, "adapter_model.safetensors")))
check("sft with correct trajectories: LoRA trained on them, PEFT adapter, metrics per update", ok,
      "rc=%d out=%r rigged=%d summary=%s err=%s" % (rc, out, n_rigged, s2, err[-400:]))
if ok:
    acfg = json.load(open(os.path.join(adapter, "adapter_config.json")))
    with open(os.path.join(adapter, "adapter_model.safetensors"), "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    keys = sorted(k for k in header if k != "__metadata__")
    want = sorted("base_model.model.model.layers.%d.self_attn.%s.lora_%s.weight" % (i, m, ab)
                  for i in range(2) for m in ("q_proj", "v_proj") for ab in "AB")
    check("SFT adapter: PEFT config and keys ([lora] settings)",
          acfg.get("peft_type") == "LORA" and acfg.get("r") == 8 and keys == want, "%s %s" % (acfg, keys))
    check("sft summary: problems, kept, tuned tokens, seconds",
          s2["problems"] == 8 and s2["trajectories"] == 8 and s2["seconds"] >= s2["train_seconds"] > 0, str(s2))
    adapter_bytes = open(os.path.join(adapter, "adapter_model.safetensors"), "rb").read()
    reference_traj = untimed(os.path.join(sft2, "trajectories.jsonl"))
    rc, out, err = run(["sft", "--config", config] + rigged_args)
    check("sft again: nothing redone", rc == 0 and len(lines_of(os.path.join(sft2, "train_metrics.jsonl"))) ==
          s2["updates"] and open(os.path.join(adapter, "adapter_model.safetensors"), "rb").read() == adapter_bytes,
          err[-300:])
    # A kill during the rollouts: torn trajectories, no training yet.
    tpath = os.path.join(sft2, "trajectories.jsonl")
    text = open(tpath, "rb").read()
    for sub in ["adapter", "train"]:
        shutil.rmtree(os.path.join(sft2, sub))
    for name in ["summary.json", "train_metrics.jsonl"]:
        os.remove(os.path.join(sft2, name))
    cut = [i for i, c in enumerate(text) if c == ord("\n")][2] + 1
    with open(tpath, "wb") as f:
        f.write(text[:cut + 40])
    rc, out, err = run(["sft", "--config", config] + rigged_args)
    check("sft after a kill resumes: same trajectories, same adapter",
          rc == 0 and untimed(tpath) == reference_traj and
          open(os.path.join(adapter, "adapter_model.safetensors"), "rb").read() == adapter_bytes,
          "rc=%d err=%s" % (rc, err[-300:]))
    rc, out, err = run(["eval", "--config", config, "--model", "sft", "--set", "eval.limit=3"] + rigged_args[:2])
    ssum = os.path.join(run2, "eval", "sft", "summary.json")
    check("eval evaluates the SFT model", rc == 0 and out.strip() == ssum and
          json.load(open(ssum))["datasets"]["gsm8k"]["n"] == 3, "rc=%d out=%r err=%s" % (rc, out, err[-300:]))
    one_line_error("sft with other settings is refused",
                   ["sft", "--config", config, "--set", "sft.max_new_tokens=20"] + rigged_args,
                   ["settings.json", "max_new_tokens"])

# --- sft.source = "ground_truth": the worked solutions, no rollouts ----------------------------
run3 = os.path.join(SCRATCH, "run3")
gt_args = ["--set", "run.out_dir=" + run3, "--set", "data.train_file=" + rigged, "--set", "sft.source=ground_truth"]
rc, out, err = run(["sft", "--config", config] + gt_args)
sft3 = os.path.join(run3, "sft")
s3 = json.load(open(os.path.join(sft3, "summary.json"))) if rc == 0 else {}
with open(rigged) as f:
    answers = [json.loads(l)["answer"] for l in f]
rc_t, ids_out, _ = run(["tokenize", "--tokenizer", tok], "".join(json.dumps(a) + "\n" for a in answers))
answer_tokens = sum(len(json.loads(l)) + 1 for l in ids_out.splitlines())  # + the stop id
check("sft from the worked solutions: every problem, answer tokens + stop tuned, no rollouts",
      rc == 0 and rc_t == 0 and s3.get("source") == "ground_truth" and s3.get("kept") == 8 and
      s3.get("tuned_tokens") == answer_tokens and os.path.exists(os.path.join(sft3, "adapter", "adapter_config.json"))
      and not os.path.exists(os.path.join(sft3, "trajectories.jsonl")),
      "rc=%d summary=%s tokens=%d err=%s" % (rc, s3, answer_tokens, err[-400:]))
one_line_error("sft resumed with another source is refused, naming it",
               ["sft", "--config", config] + gt_args[:4], ["settings.json", "source"])

finish()
