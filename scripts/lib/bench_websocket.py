#!/usr/bin/python3
"""WebSocket fan-out: many WebSockets on one gateway, each watching a run, fed events at a fixed rate.

1. Creates RUNS `bench` runs over REST. No worker runs during the scenario, so they stay queued and their event
   log stays empty: the events of the scenario come only from this program.
2. Opens CONNECTIONS WebSockets (`/ws?token=…`), spread over CLIENTS forked processes (one asyncio loop each),
   and subscribes connection c to run c % RUNS (`subscribe_run`, `last_seq` 0).
3. Waits until the gateway's subscriber holds every run's channel (`PUBSUB NUMSUB`), then publishes a warm-up
   event (seq 1) on each channel, again for the runs some connection has not seen yet, until every connection
   has it. The gateway relays an event only when its seq is the next one (a gap makes it re-read the log,
   which is empty here), so a connection that missed seq 1 would miss everything after it.
4. Publishes RATE events/s for SECONDS on the runs' channels (`PUBLISH <prefix>:run:<id>:events`, the wire JSON
   a worker publishes: `sub_agent_update`, seq 2, 3, … per run, round robin over the runs), each carrying the
   time it was sent (`data.sent_ns`, wall clock in ns). Each client records receive time minus that.
5. Reads the gateway's RSS from /proc before connecting, once every connection has its warm-up event, and at
   the end; counts per connection the events expected and received, out-of-order and duplicate events,
   heartbeats, the server's RFC 6455 pings (answered with pongs), error messages, and connections the server
   closed or dropped (any close before the program closes them itself).

The client is a minimal RFC 6455 client on the standard library: HTTP upgrade with Sec-WebSocket-Key (the
Sec-WebSocket-Accept answer is checked), masked client frames, text/ping/close frames from the server. The
publisher speaks RESP over a plain socket and pipelines its PUBLISH commands.

Usage: bench_websocket.py --url URL --token TOKEN --gateway-pid PID --redis-port PORT [options]; see --help.
Prints a table, then (last line) one JSON object with the figures. Exits 0 even when connections were dropped:
the caller checks `dropped_connections`, `missing_events` and the other counts.
"""
import argparse
import array
import asyncio
import base64
import collections
import hashlib
import http.client
import json
import math
import multiprocessing
import os
import socket
import sys
import threading
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"\033[1m==>\033[0m {message}", file=sys.stderr, flush=True)


# RFC 6455 codec ---------------------------------------------------------------------------------------------------

def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value a server must answer to Sec-WebSocket-Key `key`."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XORs `data` with the 4-byte `mask` repeated (masking and unmasking are the same operation)."""
    if not data:
        return b""
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes = b"", mask: bytes = None) -> bytes:
    """One final frame from a client: clients must mask every frame (RFC 6455 §5.3)."""
    mask = mask if mask is not None else os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + mask + apply_mask(payload, mask)


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


