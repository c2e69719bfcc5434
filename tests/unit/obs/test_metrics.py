from __future__ import annotations

from prometheus_client import REGISTRY

from parovoz.chassis.obs import metrics


def test_render_exposes_every_shared_metric() -> None:
    metrics.observe_http("catalog", "GET", "/games/{game_id}", 200, 0.003)
    metrics.EVENTS_PUBLISHED.labels("catalog", "catalog.game_published").inc()
    metrics.EVENTS_CONSUMED.labels("search", "catalog.game_published").inc()
    metrics.EVENTS_FAILED.labels("search", "catalog.game_published").inc()
    metrics.OUTBOX_LAG.labels("catalog").set(0.5)
    metrics.OUTBOX_PENDING.labels("catalog").set(2)
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in (
        "parovoz_http_requests_total",
        "parovoz_http_request_duration_seconds_bucket",
        "parovoz_events_published_total",
        "parovoz_events_consumed_total",
        "parovoz_events_failed_total",
        "parovoz_outbox_lag_seconds",
        "parovoz_outbox_pending",
        "parovoz_rate_limit_rejections_total",
        "parovoz_rate_limit_fail_open_total",
    ):
        assert name in text, name
    assert 'route="/games/{game_id}"' in text


def test_observe_http_counts_and_times() -> None:
    labels = {"service": "orders", "method": "POST", "route": "/orders", "status": "201"}
    before = REGISTRY.get_sample_value("parovoz_http_requests_total", labels) or 0
    metrics.observe_http("orders", "POST", "/orders", 201, 0.02)
    assert REGISTRY.get_sample_value("parovoz_http_requests_total", labels) == before + 1
    bucket = REGISTRY.get_sample_value(
        "parovoz_http_request_duration_seconds_bucket", {**labels, "le": "0.025"}
    )
    assert bucket is not None and bucket >= 1
