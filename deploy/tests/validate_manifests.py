#!/usr/bin/env python3
"""Validates deploy/ offline and checks it against the code it deploys.

1. Every Kubernetes manifest (multi-document YAML) against the pinned Kubernetes version's schemas, strictly
   (unknown fields fail), with kubernetes-validate; KEDA's ScaledObject and TriggerAuthentication, which are CRDs,
   against deploy/tests/keda.schema.json.
2. The manifests against one another: selectors, Services, named ports, Secret keys, HPA and ScaledObject targets.
3. The manifests and docker-compose.yml against the Swift sources' defaults: the stream and group names of
   RedisKeys, the gateway's and scheduler's ports and health routes, the drain period, the worker's concurrency,
   and that every NETRA_* variable is a real setting (Settings.swift) listed in README's configuration table.
4. docker-compose.yml and the Dockerfile structurally.

Prints one line per check and a closing `deploy: N passed, M failed`; exits 1 when a check failed.
Run it through deploy/tests/run.sh, which installs the pinned packages into .data/venv-deploy.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "docker" / "docker-compose.yml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
SOURCES = REPO / "Sources"

passed = 0
failed = 0


def check(name: str, ok: bool, detail: str = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}{': ' + detail if detail else ''}")
    return ok


def note(text: str) -> None:
    print(f"note  {text}")


def source(path: str) -> str:
    return (SOURCES / path).read_text()


def find(pattern: str, text: str, what: str) -> re.Match:
    match = re.search(pattern, text)
    if not match:
        raise SystemExit(f"validate_manifests: cannot find {what} (pattern {pattern!r}); the Swift source changed shape")
    return match


# ---------------------------------------------------------------------------------------------------------------------
# What the code says


class Code:
    """Defaults and names read from the Swift sources, so that the manifests cannot drift from them silently."""

    def __init__(self) -> None:
        keys = source("Shared/Domain/RedisKeys.swift")
        self.default_prefix = find(r'init\(prefix: String = "([^"]+)"\)', keys, "RedisKeys' default prefix").group(1)
        service = source("Shared/Config/ServiceConfiguration.swift")
        config_prefix = find(r'settings\.string\(\.redisPrefix\) \?\? "([^"]+)"', service, "the configured default prefix")
        assert config_prefix.group(1) == self.default_prefix, "RedisKeys and ServiceConfiguration disagree on the prefix"
        normal = find(r'var runStream: String \{ "\\\(prefix\)([^"]+)" \}', keys, "runStream").group(1)
        high = find(r'case \.high: "\\\(prefix\)([^"]+)"', keys, "the high stream").group(1)
        low = find(r'case \.low: "\\\(prefix\)([^"]+)"', keys, "the low stream").group(1)
        find(r"case \.normal: runStream", keys, "the normal stream")
        recovered = find(r'var recoveryStream: String \{ "\\\(prefix\)([^"]+)" \}', keys, "recoveryStream").group(1)
        find(r"var workStreams: \[String\] \{ \[recoveryStream\] \+ priorityStreams \}", keys, "workStreams")
        priorities = find(r"enum RunPriority[^{]*\{\s*case ([a-z, ]+)\n", source("Shared/Domain/Run.swift"), "RunPriority")
        assert sorted(p.strip() for p in priorities.group(1).split(",")) == ["high", "low", "normal"], "RunPriority changed"
        self.stream_suffixes = {"recovered": recovered, "high": high, "normal": normal, "low": low}
        self.group = find(r'var workerGroup: String \{ "([^"]+)" \}', keys, "workerGroup").group(1)

        gateway_config = source("Gateway/GatewayConfiguration.swift")
        self.gateway_port = int(find(r"settings\.int\(\.httpPort, default: (\d+)", gateway_config, "the gateway's port").group(1))
        scheduler_config = source("Scheduler/SchedulerConfiguration.swift")
        self.scheduler_port = int(find(r"settings\.int\(\.httpPort, default: (\d+)", scheduler_config, "the scheduler's port").group(1))
        self.gateway_routes = set(re.findall(r'router\.get\("(/[^"]*)"\)', source("Gateway/Controllers/HealthController.swift")))
        self.scheduler_routes = set(re.findall(r'router\.get\("(/[^"]*)"\)', source("Scheduler/App.swift")))

        worker_config = source("Worker/WorkerConfiguration.swift")
        self.worker_concurrency = int(find(r"\.workerConcurrency, default: (\d+)", worker_config, "the worker's concurrency").group(1))
        self.worker_heartbeat = float(find(r"\.heartbeatInterval, default: \.seconds\((\d+)\)", worker_config, "the worker's heartbeat").group(1))
        bootstrap = source("Shared/Support/ProcessBootstrap.swift")
        self.drain_seconds = int(find(r"gracePeriod: Duration = \.seconds\((\d+)\)", bootstrap, "the drain period").group(1))

        # The gateway creates the group on every work stream before it listens (XGROUP CREATE … MKSTREAM).
        build = source("Gateway/App+build.swift")
        streams = source("Shared/Redis/RedisClient+Streams.swift")
        self.gateway_creates_groups = bool(
            re.search(r"for stream in config\.service\.keys\.workStreams \{\s*try await dependencies\.redis\.createGroup\("
                      r"config\.service\.keys\.workerGroup, on: stream\)", build)
            and re.search(r'"XGROUP", "CREATE", RedisArgument\(stream\), RedisArgument\(group\), "0", "MKSTREAM"', streams)
        )
        # A worker has no HTTP listener (no Hummingbird application, no router), hence no port and no probes.
        worker_text = "".join(p.read_text() for p in (SOURCES / "Worker").rglob("*.swift"))
        self.worker_serves_http = bool(re.search(r"\bApplication\(|\bRouter\(", worker_text))

        # Every setting: SettingKey("redis.url") is NETRA_REDIS_URL.
        settings = source("Shared/Config/Settings.swift")
        self.settings = {"NETRA_" + name.upper().replace(".", "_") for name in re.findall(r'SettingKey\("([a-z.]+)"\)', settings)}
        readme = (REPO / "README.md").read_text()
        table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0] if "## Configuration" in readme else ""
        self.readme_settings = set(re.findall(r"^\| `(NETRA_[A-Z0-9_]+)`", table, re.M))

    def streams(self, prefix: str) -> dict[str, str]:
        return {kind: prefix + suffix for kind, suffix in self.stream_suffixes.items()}


# ---------------------------------------------------------------------------------------------------------------------
# Helpers over manifests


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def label_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def env_names(container: dict) -> set[str]:
    return {item["name"] for item in container.get("env", [])}


def netra_names(value) -> set[str]:
    """Every NETRA_* name used as a key or inside a string anywhere in a parsed YAML value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= netra_names(key) | netra_names(item)
    elif isinstance(value, list):
        for item in value:
            found |= netra_names(item)
    elif isinstance(value, str):
        found |= set(re.findall(r"\bNETRA_[A-Z0-9_]*[A-Z0-9]\b", value))
    return found


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(text).strip())
    if not match:
        return -1
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def mebibytes(text: str) -> float:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", str(text).strip())
    if not match:
        return -1
    return int(match.group(1)) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024}[match.group(2).lower()]


