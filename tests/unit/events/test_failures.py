"""Outage or bug: what may send an event to the dead-letter topic."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from parovoz.chassis.errors import ApiError
from parovoz.chassis.events.failures import is_infrastructure_failure


def _wrapped(
    orig: BaseException, cls: type[sa_exc.DBAPIError] = sa_exc.DBAPIError, statement: str | None = "SELECT 1"
) -> sa_exc.DBAPIError:
    return cls(statement, {}, orig)  # type: ignore[arg-type]


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        _wrapped(Exception("server closed the connection"), sa_exc.OperationalError),
        _wrapped(asyncpg.CannotConnectNowError("the database system is starting up")),
        sa_exc.TimeoutError("QueuePool limit reached"),
        _wrapped(Exception("database is not currently accepting connections"), statement=None),
        _wrapped(_DriverError("57P01")),  # admin shutdown
        _wrapped(_DriverError("08006")),  # connection failure
        _wrapped(_DriverError("53300")),  # too many connections
    ],
)
def test_outages_are_retried_not_parked(exc: BaseException) -> None:
    assert is_infrastructure_failure(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("handler bug"),
        ApiError(422, "VALIDATION_FAILED"),
        _wrapped(Exception("duplicate key"), sa_exc.IntegrityError),
        _wrapped(_DriverError("23505"), sa_exc.IntegrityError),
        KeyError("userId"),
    ],
)
def test_handler_failures_are_parked(exc: BaseException) -> None:
    assert not is_infrastructure_failure(exc)


def test_only_explicit_causes_count() -> None:
    try:
        try:
            raise ConnectionResetError
        except ConnectionResetError:
            raise ValueError("handler turned it into its own error") from None
    except ValueError as implicit:
        assert not is_infrastructure_failure(implicit)
    try:
        raise RuntimeError("wrapped") from ConnectionResetError()
    except RuntimeError as explicit:
        assert is_infrastructure_failure(explicit)
