#!/usr/bin/python3
"""An independent Qwen2 reference, written from the model's equations.

Used by lr_model_tests to check the LibTorch model. It imports neither
transformers nor any of our code: it parses safetensors itself, and computes
everything in float64, one sequence at a time, without padding (a padded row is
reduced to its real tokens, which then sit at positions 0, 1, 2, ...).

  x_0 = E[ids]
  per layer l:
    h   = rmsnorm(x, g_in)                  rmsnorm(x, g) = g * x / sqrt(mean(x^2) + eps)
    q_i = W_q h_i + b_q,  k_i = W_k h_i + b_k,  v_i = W_v h_i + b_v   (per head, head dim D)
    rotary at position p, pair (j, j + D/2), angle p * theta^(-2j/D):
        (a, b) -> (a cos - b sin, b cos + a sin)
    head n reads kv head n // (heads / kv_heads);
    a_n,i = sum_{j <= i} softmax_j(q_n,i . k_j / sqrt(D)) v_j
    x  += W_o concat_n(a_n)
    h   = rmsnorm(x, g_post)
    x  += W_down (silu(W_gate h) * (W_up h))
  logits = W_lm rmsnorm(x, g_final)       W_lm = E when lm_head.weight is absent or tied

Usage: qwen2_reference.py REQUEST.json OUT_DIR
REQUEST: {"checkpoint": DIR,
          "logits": {"input_ids": [[..]], "attention_mask": [[..]], "positions": [[..]]},   (optional)
          "greedy": {"prompts": [[..]], "max_new_tokens": N, "stop_ids": [..]}}              (optional)
Writes OUT_DIR/logits.f64 (raw little-endian float64, [B, P, V] row-major) and
OUT_DIR/result.json {"logits_shape": [B, P, V], "greedy": [[generated ids]]}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
          "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start: base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(np.float64).reshape(info["shape"]))
    return out


def read_checkpoint(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        w = {}
        for fn in files:
            w.update(read_safetensors(os.path.join(d, fn)))
        return w
    return read_safetensors(os.path.join(d, "model.safetensors"))


class Qwen2Reference:
    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            c = json.load(f)
        self.w = read_checkpoint(d)
        self.H = c["hidden_size"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.D = c.get("head_dim") or self.H // self.heads
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        tied = c.get("tie_word_embeddings", False) or "lm_head.weight" not in self.w
        self.lm = self.w["model.embed_tokens.weight"] if tied else self.w["lm_head.weight"]

    def rmsnorm(self, x, g):
        return g * x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps)

    def rotate(self, x):
        # x [T, heads, D] at positions 0..T-1
        T, _, D = x.shape
        half = D // 2
        inv = torch.tensor([self.theta ** (-2.0 * float(i) / D) for i in range(half)], dtype=torch.float64)
        angle = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]   # [T, half]
        cos, sin = torch.cos(angle)[:, None, :], torch.sin(angle)[:, None, :]
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def final_hidden(self, ids):
        """ids: list of ints (one unpadded sequence) -> [T, H] final-norm hidden states."""
        w = self.w
        T = len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        group = self.heads // self.kv_heads
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        for l in range(self.layers):
            p = "model.layers.%d." % l
            h = self.rmsnorm(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]).view(T, self.heads, self.D)
            k = (h @ w[p + "self_attn.k_proj.weight"].T + w[p + "self_attn.k_proj.bias"]).view(T, self.kv_heads, self.D)
            v = (h @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]).view(T, self.kv_heads, self.D)
            q, k = self.rotate(q), self.rotate(k)
            heads = []
            for n in range(self.heads):
                kv = n // group
                s = (q[:, n, :] @ k[:, kv, :].T) / math.sqrt(self.D)       # [T, T]
                s = s.masked_fill(~causal, float("-inf"))
                a = torch.softmax(s, dim=-1) @ v[:, kv, :]                 # [T, D]
                heads.append(a)
            x = x + torch.cat(heads, dim=-1) @ w[p + "self_attn.o_proj.weight"].T
            h = self.rmsnorm(x, w[p + "post_attention_layernorm.weight"])
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        return self.rmsnorm(x, w["model.norm.weight"])

    def logits(self, ids):
        return self.final_hidden(ids) @ self.lm.T   # [T, V]

    def greedy(self, prompt, max_new, stop_ids):
        seq, out = list(prompt), []
        for _ in range(max_new):
            tok = int(torch.argmax(self.logits(seq)[-1]))
            out.append(tok)
            seq.append(tok)
            if tok in stop_ids:
                break
        return out


def main():
    req_path, out_dir = sys.argv[1], sys.argv[2]
    with open(req_path) as f:
        req = json.load(f)
    torch.set_grad_enabled(False)
    model = Qwen2Reference(req["checkpoint"])
    result = {}
    if "logits" in req:
        r = req["logits"]
        ids, mask, positions = r["input_ids"], r.get("attention_mask"), r["positions"]
        rows = []
        for b, row in enumerate(ids):
            m = mask[b] if mask is not None else [1] * len(row)
            real = [j for j, keep in enumerate(m) if keep]          # padded index of each real token
            where = {j: i for i, j in enumerate(real)}
            z = model.logits([row[j] for j in real])                  # [n, V]
            for p in positions[b]:
                if p not in where:
                    raise SystemExit("position %d of row %d is padding" % (p, b))
            rows.append(torch.stack([z[where[p]] for p in positions[b]]))
        logits = torch.stack(rows).numpy().astype("<f8")
        logits.tofile(os.path.join(out_dir, "logits.f64"))
        result["logits_shape"] = list(logits.shape)
    if "greedy" in req:
        g = req["greedy"]
        stops = set(g.get("stop_ids", []))
        result["greedy"] = [model.greedy(p, g["max_new_tokens"], stops) for p in g["prompts"]]
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
