#!/usr/bin/python3
"""Open-loop latency at high rates (`NETRA_BENCH_LATENCY_CLIENT=async scripts/bench latency RATE SECONDS`): the same
measurement as bench_latency.py, from forked asyncio processes instead of one process of threads.

Each submission has a scheduled time (start + i / RATE); latencies are measured from that time, so a slow
server cannot slow the arrivals down and hide its own queueing (no coordinated omission). As each 202 arrives the
run is subscribed on the WebSocket (`subscribe_run`, which replays from the log and then follows live), and the
client records when it sees the run's first event and its `agent_completed`.

The load is split over PROCESSES forked client processes (one asyncio loop each, default 2): submission i belongs to
process i % PROCESSES, which sends it over one of its keep-alive HTTP connections (the first one free; 32 each) and
watches it on one of its 16 WebSockets. The thread-based client tops out near 300 runs/s with the server's CPU to share.
At low rates this client reads about a millisecond more than the threaded one (asyncio's timers wake late), so the
README's figures at 100 runs/s come from bench_latency.py.

Usage: bench_latency_async.py BASE_URL TOKEN RATE SECONDS STAGES [PROCESSES]
Prints a table, then (last line) one JSON object: p50/p95/p99/p99.9 in milliseconds of ack, first event and
completed, and counts.
"""
import asyncio
import base64
import json
import multiprocessing
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_latency_report import report  # noqa: E402
from bench_websocket import client_frame, parse_frames, parse_upgrade_response, upgrade_request  # noqa: E402

CONNECTIONS_PER_PROCESS = 32
# A WebSocket session handles its client's messages one at a time (each `subscribe_run` reads the run's log), so the
# runs are spread over several sockets per process, as many clients would watch them.
WEBSOCKETS_PER_PROCESS = 16


async def open_websocket(host, port, token):
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(upgrade_request(host, port, f"/ws?token={token}", key))
    head = await reader.readuntil(b"\r\n\r\n")
    problem = parse_upgrade_response(head[:-4], key)
    if problem:
        raise RuntimeError(f"WebSocket upgrade refused: {problem}")
    return reader, writer


async def post(reader, writer, request):
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def client(index, processes, base, token, rate, seconds, stages, start):
    url = urllib.parse.urlparse(base)
    host, port = url.hostname, url.port
    total = int(rate * seconds)
    mine = list(range(index, total, processes))
    scheduled, acks, firsts, completions, errors = {}, [], {}, {}, []
    done = asyncio.Event()

    sockets = [await open_websocket(host, port, token) for _ in range(WEBSOCKETS_PER_PROCESS)]

    async def receive(ws_reader):
        buffer = bytearray()
        while not done.is_set():
            chunk = await ws_reader.read(65536)
            if not chunk:
                return
            now = time.monotonic()
            buffer += chunk
            for _, opcode, payload in parse_frames(buffer):
                if opcode != 1:
                    continue
                message = json.loads(payload)
                metadata = message.get("metadata") or {}
                run = metadata.get("run_id")
                if not run or metadata.get("seq") is None:
                    continue
                firsts.setdefault(run, now)
                if message["type"] == "agent_completed" and run not in completions:
                    completions[run] = now
                    if len(completions) >= len(mine):
                        done.set()

    body = json.dumps({"message": "latency", "pipeline": "bench", "parameters": {"stages": stages}}).encode()
    request = (f"POST /api/agent/runs HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    queue = iter(mine)

    async def submitter():
        reader, writer = await asyncio.open_connection(host, port)
        for i in queue:
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status, payload = await post(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError) as error:  # a dropped connection: count it, reconnect
                errors.append(str(error))
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            acked = time.monotonic()
            if status != 202:
                errors.append(status)
                continue
            run = json.loads(payload)["run_id"]
            scheduled[run] = due
            acks.append(acked - due)
            subscribe = json.dumps({"action": "subscribe_run", "data": {"run_id": run, "last_seq": 0}}).encode()
            sockets[i % WEBSOCKETS_PER_PROCESS][1].write(client_frame(1, subscribe))
        writer.close()

    receivers = [asyncio.create_task(receive(reader)) for reader, _ in sockets]
    await asyncio.gather(*(submitter() for _ in range(CONNECTIONS_PER_PROCESS)))
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    except asyncio.TimeoutError:
        pass
    done.set()
    for receiver in receivers:
        receiver.cancel()
    for _, writer in sockets:
        writer.close()
    first = [firsts[run] - due for run, due in scheduled.items() if run in firsts]
    completed = [completions[run] - due for run, due in scheduled.items() if run in completions]
    return {"submitted": len(scheduled), "acks": acks, "first": first, "completed": completed, "errors": len(errors)}


def run_process(index, processes, base, token, rate, seconds, stages, start, results):
    results.put(asyncio.run(client(index, processes, base, token, rate, seconds, stages, start)))


def main():
    base, token = sys.argv[1], sys.argv[2]
    rate, seconds, stages = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    processes = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    # CLOCK_MONOTONIC is one clock for every process of the machine, so all of them share the schedule.
    start = time.monotonic() + 1.0
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=run_process, args=(i, processes, base, token, rate, seconds, stages, start, results))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    parts = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    acks = [v for part in parts for v in part["acks"]]
    first = [v for part in parts for v in part["first"]]
    completed = [v for part in parts for v in part["completed"]]
    submitted = sum(part["submitted"] for part in parts)
    errors = sum(part["errors"] for part in parts)
    report(f"latency: {rate:.0f} runs/s of {stages} no-op stages for {seconds:.0f} s, open loop, 1 gateway + 2 workers, "
           f"{processes} client processes", rate, submitted, errors, acks, first, completed, client_processes=processes)


if __name__ == "__main__":
    main()
