"""Telling an outage from a bug: only a handler's own failures may send an event to the DLQ.

A database that is restarting or a dropped connection says nothing about the event; parking
events on `<topic>.dlq` during an outage would turn a few seconds of downtime into lost work.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

_INFRASTRUCTURE = (
    OSError,  # ConnectionError, refused / reset sockets
    TimeoutError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool is exhausted
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
)


# SQLSTATE classes of a server going away: connection exception, insufficient resources (too many
# connections, disk full), operator intervention (shutdown, restart, cannot connect now).
_OUTAGE_SQLSTATES = ("08", "53", "57P")


def _sqlstate(orig: object) -> str:
    # SQLAlchemy's asyncpg adapter keeps the driver error as __cause__ and exposes its sqlstate
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if isinstance(state, str) else ""


def is_infrastructure_failure(exc: BaseException) -> bool:
    """True when `exc` (or the driver error it wraps) is the database or network failing.

    Only explicit causes are followed (`raise … from`, SQLAlchemy's `.orig`), not the implicit
    context: a handler that turns a caught network error into its own error has a bug to park.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _INFRASTRUCTURE):
            return True
        if isinstance(current, sa_exc.DBAPIError):
            # no statement: it failed while connecting (refused, not accepting connections, ...)
            if current.connection_invalidated or current.statement is None:
                return True
            orig = current.orig
            if isinstance(orig, BaseException) and isinstance(orig, _INFRASTRUCTURE):
                return True
            if _sqlstate(orig).startswith(_OUTAGE_SQLSTATES):
                return True
        current = current.__cause__
    return False