def parse_frames(buffer: bytearray):
    """Removes the whole frames at the start of `buffer` and returns them as (fin, opcode, payload)."""
    frames = []
    pos, end = 0, len(buffer)
    while end - pos >= 2:
        first, second = buffer[pos], buffer[pos + 1]
        length, head = second & 0x7F, 2
        if length == 126:
            if end - pos < 4:
                break
            length, head = int.from_bytes(buffer[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            if end - pos < 10:
                break
            length, head = int.from_bytes(buffer[pos + 2:pos + 10], "big"), 10
        masked = second & 0x80
        if masked:
            head += 4
        if end - pos < head + length:
            break
        payload = bytes(buffer[pos + head:pos + head + length])
        if masked:  # servers must not mask; tolerated
            payload = apply_mask(payload, bytes(buffer[pos + head - 4:pos + head]))
        frames.append((bool(first & 0x80), first & 0x0F, payload))
        pos += head + length
    if pos:
        del buffer[:pos]
    return frames


def upgrade_request(host: str, port: int, path: str, key: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def parse_upgrade_response(head: bytes, key: str):
    """Returns None when `head` (the response up to the blank line) accepts the upgrade, else why not."""
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or status[1] != "101":
        return f"HTTP {lines[0]}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        return "no Upgrade: websocket"
    if headers.get("sec-websocket-accept") != accept_key(key):
        return "wrong Sec-WebSocket-Accept"
    return None


# RESP (Redis) -----------------------------------------------------------------------------------------------------

def resp_command(*args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RespReader:
    """Parses RESP2 replies out of a byte stream."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data

    def replies(self):
        out = []
        while True:
            parsed = self._parse(0)
            if parsed is None:
                return out
            value, pos = parsed
            del self.buffer[:pos]
            out.append(value)

    def _parse(self, pos):
        line_end = self.buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None
        kind, line = self.buffer[pos:pos + 1], bytes(self.buffer[pos + 1:line_end])
        pos = line_end + 2
        if kind == b"+":
            return line.decode(), pos
        if kind == b"-":
            return RuntimeError(line.decode()), pos
        if kind == b":":
            return int(line), pos
        if kind == b"$":
            n = int(line)
            if n < 0:
                return None, pos
            if len(self.buffer) < pos + n + 2:
                return None
            return bytes(self.buffer[pos:pos + n]), pos + n + 2
        if kind == b"*":
            n = int(line)
            items = []
            for _ in range(max(n, 0)):
                parsed = self._parse(pos)
                if parsed is None:
                    return None
                value, pos = parsed
                items.append(value)
            return items, pos
        raise ValueError(f"unexpected RESP reply {bytes(self.buffer[:40])!r}")


class Redis:
    """One synchronous command at a time."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.reader = RespReader()

    def command(self, *args):
        self.sock.sendall(resp_command(*args))
        while True:
            replies = self.reader.replies()
            if replies:
                if isinstance(replies[0], Exception):
                    raise replies[0]
                return replies[0]
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("Redis closed the connection")
            self.reader.feed(data)


class Publisher:
    """Pipelined PUBLISH on one connection; a thread reads the replies (how many subscribers got each message)."""

    def __init__(self, host, port, prefix, runs):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent = 0
        self.replies = 0
        self.unheard = 0  # PUBLISH replies of 0: nobody subscribed to the channel
        self.errors = []
        self.lock = threading.Lock()
        self.heads = []
        self.runs = runs
        for run in runs:
            channel = f"{prefix}:run:{run}:events".encode()
            self.heads.append(b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(channel), channel))
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def timestamp(ns):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + ".%03dZ" % (ns // 1_000_000 % 1000)

    def event(self, index, seq, sent_ns, stamp):
        """A worker's wire JSON (`RunEvent.wireJSON`) of a `sub_agent_update` carrying its send time."""
        payload = ('{"type":"sub_agent_update","data":{"stage":"bench-%d","status":"running","sent_ns":%d},'
                   '"metadata":{"thread_id":null,"run_id":"%s","agent_name":"bench-%d","timestamp":"%s","seq":%d}}'
                   % (seq, sent_ns, self.runs[index], seq, stamp, seq)).encode()
        return self.heads[index] + b"$%d\r\n%s\r\n" % (len(payload), payload)

    def send(self, commands):
        self.sock.sendall(b"".join(commands))
        with self.lock:
            self.sent += len(commands)

    def wait_for_replies(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.replies >= self.sent:
                    return True
            time.sleep(0.01)
        return False

    def _read(self):
        reader = RespReader()
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            reader.feed(data)
            for reply in reader.replies():
                with self.lock:
                    self.replies += 1
                    if isinstance(reply, Exception):
                        self.errors.append(str(reply))
                    elif reply == 0:
                        self.unheard += 1


# Client processes -------------------------------------------------------------------------------------------------

class Connection(asyncio.Protocol):
    """One WebSocket watching one run."""

    def __init__(self, client, run):
        self.client = client
        self.run = run
        self.transport = None
        self.buffer = bytearray()
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.upgraded = False
        self.established = client.loop.create_future()
        self.gone = client.loop.create_future()
        self.fragments = None
        self.last_seq = 0
        self.received = 0  # events with seq >= 2 (the measured ones)
        self.heartbeats = 0
        self.pongs = 0
        self.pings = 0
        self.closing = False  # this side started the close
        self.dropped = False

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(upgrade_request(self.client.host, self.client.port, self.client.path, self.key))

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            problem = parse_upgrade_response(bytes(self.buffer[:end]), self.key)
            if problem:
                self.fail(f"upgrade refused: {problem}")
                return
            del self.buffer[:end + 4]
            self.upgraded = True
        for fin, opcode, payload in parse_frames(self.buffer):
            self.on_frame(fin, opcode, payload)

    def connection_lost(self, exc):
        if not self.established.done():  # a connect failure, not a drop
            self.closing = True
            self.client.connect_failures[f"connection lost before connection_established: {exc!r}"] += 1
            self.established.set_exception(ConnectionError("connection lost before connection_established"))
        elif not self.closing and not self.dropped:
            self.dropped = True
            self.client.drops[f"connection lost: {exc!r}" if exc else "connection closed by the server without a close frame"] += 1
        if not self.gone.done():
            self.gone.set_result(None)

    # frames
    def on_frame(self, fin, opcode, payload):
        if opcode == PING:
            self.pings += 1
            self.transport.write(client_frame(PONG, payload))
        elif opcode == CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.closing:
                self.transport.close()
                return
            self.dropped = True
            self.client.drops[f"closed by the server: {code} {payload[2:].decode(errors='replace')}"] += 1
            self.closing = True
            self.transport.write(client_frame(CLOSE, payload[:2]))
            self.transport.close()
        elif opcode == PONG:
            pass
        elif opcode in (TEXT, BINARY):
            if fin:
                self.on_message(opcode, payload)
            else:
                self.fragments = [opcode, payload]
        elif opcode == CONTINUATION and self.fragments is not None:
            self.fragments[1] += payload
            if fin:
                kind, whole = self.fragments
                self.fragments = None
                self.on_message(kind, whole)

    def on_message(self, opcode, payload):
        now = time.time_ns()
        client = self.client
        if opcode != TEXT:
            client.errors["binary message"] += 1
            return
        message = json.loads(payload)
        kind = message.get("type")
        if kind == "sub_agent_update":
            metadata = message["metadata"]
            seq = metadata["seq"]
            if metadata["run_id"] != self.run:
                client.foreign += 1
                return
            if seq <= self.last_seq:
                client.duplicates += 1
                return
            if seq != self.last_seq + 1:
                client.out_of_order += 1
            self.last_seq = seq
            if seq >= 2:
                self.received += 1
                client.latencies.append(now - message["data"]["sent_ns"])
        elif kind == "heartbeat":
            if isinstance(message.get("data"), dict) and message["data"].get("pong"):
                self.pongs += 1
            else:
                self.heartbeats += 1
        elif kind == "connection_established":
            client.heartbeat_ms = message["data"].get("heartbeat_interval_ms")
            self.send_text(json.dumps({"action": "subscribe_run", "data": {"run_id": self.run, "last_seq": 0}}))
            if not self.established.done():
                self.established.set_result(None)
        elif kind == "error":
            data = message.get("data") or {}
            client.errors[f"{data.get('code')}: {data.get('message')}"] += 1
        else:
            client.errors[f"unexpected message type {kind}"] += 1

    def send_text(self, text):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(TEXT, text.encode()))

    def fail(self, reason):
        self.client.connect_failures[reason] += 1
        self.closing = True  # counted as a connect failure, not a drop
        if not self.established.done():
            self.established.set_exception(ConnectionError(reason))
        self.transport.close()

    async def close(self, timeout):
        if self.transport is None or self.gone.done():
            return self.closing and not self.dropped
        self.closing = True
        self.transport.write(client_frame(CLOSE, close_payload(1000, "bench done")))
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), timeout)
        except asyncio.TimeoutError:
            self.transport.abort()
            return False
        return True


class Client:
    """One client process: its share of the connections, driven by commands from the parent over a pipe."""

    def __init__(self, pipe, runs, options):
        self.pipe = pipe
        self.runs = runs
        self.options = options
        url = urllib.parse.urlparse(options["url"])
        self.host, self.port = url.hostname, url.port or 80
        self.path = "/ws?token=" + urllib.parse.quote(options["token"], safe="")
        self.sources = options["sources"]
        self.loop = None
        self.connections = []
        self.latencies = array.array("q")
        self.drops = collections.Counter()
        self.errors = collections.Counter()
        self.connect_failures = collections.Counter()
        self.foreign = self.duplicates = self.out_of_order = 0
        self.heartbeat_ms = None
        self.finished = None

    async def main(self):
        self.loop = asyncio.get_running_loop()
        self.finished = self.loop.create_future()
        self.loop.add_reader(self.pipe.fileno(), self.on_command)
        started = time.monotonic()
        await self.connect_all()
        established = sum(1 for c in self.connections if c.established.done() and not c.established.exception())
        self.pipe.send({"established": established, "seconds": time.monotonic() - started,
                        "connect_failures": dict(self.connect_failures)})
        if self.options["client_ping"] > 0:
            asyncio.ensure_future(self.ping_loop(self.options["client_ping"]))
        await self.finished

    async def connect_all(self):
        gate = asyncio.Semaphore(self.options["concurrency"])

        async def open_one(index, connection):
            async with gate:
                source = self.sources[index % len(self.sources)]
                try:
                    await self.loop.create_connection(lambda: connection, self.host, self.port,
                                                      local_addr=(source, 0) if source else None)
                    await asyncio.wait_for(asyncio.shield(connection.established), 60)
                except Exception as error:  # counted (once); the scenario fails on any
                    if not connection.closing:
                        self.connect_failures[f"{type(error).__name__}: {error}"[:120]] += 1
                    connection.closing = True
                    if connection.transport is not None:
                        connection.transport.abort()

        for run in self.runs:
            self.connections.append(Connection(self, run))
        for connection in self.connections:  # retrieve exceptions of futures nobody awaited
            connection.established.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.gather(*(open_one(i, c) for i, c in enumerate(self.connections)))

    async def ping_loop(self, interval):
        """The protocol's `{"action": "ping"}` from every connection every `interval` seconds, spread evenly."""
        text = '{"action":"ping"}'
        while True:
            step = interval / max(1, len(self.connections) / 100)
            for index, connection in enumerate(self.connections):
                if not connection.closing:
                    connection.send_text(text)
                if index % 100 == 99:
                    await asyncio.sleep(step)

    def live(self):
        return [c for c in self.connections if c.upgraded and not c.closing and not c.dropped]

    def on_command(self):
        command, argument = self.pipe.recv()
        if command == "status":
            self.pipe.send({
                "received": sum(c.received for c in self.connections),
                "unwarmed_runs": sorted({c.run for c in self.live() if c.last_seq < 1}),
                "dropped": sum(1 for c in self.connections if c.dropped),
            })
        elif command == "report":
            self.pipe.send({
                "received": [c.received for c in self.connections],
                "alive": [c.upgraded and not c.closing and not c.dropped for c in self.connections],
                "heartbeats": [c.heartbeats for c in self.connections],
                "pings": sum(c.pings for c in self.connections),
                "pongs": sum(c.pongs for c in self.connections),
                "latencies": self.latencies.tobytes(),
                "drops": dict(self.drops), "errors": dict(self.errors),
                "dropped": sum(1 for c in self.connections if c.dropped),
                "foreign": self.foreign, "duplicates": self.duplicates, "out_of_order": self.out_of_order,
                "heartbeat_ms": self.heartbeat_ms,
            })
        elif command == "close":
            asyncio.ensure_future(self.close_all())

    async def close_all(self):
        results = await asyncio.gather(*(c.close(10) for c in self.connections if c.upgraded and not c.gone.done()))
        self.pipe.send({"closed": sum(1 for r in results if r), "unanswered": sum(1 for r in results if not r)})
        self.loop.remove_reader(self.pipe.fileno())
        self.finished.set_result(None)


def client_process(pipe, runs, options):
    asyncio.run(Client(pipe, runs, options).main())


# The parent -------------------------------------------------------------------------------------------------------

def proc_status(pid, field):
    """A /proc/PID/status field in kB (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except OSError:
        return None  # the process is gone


def create_runs(url, token, count, threads=8):
    """Submits `count` one-stage `bench` runs; returns their ids."""
    target = urllib.parse.urlparse(url)
    body = json.dumps({"message": "websocket bench", "pipeline": "bench", "parameters": {"stages": 1}})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    ids, failures, lock = [], [], threading.Lock()
    remaining = iter(range(count))

    def submit():
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            connection.request("POST", "/api/agent/runs", body, headers)
            response = connection.getresponse()
            payload = response.read()
            with lock:
                if response.status == 202:
                    ids.append(json.loads(payload)["run_id"])
                else:
                    failures.append(f"{response.status} {payload[:200]!r}")

    workers = [threading.Thread(target=submit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise SystemExit(f"creating runs failed: {failures[:3]}")
    return ids


def percentiles(values_ns):
    values = sorted(values_ns)
    if not values:
        return {}
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))] / 1e6, 2)
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "p99_9": pick(0.999), "max": round(values[-1] / 1e6, 2)}


def ask(pipes, command, argument=None):
    for pipe in pipes:
        pipe.send((command, argument))
    return [pipe.recv() for pipe in pipes]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="an access token of the tenant")
    parser.add_argument("--gateway-pid", type=int, required=True)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--redis-pid", type=int, help="to report Redis's CPU")
    parser.add_argument("--prefix", default="netra", help="the gateway's Redis key prefix")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--runs", type=int, help="runs to watch (default connections / 10)")
    parser.add_argument("--rate", type=float, default=2000, help="events published per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--sources", type=int, default=0,
                        help="source addresses 127.0.0.1…N (default: one per 20,000 connections)")
    parser.add_argument("--concurrency", type=int, default=64, help="handshakes in flight per client process")
    parser.add_argument("--client-ping", type=float, default=0,
                        help="seconds between {\"action\":\"ping\"} from each connection (0: none; the gateway does not need them)")
    parser.add_argument("--worker-rss-kb", type=int, help="an idle worker's RSS, measured by the caller, to report")
    options = parser.parse_args()

    connections = options.connections
    run_count = options.runs or max(1, math.ceil(connections / 10))
    sources_count = options.sources or max(1, math.ceil(connections / 20000))
    sources = [f"127.0.0.{i + 1}" for i in range(sources_count)] if sources_count > 1 else [None]
    gateway = options.gateway_pid

    log(f"creating {run_count} runs")
    runs = create_runs(options.url, options.token, run_count)
    redis = Redis(options.redis_host, options.redis_port)
    rss_before = proc_status(gateway, "VmRSS")

    # Connection c watches run c % runs; client process k takes connections k, k + clients, …
    log(f"opening {connections} WebSockets from {options.clients} client processes")
    context = multiprocessing.get_context("fork")
    pipes, processes, shares = [], [], []
    client_options = {"url": options.url, "token": options.token, "sources": sources,
                      "concurrency": options.concurrency, "client_ping": options.client_ping}
    connect_started = time.monotonic()
    for k in range(options.clients):
        share = list(range(k, connections, options.clients))
        shares.append(share)
        parent_end, child_end = context.Pipe()
        process = context.Process(target=client_process, args=(child_end, [runs[c % run_count] for c in share], client_options), daemon=True)
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    ready = [pipe.recv() for pipe in pipes]
    connect_seconds = time.monotonic() - connect_started
    established = sum(r["established"] for r in ready)
    connect_failures = collections.Counter()
    for r in ready:
        connect_failures.update(r["connect_failures"])
    log(f"{established} / {connections} established in {connect_seconds:.1f} s"
        + (f"; failures: {dict(connect_failures)}" if connect_failures else ""))

    channels = [f"{options.prefix}:run:{run}:events" for run in runs]
    deadline = time.monotonic() + 60
    while True:
        reply = redis.command("PUBSUB", "NUMSUB", *channels)
        held = sum(1 for count in reply[1::2] if count > 0)
        if held == len(channels) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    log(f"the gateway's subscriber holds {held} / {len(channels)} run channels")

    publisher = Publisher(options.redis_host, options.redis_port, options.prefix, runs)
    index_of = {run: i for i, run in enumerate(runs)}
    unwarmed = set(runs)
    warm_rounds = 0
    deadline = time.monotonic() + 60
    while unwarmed and time.monotonic() < deadline:
        warm_rounds += 1
        sent_ns = time.time_ns()
        stamp = Publisher.timestamp(sent_ns)
        publisher.send([publisher.event(index_of[run], 1, sent_ns, stamp) for run in sorted(unwarmed)])
        publisher.wait_for_replies()
        time.sleep(0.5)
        unwarmed = set()
        for status in ask(pipes, "status"):
            unwarmed.update(status["unwarmed_runs"])
    log(f"warm-up event seen by every live connection after {warm_rounds} round(s)" if not unwarmed
        else f"{len(unwarmed)} runs still have connections without the warm-up event")
    time.sleep(1)
    rss_connected = proc_status(gateway, "VmRSS")

    # The measured phase: RATE events/s, round robin over the runs, seq 2, 3, … per run.
    total = int(options.rate * options.seconds)
    log(f"publishing {total} events at {options.rate:.0f}/s for {options.seconds:.0f} s")
    watched = {"gateway": gateway, **{f"client {k + 1}": p.pid for k, p in enumerate(processes)}}
    if options.redis_pid:
        watched["redis"] = options.redis_pid
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    start = time.monotonic() + 0.05
    published = 0
    max_lag = 0.0
    while published < total:
        now = time.monotonic()
        due = min(total, int((now - start) * options.rate) + 1)
        if due <= published:
            time.sleep(max(0.0, start + published / options.rate - now))
            continue
        max_lag = max(max_lag, now - (start + published / options.rate))
        sent_ns = time.time_ns()
        stamp = Publisher.timestamp(sent_ns)
        publisher.send([publisher.event(j % run_count, j // run_count + 2, sent_ns, stamp) for j in range(published, due)])
        published = due
    publish_seconds = time.monotonic() - start
    publisher.wait_for_replies()

    # Every connection expects the events of its run.
    per_run = [total // run_count + (1 if r < total % run_count else 0) for r in range(run_count)]
    expected_total = sum(per_run[c % run_count] for c in range(connections))
    drain_deadline, last_received, last_change = time.monotonic() + 60, -1, time.monotonic()
    while time.monotonic() < drain_deadline:
        received_total = sum(s["received"] for s in ask(pipes, "status"))
        if received_total >= expected_total:
            break
        if received_total != last_received:
            last_received, last_change = received_total, time.monotonic()
        elif time.monotonic() - last_change > 5:
            break
        time.sleep(0.1)
    measured_seconds = time.monotonic() - start
    cpu = {}
    for name, pid in watched.items():
        used = cpu_seconds(pid)
        cpu[name] = round(100 * (used - cpu_before[name]) / measured_seconds, 1) if used is not None and cpu_before[name] is not None else None
    rss_end, rss_peak = proc_status(gateway, "VmRSS"), proc_status(gateway, "VmHWM")

    reports = ask(pipes, "report")
    latencies = array.array("q")
    drops, errors = collections.Counter(), collections.Counter()
    missing = dropped = foreign = duplicates = out_of_order = pings = pongs = 0
    heartbeats = []
    heartbeat_ms = None
    for share, report in zip(shares, reports):
        latencies.frombytes(report["latencies"])
        drops.update(report["drops"])
        errors.update(report["errors"])
        for c, received in zip(share, report["received"]):
            missing += max(0, per_run[c % run_count] - received)
        heartbeats += [h for h, alive in zip(report["heartbeats"], report["alive"]) if alive]
        dropped += report["dropped"]
        foreign += report["foreign"]
        duplicates += report["duplicates"]
        out_of_order += report["out_of_order"]
        pings += report["pings"]
        pongs += report["pongs"]
        heartbeat_ms = heartbeat_ms or report["heartbeat_ms"]
    closes = ask(pipes, "close")
    for process in processes:
        process.join(timeout=15)

    fanout = percentiles(latencies)
    received = len(latencies)
    per_connection_kb = round((rss_connected - rss_before) / max(1, established), 1)
    result = {
        "connections": connections, "established": established, "runs": run_count, "client_processes": options.clients,
        "connect_seconds": round(connect_seconds, 2),
        "connect_failures": sum(connect_failures.values()), "dropped_connections": dropped,
        "drop_reasons": dict(drops), "error_messages": sum(errors.values()), "errors": dict(errors),
        "events_per_second": options.rate, "seconds": options.seconds, "events_published": total,
        "publish_rate_achieved": round(total / publish_seconds, 1), "publisher_max_lag_ms": round(max_lag * 1000, 2),
        "publishes_unheard": publisher.unheard, "warmup_rounds": warm_rounds, "unwarmed_runs": len(unwarmed),
        "messages_expected": expected_total, "messages_received": received, "missing_events": missing,
        "out_of_order": out_of_order, "duplicates": duplicates, "foreign_events": foreign,
        "fanout_ms": fanout, "fanout_messages_per_second": round(received / measured_seconds, 1),
        "heartbeat_interval_ms": heartbeat_ms, "heartbeats_min_per_connection": min(heartbeats) if heartbeats else 0,
        "server_pings_answered": pings, "client_pings_answered": pongs,
        "gateway_rss_kb": {"before": rss_before, "connected": rss_connected, "end": rss_end, "peak": rss_peak},
        "gateway_rss_per_connection_kb": per_connection_kb,
        "cpu_percent_of_one_core": cpu,
        "closed_cleanly": sum(c["closed"] for c in closes), "close_unanswered": sum(c["unanswered"] for c in closes),
    }
    if options.worker_rss_kb is not None:
        result["idle_worker_rss_kb"] = options.worker_rss_kb

    mb = lambda kb: f"{kb / 1024:.1f}"
    print(f"websocket: {connections} WebSockets on one gateway watching {run_count} runs, {options.rate:.0f} events/s for "
          f"{options.seconds:.0f} s ({options.rate * connections / run_count:.0f} messages/s fanned out), {options.clients} client processes")
    print(f"  connections established        {established} / {connections} in {connect_seconds:.1f} s "
          f"(connect failures {result['connect_failures']})")
    print(f"  dropped / error messages       {dropped} / {result['error_messages']}"
          + (f"  {dict(drops)} {dict(errors)}" if drops or errors else ""))
    print(f"  events published               {total} at {result['publish_rate_achieved']:.0f}/s "
          f"(publisher max lag {result['publisher_max_lag_ms']} ms, unheard {publisher.unheard})")
    print(f"  messages received / expected   {received} / {expected_total} (missing {missing}, out of order "
          f"{out_of_order}, duplicates {duplicates})")
    print(f"  heartbeats, server pings       every {heartbeat_ms} ms, at least {result['heartbeats_min_per_connection']} per "
          f"connection; {pings} RFC 6455 pings answered" + (f"; {pongs} client pings answered" if pongs else ""))
    print("  fan-out ms (publish → client)  p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p99_9}  max {max}".format(**fanout)
          + "   (target p99 ≤ 20)" if fanout else "  fan-out: no events received")
    print(f"  gateway RSS MB                 before {mb(rss_before)}, connected {mb(rss_connected)}, end {mb(rss_end)}, "
          f"peak {mb(rss_peak)}   (target ≤ 400 at 10,000)")
    print(f"  gateway RSS per connection     {per_connection_kb} kB ((connected − before) / established)")
    if options.worker_rss_kb is not None:
        print(f"  idle worker RSS MB             {mb(options.worker_rss_kb)}   (target ≤ 50)")
    print("  CPU % of one core (measured)   " + ", ".join(f"{name} {value}" for name, value in cpu.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
