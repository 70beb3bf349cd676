#!/usr/bin/python3
"""Tenant fairness: one tenant flooding the queue must not delay the others, and tenants with a backlog share the
workers equally.

Part 1, flood (default 10,000 runs): `bench` runs of STAGES × STAGE_MS (default 5 × 50 ms, the acceptance scenario:
  our own agents' stages took 1–840 ms without an LLM on the demo workload, and with one they are LLM calls of
  hundreds of milliseconds), then again with stages of STRESS_STAGE_MS (default 10 ms, new tenants), where A's
  drain takes both cores of this machine and B's wait is mostly waiting for a core.
  1. Creates tenant B, then tenant A (admin API), and logs both in.
  2. B submits WARMUP runs (not measured), waits for them, then B_RUNS runs on the idle system, one after another
     on one keep-alive connection, and waits until they have finished.
  3. A submits FLOOD runs as fast as the client can (CONNECTIONS threads, each with a keep-alive connection).
     Once the last 202 is in (every run of A is stored and admitted, so A holds a full backlog), B submits B_RUNS
     runs the same way as before. Waits for B's runs, then for A's whole backlog.
  B's queue wait is runs.started_at − runs.created_at (PostgreSQL). Target: flooded p99 ≤ 2 × idle p99 + STAGE_MS.
  A's backlog and admitted runs are sampled from Redis every 100 ms (ZCARD/SCARD of the tenant's keys).

Part 2, many tenants (default 50 for 30 s): TENANTS tenants, each with an in-flight limit of LIMIT (PATCH
  max_in_flight), submit `bench` runs of STAGES × TENANT_STAGE_MS open loop, Poisson arrivals at rates spread
  linearly from 1 to 11 parts (seeded, so every run of the scenario submits the same schedule), TOTAL_RATE runs/s
  in all, for SECONDS. The workers (SLOTS runs at once) are the bottleneck, so the faster tenants build backlogs.
  Measured over the window [SECONDS/3, SECONDS] after the first submission (past the warm-up, until submission
  ends), from PostgreSQL timestamps:
  - a tenant has a backlog throughout the window when at every instant of it, its submitted runs minus its
    finished runs exceed its limit (its admitted runs are at the limit and more wait in its Redis backlog);
  - each such tenant's throughput is its runs started in the window per second (runs finished per second too);
  - Jain's index J = (Σx)² / (n·Σx²) over those tenants. Target J ≥ 0.95.
  The tenants' Redis backlogs are sampled every 250 ms as a cross-check.

Finally every run of both parts must have succeeded.

Usage: bench_fairness.py --url URL --admin-token TOKEN --redis-port PORT --pg-port PORT --worker-slots N [options]
Prints a table, then (last line) one JSON object with the figures. Exits 0 when the targets are missed: the caller
checks `failures` (runs that did not succeed, and failed submissions).
"""
import argparse
import concurrent.futures
import glob
import http.client
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse


def log(message):
    print(f"\033[1m==>\033[0m {message}", file=sys.stderr, flush=True)


# Clients ----------------------------------------------------------------------------------------------------------

class Http:
    """One keep-alive connection; reconnects once when the server closed it."""

    def __init__(self, base):
        url = urllib.parse.urlparse(base)
        self.host, self.port = url.hostname, url.port
        self.connection = None

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request(method, path, data, headers)
                response = self.connection.getresponse()
                payload = response.read()
                return response.status, (json.loads(payload) if payload else None)
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Redis:
    """A minimal RESP client: pipelined commands, integer/string/array replies."""

    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.file = self.socket.makefile("rb")

    def pipeline(self, commands):
        out = bytearray()
        for command in commands:
            out += b"*%d\r\n" % len(command)
            for part in command:
                part = str(part).encode()
                out += b"$%d\r\n%s\r\n" % (len(part), part)
        self.socket.sendall(out)
        return [self._read() for _ in commands]

    def _read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2].decode()
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise RuntimeError(f"unexpected Redis reply {line!r}")


PG_HOST = "127.0.0.1"  # --pg-host: a socket folder spares both sides a SCRAM login per query
PSQL = "psql"  # --psql: the binary itself; Debian's `psql` is a Perl wrapper that costs more CPU than the query
SESSIONS = {}


