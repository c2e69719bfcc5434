from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from parovoz.chassis import context
from parovoz.chassis.config import Settings
from parovoz.chassis.obs.logging import configure_logging, get_logger


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_json_lines_carry_the_request_and_correlation_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_json=True, log_level="INFO"))
    rid, cid = context.request_id.set("req-123"), context.correlation_id.set("corr-456")
    try:
        get_logger("parovoz.test").info("order_paid", order_id="o-1")
    finally:
        context.request_id.reset(rid)
        context.correlation_id.reset(cid)
    [entry] = lines(capsys.readouterr().out)
    assert entry["event"] == "order_paid"
    assert entry["order_id"] == "o-1"
    assert entry["request_id"] == "req-123"
    assert entry["correlation_id"] == "corr-456"
    assert entry["level"] == "info"
    assert entry["logger"] == "parovoz.test"
    assert str(entry["timestamp"]).endswith("Z")


def test_stdlib_loggers_are_routed_through_the_same_format(capsys: pytest.CaptureFixture[str]) -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler())  # what uvicorn's own config would install
    uvicorn_error.propagate = False
    configure_logging(Settings(log_json=True, log_level="INFO"))
    token = context.request_id.set("req-789")
    try:
        uvicorn_error.warning("worker %s stopped", 3)
    finally:
        context.request_id.reset(token)
    [entry] = lines(capsys.readouterr().out)
    assert entry["event"] == "worker 3 stopped"
    assert entry["level"] == "warning"
    assert entry["logger"] == "uvicorn.error"
    assert entry["request_id"] == "req-789"


def test_level_filters_and_exceptions_are_rendered(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_json=True, log_level="WARNING"))
    log = get_logger("parovoz.test")
    log.info("too_chatty")
    try:
        raise RuntimeError("kaboom")
    except RuntimeError:
        log.exception("handler_failed")
    [entry] = lines(capsys.readouterr().out)
    assert entry["event"] == "handler_failed"
    assert "kaboom" in json.dumps(entry["exception"])


def test_console_mode_prints_readable_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_json=False, log_level="DEBUG"))
    token = context.request_id.set("req-console")
    try:
        get_logger("parovoz.test").debug("cache_warmed", entries=3)
    finally:
        context.request_id.reset(token)
    out = capsys.readouterr().out
    assert "cache_warmed" in out and "req-console" in out and "entries=3" in out
    assert not out.lstrip().startswith("{")
