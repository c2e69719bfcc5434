"""Load generation for the HTTP benchmarks: `wrk` (Debian package) with latency percentiles.

`wrk` runs as a separate process on the same 2 cores as the server, as PERFORMANCE.md's figures
were measured; every benchmark therefore reports a ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.requests_per_s:>9.0f} req/s   p50 {self.p50_ms:6.2f} ms"
            f"   p99 {self.p99_ms:6.2f} ms   errors {self.errors}"
        )


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    seconds: int = 5,
    connections: int = 32,
    threads: int = 2,
) -> LoadResult:
    """Run wrk against `url`; non-2xx/3xx answers count as errors."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    script = textwrap.dedent(
        """
        local errors = 0
        response = function(status, headers, body)
          if status >= 400 then errors = errors + 1 end
        end
        done = function(summary, latency, requests)
          io.write(string.format("NON2XX %d\\n", summary.errors.status))
        end
        """
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    Path(f.name).unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = int(re.search(r"NON2XX (\d+)", out).group(1))  # type: ignore[union-attr]
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return LoadResult(rps, p50, p99, errors)


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


BARE_ASGI = """
import orjson
BODY = orjson.dumps({"data": {"id": "1", "type": "users", "attributes": {"username": "bench"}}})
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
"""


@contextmanager
def bare_asgi_server(port: int) -> Iterator[str]:
    """A bare ASGI JSON app on uvicorn (httptools + uvloop): the baseline of every HTTP figure."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare_app.py").write_text(BARE_ASGI)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--http",
                "httptools",
                "--loop",
                "uvloop",
                "--app-dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_http(url)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
