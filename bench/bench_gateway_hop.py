"""Gateway hop benchmark: a bare ASGI JSON backend, direct vs through the gateway (PERFORMANCE.md).

Both servers run under uvicorn (httptools + uvloop), each in its own process; the gateway uses
HttpUpstream to the backend with the token check (a real RS256 token) and the rate limit on.
Load comes from `wrk` (32 connections) when installed, else from a small asyncio client.
Prints req/s, p50 and p99 for both, the latency the hop adds and the throughput ratio.

    .venv/bin/python bench/bench_gateway_hop.py [--seconds 5] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PAYLOAD = b'{"data":{"id":"1","type":"games","attributes":{"title":"Parovoz"}}}'
PATH = "/api/v1/games/1"


async def backend_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(PAYLOAD))],
        }
    )
    await send({"type": "http.response.body", "body": PAYLOAD})


def serve_backend(port: int) -> None:
    import uvicorn

    uvicorn.run(
        backend_app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def serve_gateway(port: int, backend_port: int, key_file: str) -> None:
    import uvicorn

    from parovoz.chassis.config import Settings
    from parovoz.chassis.security.ratelimit import MemoryRateLimiter
    from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, local_jwks_source
    from parovoz.gateway import Gateway, HttpUpstream, Route

    key = SigningKey.from_pem(Path(key_file).read_bytes())
    # Limits far above the offered load: the check runs on every request but never refuses.
    settings = Settings.from_env(
        {"PAROVOZ_GATEWAY_RATE_LIMIT": "100000000", "PAROVOZ_GATEWAY_USER_RATE_LIMIT": "100000000"}
    )
    gateway = Gateway(
        [Route("/api/v1/games", "catalog")],
        {"catalog": HttpUpstream(f"http://127.0.0.1:{backend_port}")},
        verifier=JwksTokenVerifier(local_jwks_source([key])),
        limiter=MemoryRateLimiter(),
        settings=settings,
    )
    uvicorn.run(
        gateway,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, seconds: float, connections: int, token: str | None) -> tuple[float, float, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        print("  wrk reported errors:\n" + out, file=sys.stderr)
    return rps, p50, p99


def run_python_client(
    url: str, seconds: float, connections: int, token: str | None
) -> tuple[float, float, float]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def main() -> list[float]:
        latencies: list[float] = []
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, headers=headers) as client:
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    response = await client.get(url)
                    if response.status_code != 200:
                        raise RuntimeError(f"status {response.status_code}")
                    latencies.append((time.perf_counter() - start) * 1e3)

            await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies

    latencies = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / seconds, cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-backend", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_backend:
        serve_backend(args.serve_backend)
        return
    if args.serve_gateway:
        serve_gateway(int(args.serve_gateway[0]), int(args.serve_gateway[1]), args.serve_gateway[2])
        return

    from parovoz.chassis.security.tokens import SigningKey, TokenIssuer

    key = SigningKey.generate()
    token = TokenIssuer(key).issue("bench-user", ["user"], "bench-session", 3600).token
    backend_port, gateway_port = _free_port(), _free_port()
    with tempfile.NamedTemporaryFile(suffix=".pem", delete=False) as key_file:
        key_file.write(key.to_pem())
    me = [sys.executable, os.path.abspath(__file__)]
    processes = [
        subprocess.Popen([*me, "--serve-backend", str(backend_port)]),
        subprocess.Popen([*me, "--serve-gateway", str(gateway_port), str(backend_port), key_file.name]),
    ]
    load = run_wrk if shutil.which("wrk") else run_python_client
    load_before = os.getloadavg()
    try:
        _wait_port(backend_port)
        _wait_port(gateway_port)
        direct_url = f"http://127.0.0.1:{backend_port}{PATH}"
        gateway_url = f"http://127.0.0.1:{gateway_port}{PATH}"
        load(direct_url, 1, args.connections, None)  # warm-up: connections, JWKS, token cache
        load(gateway_url, 1, args.connections, token)
        direct, through = [], []
        for _ in range(args.rounds):
            direct.append(load(direct_url, args.seconds, args.connections, None))
            through.append(load(gateway_url, args.seconds, args.connections, token))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        os.unlink(key_file.name)

    def median(results: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in results)

    d_rps, d_p50, d_p99 = median(direct, 0), median(direct, 1), median(direct, 2)
    g_rps, g_p50, g_p99 = median(through, 0), median(through, 1), median(through, 2)
    print(
        f"load generator: {load.__name__}, {args.connections} connections, "
        f"{args.rounds} x {args.seconds:g} s each, medians"
    )
    # The machine may be shared: a load average well above what this run adds makes figures suspect.
    print(
        "load average before / after: {:.2f} {:.2f} {:.2f} / {:.2f} {:.2f} {:.2f}".format(
            *load_before, *os.getloadavg()
        )
    )
    print(f"direct backend : {d_rps:9.0f} req/s   p50 {d_p50:6.2f} ms   p99 {d_p99:6.2f} ms")
    print(
        f"through gateway: {g_rps:9.0f} req/s   p50 {g_p50:6.2f} ms   p99 {g_p99:6.2f} ms"
        "   (token check + rate limit on)"
    )
    print(
        f"added latency  : p50 {g_p50 - d_p50:+.2f} ms   p99 {g_p99 - d_p99:+.2f} ms   (goal <= 1 / <= 3 ms)"
    )
    print(f"throughput ratio gateway/direct: {g_rps / d_rps:.2f}   (goal >= 0.5)")


if __name__ == "__main__":
    main()
