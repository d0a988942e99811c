#!/usr/bin/python3
"""End-to-end tests of the `lightreasoner` program's first verbs.

Each check runs the real binary as a user would and compares what it prints
with an independent source: the JS tokenizer's ids (the npm package's own
implementation) and the Python Qwen2 reference written from the equations.

Usage: test_cli.py LIGHTREASONER TOKENIZER_DIR REFERENCE_JSONL QWEN2_REFERENCE_PY SCRATCH_DIR
Prints one line per check and a closing 'N passed, N failed' line.
"""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import Cli, check, finish  # noqa: E402

BIN, TOK_DIR, REFERENCE, QWEN2_REF, SCRATCH = sys.argv[1:6]
TOKENIZER_JSON = os.path.join(TOK_DIR, "tokenizer.json")
cli = Cli(BIN, timeout=600)
run, one_line_error = cli.run, cli.one_line_error


# --- help and usage errors -------------------------------------------------
for verb in ["", "tokenize", "generate", "make-tiny-model"]:
    rc, out, err = run(([verb] if verb else []) + ["--help"])
    check("help %s" % (verb or "(top)"), rc == 0 and "--help" in out and (verb in out), "rc=%d %r" % (rc, out[:200]))
one_line_error("no verb", [], code=2)
one_line_error("unknown verb", ["frobnicate"], code=2)
one_line_error("tokenize unknown flag", ["tokenize", "--tokenizer", TOKENIZER_JSON, "--bogus"], code=2)
one_line_error("tokenize missing --tokenizer", ["tokenize"], code=2)
one_line_error("tokenize missing file", ["tokenize", "--tokenizer", os.path.join(SCRATCH, "absent.json")], code=2)
bad_json = os.path.join(SCRATCH, "bad_tokenizer.json")
with open(bad_json, "w") as f:
    f.write("{ not json")
msg = one_line_error("tokenize malformed tokenizer.json", ["tokenize", "--tokenizer", bad_json], "\"x\"\n", code=1)
check("malformed tokenizer.json message names the file", "bad_tokenizer.json" in msg, msg)
msg = one_line_error("tokenize stdin line not JSON", ["tokenize", "--tokenizer", TOKENIZER_JSON],
                     "\"fine\"\nnot json\n", code=1)
check("bad stdin line message names line 2", "line 2" in msg, msg)
msg = one_line_error("tokenize stdin line not a string", ["tokenize", "--tokenizer", TOKENIZER_JSON],
                     "[1, 2]\n", code=1)
one_line_error("generate greedy with temperature", ["generate", "--model", SCRATCH, "--greedy", "--temperature", "0.5"],
               code=2)
one_line_error("make-tiny-model kv-heads not dividing", ["make-tiny-model", "--out", os.path.join(SCRATCH, "x"),
                                                         "--heads", "4", "--kv-heads", "3"], code=2)

# --- tokenize against the JS implementation ----------------------------------
with open(REFERENCE, encoding="utf-8") as f:
    reference = [json.loads(l) for l in f if l.strip()]
sample = reference[:300] + reference[-60:]  # GSM8K lines and the adversarial set at the end
stdin = "".join(json.dumps(r["text"], ensure_ascii=False) + "\n" for r in sample)
rc, out, err = run(["tokenize", "--tokenizer", TOKENIZER_JSON], stdin)
got = [json.loads(l) for l in out.splitlines()]
mismatch = [i for i, (r, g) in enumerate(zip(sample, got)) if r["ids"] != g]
check("tokenize == JS ids on %d lines" % len(sample), rc == 0 and len(got) == len(sample) and not mismatch,
      "rc=%d lines=%d first mismatch=%s" % (rc, len(got), mismatch[:1] and (sample[mismatch[0]], got[mismatch[0]])))

# --- make-tiny-model, then generate against the Python reference -------------
model = os.path.join(SCRATCH, "tiny-qwen2")
shutil.rmtree(model, ignore_errors=True)
rc, out, err = run(["make-tiny-model", "--out", model, "--layers", "2", "--hidden", "64", "--heads", "4",
                    "--kv-heads", "2", "--vocab-from", TOKENIZER_JSON, "--seed", "7"])
