#!/usr/bin/env python3
"""Streaming load on `sinan serve`: aggregate tokens/s and time-to-first-token at several
concurrency levels, with the Python standard library only (one thread per stream).

For each level C, C clients start together and each sends ROUNDS streamed chat completions
(/v1/chat/completions, stream_options.include_usage) one after another. Every prompt is different
(no prefix-cache or response-cache hits) and about --prompt-words words long.

  TTFT       time from sending the request to the first chunk that carries text (content or
             reasoning_content), per request; P50/P99 by nearest rank over all requests of the level.
  gap        time between a stream's successive chunks after its first text (what a reader waits
             for each next token: a step that prefills other prompts holds every stream up); P99
             over all gaps of the level, and the longest.
  tokens/s   completion tokens (from the usage chunks) of all requests / wall time of the level.
  client CPU ms/token: this client's own CPU time over the level / completion tokens: on the
             server's machine it is taken from the server (it parses only what it needs: the
             chunks up to the first text, then the usage chunk).
  server CPU ms/token (with --server-pid, Linux): the server process's CPU time over the level
             (all its threads, from /proc) / completion tokens. Unlike tokens/s it does not
             depend on what else runs on the machine, so on a shared machine the CPU cost per
             token at C streams against one stream says what batching saves.
  engine busy  the server's engine time over the level (its forward passes and sampling, from
             /metrics: sinan_engine_forward_seconds_total + sinan_engine_sampling_seconds_total)
             / wall time: near 100% the engine is the bound, well below it the time goes to
             something else (HTTP, the clients, waits between requests).
  sampling   the sampling part of that engine time.

Prints one table row per level; --json writes the rows as JSON too.
"""
import argparse
import http.client
import json
import math
import os
import statistics
import sys
import threading
import time
import urllib.parse

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches "
         "under bright northern lights near old stone bridges and rivers").split()


