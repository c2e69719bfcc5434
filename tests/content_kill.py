"""kill -9 harness for content installs: an origin that counts chunk GETs, and a loop killing an
install subprocess once the origin has served a given number of chunks."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

JOBS = 4
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}


class CountingOrigin:
    """The chunk origin behind a counter of chunk GETs, each slowed a little so kills land mid-install."""

    def __init__(self, app: Any, delay_s: float) -> None:
        self.app, self.delay_s = app, delay_s
        self.gets: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/chunks/"):
            with self.lock:
                self.gets[scope["path"].rsplit("/", 1)[-1]] += 1
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.gets.values())

    def fetched_again(self) -> int:
        with self.lock:
            return sum(n - 1 for n in self.gets.values() if n > 1)


def install_command(manifest: Path, url: str, target: Path, public: Path) -> list[str]:
    return [sys.executable, "-m", "parovoz", "content", "install", str(manifest), "--from", url,
            "--to", str(target), "--trust", str(public), "--jobs", str(JOBS)]  # fmt: skip


def kill_at(
    command: list[str], origin: CountingOrigin, points: Iterable[int], jitter: random.Random | None = None
) -> int:
    """Run `command` once per point, kill -9 it when the origin has served that many chunk GETs (plus
    up to 20 ms of `jitter`); the number of kills that landed while it was running."""
    kills = 0
    for point in points:
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while origin.total < point and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if jitter is not None:
            time.sleep(jitter.uniform(0, 0.02))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    return kills
