"""Read path: `GET /api/v1/users/me` through the gateway (token check, rate limit, one indexed
query), in embedded and in distributed mode, beside a bare ASGI app measured in the same run.

    .venv/bin/python -m bench.bench_read_path [--seconds 5] [--runs 3] [--connections 32]

Targets (PERFORMANCE.md): ≥ 0.15× raw ASGI with p99 ≤ 20 ms at 32 connections; the gateway hop
adds ≤ 1 ms p50 and ≤ 3 ms p99 (distributed: gateway → Account vs Account directly).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.loadgen import LoadResult, bare_asgi_server, wrk
from tests import infra
from tests.e2e import processes
from tests.e2e.flows import new_user, wait_profile

# High limits: the limiter still runs on every request, it just never says no during the run.
BENCH_ENV = {
    "PAROVOZ_GATEWAY_RATE_LIMIT": "100000000",
    "PAROVOZ_GATEWAY_USER_RATE_LIMIT": "100000000",
    "PAROVOZ_LOG_LEVEL": "WARNING",
}


def sign_in(base: str) -> str:
    with httpx.Client(base_url=base, timeout=10) as client:
        user = new_user()
        assert client.post("/api/v1/auth/register", json=user).status_code == 201
        r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
        token = r.json()["data"]["attributes"]["accessToken"]
        wait_profile(client, token)
        return token


def median(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        statistics.median(r.requests_per_s for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
    )


def measure(fn: Callable[[], LoadResult], runs: int) -> LoadResult:
    return median([fn() for _ in range(runs)])


@contextmanager
def distributed(root: Path) -> Iterator[dict[str, str]]:
    """Gateway, Auth and Account as processes on the machine's PostgreSQL, Redis and a tansu broker."""
    with ExitStack() as stack:
        pg = stack.enter_context(infra.postgres())
        redis_url = stack.enter_context(infra.redis())
        bootstrap = stack.enter_context(infra.kafka())
        dbs = {}
        for name in ("auth", "account"):
            db = f"pz_bench_{name}_{infra.free_port()}"
            asyncio.run(infra.create_database(pg, db))
            dbs[name] = infra.database_url(pg, db)
        stack.callback(infra.drop_databases, pg, [u.rsplit("/", 1)[1] for u in dbs.values()])
        http = {n: infra.free_port() for n in ("gateway", "auth", "account")}
        grpc = {n: infra.free_port() for n in ("auth", "account")}
        env = {
            **BENCH_ENV,
            "PAROVOZ_AUTH_DATABASE_URL": dbs["auth"],
            "PAROVOZ_ACCOUNT_DATABASE_URL": dbs["account"],
            "PAROVOZ_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PAROVOZ_KAFKA_IDEMPOTENCE": "false",
            "PAROVOZ_REDIS_URL": redis_url,
            "PAROVOZ_AUTH_GRPC": f"127.0.0.1:{grpc['auth']}",
            "PAROVOZ_ACCOUNT_GRPC": f"127.0.0.1:{grpc['account']}",
            "PAROVOZ_AUTH_HTTP": f"http://127.0.0.1:{http['auth']}",
            "PAROVOZ_ACCOUNT_HTTP": f"http://127.0.0.1:{http['account']}",
        }
        for name in ("auth", "account", "gateway"):
            proc_env = {**env, "PAROVOZ_HTTP_PORT": str(http[name])}
            if name in grpc:
                proc_env["PAROVOZ_GRPC_PORT"] = str(grpc[name])
            proc = processes.spawn(["serve", name], proc_env, root / f"{name}.log")
            stack.callback(processes.stop, proc)
            processes.wait_ready(f"http://127.0.0.1:{http[name]}", proc=proc)
        yield {n: f"http://127.0.0.1:{p}" for n, p in http.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    def load(url: str, headers: dict[str, str] | None = None) -> LoadResult:
        return measure(
            lambda: wrk(url, headers=headers, seconds=args.seconds, connections=args.connections), args.runs
        )

    with tempfile.TemporaryDirectory(prefix="pz-bench-") as tmp:
        root = Path(tmp)
        with bare_asgi_server(infra.free_port()) as bare_url:
            bare = load(bare_url)
        print(f"{args.runs} runs × {args.seconds} s, {args.connections} connections, median of runs")
        print(bare.line("bare ASGI (uvicorn, baseline)"))

        with processes.embedded(root / "data", BENCH_ENV) as base:
            token = sign_in(base)
            auth = {"Authorization": f"Bearer {token}"}
            embedded = load(f"{base}/api/v1/users/me", auth)
            health = load(f"{base}/healthz")
        print(health.line("embedded: gateway /healthz"))
        print(embedded.line("embedded: GET /api/v1/users/me"))

        with distributed(root) as urls:
            token = sign_in(urls["gateway"])
            auth = {"Authorization": f"Bearer {token}"}
            through = load(f"{urls['gateway']}/api/v1/users/me", auth)
            direct = load(f"{urls['account']}/api/v1/users/me", auth)
            service_health = load(f"{urls['account']}/healthz")
        print(service_health.line("distributed: Account /healthz"))
        print(direct.line("distributed: Account directly"))
        print(through.line("distributed: gateway → Account"))

        print()
        health_ratio = health.requests_per_s / bare.requests_per_s
        service_ratio = service_health.requests_per_s / bare.requests_per_s
        print(f"gateway /healthz / bare ASGI        {health_ratio:.2f}×  (goal ≥ 0.8)")
        print(f"service /healthz / bare ASGI        {service_ratio:.2f}×  (goal ≥ 0.8)")
        print(
            f"embedded read / bare ASGI           {embedded.requests_per_s / bare.requests_per_s:.3f}×  "
            f"p99 {embedded.p99_ms:.1f} ms  (goal ≥ 0.15×, p99 ≤ 20 ms)"
        )
        print(
            f"distributed read / bare ASGI        {through.requests_per_s / bare.requests_per_s:.3f}×  "
            f"p99 {through.p99_ms:.1f} ms  (goal ≥ 0.15×, p99 ≤ 20 ms)"
        )
        print(
            f"gateway hop added: p50 {through.p50_ms - direct.p50_ms:+.2f} ms, "
            f"p99 {through.p99_ms - direct.p99_ms:+.2f} ms  (goal ≤ 1 / ≤ 3 ms); "
            f"throughput {through.requests_per_s / direct.requests_per_s:.2f}× direct (goal ≥ 0.5×)"
        )


if __name__ == "__main__":
    main()