def prompt(i, n_words):
    words = [f"Request {i}:"] + [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n_words)]
    return " ".join(words) + ". Summarise this."


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def one_request(url, model, text, max_tokens, seed, headers, temperature=0.7):
    """Sends one streamed chat completion; returns (ttft_s, completion_tokens, prompt_tokens, gaps_s)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
            "temperature": temperature, "seed": seed, "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json", **headers})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft = None
    usage = None
    gaps, last = [], None
    for raw in resp:
        now = time.perf_counter()
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        if ttft is not None and '"usage"' not in data:
            if last is not None:
                gaps.append(now - last)
            last = now
            continue  # after the first text only the usage chunk matters: parse nothing else
        chunk = json.loads(data)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for ch in chunk.get("choices", []):
            d = ch.get("delta", {})
            if ttft is None and (d.get("content") or d.get("reasoning_content")):
                ttft = now - t0
                last = now
    conn.close()
    if usage is None:
        raise RuntimeError("no usage chunk in the stream")
    if ttft is None:  # nothing generated before the end (e.g. an immediate end of sequence)
        ttft = time.perf_counter() - t0
    return ttft, usage["completion_tokens"], usage["prompt_tokens"], gaps


def cpu_seconds(pid):
    """User + system CPU time of process pid (all threads), from /proc/PID/stat; None without."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def engine_seconds(url, headers):
    """The server engine's (forward, sampling) seconds from /metrics, summed over its models; None
    when /metrics cannot be read or has neither (an older server)."""
    u = urllib.parse.urlparse(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("GET", "/metrics", headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    if resp.status != 200:
        return None
    sums = {"forward": None, "sampling": None}
    for line in body.splitlines():
        for k in sums:
            if line.startswith(f"sinan_engine_{k}_seconds_total{{"):
                sums[k] = (sums[k] or 0.0) + float(line.rsplit(" ", 1)[1])
    if sums["forward"] is None or sums["sampling"] is None:
        return None
    return sums["forward"], sums["sampling"]


def run_level(args, streams, level_index, headers):
    ttfts, tokens, prompts, gaps, errors = [], [], [], [], []
    lock = threading.Lock()
    start = threading.Barrier(streams + 1)

    def client(c):
        start.wait()
        for r in range(args.rounds):
            i = (level_index * 1000 + c) * 100 + r
            try:
                t, n, p, g = one_request(args.url, args.model, prompt(i, args.prompt_words), args.max_tokens, i,
                                         headers, args.temperature)
                with lock:
                    gaps.extend(g)
                    ttfts.append(t)
                    tokens.append(n)
                    prompts.append(p)
            except Exception as e:  # noqa: BLE001 - reported below, the level goes on
                with lock:
                    errors.append(str(e))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(streams)]
    for t in threads:
        t.start()
    engine0 = engine_seconds(args.url, headers)
    start.wait()
    t0 = time.perf_counter()
    cpu0 = cpu_seconds(args.server_pid)
    own0 = time.process_time()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(args.server_pid)
    own1 = time.process_time()
    engine1 = engine_seconds(args.url, headers)
    busy = sampled = None
    if engine0 is not None and engine1 is not None:
        forward, sampling = engine1[0] - engine0[0], engine1[1] - engine0[1]
        busy = round(100 * (forward + sampling) / wall, 1)
        sampled = round(100 * sampling / (forward + sampling), 1) if forward + sampling > 0 else None
    if not ttfts:
        raise SystemExit(f"{streams} streams: every request failed: {errors[:3]}")
    return {
        "streams": streams,
        "requests": len(ttfts),
        "errors": len(errors),
        "prompt_tokens_median": statistics.median(prompts),
        "completion_tokens": sum(tokens),
        "wall_s": round(wall, 3),
        "tokens_per_s": round(sum(tokens) / wall, 1),
        "ttft_p50_ms": round(percentile(ttfts, 50) * 1000, 1),
        "ttft_p99_ms": round(percentile(ttfts, 99) * 1000, 1),
        "gap_p99_ms": round(percentile(gaps, 99) * 1000, 1) if gaps else None,
        "gap_max_ms": round(max(gaps) * 1000, 1) if gaps else None,
        "server_cpu_ms_per_token": (round((cpu1 - cpu0) * 1000 / sum(tokens), 3)
                                    if cpu0 is not None and cpu1 is not None and sum(tokens) else None),
        "client_cpu_ms_per_token": round((own1 - own0) * 1000 / sum(tokens), 3) if sum(tokens) else None,
        "engine_busy_percent": busy,
        "sampling_percent": sampled,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    ap.add_argument("--model", required=True, help="model id as /v1/models lists it")
    ap.add_argument("--streams", default="1,4,8,16", help="concurrency levels, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="requests per client per level")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=110, help="about 128 prompt tokens with the chat template")
    ap.add_argument("--temperature", type=float, default=0.7,
                    help="of every request (0: greedy, no top-p pass over the vocabulary: what sampling costs)")
    ap.add_argument("--api-key", default="", help="sent as Authorization: Bearer")
    ap.add_argument("--server-pid", type=int, default=0, help="the server's process id: adds its CPU time per token")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}

    one_request(args.url, args.model, prompt(0, 8), 4, 0, headers)  # warm-up: model loaded, pages touched
    rows = []
    print(f"{'streams':>7} {'requests':>8} {'errors':>6} {'prompt tok':>10} {'tokens':>7} {'wall s':>7} "
          f"{'tokens/s':>9} {'TTFT P50 ms':>11} {'TTFT P99 ms':>11} {'gap P99 ms':>10} {'gap max ms':>10} "
          f"{'server CPU ms/token':>19} "
          f"{'client CPU ms/token':>19} {'engine busy %':>13} {'sampling %':>10}")
    for k, s in enumerate(int(x) for x in args.streams.split(",")):
        r = run_level(args, s, k, headers)
        rows.append(r)
        print(f"{r['streams']:>7} {r['requests']:>8} {r['errors']:>6} {r['prompt_tokens_median']:>10} "
              f"{r['completion_tokens']:>7} {r['wall_s']:>7} {r['tokens_per_s']:>9} {r['ttft_p50_ms']:>11} "
              f"{r['ttft_p99_ms']:>11} {str(r['gap_p99_ms'] or '-'):>10} {str(r['gap_max_ms'] or '-'):>10} "
              f"{str(r['server_cpu_ms_per_token'] or '-'):>19} "
              f"{str(r['client_cpu_ms_per_token'] or '-'):>19} "
              f"{str(r['engine_busy_percent'] if r['engine_busy_percent'] is not None else '-'):>13} "
              f"{str(r['sampling_percent'] if r['sampling_percent'] is not None else '-'):>10}", flush=True)
    if len(rows) > 1:
        base = rows[0]["tokens_per_s"]
        print("scaling of tokens/s vs the first level: " +
              ", ".join(f"{r['streams']}: {r['tokens_per_s'] / base:.2f}x" for r in rows))
        if all(r["server_cpu_ms_per_token"] for r in rows):
            cpu = rows[0]["server_cpu_ms_per_token"]
            print("server CPU per token vs the first level: " +
                  ", ".join(f"{r['streams']}: {cpu / r['server_cpu_ms_per_token']:.2f}x less" for r in rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