files = sorted(os.listdir(model)) if os.path.isdir(model) else []
check("make-tiny-model writes a checkpoint", rc == 0 and {"config.json", "model.safetensors", "tokenizer.json"} <= set(files),
      "rc=%d files=%s err=%s" % (rc, files, err[-300:]))

prompts = ["Question: Tom has 3 apples and buys 5 more. How many apples?\nAnswer:",
           "<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n<|im_start|>assistant\n",
           "2 + 2 ="]
stdin = "".join(json.dumps(p) + "\n" for p in prompts)
rc, out, err = run(["tokenize", "--tokenizer", os.path.join(model, "tokenizer.json")], stdin)
prompt_ids = [json.loads(l) for l in out.splitlines()]
new_tokens = 12
rc, out, err = run(["generate", "--model", model, "--ids", "--greedy", "--max-new-tokens", str(new_tokens)], stdin)
ours = [json.loads(l) for l in out.splitlines()]
check("generate --ids prints one array per prompt", rc == 0 and len(ours) == len(prompts), "rc=%d err=%s" % (rc, err[-400:]))
check("generate reports progress on stderr", "generate:" in err and "prompts" in err, err[-300:])

with open(os.path.join(model, "config.json")) as f:
    config = json.load(f)
eos = config.get("eos_token_id")
gen_config = os.path.join(model, "generation_config.json")
if os.path.exists(gen_config):
    with open(gen_config) as f:
        eos = json.load(f).get("eos_token_id", eos)
stop_ids = eos if isinstance(eos, list) else ([eos] if eos is not None else [])
request = os.path.join(SCRATCH, "greedy_request.json")
ref_out = os.path.join(SCRATCH, "greedy_reference")
os.makedirs(ref_out, exist_ok=True)
with open(request, "w") as f:
    json.dump({"checkpoint": model, "greedy": {"prompts": prompt_ids, "max_new_tokens": new_tokens,
                                               "stop_ids": stop_ids}}, f)
p = subprocess.run(["/usr/bin/python3", QWEN2_REF, request, ref_out], capture_output=True, timeout=1200)
with open(os.path.join(ref_out, "result.json")) as f:
    expected = json.load(f)["greedy"]
check("generate --greedy == Python reference, token for token", ours == expected,
      "ours=%s reference=%s" % (ours, expected))

rc, out, err = run(["generate", "--model", model, "--max-new-tokens", "6"], stdin)
texts = [json.loads(l) for l in out.splitlines()]
check("generate prints one JSON string per prompt", rc == 0 and len(texts) == 3 and all(isinstance(t, str) for t in texts),
      "rc=%d out=%r" % (rc, out[:300]))
runs = [run(["generate", "--model", model, "--ids", "--temperature", "0.8", "--top-p", "0.9", "--seed", "3",
             "--max-new-tokens", "8"], stdin)[1] for _ in range(2)]
check("sampling with a seed is reproducible", runs[0] == runs[1] and runs[0] != "", "%r vs %r" % tuple(runs))

# --- sample: stage 1 from a TOML config, resumable -----------------------------
amateur = os.path.join(SCRATCH, "tiny-amateur")
shutil.rmtree(amateur, ignore_errors=True)
rc, out, err = run(["make-tiny-model", "--out", amateur, "--layers", "1", "--hidden", "32", "--heads", "2",
                    "--kv-heads", "1", "--vocab-from", TOKENIZER_JSON, "--seed", "8"])
check("make-tiny-model writes the amateur", rc == 0, err[-300:])
run_dir = os.path.join(SCRATCH, "sample-run")
shutil.rmtree(run_dir, ignore_errors=True)
config = os.path.join(SCRATCH, "sample.toml")
with open(config, "w") as f:
    f.write('[run]\nout_dir = "%s"\ndevice = "cpu"\ndtype = "float32"\n'
            '[models]\nexpert = "%s"\namateur = "%s"\n'
            '[data]\nnum_problems = 5\n'
            '[sample]\nmax_new_tokens = 8\nbatch_size = 2\nkl_threshold = 0.0\n' % (run_dir, model, amateur))
