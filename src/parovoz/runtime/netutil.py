"""Small network helpers for composing processes on one machine."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller binds it right away)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
