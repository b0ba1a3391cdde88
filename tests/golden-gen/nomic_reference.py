#!/usr/bin/python3
# Independent reference embeddings for sinan's nomic-bert encoder (tests/model/nomic_bert_test.cpp).
#
# Reads a nomic-bert GGUF file (F32 tensors only; the test's fixture is one) with the GGUF reader
# of reranker_reference.py, runs the forward pass in numpy for each token sequence and prints the
# mean-pooled vectors as JSON. Written from the formulas (Nomic's NomicBertModel as llama.cpp's
# converter lays it out), sharing no code with sinan:
#   x     = LN(tok_embd[id] + token_types[0])                           (no learned positions)
#   q,k,v = rows [0, d), [d, 2d), [2d, 3d) of attn_qkv · x;  q, k rotated (RoPE, below)
#   layer = x = LN(x + Wo·attn(q, k, v));  x = LN(x + Wdown·(silu(Wgate·x) * Wup·x))
#   out   = mean of x over the sequence
# RoPE is GPT-NeoX's (rotate_half): in each head of size hd, value i pairs with value i + hd/2,
# turned by pos * base^(-2i/hd), pos = 0.. within the sequence, base = nomic-bert.rope.freq_base.
#
# Rounding matched to GGML's CPU numerics (which sinan follows, docs/model.md): attention rounds
# q, K and V to F16 (after RoPE). Everything else is float64; GGML's F16 weighted sum of V is not
# replicated (the C++ test's tolerance covers it).
#
# Usage: nomic_reference.py MODEL.gguf < sequences.json
#   sequences.json: {"sequences": [[ids...], ...]}
#   stdout:         {"embeddings": [[n_embd floats] per sequence]}
# Exit 77 (the test's skip) when numpy is missing.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    from reranker_reference import f16, layer_norm, read_gguf
except ImportError:
    print("python3-numpy is not installed (apt-get install python3-numpy)", file=sys.stderr)
    sys.exit(77)


def rope_neox(x, base):
    # x: [n, hd] for one head; positions 0..n-1.
    n, hd = x.shape
    half = hd // 2
    theta = np.arange(n)[:, None] * base ** (-2.0 * np.arange(half)[None, :] / hd)
    cos, sin = np.cos(theta), np.sin(theta)
    a, b = x[:, :half], x[:, half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=1)


def silu(x):
    return x / (1.0 + np.exp(-x))


def embed(meta, t, tokens):
    arch = meta["general.architecture"]
    if arch != "nomic-bert":
        raise ValueError("architecture %s is not nomic-bert" % arch)
    n_head = meta[arch + ".attention.head_count"]
    n_layer = meta[arch + ".block_count"]
    eps = meta.get(arch + ".attention.layer_norm_epsilon", 1e-12)
    base = meta.get(arch + ".rope.freq_base", 10000.0)
    x = t["token_embd.weight"][tokens] + t["token_types.weight"][0]
    x = layer_norm(x, t["token_embd_norm.weight"], t["token_embd_norm.bias"], eps)
    d = x.shape[1]
    hd = d // n_head
    for l in range(n_layer):
        p = "blk.%d." % l
        qkv = x @ t[p + "attn_qkv.weight"].T
        q, k, v = qkv[:, :d], qkv[:, d:2 * d], f16(qkv[:, 2 * d:])
        attn = np.zeros_like(x)
        for h in range(n_head):
            s = slice(h * hd, (h + 1) * hd)
            qh, kh = f16(rope_neox(q[:, s], base)), f16(rope_neox(k[:, s], base))
            logits = qh @ kh.T / np.sqrt(hd)
            w = np.exp(logits - logits.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            attn[:, s] = w @ v[:, s]
        x = layer_norm(x + attn @ t[p + "attn_output.weight"].T, t[p + "attn_output_norm.weight"],
                       t[p + "attn_output_norm.bias"], eps)
        ff = (silu(x @ t[p + "ffn_gate.weight"].T) * (x @ t[p + "ffn_up.weight"].T)) @ t[p + "ffn_down.weight"].T
        x = layer_norm(x + ff, t[p + "layer_output_norm.weight"], t[p + "layer_output_norm.bias"], eps)
    return [float(v) for v in x.mean(axis=0)]


def main():
    if len(sys.argv) != 2:
        print("usage: nomic_reference.py MODEL.gguf < sequences.json", file=sys.stderr)
        return 2
    meta, tensors = read_gguf(sys.argv[1])
    sequences = json.load(sys.stdin)["sequences"]
    json.dump({"embeddings": [embed(meta, tensors, s) for s in sequences]}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