class Psql:
    """One psql process kept open for all queries: the polls while B's runs are measured would otherwise start a
    process and a PostgreSQL backend every few tens of milliseconds on the machine being measured."""

    MARK = "__bench_fairness_done__"

    def __init__(self, port):
        self.process = subprocess.Popen(
            [PSQL, "-h", PG_HOST, "-p", str(port), "-U", "netra", "-d", "netra_bench", "-qtAX", "-F", "\t",
             "-v", "ON_ERROR_STOP=1"],
            env={**os.environ, "PGPASSWORD": "netra"}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def rows(self, sql):
        self.process.stdin.write(f"{sql.rstrip().rstrip(';')};\n\\echo {self.MARK}\n")
        self.process.stdin.flush()
        rows = []
        while (line := self.process.stdout.readline()) != f"{self.MARK}\n":
            if not line:
                raise SystemExit(f"psql exited ({self.process.wait()}) on: {sql}")
            if line != "\n":
                rows.append(line.rstrip("\n").split("\t"))
        return rows


def psql(port, sql):
    """Rows of `sql` on the bench database, as lists of strings."""
    if port not in SESSIONS:
        SESSIONS[port] = Psql(port)
    return SESSIONS[port].rows(sql)


def uuid_list(ids):
    return "ARRAY[" + ",".join(f"'{i}'::uuid" for i in ids) + "]"


# Statistics ---------------------------------------------------------------------------------------------------------

def pick(values, q):
    """The nearest-rank percentile q of `values` (as in bench_latency.py); p99 of 20 values is the maximum."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def summary_ms(seconds):
    return {"p50": round(pick(seconds, 0.50) * 1000, 2), "p99": round(pick(seconds, 0.99) * 1000, 2),
            "max": round(max(seconds) * 1000, 2), "n": len(seconds)}


def jain(values):
    """Jain's fairness index: 1 when all are equal, 1/n when one takes everything."""
    total, squares = sum(values), sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares > 0 else None


def backlog_throughout(created, finished, limit, start, end):
    """True when submitted − finished > limit at every instant of [start, end].

    The count only falls when a run finishes, so its minimum over the window is at the window's start or just
    after one of the finishes inside it. A tenant whose admitted runs are at its limit with more waiting in its
    backlog has exactly submitted − finished > limit.
    """
    points = [start] + [f for f in finished if start < f <= end]
    for t in points:
        if sum(1 for c in created if c <= t) - sum(1 for f in finished if f <= t) <= limit:
            return False
    return True


def never_backlogged(created, finished, limit):
    """True when submitted − finished never exceeded the limit (checked at each submission, where it rises)."""
    return all(sum(1 for c in created if c <= t) - sum(1 for f in finished if f <= t) <= limit for t in created)


def queued_throughout(created, started, start, end):
    """The looser reading: some submitted run had not started yet, at every instant of [start, end]."""
    points = [start] + [s for s in started if start < s <= end]
    for t in points:
        if sum(1 for c in created if c <= t) - sum(1 for s in started if s <= t) <= 0:
            return False
    return True


# Scenario steps -----------------------------------------------------------------------------------------------------

class Scenario:
    def __init__(self, args):
        self.args = args
        self.admin = Http(args.url)
        self.errors = []
        self.error_lock = threading.Lock()

    def create_tenant(self, name, email, password="fairness-password"):
        client = Http(self.args.url)
        status, body = client.call("POST", "/api/admin/tenants",
                                   {"name": name, "user": {"name": name, "email": email, "password": password}}, self.args.admin_token)
        if status != 201:
            raise SystemExit(f"creating tenant {name} failed: {status} {body}")
        status, login = client.call("POST", "/api/auth/login", {"email": email, "password": password})
        if status != 200:
            raise SystemExit(f"login of {email} failed: {status} {login}")
        return body["tenant_id"], login["access_token"]

    def tenant_limit(self, tenant):
        status, body = self.admin.call("GET", f"/api/admin/tenants/{tenant}", None, self.args.admin_token)
        if status != 200:
            raise SystemExit(f"reading tenant {tenant} failed: {status} {body}")
        return body["limits"]["max_in_flight"]

    def set_limit(self, tenant, limit):
        status, body = self.admin.call("PATCH", f"/api/admin/tenants/{tenant}", {"max_in_flight": limit}, self.args.admin_token)
        if status != 200 or body["limits"]["max_in_flight"] != limit:
            raise SystemExit(f"setting tenant {tenant}'s limit failed: {status} {body}")

    @staticmethod
    def run_body(stages, stage_ms):
        return json.dumps({"message": "fairness", "pipeline": "bench",
                           "parameters": {"stages": stages, "stage_ms": stage_ms}}).encode()

    def record_error(self, error):
        with self.error_lock:
            self.errors.append(str(error))

    def submit_serial(self, token, count, body):
        """Submits `count` runs one after another on one connection; returns their ids."""
        client, ids = Http(self.args.url), []
        for _ in range(count):
            status, reply = client.call("POST", "/api/agent/runs", body, token)
            if status != 202:
                raise SystemExit(f"a submission failed: {status} {reply}")
            ids.append(reply["run_id"])
        return ids

    def wait_finished(self, where, timeout, what):
        """Polls PostgreSQL until no run matching `where` is queued or running."""
        deadline = time.monotonic() + timeout
        while True:
            left = int(psql(self.args.pg_port, f"SELECT count(*) FROM runs WHERE ({where}) AND status IN ('queued', 'running')")[0][0])
            if left == 0:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{left} of {what} still unfinished after {timeout} s")
            time.sleep(0.05)

    def queue_waits(self, ids):
        rows = psql(self.args.pg_port, f"SELECT extract(epoch FROM started_at - created_at) FROM runs WHERE id = ANY({uuid_list(ids)})")
        return [float(row[0]) for row in rows if row[0]]  # a run that never started fails the final check instead

    # Part 1 -------------------------------------------------------------------------------------------------------

    def flood(self, stage_ms, name):
        """Part 1 with stages of `stage_ms`; `name` tells the tenants of one flood from another's."""
        a = self.args
        stage_s = stage_ms / 1000
        log(f"part 1 ({name}, stages of {stage_ms} ms): creating tenants B and A")
        tenant_b, token_b = self.create_tenant(f"Fairness B {name}", f"fairness-b-{name}@netra.local")
        tenant_a, token_a = self.create_tenant(f"Fairness A {name}", f"fairness-a-{name}@netra.local")
        limit_a, limit_b = self.tenant_limit(tenant_a), self.tenant_limit(tenant_b)
        body = self.run_body(a.stages, stage_ms)

        log(f"B: {a.warmup} warm-up runs, then {a.b_runs} runs on the idle system")
        self.submit_serial(token_b, a.warmup, body)
        self.wait_finished(f"tenant_id = '{tenant_b}'", 120, "B's warm-up runs")
        idle_ids = self.submit_serial(token_b, a.b_runs, body)
        self.wait_finished(f"id = ANY({uuid_list(idle_ids)})", 120, "B's idle runs")
        idle = self.queue_waits(idle_ids)

        # Samples A's and B's Redis state until A has drained.
        prefix = a.redis_prefix
        keys = [["ZCARD", f"{prefix}:tenant:{tenant_a}:backlog"], ["SCARD", f"{prefix}:tenant:{tenant_a}:active"],
                ["ZCARD", f"{prefix}:tenant:{tenant_b}:backlog"], ["SCARD", f"{prefix}:tenant:{tenant_b}:active"]]
        samples, stop = [], threading.Event()

        def sample():
            redis = Redis(a.redis_port)
            while not stop.is_set():
                samples.append((time.time(), *redis.pipeline(keys)))
                stop.wait(0.1)  # pacing only

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        log(f"A: submitting {a.flood} runs over {a.connections} connections")
        issued, issued_lock, accepted = [0], threading.Lock(), [0]

        def submitter():
            client = Http(a.url)
            while True:
                with issued_lock:
                    if issued[0] >= a.flood:
                        return
                    issued[0] += 1
                try:
                    status, reply = client.call("POST", "/api/agent/runs", body, token_a)
                except Exception as error:  # counted; the final check fails on it
                    self.record_error(error)
                    continue
                if status != 202:
                    self.record_error(f"HTTP {status}: {reply}")
                    continue
                with issued_lock:
                    accepted[0] += 1

        flood_start = time.time()
        threads = [threading.Thread(target=submitter) for _ in range(a.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        flood_end = time.time()
        backlog_at_b = Redis(a.redis_port).pipeline(keys[:2])

        log(f"A submitted {accepted[0]} runs in {flood_end - flood_start:.1f} s (backlog {backlog_at_b[0]}, admitted "
            f"{backlog_at_b[1]}); B submits {a.b_runs} runs")
        flooded_ids = self.submit_serial(token_b, a.b_runs, body)
        self.wait_finished(f"id = ANY({uuid_list(flooded_ids)})", 300, "B's flooded runs")
        flooded = self.queue_waits(flooded_ids)
        log("waiting for A's backlog to drain")
        self.wait_finished(f"tenant_id = '{tenant_a}'", 60 + a.flood / 20, "A's runs")
        stop.set()
        sampler.join()

        # A's drain rate: while B's flooded runs were in flight, and from the end of A's submission to its last run.
        b_from, b_to = (float(v) for v in psql(a.pg_port, f"""SELECT extract(epoch FROM min(created_at)), extract(epoch FROM max(finished_at))
            FROM runs WHERE id = ANY({uuid_list(flooded_ids)})""")[0])
        a_rows = psql(a.pg_port, f"""WITH a AS (SELECT created_at, finished_at FROM runs WHERE tenant_id = '{tenant_a}'),
            last AS (SELECT max(created_at) AS created FROM a)
            SELECT count(*), extract(epoch FROM min(created_at)), extract(epoch FROM (SELECT created FROM last)),
            extract(epoch FROM max(finished_at)),
            count(*) FILTER (WHERE finished_at >= to_timestamp({b_from!r}) AND finished_at <= to_timestamp({b_to!r})),
            count(*) FILTER (WHERE finished_at > (SELECT created FROM last))
            FROM a""")[0]
        a_count, a_first, a_last_created, a_last_finished = int(a_rows[0]), float(a_rows[1]), float(a_rows[2]), float(a_rows[3])
        a_during_b, a_after_submit = int(a_rows[4]), int(a_rows[5])
        during_b = a_during_b / (b_to - b_from) if b_to > b_from else None
        backlog_rate = a_after_submit / (a_last_finished - a_last_created) if a_last_finished > a_last_created else None
        overall = a_count / (a_last_finished - a_first)

        target = 2 * pick(idle, 0.99) + stage_s
        passed = pick(flooded, 0.99) <= target
        reference = self.throughput_reference()
        result = {
            "stages": a.stages, "stage_ms": stage_ms, "flood_runs": a_count, "b_runs": a.b_runs, "warmup_runs": a.warmup,
            "max_in_flight": {"a": limit_a, "b": limit_b}, "worker_slots": a.worker_slots, "client_connections": a.connections,
            "b_queue_wait_idle_ms": summary_ms(idle), "b_queue_wait_flooded_ms": summary_ms(flooded),
            # Every sample, so that runs can be pooled: a p99 of 20 is their maximum and moves from run to run.
            "b_queue_waits_ms": {"idle": sorted(round(v * 1000, 2) for v in idle),
                                 "flooded": sorted(round(v * 1000, 2) for v in flooded)},
            "target_p99_ms": round(target * 1000, 2), "pass": passed,
            "a_submit_seconds": round(flood_end - flood_start, 2),
            "a_submissions_per_second": round(accepted[0] / (flood_end - flood_start)),
            "a_backlog_max": max((s[1] for s in samples), default=0), "a_admitted_max": max((s[2] for s in samples), default=0),
            "b_backlog_max": max((s[3] for s in samples), default=0),
            "a_backlog_when_b_submitted": backlog_at_b[0], "a_admitted_when_b_submitted": backlog_at_b[1],
            "a_runs_per_second_while_b_in_flight": round(during_b) if during_b is not None else None,
            "b_in_flight_ms": round((b_to - b_from) * 1000, 1),
            "a_runs_per_second_backlog_drain": round(backlog_rate) if backlog_rate is not None else None,
            "a_backlog_drain_seconds": round(a_last_finished - a_last_created, 2),
            "a_runs_per_second_overall": round(overall),
            "throughput_scenario_runs_per_second": reference,
        }
        print(f"fairness, part 1 ({name}): tenant A floods {a_count} bench runs ({a.stages} stages × {stage_ms} ms), then tenant B "
              f"submits {a.b_runs}; 1 gateway + 2 workers")
        print(f"  in-flight limit per tenant          A {limit_a}, B {limit_b}; worker slots {a.worker_slots}")
        print(f"  B queue wait (started − created), ms      p50      p99      max   (p99 of {a.b_runs} = max)")
        for label, values in (("idle system", idle), (f"A's backlog of {backlog_at_b[0]}", flooded)):
            s = summary_ms(values)
            print(f"    {label:<36} {s['p50']:>8} {s['p99']:>8} {s['max']:>8}")
        print(f"  target flooded p99 ≤ 2 × idle p99 + {stage_ms} ms = {target * 1000:.1f} ms: {'PASS' if passed else 'FAIL'}")
        print(f"  A submitted                         {accepted[0]} runs in {flood_end - flood_start:.1f} s "
              f"({result['a_submissions_per_second']}/s, {a.connections} connections); max backlog seen {result['a_backlog_max']}, "
              f"admitted max {result['a_admitted_max']}")
        print(f"  A completed runs/s                  while B's runs were in flight ({result['b_in_flight_ms']} ms) "
              f"{result['a_runs_per_second_while_b_in_flight']}; backlog drain ({result['a_backlog_drain_seconds']} s) "
              f"{result['a_runs_per_second_backlog_drain']}; whole flood {result['a_runs_per_second_overall']}")
        print(f"  throughput scenario (0 ms stages)   "
              + (f"{reference['runs_per_second']} runs/s ({reference['file']})" if reference else "no bench-results/throughput-*.json yet"))
        return result

    def throughput_reference(self):
        files = sorted(glob.glob(os.path.join(self.args.results, "throughput-*.json")))
        if not files:
            return None
        with open(files[-1]) as handle:
            return {"runs_per_second": json.load(handle)["runs_per_second"], "file": os.path.basename(files[-1])}

    # Part 2 -------------------------------------------------------------------------------------------------------

    def tenants(self):
        a = self.args
        n, seconds = a.tenants, a.seconds
        log(f"part 2: creating {n} tenants with an in-flight limit of {a.limit} each")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            created = list(pool.map(lambda i: self.create_tenant(f"Fairness {i:02d}", f"fairness-{i:02d}@netra.local"), range(n)))
        for tenant, _ in created:
            self.set_limit(tenant, a.limit)
        ids = [tenant for tenant, _ in created]
        index_of = {tenant: i for i, tenant in enumerate(ids)}

        # Rates spread linearly from 1 to 11 parts, TOTAL_RATE in all; Poisson arrivals, one seeded stream per tenant.
        weights = [1 + 10 * i / max(n - 1, 1) for i in range(n)]
        rates = [a.total_rate * w / sum(weights) for w in weights]
        schedule = []
        for i, rate in enumerate(rates):
            rng, t = random.Random(a.seed * 1000 + i), 0.0
            while True:
                t += rng.expovariate(rate)
                if t >= seconds:
                    break
                schedule.append((t, i))
        schedule.sort()
        bodies = self.run_body(a.stages, a.tenant_stage_ms)

        prefix = a.redis_prefix
        commands = [["ZCARD", f"{prefix}:tenant:{t}:backlog"] for t in ids]
        samples, stop = [], threading.Event()

        def sample():
            redis = Redis(a.redis_port)
            while not stop.is_set():
                samples.append((time.time(), redis.pipeline(commands)))
                stop.wait(0.25)  # pacing only

        log(f"{n} tenants submit {len(schedule)} runs open loop over {seconds} s ({a.total_rate:g} runs/s, "
            f"{rates[0]:.2f}–{rates[-1]:.2f} per tenant)")
        next_index, lock, lateness = [0], threading.Lock(), []
        start = time.monotonic() + 0.5

        def submitter():
            client = Http(a.url)
            while True:
                with lock:
                    index = next_index[0]
                    next_index[0] += 1
                if index >= len(schedule):
                    return
                due, tenant = schedule[index]
                delay = start + due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the arrival schedule
                late = time.monotonic() - (start + due)
                try:
                    status, reply = client.call("POST", "/api/agent/runs", bodies, created[tenant][1])
                except Exception as error:
                    self.record_error(error)
                    continue
                if status != 202:
                    self.record_error(f"HTTP {status}: {reply}")
                    continue
                with lock:
                    lateness.append(late)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        threads = [threading.Thread(target=submitter) for _ in range(a.tenant_connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client_cpu = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
        log("waiting for the tenants' backlogs to drain")
        tenant_filter = f"tenant_id = ANY({uuid_list(ids)})"
        self.wait_finished(tenant_filter, 120 + len(schedule) / 10, "the tenants' runs")
        stop.set()
        sampler.join()

        rows = psql(a.pg_port, f"""SELECT tenant_id, extract(epoch FROM created_at), extract(epoch FROM started_at),
            extract(epoch FROM finished_at) FROM runs WHERE {tenant_filter}""")
        created_at, started_at, finished_at = ([[] for _ in ids] for _ in range(3))
        for tenant, c, s, f in rows:
            i = index_of[tenant]
            created_at[i].append(float(c))
            started_at[i].append(float(s) if s else math.inf)  # never started or finished: fails the final check
            finished_at[i].append(float(f) if f else math.inf)
        t0 = min(min(c) for c in created_at if c)
        w_start, w_end = t0 + seconds / 3, t0 + seconds
        length = w_end - w_start
        busy = sum(max(0.0, min(f, w_end) - max(s, w_start)) for ss, ff in zip(started_at, finished_at) for s, f in zip(ss, ff))

        per_tenant = []
        for i in range(n):
            backlog = backlog_throughout(created_at[i], finished_at[i], a.limit, w_start, w_end)
            queued = queued_throughout(created_at[i], started_at[i], w_start, w_end)
            redis_backlog = [s[1][i] for s in samples if w_start <= s[0] <= w_end]
            per_tenant.append({
                "tenant": i, "tenant_id": ids[i], "offered_per_second": round(rates[i], 3), "submitted": len(created_at[i]),
                "started_per_second": round(sum(1 for s in started_at[i] if w_start <= s < w_end) / length, 3),
                "finished_per_second": round(sum(1 for f in finished_at[i] if w_start <= f < w_end) / length, 3),
                "backlog_throughout": backlog, "queued_throughout": queued,
                "redis_backlog_in_every_sample": bool(redis_backlog) and min(redis_backlog) > 0,
                "max_backlog_seen": max((s[1][i] for s in samples), default=0),
            })
        with_backlog = [p for p in per_tenant if p["backlog_throughout"]]
        started = [p["started_per_second"] for p in with_backlog]
        finished = [p["finished_per_second"] for p in with_backlog]
        total = sum(started)
        for p in with_backlog:
            p["share"] = round(p["started_per_second"] / total, 4) if total else None
        j_started, j_finished = (jain(started) if started else None), (jain(finished) if finished else None)
        queued_set = [p["started_per_second"] for p in per_tenant if p["queued_throughout"]]
        j_queued = jain(queued_set) if queued_set else None
        disagree = sum(1 for p in per_tenant if p["backlog_throughout"] != p["redis_backlog_in_every_sample"])
        # How long the runs of the tenants that never had a backlog waited: under their limit, they still share the
        # stream with every busy tenant's admitted runs.
        light = [i for i in range(n) if never_backlogged(created_at[i], finished_at[i], a.limit)]
        light_waits = [s - c for i in light for c, s in zip(created_at[i], started_at[i]) if w_start <= s < w_end]
        late_p99 = pick(lateness, 0.99)
        passed = j_started is not None and j_started >= 0.95
        result = {
            "tenants": n, "seconds": seconds, "stages": a.stages, "stage_ms": a.tenant_stage_ms, "max_in_flight": a.limit,
            "worker_slots": a.worker_slots, "offered_runs_per_second": a.total_rate, "seed": a.seed,
            "submitted": sum(len(c) for c in created_at), "scheduled": len(schedule),
            "window_seconds": [round(seconds / 3, 2), seconds],
            "worker_slots_busy_fraction": round(busy / length / a.worker_slots, 3),
            "runs_started_per_second_in_window": round(sum(p["started_per_second"] for p in per_tenant), 2),
            "tenants_with_backlog": len(with_backlog),
            "tenants_backlog_criteria_disagree": disagree,
            "jain_index": round(j_started, 4) if j_started is not None else None,
            "jain_index_finished": round(j_finished, 4) if j_finished is not None else None,
            "tenants_queued_throughout": len(queued_set),
            "jain_index_queued_throughout": round(j_queued, 4) if j_queued is not None else None,
            "target_jain_index": 0.95, "pass": passed,
            "started_per_second_with_backlog": ({"min": min(started), "median": round(statistics.median(started), 3), "max": max(started)}
                                                if started else None),
            "tenants_never_backlogged": len(light),
            "queue_wait_never_backlogged_ms": summary_ms(light_waits) if light_waits else None,
            "client_lateness_ms": {"p50": round(pick(lateness, 0.5) * 1000, 2), "p99": round(late_p99 * 1000, 2)} if lateness else None,
            "client_cpu_fraction_of_a_core": round(client_cpu, 3),
            "per_tenant": per_tenant,
        }
        print(f"part 2: {n} tenants, open loop for {seconds} s at {rates[0]:.2f}–{rates[-1]:.2f} runs/s each "
              f"({a.total_rate:g} runs/s in all), {a.stages} stages × {a.tenant_stage_ms} ms, limit {a.limit} each, "
              f"{a.worker_slots} worker slots")
        print(f"  window {seconds / 3:.0f}–{seconds} s after the first submission: worker slots busy "
              f"{result['worker_slots_busy_fraction'] * 100:.0f}%, {result['runs_started_per_second_in_window']} runs started/s")
        print(f"  tenants with a backlog throughout   {len(with_backlog)} of {n} (Redis samples disagree on {disagree})")
        if started:
            shares = [p["share"] for p in with_backlog]
            print(f"  their runs started/s                min {min(started):.2f}, median {statistics.median(started):.2f}, "
                  f"max {max(started):.2f}; share of their total min {min(shares) * 100:.2f}%, max {max(shares) * 100:.2f}% "
                  f"(equal: {100 / len(started):.2f}%)")
            print(f"  Jain's index                        {j_started:.4f} (runs started; {j_finished:.4f} by runs finished); "
                  f"target ≥ 0.95: {'PASS' if passed else 'FAIL'}")
        else:
            print("  Jain's index                        no tenant had a backlog throughout the window: FAIL")
        if light_waits:
            lw = summary_ms(light_waits)
            print(f"  queue wait, never backlogged       p50 {lw['p50']} ms, p99 {lw['p99']} ms ({len(light)} tenants, "
                  f"{lw['n']} runs started in the window)")
        if j_queued is not None:
            print(f"  (tenants with a run not yet started throughout: {len(queued_set)}, J {j_queued:.4f})")
        print(f"  client                              lateness p50 {result['client_lateness_ms']['p50'] if lateness else '-'} ms, "
              f"p99 {result['client_lateness_ms']['p99'] if lateness else '-'} ms; CPU {client_cpu * 100:.0f}% of a core")
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--redis-prefix", default="netra")
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-host", default="127.0.0.1", help="host or Unix socket folder of the bench PostgreSQL")
    parser.add_argument("--psql", default="psql", help="the psql binary (scripts/bench passes PostgreSQL's own)")
    parser.add_argument("--worker-slots", type=int, required=True, help="workers × concurrency, for the report")
    parser.add_argument("--results", default="bench-results", help="where the throughput scenario's JSON files are")
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--stage-ms", type=int, default=50, help="part 1's stage time S (the acceptance scenario)")
    parser.add_argument("--stress-stage-ms", type=int, default=10,
                        help="part 1 again with this stage time, where A's drain saturates the CPU (0: skip)")
    parser.add_argument("--flood", type=int, default=10000, help="A's runs")
    parser.add_argument("--b-runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20, help="B's unmeasured runs before the idle measurement")
    parser.add_argument("--connections", type=int, default=64, help="A's concurrent submitters (enough to outrun the workers)")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--total-rate", type=float, default=120, help="part 2's runs/s over all tenants")
    parser.add_argument("--tenant-stage-ms", type=int, default=400)
    parser.add_argument("--limit", type=int, default=8, help="part 2's in-flight limit per tenant")
    parser.add_argument("--tenant-connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--skip-tenants", action="store_true")
    args = parser.parse_args()
    global PG_HOST, PSQL
    PG_HOST, PSQL = args.pg_host, args.psql

    scenario = Scenario(args)
    result = {}
    if not args.skip_flood:
        result["flood"] = scenario.flood(args.stage_ms, "acceptance")
        if args.stress_stage_ms:
            result["flood_stress"] = scenario.flood(args.stress_stage_ms, "stress")
    if not args.skip_tenants:
        result["many_tenants"] = scenario.tenants()
    statuses = {status: int(count) for status, count in psql(args.pg_port, "SELECT status, count(*) FROM runs GROUP BY status")}
    runs = sum(statuses.values())
    result.update({"runs": runs, "runs_by_status": statuses, "submit_errors": len(scenario.errors),
                   "submit_error_examples": scenario.errors[:5],
                   "failures": runs - statuses.get("succeeded", 0) + len(scenario.errors)})
    print(f"runs: {statuses.get('succeeded', 0)} of {runs} succeeded ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); "
          f"submissions failed: {len(scenario.errors)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
