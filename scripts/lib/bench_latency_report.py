"""The figures and the printed table of `scripts/bench latency`, shared by its two clients."""
import json


def percentiles(values):
    """p50/p95/p99/p99.9 in milliseconds of `values` (seconds)."""
    values = sorted(values)
    if not values:
        return {}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000
    return {"p50": round(pick(0.50), 2), "p95": round(pick(0.95), 2), "p99": round(pick(0.99), 2), "p99_9": round(pick(0.999), 2)}


def report(headline, rate, submitted, errors, acks, first, completed, **extra):
    """Prints the table, then the figures as one JSON object on the last line (which the bench script reads)."""
    result = {
        "rate": rate, "submitted": submitted, "completed": len(completed), "errors": errors, **extra,
        "ack_ms": percentiles(acks), "first_event_ms": percentiles(first), "completed_ms": percentiles(completed),
    }
    print(headline)
    print(f"  runs submitted / completed / errors   {submitted} / {len(completed)} / {errors}")
    print("  ms from scheduled submit             p50      p95      p99    p99.9")
    for name, key in (("submit ack (HTTP 202)", "ack_ms"), ("first event on the WebSocket", "first_event_ms"),
                      ("agent_completed on the WebSocket", "completed_ms")):
        values = result[key]
        print(f"  {name:<34} {values.get('p50', 0):>7} {values.get('p95', 0):>8} {values.get('p99', 0):>8} {values.get('p99_9', 0):>8}")
    print(json.dumps(result))
