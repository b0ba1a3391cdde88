#!/usr/bin/env python3
"""Writes bm25_golden.json: BM25 scores and top-3 rankings for a tiny corpus, computed here with
plain Python (stdlib only) as an implementation independent of src/knowledge/bm25_index.cpp.

Formula (Lucene's BM25Similarity times (k1 + 1), as Robertson's Okapi BM25 writes it):
  idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
  score    = sum over query term occurrences of idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
Run: python3 tests/knowledge/gen_bm25_golden.py > tests/knowledge/bm25_golden.json
"""
import json
import math
from collections import Counter

CORPUS = [
    "the quick brown fox jumps over the lazy dog".split(),
    "a quick brown dog".split(),
    "lazy lazy lazy cat sleeps".split(),
    "fox news reports on a fox and a dog and another fox".split(),
    "cats and dogs living together".split(),
    "brown".split(),
]
QUERIES = [
    "quick fox".split(),
    "lazy dog".split(),
    "fox fox".split(),          # a repeated query term counts twice
    "brown cat unknownword".split(),
    "zebra".split(),            # matches nothing
]
PARAMS = [(0.9, 0.4), (1.2, 0.75), (1.5, 0.0), (0.0, 1.0)]


def scores(k1, b, query):
    n = len(CORPUS)
    avgdl = sum(len(d) for d in CORPUS) / n
    df = Counter(t for d in CORPUS for t in set(d))
    out = []
    for d in CORPUS:
        tf = Counter(d)
        s = 0.0
        for t in query:
            if tf[t] == 0:
                continue
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            s += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avgdl))
        out.append(s)
    return out


cases = []
for k1, b in PARAMS:
    for q in QUERIES:
        s = scores(k1, b, q)
        ranked = sorted((i for i in range(len(s)) if s[i] > 0), key=lambda i: (-s[i], i))[:3]
        cases.append({"k1": k1, "b": b, "query": q, "scores": s, "top3": ranked})
print(json.dumps({"corpus": CORPUS, "cases": cases}, indent=1))
