"""Run Parovoz processes for end-to-end tests: the embedded platform or single services."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from tests.infra import free_port


def wait_ready(base_url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `GET /readyz` answers 200 (fail early when the process died)."""
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before it was ready")
        try:
            r = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready in {timeout}s: {last}")


def spawn(args: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAROVOZ_")}
    full_env.update(env)
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "parovoz", *args],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], *, kill: bool = False, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


@contextlib.contextmanager
def embedded(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """`parovoz up` in a subprocess; yields its base URL."""
    port = free_port()
    proc = spawn(
        ["up", "--port", str(port), "--data-dir", str(data_dir)],
        dict(env or {}),
        data_dir.parent / f"embedded-{port}.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc=proc)
        yield base
    finally:
        stop(proc)
