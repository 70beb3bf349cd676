"""Submits N bench runs to the gateway from several threads, each with its own Idempotency-Key, retrying on
503 and connection errors (PostgreSQL or the gateway's dependencies may be restarting). Prints one run id per line.

Usage: python3 chaos_submit.py BASE_URL TOKEN COUNT THREADS
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

base, token, count, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = json.dumps({
    "message": "chaos",
    "pipeline": "bench",
    "parameters": {"stages": 5, "stage_ms": 0, "stage_ms_max": 200, "record": True},
}).encode()
ids, failures, lock = [], [], threading.Lock()


def submit(key):
    deadline = time.time() + 120
    while time.time() < deadline:
        request = urllib.request.Request(f"{base}/api/agent/runs", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key,
        })
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)["run_id"]
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"could not submit run {key}")


def worker(share):
    for _ in range(share):
        try:
            run = submit(str(uuid.uuid4()))
            with lock:
                ids.append(run)
        except Exception as error:  # reported below; the check counts it
            with lock:
                failures.append(str(error))


shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
pool = [threading.Thread(target=worker, args=(share,)) for share in shares]
for thread in pool:
    thread.start()
for thread in pool:
    thread.join()
for run in ids:
    print(run)
if failures:
    print(f"{len(failures)} submissions failed: {failures[:3]}", file=sys.stderr)
    sys.exit(1)
