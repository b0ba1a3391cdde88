#!/usr/bin/env python3
"""bench/serve/locustfile.py against the real `sinan serve`: a short headless Locust run (Debian's
python3-locust) on POST /api/v1/chat with an API key, as bench/serve/run.sh does at length.

Passes when Locust made requests and none failed (the locustfile fails a request on any status but
200 or a body without `answer` and `usage`; Locust then exits 1), and the server's own /metrics
counted at least as many 200s on the route as Locust's CSV (so the requests were really served,
with the key the locustfile sent).

Run by CTest (api_locust) as `python3 locust_test.py SINAN_BINARY LOCUSTFILE`; exits 77 (CTest's
skip) with a message when `locust` is not installed.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request


def main():
    sinan, locustfile = sys.argv[1], sys.argv[2]
    locust = shutil.which("locust")
    if locust is None:
        print("SKIP: locust not found (Debian python3-locust; scripts/install-deps.sh installs it)")
        return 77
    with tempfile.TemporaryDirectory(prefix="sinan-locust-") as work:
        model = os.path.join(work, "tiny.gguf")
        data = os.path.join(work, "data")
        subprocess.run([sinan, "model", "synth", "--shape", "tiny", "--type", "q8_0", "--seed", "1", "-o", model],
                       check=True, capture_output=True)
        key = subprocess.run([sinan, "keys", "create", "--name", "locust", "--data-dir", data], check=True,
                             capture_output=True, text=True).stdout.strip()
        # Files, not pipes: the server logs a line per request, which would fill a pipe no one reads.
        out, log = os.path.join(work, "serve.out"), os.path.join(work, "serve.log")
        with open(out, "w") as o, open(log, "w") as e:
            server = subprocess.Popen([sinan, "serve", "-m", model, "--host", "127.0.0.1", "--port", "0",
                                       "--data-dir", data, "--parallel", "4"], stdout=o, stderr=e)
        try:
            url = listening_url(server, out)
            if url is None:
                print(f"FAIL: sinan serve printed no listening line; its log:\n{open(log).read()}")
                return 1
            return run_locust(url, locust, locustfile, key, work)
        finally:
            server.terminate()
            server.wait(timeout=60)


def listening_url(server, out):
    """The server's URL from its "listening on" line; None when it exits or prints none in 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        m = re.search(r"listening on (http://\S+)", open(out).read())
        if m:
            return m.group(1)
        time.sleep(0.05)
    return None


def run_locust(url, locust, locustfile, key, work):
    env = dict(os.environ, SINAN_API_KEY=key, SINAN_MAX_TOKENS="8")
    prefix = os.path.join(work, "locust")
    started = time.monotonic()
    run = subprocess.run([locust, "-f", locustfile, "--headless", "-u", "4", "-r", "4", "-t", "4s", "--host", url,
                          "--csv", prefix, "--only-summary"], env=env, capture_output=True, text=True, timeout=300)
    print(f"locust exited {run.returncode} after {time.monotonic() - started:.1f} s")
    # Locust 2.12 writes its CSV once a second and not at exit: the counts may miss the last second.
    # A failure anywhere makes it exit 1.
    rows = {r["Name"]: r for r in csv.DictReader(open(prefix + "_stats.csv"))}
    total = rows["Aggregated"]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    print(f"locust: {requests} requests, {failures} failures, P50 {total['50%']} ms, P99 {total['99%']} ms")
    if failures:
        print(open(prefix + "_failures.csv").read())
    metrics = urllib.request.urlopen(
        urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {key}"})).read().decode()
    served = sum(float(l.split()[-1]) for l in metrics.splitlines()
                 if l.startswith("sinan_http_requests_total{") and 'route="POST /api/v1/chat"' in l and 'code="200"' in l)
    print(f"sinan /metrics: {served:.0f} requests to POST /api/v1/chat answered 200")
    ok = run.returncode == 0 and requests > 0 and failures == 0 and served >= requests
    if not ok:
        print(f"FAIL; locust output:\n{run.stdout}\n{run.stderr}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
