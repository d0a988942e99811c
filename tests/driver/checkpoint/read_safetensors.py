#!/usr/bin/env python3
"""An independent safetensors reader (struct + json + numpy) that checks the
files our C++ writer produces.

  read_safetensors.py FILE...        print each tensor's dtype, shape and sum
  read_safetensors.py --run BINARY   run BINARY --gtest_filter=PythonFixture.Write
                                     (lr_checkpoint_tests) into a temporary folder,
                                     then compare every file it wrote, tensor by
                                     tensor, with the C++ view (expected.json), and
                                     the tiny models with the Qwen2 parameter names
                                     their config.json implies.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
         "I8": 1, "U8": 1, "BOOL": 1}


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys {keys}"
    return dict(pairs)


def read(path, ours=True):
    """{name: numpy array}, metadata. Checks the format's invariants."""
    with open(path, "rb") as f:
        raw = f.read()
    assert len(raw) >= 8, path
    (n,) = struct.unpack("<Q", raw[:8])
    assert n <= len(raw) - 8, f"{path}: header length {n}"
    if ours:
        assert (8 + n) % 8 == 0, f"{path}: header not padded to 8 bytes"
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{"), path
    header = json.loads(text, object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values()), path
    data = raw[8 + n:]
    spans = []
    out = {}
    for name, e in header.items():
        dt, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        count = math.prod(shape)
        assert end - b == count * SIZES[dt], f"{path}: {name} byte length"
        spans.append((b, end, name))
        buf = data[b:end]
        if dt == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=NUMPY[dt])
        out[name] = (dt, arr.reshape(shape))
    pos = 0
    for b, end, name in sorted(spans):
        assert b == pos, f"{path}: {name} does not start where the previous tensor ended"
        pos = end
    assert pos == len(data), f"{path}: data section not covered exactly"
    if ours:
        nonempty = [nm for b, e, nm in sorted(spans) if e > b]
        assert nonempty == sorted(nonempty), f"{path}: tensors not in name order"
    return out, metadata


def qwen2_names(config):
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv = config.get("num_key_value_heads", heads)
    hd = config.get("head_dim", h // heads)
    m = config["intermediate_size"]
    v = config["vocab_size"]
    names = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h]}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        names.update({
            p + "input_layernorm.weight": [h],
            p + "post_attention_layernorm.weight": [h],
            p + "self_attn.q_proj.weight": [heads * hd, h],
            p + "self_attn.q_proj.bias": [heads * hd],
            p + "self_attn.k_proj.weight": [kv * hd, h],
            p + "self_attn.k_proj.bias": [kv * hd],
            p + "self_attn.v_proj.weight": [kv * hd, h],
            p + "self_attn.v_proj.bias": [kv * hd],
            p + "self_attn.o_proj.weight": [h, heads * hd],
            p + "mlp.gate_proj.weight": [m, h],
            p + "mlp.up_proj.weight": [m, h],
            p + "mlp.down_proj.weight": [h, m],
        })
    if not config.get("tie_word_embeddings", False):
        names["lm_head.weight"] = [v, h]
    return names


def check_model_dir(d):
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["model_type"] == "qwen2", d
    assert config["hidden_act"] == "silu" and config["use_sliding_window"] is False, d
    index = os.path.join(d, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        for shard in sorted(set(weight_map.values())):
            part, meta = read(os.path.join(d, shard))
            assert meta.get("format") == "pt", shard
            for name in part:
                assert weight_map.get(name) == shard, f"{d}: {name} not mapped to {shard}"
                assert name not in tensors, f"{d}: {name} in two shards"
            tensors.update(part)
        assert set(weight_map) == set(tensors), d
    else:
        tensors, meta = read(os.path.join(d, "model.safetensors"))
        assert meta.get("format") == "pt", d
    want = qwen2_names(config)
    assert set(tensors) == set(want), f"{d}: names differ: {sorted(set(tensors) ^ set(want))}"
    dtype = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}[config["torch_dtype"]]
    for name, shape in want.items():
        dt, arr = tensors[name]
        assert list(arr.shape) == shape, f"{d}: {name} shape {arr.shape} != {shape}"
        assert dt == dtype, f"{d}: {name} dtype {dt}"
    print(f"ok {d}: {len(want)} tensors with Qwen2 names and shapes")


def compare(dir_, expected):
    for rel, want in expected.items():
        got, meta = read(os.path.join(dir_, rel))
        assert meta == want["metadata"], f"{rel}: metadata {meta} != {want['metadata']}"
        assert set(got) == set(want["tensors"]), f"{rel}: names"
        for name, w in want["tensors"].items():
            dt, arr = got[name]
            assert dt == w["dtype"], f"{rel}: {name}: dtype"
            assert list(arr.shape) == w["shape"], f"{rel}: {name}: shape"
            flat = arr.astype(np.float64).ravel()
            first = [float(x) for x in flat[:4]]
            assert first == w["first"], f"{rel}: {name}: first values {first} != {w['first']}"
            tol = 1e-9 * max(1.0, w["abs_sum"])
            assert abs(float(flat.sum()) - w["sum"]) <= tol, f"{rel}: {name}: sum {flat.sum()} != {w['sum']}"
            assert abs(float(np.abs(flat).sum()) - w["abs_sum"]) <= tol, f"{rel}: {name}: abs sum"
        print(f"ok {rel}: {len(got)} tensors match the C++ reader")


def main(argv):
    if len(argv) >= 2 and argv[0] == "--run":
        with tempfile.TemporaryDirectory(prefix="lr_ckpt_py_") as d:
            env = dict(os.environ, LR_CKPT_FIXTURE_DIR=d)
            subprocess.run([argv[1], "--gtest_filter=PythonFixture.Write"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(d, "expected.json")) as f:
                expected = json.load(f)
            compare(d, expected)
            check_model_dir(os.path.join(d, "tiny_f32"))
            check_model_dir(os.path.join(d, "tiny_bf16_tied"))
        return 0
    for path in argv:
        tensors, meta = read(path, ours=False)
        print(f"{path}: metadata {meta}")
        for name, (dt, arr) in sorted(tensors.items()):
            print(f"  {name} {dt} {list(arr.shape)} sum {arr.astype(np.float64).sum():.9g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
