"""Locust load on sinan's native route, POST /api/v1/chat (the design brief's route).

Each simulated user asks a different question (no response-cache hits) with a short history,
back to back. Headless run (what bench/serve/run.sh does):

  locust -f bench/serve/locustfile.py --headless -u 8 -r 8 -t 30s --host http://127.0.0.1:8080

Environment: SINAN_API_KEY (sent as a Bearer token when set), SINAN_MAX_TOKENS (default 32).
"""
import itertools
import os

from locust import HttpUser, constant, task

_counter = itertools.count()


class ChatUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        key = os.environ.get("SINAN_API_KEY", "")
        if key:
            self.client.headers["Authorization"] = f"Bearer {key}"
        self.max_tokens = int(os.environ.get("SINAN_MAX_TOKENS", "32"))

    @task
    def chat(self):
        i = next(_counter)
        body = {
            "query": f"Question {i}: what should I plant in a small garden in spring?",
            "history": [
                {"role": "user", "content": "Hello."},
                {"role": "assistant", "content": "Hello! How can I help?"},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0.7,
            "seed": i,
        }
        with self.client.post("/api/v1/chat", json=body, name="/api/v1/chat", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                return
            out = r.json()
            if not isinstance(out.get("answer"), str) or "usage" not in out:
                r.failure(f"unexpected body: {r.text[:200]}")
