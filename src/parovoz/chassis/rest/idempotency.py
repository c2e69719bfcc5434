"""`Idempotency-Key` for money-moving POSTs, as payment APIs do it (SECURITY.md).

The key row (`idempotency_keys`, chassis migration) is committed as `in_flight` *before* the work
starts, so a concurrent duplicate finds it and gets 409 `IDEMPOTENCY_KEY_IN_FLIGHT`. When the work
answers, its status, headers and body are stored and replayed for the same key and body; another
body under the same key is 422 `IDEMPOTENCY_KEY_REUSED`. A failed first attempt (an exception or a
5xx) deletes the row so the client may retry. Keys live `ttl` (24 h) and `purge_expired` drops them.

Two ways to run the work:
- `run(scope, key, body, handler)`: `handler()` does its own transactions. A crash between its
  commit and the stored response leaves the key `in_flight` until it expires (never re-run: a
  double charge is worse than a blocked retry).
- `run_atomic(scope, key, body, handler)`: `handler(uow)` works inside one transaction in which the
  response is stored too, so the work and the stored answer commit together. An `in_flight` row
  older than `lease` then proves the first attempt died uncommitted, and is taken over safely.

`scope` must separate callers and routes (e.g. `f"payments:initiate:{principal.user_id}"`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from parovoz.chassis import context
from parovoz.chassis.db import Database, UnitOfWork
from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.errors import render_error

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = b"idempotent-replayed"
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# Headers that belong to one exchange, not to the stored answer.
_NOT_STORED = frozenset({b"content-length", b"set-cookie", b"x-request-id", b"date", b"server"})

_CLAIM = text(
    """
    INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at)
    VALUES (:scope, :key, :hash, 'in_flight', clock_timestamp(), clock_timestamp() + CAST(:ttl AS interval))
    ON CONFLICT (scope, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, state = 'in_flight', created_at = EXCLUDED.created_at,
            expires_at = EXCLUDED.expires_at, response_status = NULL, response_headers = NULL,
            response_body = NULL
        WHERE idempotency_keys.expires_at < clock_timestamp()
           OR (:takeover AND idempotency_keys.state = 'in_flight'
               AND idempotency_keys.request_hash = EXCLUDED.request_hash
               AND idempotency_keys.created_at < clock_timestamp() - CAST(:lease AS interval))
    RETURNING created_at
    """
)
_EXISTING = text(
    "SELECT request_hash, state, response_status, response_headers, response_body"
    " FROM idempotency_keys WHERE scope = :scope AND key = :key"
)
# `created_at` is the attempt's fencing token: a taken-over attempt can neither finish nor release.
_COMPLETE = text(
    "UPDATE idempotency_keys SET state = 'done', response_status = :status,"
    " response_headers = CAST(:headers AS jsonb), response_body = :body"
    " WHERE scope = :scope AND key = :key AND state = 'in_flight' AND created_at = :attempt"
)
_RELEASE = text(
    "DELETE FROM idempotency_keys WHERE scope = :scope AND key = :key"
    " AND state = 'in_flight' AND created_at = :attempt"
)
_PURGE = text("DELETE FROM idempotency_keys WHERE expires_at < clock_timestamp()")


class _AttemptSuperseded(Exception):
    """Our in-flight row was taken over: roll our work back."""


class _FailedAttempt(Exception):
    """A 5xx answer inside `run_atomic`: roll the work back, then release the key."""

    def __init__(self, response: Response) -> None:
        self.response = response


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_key(key: str | None) -> str:
    """The key if it is 1..255 visible ASCII characters, else 400 `INVALID_IDEMPOTENCY_KEY`."""
    if key is None or not _KEY_PATTERN.fullmatch(key):
        raise ApiError(400, "INVALID_IDEMPOTENCY_KEY", parameter=IDEMPOTENCY_HEADER)
    return key


def _stored_headers(response: Response) -> list[list[str]]:
    return [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in response.raw_headers
        if name.lower() not in _NOT_STORED
    ]


def replay_response(status: int, headers: list[list[str]], body: bytes) -> Response:
    response = Response(content=body, status_code=status)
    response.raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    response.raw_headers += [(b"content-length", str(len(body)).encode()), (REPLAYED_HEADER, b"true")]
    return response


def error_response(error: ApiError) -> Response:
    status, headers, body = render_error(error, context.language.get())
    response = Response(content=body, status_code=status)
    response.raw_headers = headers
    return response


def _body_of(response: Response) -> bytes:
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        raise TypeError("idempotent handlers must return a response with a complete body")
    return body


class IdempotencyStore:
    """Idempotency keys of one service database."""

    def __init__(
        self, db: Database, *, ttl: timedelta = timedelta(hours=24), lease: timedelta = timedelta(minutes=5)
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.lease = lease

    async def run(
        self, scope: str, key: str | None, body: bytes, handler: Callable[[], Awaitable[Response]]
    ) -> Response:
        """The first answer for (`scope`, `key`, `body`): runs `handler()` once, replays it after."""
        key = check_key(key)
        attempt, replay = await self._claim(scope, key, body, takeover=False)
        if replay is not None:
            return replay
        try:
            response = await handler()
        except ApiError as error:
            if error.status >= 500:
                await self._release(scope, key, attempt)
                raise
            response = error_response(error)
        except BaseException:
            await self._release(scope, key, attempt)
            raise
        if response.status_code >= 500:
            await self._release(scope, key, attempt)
            return response
        try:
            async with self.db.transaction() as uow:
                await self._complete(uow.conn, scope, key, attempt, response)
        except _AttemptSuperseded:
            pass  # the row expired and was reclaimed meanwhile: the work is done, answer anyway
        return response

    async def run_atomic(
        self, scope: str, key: str | None, body: bytes, handler: Callable[[UnitOfWork], Awaitable[Response]]
    ) -> Response:
        """Like `run`, with `handler(uow)`'s work and the stored answer in one transaction."""
        key = check_key(key)
        attempt, replay = await self._claim(scope, key, body, takeover=True)
        if replay is not None:
            return replay
        try:
            async with self.db.transaction() as uow:
                response = await handler(uow)
                if response.status_code >= 500:
                    raise _FailedAttempt(response)
                await self._complete(uow.conn, scope, key, attempt, response)
            return response
        except _FailedAttempt as failed:
            await self._release(scope, key, attempt)
            return failed.response
        except _AttemptSuperseded:
            raise ApiError(409, "IDEMPOTENCY_KEY_IN_FLIGHT") from None
        except ApiError as error:
            if error.status >= 500:
                await self._release(scope, key, attempt)
                raise
            response = error_response(error)  # the work rolled back; its refusal is the answer
            try:
                async with self.db.transaction() as uow:
                    await self._complete(uow.conn, scope, key, attempt, response)
            except _AttemptSuperseded:
                pass  # a takeover owns the key now; our refusal still answers this request
            return response
        except BaseException:
            await self._release(scope, key, attempt)
            raise

    async def purge_expired(self) -> int:
        """Delete expired keys; returns how many."""
        async with self.db.transaction() as uow:
            result = await uow.conn.execute(_PURGE)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _claim(
        self, scope: str, key: str, body: bytes, *, takeover: bool
    ) -> tuple[datetime, None] | tuple[None, Response]:
        digest = request_hash(body)
        params: dict[str, Any] = {"scope": scope, "key": key, "hash": digest, "ttl": self.ttl}
        params |= {"takeover": takeover, "lease": self.lease}
        # Retried because the row may vanish between our insert and our read (a released attempt).
        for _ in range(3):
            async with self.db.transaction() as uow:
                claimed = await uow.conn.execute(_CLAIM, params)
                attempt = claimed.scalar_one_or_none()
                if attempt is not None:
                    return attempt, None
                row = (await uow.conn.execute(_EXISTING, {"scope": scope, "key": key})).first()
            if row is None:
                continue
            if row.request_hash != digest:
                raise ApiError(422, "IDEMPOTENCY_KEY_REUSED")
            if row.state != "done":
                raise ApiError(409, "IDEMPOTENCY_KEY_IN_FLIGHT")
            return None, replay_response(row.response_status, row.response_headers, row.response_body)
        raise ApiError(409, "IDEMPOTENCY_KEY_IN_FLIGHT")

    async def _complete(
        self, conn: AsyncConnection, scope: str, key: str | None, attempt: datetime, response: Response
    ) -> None:
        params: dict[str, Any] = {
            "scope": scope,
            "key": key,
            "attempt": attempt,
            "status": response.status_code,
            "headers": orjson.dumps(_stored_headers(response)).decode(),
            "body": _body_of(response),
        }
        result = await conn.execute(_COMPLETE, params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _AttemptSuperseded()

    async def _release(self, scope: str, key: str | None, attempt: datetime) -> None:
        async with self.db.transaction() as uow:
            await uow.conn.execute(_RELEASE, {"scope": scope, "key": key, "attempt": attempt})
