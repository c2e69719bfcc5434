"""Sign-in cost: argon2id at the chosen parameters, login through the gateway, and whether a login
flood hurts other routes (PERFORMANCE.md: argon2id ≥ OWASP minimum in a bounded executor; a login
flood leaves other routes' p99 within 1.2×).

    .venv/bin/python -m bench.bench_login [--seconds 5]

Printed: bare argon2id verify (one thread and two threads) beside login latency and throughput
through the embedded platform's gateway, and GET /api/v1/users/me p50/p99 with and without a
concurrent login flood.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from argon2 import PasswordHasher, Type

from bench.loadgen import wrk
from tests.e2e import processes
from tests.e2e.flows import new_user, wait_profile

# OWASP minimum, the Auth defaults (PAROVOZ_AUTH_ARGON2_*).
MEMORY_KIB, TIME_COST, PARALLELISM = 19456, 2, 1
# The login limits would refuse a benchmark's flood; the code paths stay the same.
BENCH_ENV = {
    "PAROVOZ_AUTH_LOGIN_RATE_PER_MIN": "1000000",
    "PAROVOZ_AUTH_LOGIN_ID_RATE_PER_MIN": "1000000",
    "PAROVOZ_GATEWAY_RATE_LIMIT": "100000000",
    "PAROVOZ_GATEWAY_USER_RATE_LIMIT": "100000000",
    "PAROVOZ_LOG_LEVEL": "WARNING",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_argon2(seconds: float, threads: int) -> tuple[float, float]:
    """verifies/s and ms per verify with `threads` threads (argon2 releases the GIL)."""
    hasher = PasswordHasher(
        time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID
    )
    stored = hasher.hash("correct horse battery staple")
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            hasher.verify(stored, "correct horse battery staple")
            counts[i] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    rate = sum(counts) / seconds
    return rate, 1000.0 * threads / rate


def logins(base: str, user: dict[str, str], seconds: float, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = client.post(
                    "/api/v1/auth/login", json={"login": user["email"], "password": user["password"]}
                )
                assert r.status_code == 200, r.text
                with lock:
                    latencies.append(1000 * (time.perf_counter() - t))

    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(loop)
    return len(latencies) / seconds, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    one_rate, one_ms = bare_argon2(args.seconds, 1)
    two_rate, _ = bare_argon2(args.seconds, 2)
    print(f"argon2id m={MEMORY_KIB} KiB t={TIME_COST} p={PARALLELISM}")
    print(f"bare verify, 1 thread        {one_rate:8.1f}/s   {one_ms:6.1f} ms each")
    print(f"bare verify, 2 threads       {two_rate:8.1f}/s")
    with (
        tempfile.TemporaryDirectory(prefix="pz-bench-login-") as tmp,
        processes.embedded(Path(tmp) / "data", BENCH_ENV) as base,
    ):
        user = new_user()
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.post("/api/v1/auth/register", json=user).status_code == 201
            r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
            token = r.json()["data"]["attributes"]["accessToken"]
            wait_profile(client, token)
        _, sequential = logins(base, user, args.seconds, 1)
        print(
            f"login via gateway, 1 client  p50 {statistics.median(sequential):6.1f} ms"
            f"   p99 {percentile(sequential, 0.99):6.1f} ms   ({statistics.median(sequential) / one_ms:.2f}× "
            "one bare verify)"
        )
        flood_rate, _ = logins(base, user, args.seconds, 8)
        ratio = flood_rate / two_rate
        print(f"login via gateway, 8 clients {flood_rate:8.1f}/s   ({ratio:.2f}× bare 2 threads)")

        auth = {"Authorization": f"Bearer {token}"}
        quiet = wrk(f"{base}/api/v1/users/me", headers=auth, seconds=args.seconds, connections=8)
        flood = threading.Thread(target=logins, args=(base, user, args.seconds + 2, 8))
        flood.start()
        time.sleep(1)
        loud = wrk(f"{base}/api/v1/users/me", headers=auth, seconds=args.seconds, connections=8)
        flood.join()
        print(quiet.line("GET /users/me, quiet (8 conns)"))
        print(loud.line("GET /users/me, during a login flood"))
        print(f"p99 during the flood / quiet: {loud.p99_ms / quiet.p99_ms:.2f}×  (goal ≤ 1.2×)")


if __name__ == "__main__":
    main()