supervision = os.path.join(run_dir, "supervision.jsonl")
rc, out, err = run(["sample", "--config", config])
lines = open(supervision).read().splitlines() if os.path.exists(supervision) else []
done = [json.loads(l)["done"] for l in lines if '"done"' in l]
records = [json.loads(l) for l in lines[1:] if '"done"' not in l]
check("sample writes a record per kept step and a done marker per problem",
      rc == 0 and out.strip() == supervision and done == [0, 1, 2, 3, 4] and len(records) > 0,
      "rc=%d out=%r done=%s records=%d err=%s" % (rc, out, done, len(records), err[-300:]))
check("sample records hold the exact rollout ids and sorted targets",
      all(r["position"] < len(r["rollout"]) - 1 and len(r["target_ids"]) == len(r["target_weights"]) and
          abs(sum(r["target_weights"]) - 1) < 1e-5 for r in records), str(records[:1])[:300])
before = open(supervision, "rb").read()
rc, out, err = run(["sample", "--config", config])
check("sample again: nothing redone, file unchanged", rc == 0 and open(supervision, "rb").read() == before and
      "5 were already done" in err, err[-300:])
with open(supervision, "wb") as f:  # a kill in the middle of the last problem's records
    body = before.rstrip(b"\n")
    cut = body.rindex(b"\n")                 # drop the last problem's done marker...
    f.write(body[: cut - 5])                  # ...and the end of the line before it
rc, out, err = run(["sample", "--config", config])
check("sample after a simulated kill resumes to the same file", rc == 0 and open(supervision, "rb").read() == before,
      err[-300:])
# --- train: LoRA on the supervision file, PEFT export, resume ------------------
with open(config, "a") as f:
    f.write('[train]\nupdates = 4\nbatch_size = 4\ngrad_accum = 1\ncheckpoint_every = 2\nlr = 1e-3\n')
rc, out, err = run(["train", "--config", config])
adapter = os.path.join(run_dir, "adapter")
metrics = os.path.join(run_dir, "train_metrics.jsonl")
ok = rc == 0 and out.strip() == adapter and os.path.exists(os.path.join(adapter, "adapter_model.safetensors"))
check("train exports a PEFT adapter", ok, "rc=%d out=%r err=%s" % (rc, out, err[-300:]))
if ok:
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        acfg = json.load(f)
    with open(os.path.join(adapter, "adapter_model.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    keys = sorted(k for k in header if k != "__metadata__")
    want = sorted("base_model.model.model.layers.%d.self_attn.%s.lora_%s.weight" % (i, m, ab)
                  for i in range(2) for m in ("q_proj", "v_proj") for ab in "AB")
    shapes_ok = all(header[k]["shape"][0 if k.endswith("lora_A.weight") else 1] == 8 for k in keys)
    check("PEFT adapter: config fields, key names and rank-8 shapes",
          acfg.get("peft_type") == "LORA" and acfg.get("r") == 8 and acfg.get("lora_alpha") == 16 and
          sorted(acfg.get("target_modules", [])) == ["q_proj", "v_proj"] and keys == want and shapes_ok,
          "config=%s keys=%s" % ({k: acfg.get(k) for k in ("peft_type", "r", "lora_alpha", "target_modules")}, keys))
    lines = open(metrics).read().splitlines()
    check("train logs one metrics line per update", [json.loads(l)["update"] for l in lines] == [1, 2, 3, 4], str(lines))
    rc, out, err = run(["train", "--config", config])
    check("train again resumes at the end: no new updates", rc == 0 and "resuming after update 4" in err and
          len(open(metrics).read().splitlines()) == 4, err[-300:])
msg = one_line_error("sample --set of an unknown key", ["sample", "--config", config, "--set", "sample.bogus=1"], code=1)
check("unknown config key named", "sample.bogus" in msg, msg)

finish()
