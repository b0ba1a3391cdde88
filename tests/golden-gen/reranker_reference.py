#!/usr/bin/python3
# Independent reference scores for sinan's cross-encoder reranker (tests/model/reranker_test.cpp).
#
# Reads a bert GGUF file with a classifier head (F32 tensors only; the test's fixture is one) with
# its own minimal GGUF reader, runs the BERT forward pass in numpy for each token-id pair and prints
# the scores as JSON. Written from the formulas (HF's BertForSequenceClassification), sharing no
# code with sinan:
#   x     = LN(tok_embd[id] + token_types[type] + position_embd[pos])
#   layer = x = LN(x + Wo·attn(x) + bo);  x = LN(x + Wdown·gelu(Wup·x + bup) + bdown)
#   score = cls.output · tanh(cls · x[0] + cls.bias) + cls.output.bias    (x[0]: the [CLS] state)
# token type 0 for the first segment ([CLS] query [SEP]), 1 from `segment_b` on (document [SEP])
# when token_types.weight has two rows.
#
# Rounding matched to GGML's CPU numerics (which sinan follows, docs/model.md): GELU is the tanh
# approximation evaluated on the input rounded to F16, its result rounded to F16 (GGML's table);
# attention rounds q, K and V to F16. Everything else is float64. What is not replicated: GGML
# keeps the attention's weighted sum of V in F16; the C++ test's tolerance covers that.
#
# Usage: reranker_reference.py MODEL.gguf < pairs.json
#   pairs.json: {"pairs": [{"tokens": [ids...], "segment_b": n}, ...]}
#   stdout:     {"scores": [[n_out floats] per pair]}
# Exit 77 (the test's skip) when numpy is missing.
import json
import struct
import sys

try:
    import numpy as np
except ImportError:
    print("python3-numpy is not installed (apt-get install python3-numpy)", file=sys.stderr)
    sys.exit(77)

GGUF_MAGIC = b"GGUF"
F32 = 0
SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def unpack(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.unpack("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, t):
        if t in SCALAR_FORMATS:
            return self.unpack(SCALAR_FORMATS[t])
        if t == STRING:
            return self.string()
        if t == ARRAY:
            et = self.unpack("<I")
            n = self.unpack("<Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError("unknown GGUF value type %d" % t)


def read_gguf(path):
    with open(path, "rb") as f:
        data = f.read()
    r = Reader(data)
    if data[:4] != GGUF_MAGIC:
        raise ValueError(path + ": not a GGUF file")
    r.pos = 4
    version = r.unpack("<I")
    if version != 3:
        raise ValueError("%s: GGUF version %d, expected 3" % (path, version))
    n_tensors = r.unpack("<Q")
    n_kv = r.unpack("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.unpack("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.unpack("<I")
        shape = [r.unpack("<Q") for _ in range(n_dims)]
        ttype = r.unpack("<I")
        offset = r.unpack("<Q")
        infos.append((name, shape, ttype, offset))
    alignment = meta.get("general.alignment", 32)
    start = (r.pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, shape, ttype, offset in infos:
        if ttype != F32:
            raise ValueError("%s: tensor %s is not F32; this reference reads F32 files only" % (path, name))
        count = int(np.prod(shape))
        a = np.frombuffer(data, dtype="<f4", count=count, offset=start + offset)
        # GGML order: shape[0] is contiguous, so numpy's shape is reversed ([rows, cols] for a matrix).
        tensors[name] = a.reshape(list(reversed(shape))).astype(np.float64)
    return meta, tensors


def f16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


def gelu_f16(x):
    v = f16(x).astype(np.float32)
    g = 0.5 * v * (1.0 + np.tanh(np.float32(0.79788456080286535588) * v * (1.0 + np.float32(0.044715) * v * v)))
    out = f16(g)
    out = np.where(x <= -10.0, 0.0, out)
    return np.where(x >= 10.0, x, out)


def layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def score(meta, t, tokens, segment_b):
    arch = meta["general.architecture"]
    n_head = meta[arch + ".attention.head_count"]
    n_layer = meta[arch + ".block_count"]
    eps = meta.get(arch + ".attention.layer_norm_epsilon", 1e-12)
    n = len(tokens)
    types = t["token_types.weight"]
    type_ids = [1 if (types.shape[0] > 1 and i >= segment_b) else 0 for i in range(n)]
    x = t["token_embd.weight"][tokens] + types[type_ids] + t["position_embd.weight"][:n]
    x = layer_norm(x, t["token_embd_norm.weight"], t["token_embd_norm.bias"], eps)
    d = x.shape[1]
    hd = d // n_head

    def lin(name, v):
        return v @ t[name + ".weight"].T + t[name + ".bias"]

    for l in range(n_layer):
        p = "blk.%d." % l
        q, k, v = f16(lin(p + "attn_q", x)), f16(lin(p + "attn_k", x)), f16(lin(p + "attn_v", x))
        attn = np.zeros_like(x)
        for h in range(n_head):
            s = slice(h * hd, (h + 1) * hd)
            logits = q[:, s] @ k[:, s].T / np.sqrt(hd)
            w = np.exp(logits - logits.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            attn[:, s] = w @ v[:, s]
        x = layer_norm(x + lin(p + "attn_output", attn), t[p + "attn_output_norm.weight"],
                       t[p + "attn_output_norm.bias"], eps)
        ff = lin(p + "ffn_down", gelu_f16(lin(p + "ffn_up", x)))
        x = layer_norm(x + ff, t[p + "layer_output_norm.weight"], t[p + "layer_output_norm.bias"], eps)
    pooled = np.tanh(t["cls.weight"] @ x[0] + t["cls.bias"])
    if "cls.output.weight" in t:
        pooled = t["cls.output.weight"] @ pooled + t["cls.output.bias"]
    return [float(v) for v in pooled]


def main():
    if len(sys.argv) != 2:
        print("usage: reranker_reference.py MODEL.gguf < pairs.json", file=sys.stderr)
        return 2
    meta, tensors = read_gguf(sys.argv[1])
    pairs = json.load(sys.stdin)["pairs"]
    json.dump({"scores": [score(meta, tensors, p["tokens"], p["segment_b"]) for p in pairs]}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
