#!/usr/bin/python3
"""Open-loop latency: submits `bench` runs over REST at a fixed arrival rate and watches them over one WebSocket.

Each submission has a scheduled time (start + i / RATE); latencies are measured from that time, so a slow
server cannot slow the arrivals down and hide its own queueing (no coordinated omission). As each 202 arrives the
run is subscribed on the WebSocket (`subscribe_run`, which replays from the log and then follows live), and the
client records when it sees the run's first event and its `agent_completed`.

Usage: bench_latency.py BASE_URL TOKEN RATE SECONDS STAGES
Prints a table, then (last line) one JSON object: p50/p95/p99/p99.9 in milliseconds of ack, first event and
completed, and counts.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

import websocket  # Debian: python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_latency_report import report  # noqa: E402

base, token = sys.argv[1], sys.argv[2]
rate, seconds, stages = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
total = int(rate * seconds)
host = urllib.parse.urlparse(base)
lock = threading.Lock()
scheduled = {}  # run id -> scheduled submit time
acks, firsts, completions = [], {}, {}
errors = []
done = threading.Event()

ws = websocket.create_connection(base.replace("http", "ws", 1) + f"/ws?token={token}", timeout=120)
ws.recv()  # connection_established
send_lock = threading.Lock()


def receive():
    while not done.is_set():
        try:
            message = json.loads(ws.recv())
        except Exception:
            return
        now = time.monotonic()
        run = (message.get("metadata") or {}).get("run_id")
        if not run or "seq" not in (message.get("metadata") or {}):
            continue
        with lock:
            firsts.setdefault(run, now)
            if message["type"] == "agent_completed":
                completions.setdefault(run, now)
                if len(completions) >= total:
                    done.set()


body = json.dumps({"message": "latency", "pipeline": "bench", "parameters": {"stages": stages}})
next_index = 0
start = time.monotonic() + 0.5


def submit():
    global next_index
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    while True:
        with lock:
            index = next_index
            next_index += 1
        if index >= total:
            return
        due = start + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            connection.request("POST", "/api/agent/runs", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            acked = time.monotonic()
            if response.status != 202:
                errors.append(response.status)
                continue
            run = json.loads(payload)["run_id"]
        except Exception as error:  # a dropped connection: count it and reconnect
            errors.append(str(error))
            connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            continue
        with lock:
            scheduled[run] = due
            acks.append(acked - due)
        with send_lock:
            ws.send(json.dumps({"action": "subscribe_run", "data": {"run_id": run, "last_seq": 0}}))


receiver = threading.Thread(target=receive, daemon=True)
receiver.start()
submitters = [threading.Thread(target=submit) for _ in range(16)]
for thread in submitters:
    thread.start()
for thread in submitters:
    thread.join()
done.wait(timeout=120)
done.set()


with lock:
    first = [firsts[run] - due for run, due in scheduled.items() if run in firsts]
    completed = [completions[run] - due for run, due in scheduled.items() if run in completions]
report(f"latency: {rate:.0f} runs/s of {stages} no-op stages for {seconds:.0f} s, open loop, 1 gateway + 2 workers",
       rate, len(scheduled), len(errors), acks, first, completed)
