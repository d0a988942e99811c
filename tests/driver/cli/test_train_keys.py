#!/usr/bin/python3
"""End-to-end tests of the three [train] keys that shape stage 2 beyond the
optimiser, through the real `lightreasoner` program on configs/tiny.toml:

  train.schedule = "constant"  every update's learning rate is train.lr
                               ("linear", the default, decays it);
  train.max_seq_len            prefixes longer than it are cut from the left,
                               counted in RUN/train/complete.json, and part of
                               the inputs a checkpoint is resumed from;
  train.export_merged = true   RUN/merged/ is a Hugging Face checkpoint with the
                               base's tensor names and shapes, the adapted
                               modules changed and the others copied, that the
                               driver loads and generates from.

Usage: test_train_keys.py LIGHTREASONER TINY_TOML SCRATCH_DIR
Prints one line per check and a closing 'N passed, N failed' line.
"""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402
from run_folders import run_with_supervision as run_folder_with_supervision, safetensors_table  # noqa: E402

BIN, CONFIG, SCRATCH = sys.argv[1:4]
LR = 5e-5  # tiny.toml's train.lr


def lr(verb, out_dir, *sets):
    args = [BIN, verb, "--config", CONFIG, "--set", "run.out_dir=" + json.dumps(out_dir)]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def metrics_lrs(run):
    with open(os.path.join(run, "train_metrics.jsonl")) as f:
        return [json.loads(line)["lr"] for line in f if line.strip()]


def run_with_supervision(name, source):
    return run_folder_with_supervision(SCRATCH, name, source)


def check_linear_default(base):
    done = read_json(os.path.join(base, "train", "complete.json"))
    lrs = metrics_lrs(base)
    check("linear (default): the learning rate decays", len(lrs) > 2 and lrs[-1] < lrs[0], lrs)
    check("complete.json counts the prefixes cut to max_seq_len",
          isinstance(done.get("cut_to_max_seq_len"), int) and done["train"]["max_seq_len"] == 256, done)
    check("no merged checkpoint unless asked", not os.path.exists(os.path.join(base, "merged")))


def check_keys_run(base):
    run = run_with_supervision("keys", base)
    sets = ['train.schedule="constant"', "train.max_seq_len=16", "train.export_merged=true", "train.updates=6",
            "train.checkpoint_every=0"]
    rc, out, err = lr("train", run, *sets)
    if not check("train with the three keys set", rc == 0, err):
        return
    lrs = metrics_lrs(run)
    check("constant: every update at train.lr", len(lrs) == 6 and all(abs(x - LR) <= 1e-12 for x in lrs), lrs)
    done = read_json(os.path.join(run, "train", "complete.json"))
    check("max_seq_len 16: every prefix (prompt included) is cut, and counted",
          done.get("cut_to_max_seq_len") == done.get("records") and done["records"] > 0, done)
    check("the final line says how many were cut", "cut to train.max_seq_len = 16" in err, err[-500:])
    check_merged(run, base)
    rc, _, err = lr("train", run, *(sets[:1] + ["train.max_seq_len=32"] + sets[2:]))
    check("another max_seq_len is another input: the finished checkpoint is not reused",
          rc != 0 and "other inputs" in err and "max_seq_len" in err, err)


def check_merged(run, base):
    merged = os.path.join(run, "merged")
    files = ("config.json", "model.safetensors", "tokenizer.json")
    if not check("export_merged writes a Hugging Face folder", all(os.path.exists(os.path.join(merged, f))
                                                                  for f in files), os.listdir(run)):
        return
    ours = safetensors_table(os.path.join(merged, "model.safetensors"))
    theirs = safetensors_table(os.path.join(base, "models", "tiny-expert", "model.safetensors"))
    check("merged: the base's tensor names, dtypes and shapes",
          {k: v[:2] for k, v in ours.items()} == {k: v[:2] for k, v in theirs.items()})
    changed = sorted(k for k in ours if ours[k][2] != theirs[k][2])
    check("merged: exactly the adapted modules (q_proj, v_proj weights) changed",
          changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
          and any("q_proj" in k for k in changed) and any("v_proj" in k for k in changed), changed)
    p = subprocess.run([BIN, "generate", "--model", merged, "--max-new-tokens", "4", "--ids"],
                       input=b'"Question: 2 + 3 = ?\\nAnswer:"\n', capture_output=True, timeout=300)
    check("the driver loads the merged checkpoint and generates from it",
          p.returncode == 0 and len(p.stdout.decode().strip().splitlines()) == 1, p.stderr.decode()[-500:])


def check_packed_cut(base):
    run = run_with_supervision("packed", base)
    rc, _, err = lr("train", run, "train.packed=true", "train.max_seq_len=16", "train.updates=2",
                    "train.checkpoint_every=0")
    done = read_json(os.path.join(run, "train", "complete.json")) if rc == 0 else {}
    check("packed form: the same positions are cut and counted",
          rc == 0 and done.get("cut_to_max_seq_len") == done.get("records"), err[-500:])


def main():
    os.makedirs(SCRATCH, exist_ok=True)
    base = os.path.join(SCRATCH, "base")
    shutil.rmtree(base, ignore_errors=True)
    rc, _, err = lr("run", base, "eval.limit=2", "eval.max_new_tokens=4")
    if check("the tiny run (sample and train with the defaults)", rc == 0, err[-2000:]):
        check_linear_default(base)
        check_keys_run(base)
        check_packed_cut(base)
    rc, _, err = lr("train", os.path.join(SCRATCH, "typo"), 'train.schedule="cosine"')
    check("an unknown schedule is a config error naming the key",
          rc != 0 and "train.schedule" in err and len(err.strip().splitlines()) == 1, err)
    finish()


main()