# ---------------------------------------------------------------------------------------------------------------------
# Kubernetes


def validate_kubernetes(code: Code) -> set[str]:
    keda_schema = json.loads((DEPLOY / "tests" / "keda.schema.json").read_text())
    manifests = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    check("kubernetes: manifests found", len(manifests) >= 8, f"{[p.name for p in manifests]}")

    docs: list[tuple[str, dict]] = []
    for path in manifests:
        try:
            loaded = load_documents(path)
        except yaml.YAMLError as error:
            check(f"kubernetes: {path.name} parses", False, str(error))
            continue
        for doc in loaded:
            docs.append((path.name, doc))
            what = f"{path.name} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            if str(doc.get("apiVersion", "")).startswith("keda.sh/"):
                errors = sorted(jsonschema.Draft202012Validator(keda_schema).iter_errors(doc), key=lambda e: list(e.path))
                check(f"schema (KEDA CRD): {what}", not errors,
                      "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:3]))
                continue
            try:
                version = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                check(f"schema (Kubernetes {version}, strict): {what}", True)
            except kubernetes_validate.ValidationError as error:
                check(f"schema (Kubernetes {KUBERNETES_VERSION}, strict): {what}", False,
                      f"{'.'.join(map(str, error.path))}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                check(f"schema (Kubernetes {KUBERNETES_VERSION}): {what}", False, error.message)

    by_kind: dict[str, dict[str, dict]] = {}
    for _, doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    namespace = next(iter(by_kind.get("Namespace", {})), None)
    check("kubernetes: one Namespace", len(by_kind.get("Namespace", {})) == 1)
    wrong = [f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in docs
             if d["kind"] != "Namespace" and d["metadata"].get("namespace") != namespace]
    check(f"kubernetes: every object is in namespace {namespace}", not wrong, ", ".join(wrong))

    # kustomization.yaml applies everything except the Secret template.
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    expected = sorted(p.name for p in manifests if p.name != "secret.template.yaml")
    check("kustomization: lists every manifest but the Secret template",
          sorted(kustomization.get("resources", [])) == expected, f"{kustomization.get('resources')} vs {expected}")
    check("kustomization: namespace", kustomization.get("namespace") == namespace)

    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    secrets = by_kind.get("Secret", {})
    config_maps = by_kind.get("ConfigMap", {})
    check("kubernetes: Deployments netra-gateway, netra-worker, netra-scheduler",
          set(deployments) == {"netra-gateway", "netra-worker", "netra-scheduler"}, f"{sorted(deployments)}")
    check("kubernetes: ConfigMap netra-config", "netra-config" in config_maps)
    config = config_maps.get("netra-config", {}).get("data", {})

    for name, deployment in deployments.items():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        check(f"{name}: selector matches the pod labels", label_match(spec["selector"]["matchLabels"], labels))
        pod = spec["template"]["spec"]
        for container in pod["containers"]:
            resources = container.get("resources", {})
            complete = all(resources.get(kind, {}).get(r) for kind in ("requests", "limits") for r in ("cpu", "memory"))
            check(f"{name}: cpu and memory requests and limits", complete, f"{resources}")
            context = container.get("securityContext", {})
            check(f"{name}: runs as non-root without privilege escalation",
                  pod.get("securityContext", {}).get("runAsNonRoot") is True and context.get("allowPrivilegeEscalation") is False)
            for source_ in container.get("envFrom", []):
                ref = source_.get("configMapRef") or source_.get("secretRef")
                check(f"{name}: envFrom {ref['name']} exists", ref["name"] in config_maps or ref["name"] in secrets)
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    data = secrets.get(ref["name"], {}).get("stringData", {})
                    check(f"{name}: secret {ref['name']}/{ref['key']} exists in the template", ref["key"] in data)
                    check(f"{name}: {item['name']} comes from the Secret key of the same name", item["name"] == ref["key"])

    # Services select pods and name container ports.
    for name, service in services.items():
        targets = [d for d in deployments.values() if label_match(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        check(f"service {name}: selects a Deployment", len(targets) == 1)
        for port in service["spec"]["ports"]:
            names = {p.get("name") for d in targets for c in containers(d) for p in c.get("ports", [])}
            check(f"service {name}: targetPort {port['targetPort']} is a container port", port["targetPort"] in names)

    # The gateway: its default port, its health routes, its drain.
    gateway = deployments.get("netra-gateway")
    if gateway:
        container = containers(gateway)[0]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check(f"netra-gateway: containerPort is the gateway's default {code.gateway_port}", ports.get("http") == code.gateway_port, f"{ports}")
        ready, live = container.get("readinessProbe", {}).get("httpGet", {}), container.get("livenessProbe", {}).get("httpGet", {})
        check("netra-gateway: readiness probe GET /health/ready", ready.get("path") == "/health/ready" and "/health/ready" in code.gateway_routes)
        check("netra-gateway: liveness probe GET /health", live.get("path") == "/health" and "/health" in code.gateway_routes)
        check("netra-gateway: probes use the http port", ready.get("port") in ("http", code.gateway_port) and live.get("port") in ("http", code.gateway_port))
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        delay = float(pre_stop[-1]) if pre_stop[:1] == ["sleep"] else 0
        grace = gateway["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        check(f"netra-gateway: terminationGracePeriodSeconds {grace} > preStop {delay:g} s + drain {code.drain_seconds} s",
              grace > delay + code.drain_seconds)
        check("netra-gateway: no `replicas` (the HPA owns it)", "replicas" not in gateway["spec"])
        check("netra-gateway: gets the JWT secret and the admin token",
              {"NETRA_JWT_SECRET", "NETRA_ADMIN_TOKEN", "NETRA_REDIS_URL", "NETRA_DATABASE_URL"} <= env_names(container))

    scheduler = deployments.get("netra-scheduler")
    if scheduler:
        container = containers(scheduler)[0]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check(f"netra-scheduler: containerPort is the scheduler's default {code.scheduler_port}", ports.get("http") == code.scheduler_port, f"{ports}")
        for probe in ("readinessProbe", "livenessProbe"):
            path = container.get(probe, {}).get("httpGet", {}).get("path")
            check(f"netra-scheduler: {probe} path {path} is a scheduler route {sorted(code.scheduler_routes)}", path in code.scheduler_routes)
        check("netra-scheduler: two replicas (one leader, one stand-by)", scheduler["spec"].get("replicas") == 2)
        check("netra-scheduler: no JWT secret or admin token", not {"NETRA_JWT_SECRET", "NETRA_ADMIN_TOKEN"} & env_names(container))

    worker = deployments.get("netra-worker")
    if worker:
        container = containers(worker)[0]
        grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        check(f"netra-worker: terminationGracePeriodSeconds {grace} > the {code.drain_seconds} s drain", grace > code.drain_seconds)
        if code.worker_serves_http:
            check("netra-worker: the worker now serves HTTP: give it a port and probes", bool(container.get("ports")) and "readinessProbe" in container)
        else:
            check("netra-worker: no ports and no HTTP probes (the worker serves no HTTP)",
                  not container.get("ports") and not any(p in container for p in ("readinessProbe", "livenessProbe", "startupProbe")))
        check("netra-worker: no `replicas` (KEDA owns it)", "replicas" not in worker["spec"])
        check("netra-worker: no JWT secret or admin token", not {"NETRA_JWT_SECRET", "NETRA_ADMIN_TOKEN"} & env_names(container))

    # Per-process settings must not be shared; shared ones must be valid together.
    check("netra-config: NETRA_HTTP_HOST is 0.0.0.0 (the processes default to 127.0.0.1)", config.get("NETRA_HTTP_HOST") == "0.0.0.0")
    shared = sorted({"NETRA_HTTP_PORT", "NETRA_HEARTBEAT_INTERVAL", "NETRA_JWT_SECRET", "NETRA_ADMIN_TOKEN",
                     "NETRA_DATABASE_URL", "NETRA_REDIS_URL", "NETRA_LLM_API_KEY"} & set(config))
    check("netra-config: no per-process settings and no secrets", not shared, f"{shared}")
    lease = float(config.get("NETRA_LEASE_DURATION", 10))
    check(f"netra-config: NETRA_LEASE_DURATION {lease:g} > twice the worker's heartbeat ({code.worker_heartbeat:g} s)",
          lease > 2 * code.worker_heartbeat)
    concurrency = int(config.get("NETRA_WORKER_CONCURRENCY", code.worker_concurrency))
    prefix = config.get("NETRA_REDIS_PREFIX", code.default_prefix)

    # Secrets: only placeholders, and ones that fail loudly.
    template = secrets.get("netra-secrets", {}).get("stringData", {})
    check("secret template: JWT secret is a placeholder shorter than 32 characters (the gateway refuses it)",
          "REPLACE" in template.get("NETRA_JWT_SECRET", "") and len(template.get("NETRA_JWT_SECRET", "")) < 32)
    check("secret template: admin token is a placeholder shorter than 16 characters (the gateway refuses it)",
          "REPLACE" in template.get("NETRA_ADMIN_TOKEN", "") and len(template.get("NETRA_ADMIN_TOKEN", "")) < 16)
    check("secret template: the database URL carries no real password", "REPLACE" in template.get("NETRA_DATABASE_URL", ""))
    check("secret template: not in kustomization (applied by hand)", "secret.template.yaml" not in kustomization.get("resources", []))

    # HPA for the gateway on CPU.
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("netra-gateway")
    check("hpa: netra-gateway exists", hpa is not None)
    if hpa:
        target = hpa["spec"]["scaleTargetRef"]
        check("hpa: targets Deployment netra-gateway", target["kind"] == "Deployment" and target["name"] == "netra-gateway")
        cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
        check("hpa: scales on CPU utilization", bool(cpu) and cpu[0]["resource"]["target"]["type"] == "Utilization")
        check("hpa: at least two gateways", hpa["spec"].get("minReplicas", 1) >= 2)

    # PodDisruptionBudgets select the pods of a Deployment.
    budgets = by_kind.get("PodDisruptionBudget", {})
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        check(f"pdb: a PodDisruptionBudget covers {name}", any(label_match(b["spec"]["selector"]["matchLabels"], labels) for b in budgets.values()))

    # Ingress: to the gateway's Service, WebSocket-friendly timeouts, uploads up to 32 MiB.
    for name, ingress in by_kind.get("Ingress", {}).items():
        notes = ingress["metadata"].get("annotations", {})
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port_names = {p.get("name") for p in services.get(backend["name"], {}).get("spec", {}).get("ports", [])}
                check(f"ingress {name}: backend {backend['name']}:{backend['port']} is a Service port",
                      backend["name"] in services and backend["port"].get("name") in port_names)
        for annotation in ("proxy-read-timeout", "proxy-send-timeout"):
            value = seconds(notes.get(f"nginx.ingress.kubernetes.io/{annotation}", "60"))
            check(f"ingress {name}: {annotation} {value:g} s keeps WebSockets open", value >= 3600)
        body = mebibytes(notes.get("nginx.ingress.kubernetes.io/proxy-body-size", "1m"))
        check(f"ingress {name}: proxy-body-size {body:g} MiB admits 32 MiB workload uploads", body >= 32)

    # KEDA: the streams and group of RedisKeys, lag and pending triggers, scale from zero.
    scaled = by_kind.get("ScaledObject", {}).get("netra-worker")
    check("keda: ScaledObject netra-worker exists", scaled is not None)
    if scaled:
        spec = scaled["spec"]
        check("keda: targets Deployment netra-worker", spec["scaleTargetRef"]["name"] == "netra-worker" and spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment")
        check("keda: minReplicaCount 0 (scale from zero)", spec.get("minReplicaCount", 0) == 0)
        triggers = spec["triggers"]
        streams = code.streams(prefix)
        lag = [t["metadata"] for t in triggers if t["type"] == "redis-streams" and "lagCount" in t["metadata"]]
        pending = [t["metadata"] for t in triggers if t["type"] == "redis-streams" and "pendingEntriesCount" in t["metadata"]]
        check(f"keda: one lag trigger per work stream {sorted(streams.values())}",
              sorted(m["stream"] for m in lag) == sorted(streams.values()), f"{sorted(m['stream'] for m in lag)}")
        check("keda: one pending-entries trigger per work stream",
              sorted(m["stream"] for m in pending) == sorted(streams.values()), f"{sorted(m['stream'] for m in pending)}")
        groups = {m.get("consumerGroup") for m in lag + pending}
        check(f"keda: consumer group is RedisKeys' `{code.group}`", groups == {code.group}, f"{groups}")
        check("keda: activationLagCount 0 on every lag trigger", all(m.get("activationLagCount") == "0" for m in lag))
        check(f"keda: lagCount is NETRA_WORKER_CONCURRENCY ({concurrency})", all(int(m["lagCount"]) == concurrency for m in lag))
        check(f"keda: pendingEntriesCount is NETRA_WORKER_CONCURRENCY ({concurrency})", all(int(m["pendingEntriesCount"]) == concurrency for m in pending))
        modifiers = spec.get("advanced", {}).get("scalingModifiers")
        if modifiers:
            names = [t.get("name") for t in triggers]
            used = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", modifiers["formula"])
            check("keda: the formula adds up every trigger once", sorted(used) == sorted(names) and set(re.sub(r"[A-Za-z_0-9\s]", "", modifiers["formula"])) <= {"+"},
                  f"{modifiers['formula']} vs {names}")
            target = float(modifiers["target"])
            check(f"keda: composite target {target:g} ≤ NETRA_WORKER_CONCURRENCY ({concurrency})", 0 < target <= concurrency)
            check("keda: composite activationTarget 0 (scale from zero)", float(modifiers.get("activationTarget", 0)) == 0)
        redis_url = urlsplit(template.get("NETRA_REDIS_URL", ""))
        address = f"{redis_url.hostname}:{redis_url.port or 6379}"
        check(f"keda: address is NETRA_REDIS_URL's {address}", {m.get("address") for m in lag + pending} == {address})
        database = (redis_url.path or "/0").strip("/") or "0"
        check(f"keda: databaseIndex matches NETRA_REDIS_URL ({database})",
              all(m.get("databaseIndex", "0") == database for m in lag + pending))
        authentications = by_kind.get("TriggerAuthentication", {})
        for trigger in triggers:
            reference = trigger.get("authenticationRef", {}).get("name")
            if reference:
                check(f"keda: trigger {trigger.get('name')} authentication {reference} exists", reference in authentications)
        for name, authentication in authentications.items():
            for ref in authentication["spec"].get("secretTargetRef", []):
                check(f"keda: {name} reads Secret {ref['name']}/{ref['key']} of the template",
                      ref["key"] in secrets.get(ref["name"], {}).get("stringData", {}))
        check("code: the gateway creates the consumer group on every work stream (XGROUP CREATE … MKSTREAM)", code.gateway_creates_groups)

    names: set[str] = set()
    for _, doc in docs:
        names |= netra_names(doc)
    return names


# ---------------------------------------------------------------------------------------------------------------------
# docker compose


def validate_compose(code: Code) -> set[str]:
    text = COMPOSE.read_text()
    try:
        compose = yaml.safe_load(text)
    except yaml.YAMLError as error:
        check("compose: parses", False, str(error))
        return set()
    check("compose: parses", isinstance(compose, dict))
    services = compose.get("services", {})
    check("compose: services redis, postgres, gateway, worker, scheduler",
          {"redis", "postgres", "gateway", "worker", "scheduler"} <= set(services), f"{sorted(services)}")
    for name, service in services.items():
        check(f"compose {name}: restart policy", service.get("restart") in ("always", "unless-stopped", "on-failure"))

    redis = services.get("redis", {})
    command = " ".join(redis.get("command", [])) if isinstance(redis.get("command"), list) else str(redis.get("command"))
    check("compose redis: Redis 7", str(redis.get("image", "")).startswith("redis:7"))
    check("compose redis: appendonly yes", "--appendonly yes" in command)
    check("compose redis: maxmemory-policy noeviction", "--maxmemory-policy noeviction" in command)
    check("compose redis: healthcheck redis-cli ping", "redis-cli ping" in " ".join(redis.get("healthcheck", {}).get("test", [])))
    postgres = services.get("postgres", {})
    check("compose postgres: PostgreSQL 15", str(postgres.get("image", "")).startswith("postgres:15"))
    check("compose postgres: healthcheck pg_isready", "pg_isready" in " ".join(postgres.get("healthcheck", {}).get("test", [])))
    max_connections = re.search(r"max_connections=(\d+)", " ".join(postgres.get("command", [])))

    anchor = compose.get("x-netra-env", {})
    check("compose: x-netra-env anchor", bool(re.search(r"^x-netra-env: &netra-env$", text, re.M)) and bool(anchor))
    for key, message in (("NETRA_JWT_SECRET", "JWT secret"), ("NETRA_ADMIN_TOKEN", "admin token")):
        check(f"compose: the {message} comes from the environment and fails loudly when unset",
              re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", str(anchor.get(key, ""))) is not None, str(anchor.get(key)))
    check("compose: the database password comes from the environment and fails loudly when unset",
          "${POSTGRES_PASSWORD:?" in str(anchor.get("NETRA_DATABASE_URL", "")))
    check("compose: NETRA_HTTP_HOST 0.0.0.0", anchor.get("NETRA_HTTP_HOST") == "0.0.0.0")
    check("compose: no NETRA_HEARTBEAT_INTERVAL or NETRA_HTTP_PORT in the shared settings",
          not {"NETRA_HEARTBEAT_INTERVAL", "NETRA_HTTP_PORT"} & set(anchor))

    pool = int(anchor.get("NETRA_DATABASE_POOL_SIZE", 20))
    processes = 0
    for name, binary in (("gateway", "netra-gateway"), ("worker", "netra-worker"), ("scheduler", "netra-scheduler")):
        service = services.get(name, {})
        environment = service.get("environment", {})
        check(f"compose {name}: runs {binary}", service.get("command") == [binary])
        check(f"compose {name}: environment from x-netra-env", all(environment.get(k) == v for k, v in anchor.items()))
        grace = seconds(service.get("stop_grace_period", "10s"))
        check(f"compose {name}: stop_grace_period {grace:g} s > the {code.drain_seconds} s drain", grace > code.drain_seconds)
        processes += int(service.get("deploy", {}).get("replicas", 1))
    if max_connections:
        check(f"compose postgres: max_connections {max_connections.group(1)} ≥ {processes} processes × pool {pool}",
              int(max_connections.group(1)) >= processes * pool)
    else:
        check(f"compose postgres: default max_connections 100 ≥ {processes} processes × pool {pool}", 100 >= processes * pool)

    gateway = services.get("gateway", {})
    test = " ".join(gateway.get("healthcheck", {}).get("test", []))
    check(f"compose gateway: healthcheck GET /health/ready on {code.gateway_port}", f":{code.gateway_port}/health/ready" in test)
    check("compose gateway: publishes the gateway port", any(str(p).endswith(f":{code.gateway_port}") for p in gateway.get("ports", [])))
    port = gateway.get("environment", {}).get("NETRA_HTTP_PORT")
    check("compose gateway: NETRA_HTTP_PORT is the default", port in (None, str(code.gateway_port)))
    scheduler = services.get("scheduler", {})
    test = " ".join(scheduler.get("healthcheck", {}).get("test", []))
    check(f"compose scheduler: healthcheck GET /health on {code.scheduler_port}", f":{code.scheduler_port}/health" in test and "/health" in code.scheduler_routes)
    check("compose scheduler: NETRA_HTTP_PORT is the default", scheduler.get("environment", {}).get("NETRA_HTTP_PORT") in (None, str(code.scheduler_port)))
    check("compose worker: deploy.replicas 3", services.get("worker", {}).get("deploy", {}).get("replicas") == 3)
    check("compose scheduler: deploy.replicas 2", scheduler.get("deploy", {}).get("replicas") == 2)
    check("compose worker: starts after the gateway is healthy (the gateway migrates; workers do not)",
          services.get("worker", {}).get("depends_on", {}).get("gateway", {}).get("condition") == "service_healthy")
    return netra_names(compose)


# ---------------------------------------------------------------------------------------------------------------------
# Dockerfile


def validate_dockerfile() -> set[str]:
    text = DOCKERFILE.read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", logical, re.M | re.I)
    check("dockerfile: two stages, build and runtime", [s[1] for s in stages] == ["build", "runtime"], f"{stages}")
    swift_image = re.search(r"^ARG SWIFT_IMAGE=(swift:\S+)", logical, re.M)
    check("dockerfile: the Swift image is an ARG (swift:6.x-bookworm)", bool(swift_image) and stages[:1] == [("${SWIFT_IMAGE}", "build")]
          and re.fullmatch(r"swift:6\.\d+(\.\d+)?-bookworm", swift_image.group(1)) is not None)
    check("dockerfile: runtime on debian:bookworm-slim", "ARG RUNTIME_IMAGE=debian:bookworm-slim" in logical)
    builds = re.findall(r"swift build -c release --static-swift-stdlib --product \"\$product\"", logical)
    check("dockerfile: release build with the static Swift runtime", bool(builds) and "for product in netra-gateway netra-worker netra-scheduler" in logical)
    build_stage, _, runtime_stage = logical.partition("AS runtime")
    check("dockerfile: build stage installs libhiredis-dev and libjemalloc-dev",
          all(p in build_stage for p in ("libhiredis-dev", "libjemalloc-dev")))
    check("dockerfile: runtime installs libhiredis0.14, libjemalloc2, libstdc++6, zlib1g, ca-certificates",
          all(p in runtime_stage for p in ("libhiredis0.14", "libjemalloc2", "libstdc++6", "zlib1g", "ca-certificates")))
    check("dockerfile: runtime has curl for the compose health checks", re.search(r"install[^\n]*\bcurl\b", runtime_stage) is not None)
    check("dockerfile: the three binaries are copied", all(b in logical for b in ("netra-gateway", "netra-worker", "netra-scheduler")))
    user = re.findall(r"^USER\s+(\S+)", runtime_stage, re.M)
    check("dockerfile: runs as a numeric non-root user", bool(user) and re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]) is not None, f"{user}")
    check("dockerfile: no ENTRYPOINT (the command picks the process)", re.search(r"^ENTRYPOINT", logical, re.M) is None)
    check("dockerfile: NETRA_HTTP_HOST=0.0.0.0", "NETRA_HTTP_HOST=0.0.0.0" in runtime_stage)
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore")
    check("dockerfile: Dockerfile.dockerignore keeps .build and .data out of the context",
          ignore.exists() and {".build", ".data"} <= set(ignore.read_text().split()))
    return set(re.findall(r"\bNETRA_[A-Z0-9_]*[A-Z0-9]\b", logical))


# ---------------------------------------------------------------------------------------------------------------------


def main() -> int:
    code = Code()
    print(f"deploy: validating {DEPLOY.relative_to(REPO)}/ (Kubernetes {KUBERNETES_VERSION} schemas, "
          f"kubernetes-validate {kubernetes_validate.__version__ if hasattr(kubernetes_validate, '__version__') else ''})".rstrip())
    names = validate_kubernetes(code) | validate_compose(code) | validate_dockerfile()
    for name in sorted(names):
        check(f"setting {name} exists in Settings.swift and README's configuration table",
              name in code.settings and name in code.readme_settings,
              "not a SettingKey" if name not in code.settings else "missing from README's table")
    undocumented = sorted(code.settings - code.readme_settings)
    if undocumented:
        note(f"settings missing from README's configuration table: {', '.join(undocumented)}")
    print(f"deploy: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
