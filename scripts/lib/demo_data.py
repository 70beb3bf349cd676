#!/usr/bin/python3
"""Gives the demo tenant a workload to analyse: unless it already has one, runs a generation job and waits for it.

Usage: demo_data.py BASE_URL EMAIL PASSWORD [EVENTS] [DAYS] [SEED]
"""
import json
import sys
import time
import urllib.request

base, email, password = sys.argv[1:4]
events = int(sys.argv[4]) if len(sys.argv) > 4 else 200_000
days = int(sys.argv[5]) if len(sys.argv) > 5 else 28
seed = int(sys.argv[6]) if len(sys.argv) > 6 else 42


def call(method, path, body=None, token=None):
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


token = call("POST", "/api/auth/login", {"email": email, "password": password})["access_token"]
summary = call("GET", "/api/workloads/summary", token=token)
if summary["events"] > 0:
    print(f"demo workload: {summary['events']} events already loaded")
    sys.exit(0)
job = call("POST", "/api/generation/start", {"events": events, "days": days, "seed": seed}, token=token)["job_id"]
started = time.monotonic()
last = -1
while True:
    status = call("GET", f"/api/generation/status/{job}", token=token)
    if status["progress"] != last and status["progress"] % 20 == 0:
        last = status["progress"]
        print(f"demo workload: {status['progress']}% ({status['events_written']} events)")
    if status["status"] == "succeeded":
        break
    if status["status"] in ("failed", "cancelled", "dead"):
        sys.exit(f"generating the demo workload failed: {status}")
    if time.monotonic() - started > 300:
        sys.exit("generating the demo workload took more than 5 minutes")
    time.sleep(0.5)
print(f"demo workload: {events} events over {days} days generated in {time.monotonic() - started:.1f} s")
