"""The Prometheus metrics shared by every part of the platform (one default registry per process).

Labels stay low-cardinality: `route` is the route template (`/games/{game_id}`), never the raw
path; topics are the event topics of the registry; nothing per user, key or IP.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

HTTP_LABELS = ("service", "method", "route", "status")
EVENT_LABELS = ("service", "topic")

HTTP_REQUESTS = Counter("parovoz_http_requests_total", "HTTP requests answered.", HTTP_LABELS)
HTTP_LATENCY = Histogram(
    "parovoz_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
    HTTP_LABELS,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

EVENTS_PUBLISHED = Counter(
    "parovoz_events_published_total", "Integration events acknowledged by the broker.", EVENT_LABELS
)
EVENTS_CONSUMED = Counter(
    "parovoz_events_consumed_total", "Integration events handled (or skipped as duplicates).", EVENT_LABELS
)
EVENTS_FAILED = Counter(
    "parovoz_events_failed_total", "Integration events that went to the dead-letter topic.", EVENT_LABELS
)
OUTBOX_LAG = Gauge(
    "parovoz_outbox_lag_seconds", "Age of the oldest unpublished outbox row (0 when empty).", ["service"]
)
OUTBOX_PENDING = Gauge("parovoz_outbox_pending", "Unpublished outbox rows.", ["service"])

# Counted by the limiters themselves, by backend ("memory" | "redis"): keys never become labels.
RATE_LIMIT_REJECTIONS = Counter(
    "parovoz_rate_limit_rejections_total", "Requests refused by a rate limit.", ["backend"]
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "parovoz_rate_limit_fail_open_total",
    "Rate-limit checks let through because the limiter's store was unreachable.",
    ["backend"],
)
# The revocation list of ended sessions (chassis/security/revocation.py), by backend.
REVOKED_SESSIONS = Gauge(
    "parovoz_revoked_sessions", "Ended sessions whose access tokens are still refused here.", ["backend"]
)
REVOCATION_SYNC_FAILURES = Counter(
    "parovoz_revocation_sync_failures_total",
    "Revocation-list operations that failed on its shared store (the last known list kept serving).",
    ["backend", "operation"],
)


def observe_http(service: str, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    labels = (service, method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_LATENCY.labels(*labels).observe(seconds)


def render() -> tuple[bytes, str]:
    """The default registry in the Prometheus text format: (body, content type) for `/metrics`."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
