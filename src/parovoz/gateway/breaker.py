"""Fail fast while a service refuses connections, instead of making every caller wait to learn it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from parovoz.gateway.errors import UpstreamError


@dataclass
class CircuitBreaker:
    """After `threshold` consecutive connection failures, fail fast for `open_seconds`.

    A service that refuses connections would otherwise cost every caller a connect attempt; while
    open the gateway answers 503 + Retry-After at once. When the period ends, requests flow again
    and the first failure reopens it (the failure count stays at the threshold until a success).
    """

    threshold: int = 5
    open_seconds: float = 5.0
    failures: int = 0
    open_until: float = 0.0

    def check(self) -> None:
        if self.open_until:
            remaining = self.open_until - time.monotonic()
            if remaining > 0:
                raise UpstreamError(503, "SERVICE_UNAVAILABLE", retry_after=max(1, math.ceil(remaining)))
            self.open_until = 0.0

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = time.monotonic() + self.open_seconds

    def record_success(self) -> None:
        self.failures = 0
        self.open_until = 0.0
