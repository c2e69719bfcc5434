"""Serving an ASGI app with uvicorn inside a process that has more to shut down than uvicorn.

uvicorn re-raises SIGTERM/SIGINT once it has stopped, which kills the process before its own
clean-up runs (the relay's last batch, the consumers' commits, the private PostgreSQL). Here a
signal only asks the server to stop; the caller's `finally` then runs to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._request_exit)
                installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _request_exit(self) -> None:
        # a second signal forces the exit without waiting for open connections
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


async def serve_http(app: Any, host: str, port: int) -> None:
    """Serve `app` until SIGINT/SIGTERM; returns so that the caller can shut down the rest."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,  # no software banner on responses
    )
    await _Server(config).serve()
