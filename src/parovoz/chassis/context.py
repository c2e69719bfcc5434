"""Per-request (or per-event, per-call) context carried across awaits.

The REST middleware, the gRPC server interceptor and the event consumer set these; logs,
outgoing gRPC metadata and emitted events read them.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("parovoz_request_id", default=None)
correlation_id: ContextVar[str | None] = ContextVar("parovoz_correlation_id", default=None)
# The end user's raw bearer token when a call acts for that user (forwarded over gRPC).
user_token: ContextVar[str | None] = ContextVar("parovoz_user_token", default=None)
# Preferred language of the current caller ("ru" or "en").
language: ContextVar[str] = ContextVar("parovoz_language", default="ru")


def current_correlation_id() -> str:
    """The correlation id of the current operation, falling back to the request id, or a new id."""
    return correlation_id.get() or request_id.get() or str(uuid.uuid4())
