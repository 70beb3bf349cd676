#!/usr/bin/python3
"""Uploads EVENTS synthetic workload events as NDJSON bodies of BATCH rows, CONCURRENCY uploads at a time, and prints
the events per second the gateway stored (each upload is answered only after its rows are committed).

Usage: bench_ingest.py BASE_URL TOKEN EVENTS BATCH CONCURRENCY
"""
import concurrent.futures
import json
import random
import sys
import time
import urllib.request

base, token = sys.argv[1], sys.argv[2]
events, batch, concurrency = (int(value) for value in sys.argv[3:6])
models = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("gemini-2.0-flash", "google")]
features = ["chat", "summarize", "classify", "extract"]
random.seed(7)
start_time = int(time.time()) - 14 * 86_400


def body(count, offset):
    lines = []
    for index in range(count):
        model, provider = random.choice(models)
        lines.append(json.dumps({
            "timestamp": start_time + (offset + index) % (14 * 86_400), "model": model, "provider": provider,
            "input_tokens": random.randint(50, 4000), "output_tokens": random.randint(5, 800), "latency_ms": random.uniform(200, 9000),
            "status": "ok", "feature": random.choice(features), "prompt_hash": "%016x" % random.getrandbits(64),
            "user": "user-%d" % random.randint(1, 300), "interactive": random.random() < 0.5,
        }))
    return ("\n".join(lines) + "\n").encode()


bodies = [body(min(batch, events - offset), offset) for offset in range(0, events, batch)]


def upload(data):
    request = urllib.request.Request(f"{base}/api/workloads/events", data=data, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/x-ndjson")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)["accepted"]


started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
    accepted = sum(pool.map(upload, bodies))
elapsed = time.monotonic() - started
print(json.dumps({"events": accepted, "seconds": round(elapsed, 3), "events_per_second": round(accepted / elapsed)}))
