#!/usr/bin/python3
"""End-to-end tests of `lightreasoner make-task` and `lightreasoner pretrain`.

  1. make-task with the default seed writes configs/miniature/*.jsonl byte for
     byte (the committed splits are what the verb makes), and the three splits
     are pairwise disjoint by question;
  2. pretrain (configs/miniature.toml with a tiny budget) writes complete
     Hugging Face folders for the expert, the amateur and expert-general;
  3. pretrain killed (SIGKILL) once a trainer checkpoint exists, then run
     again, ends with model files byte-equal to the uninterrupted run's;
  4. a second pretrain skips (the files are untouched); other settings are
     refused with one line naming the folder.

Usage: test_pretrain_cli.py LIGHTREASONER CONFIGS_DIR SCRATCH_DIR
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
from cli_checks import check, finish  # noqa: E402

BIN, CONFIGS, SCRATCH = sys.argv[1:4]
CONFIG = os.path.join(CONFIGS, "miniature.toml")
TINY = ["pretrain.vocab=300", "pretrain.expert_layers=1", "pretrain.expert_hidden=16", "pretrain.amateur_layers=1",
        "pretrain.amateur_hidden=8", "pretrain.heads=2", "pretrain.kv_heads=1", "pretrain.general_steps=24",
        "pretrain.chain_steps=16", "pretrain.batch_size=4", "pretrain.seq_len=96", "pretrain.warmup_steps=2",
        "pretrain.checkpoint_every=2"]
MODELS = ["expert", "amateur", "expert-general"]
FILES = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


def args_for(out_dir, *sets):
    args = [BIN, "pretrain", "--config", CONFIG, "--set", "run.out_dir=" + json.dumps(out_dir)]
    for s in TINY + list(sets):
        args += ["--set", s]
    return args


def pretrain(out_dir, *sets):
    p = subprocess.run(args_for(out_dir, *sets), capture_output=True, timeout=300)
    return p.returncode, p.stderr.decode()


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def questions(path):
    return [json.loads(line)["question"] for line in read(path, "r").splitlines()]


shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)

# 1. make-task
task = os.path.join(SCRATCH, "task")
p = subprocess.run([BIN, "make-task", "--out", task], capture_output=True, timeout=120)
check("make-task exits 0", p.returncode == 0, p.stderr.decode())
for name in ["train.jsonl", "val.jsonl", "test.jsonl"]:
    check("make-task's %s equals the committed configs/miniature/%s" % (name, name),
          read(os.path.join(task, name)) == read(os.path.join(CONFIGS, "miniature", name)))
splits = {n: questions(os.path.join(task, n + ".jsonl")) for n in ["train", "val", "test"]}
check("split sizes 2000 / 300 / 500", [len(splits[n]) for n in ["train", "val", "test"]] == [2000, 300, 500])
check("splits pairwise disjoint", len(set().union(*splits.values())) == 2800)
first = json.loads(read(os.path.join(task, "val.jsonl"), "r").splitlines()[0])
check("answers end with '#### N'", first["answer"].splitlines()[-1].startswith("#### "), first["answer"])

# 2. an uninterrupted pretrain
straight = os.path.join(SCRATCH, "straight")
code, err = pretrain(straight)
check("pretrain exits 0", code == 0, err[-2000:])
models = os.path.join(straight, "models")
for m in MODELS:
    missing = [f for f in FILES if not os.path.exists(os.path.join(models, m, f))]
    check("%s: a complete Hugging Face folder" % m, not missing, "missing %s" % missing)
gen = json.loads(read(os.path.join(models, "expert", "generation_config.json"), "r"))
tok = json.loads(read(os.path.join(models, "expert", "tokenizer.json"), "r"))
endoftext = [t["id"] for t in tok["added_tokens"] if t["content"] == "<|endoftext|>"]
check("generation_config's eos ids include <|endoftext|>", endoftext and endoftext[0] in gen["eos_token_id"], gen)
check("progress lines show the loss", "pretrain expert:" in err and "loss " in err, err[-1000:])

# 3. killed once a checkpoint exists, then resumed
killed = os.path.join(SCRATCH, "killed")
proc = subprocess.Popen(args_for(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 120
ckpt = os.path.join(killed, "models", ".pretrain", "expert", "checkpoint.safetensors")
while time.time() < deadline and proc.poll() is None and not os.path.exists(ckpt):
    time.sleep(0.02)
proc.send_signal(signal.SIGKILL)
proc.wait()
check("the kill came while the expert trained", not os.path.exists(os.path.join(killed, "models", "expert")))
code, err = pretrain(killed)
check("pretrain after the kill exits 0", code == 0, err[-2000:])
check("it resumed from the checkpoint", "resuming after update" in err, err[-1000:])
for m in MODELS:
    same = read(os.path.join(killed, "models", m, "model.safetensors")) == \
        read(os.path.join(models, m, "model.safetensors"))
    check("%s after kill and resume: weights byte-equal to the uninterrupted run's" % m, same)

# 4. a rerun skips; other settings are refused
stamp = os.path.getmtime(os.path.join(models, "expert", "model.safetensors"))
code, err = pretrain(straight)
check("a second pretrain exits 0", code == 0, err[-1000:])
check("...without training", "pretrain expert:" not in err and
      os.path.getmtime(os.path.join(models, "expert", "model.safetensors")) == stamp, err[-1000:])
code, err = pretrain(straight, "pretrain.chain_steps=20")
lines = err.strip().splitlines()
check("other settings are refused (exit 1)", code == 1, err[-1000:])
check("...in one line naming the folder", len(lines) >= 1 and "expert" in lines[-1] and "other settings" in lines[-1],
      lines[-1:] if lines else err)
sys.exit(finish())
