"""What service identity costs a gRPC call: the token checks alone, then whole loopback calls with the
identity check against the same call on a public method (same server, same chassis interceptor, no
token), and against bare grpcio without interceptors, in one run.

    .venv/bin/python -m bench.bench_service_tokens [--seconds 0.4] [--runs 5] [--calls 1500]

Each case runs `--runs` times; the best run is the figure (least disturbed by other processes on
the 2 cores), the median is shown too. The calls are sequential (one in flight), so µs/call is the
latency the identity check adds to every call between services.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from bench.bench_tokens import best_us
from parovoz.chassis.config import Settings
from parovoz.chassis.obs.logging import configure_logging
from parovoz.chassis.rpc import bind, create_server, open_channel
from parovoz.chassis.rpc.identity import CallAuthenticator, public_method
from parovoz.chassis.security.service_credentials import ServiceCredentials
from parovoz.chassis.security.service_tokens import ServiceTokenVerifier, issue_service_token
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, local_jwks_source
from parovoz.chassis.service import GrpcRegistration
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc

SERVICE = "platform.auth.v1.AuthService"


class Servicer(auth_pb2_grpc.AuthServiceServicer):
    """GetUser needs a service token; GetJwks, the same trivial work, is public."""

    async def GetUser(self, request, context):  # type: ignore[no-untyped-def]
        return auth_pb2.GetUserResponse(user=auth_pb2.User(id=request.user_id))

    @public_method
    async def GetJwks(self, request, context):  # type: ignore[no-untyped-def]
        return auth_pb2.GetJwksResponse(jwks_json="{}")


async def per_call_us(call: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls * 1e6


async def best_async_us(call: Callable[[], Awaitable[object]], calls: int, runs: int) -> tuple[float, float]:
    await per_call_us(call, 50)  # warm-up: connection, caches
    samples = [await per_call_us(call, calls) for _ in range(runs)]
    return min(samples), statistics.median(samples)


async def calls_case(calls: int, runs: int) -> dict[str, tuple[float, float]]:
    key = SigningKey.generate()
    keys = JwksTokenVerifier(local_jwks_source([key]))
    await keys.start()
    registration = GrpcRegistration(SERVICE, Servicer(), auth_pb2_grpc.add_AuthServiceServicer_to_server)
    server, _health = create_server([registration], Settings(), service_name="auth", tokens=keys)
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    bare_server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Servicer(), bare_server)
    bare_port = bare_server.add_insecure_port("127.0.0.1:0")
    await bare_server.start()

    issued = issue_service_token(key, "account")

    async def fetch():  # type: ignore[no-untyped-def]
        return issued

    with_identity = open_channel(
        f"127.0.0.1:{port}", Settings(), caller="account", credentials=ServiceCredentials("account", fetch)
    )
    without = open_channel(f"127.0.0.1:{port}", Settings(), caller="account")
    bare = grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}")
    try:
        protected = auth_pb2_grpc.AuthServiceStub(with_identity)
        public = auth_pb2_grpc.AuthServiceStub(without)
        raw = auth_pb2_grpc.AuthServiceStub(bare)
        get_user, get_jwks = auth_pb2.GetUserRequest(user_id="u"), auth_pb2.GetJwksRequest()
        cases = {
            "call with service identity": lambda: protected.GetUser(get_user, timeout=5),
            "call on a public method (no token)": lambda: public.GetJwks(get_jwks, timeout=5),
            "bare grpcio call (no interceptors)": lambda: raw.GetJwks(get_jwks, timeout=5),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        # interleaved rounds: a burst of load from elsewhere hits every case alike
        for _ in range(runs):
            for name, call in cases.items():
                results[name].append((await best_async_us(call, calls, 1))[0])
        return {name: (min(v), statistics.median(v)) for name, v in results.items()}
    finally:
        for channel in (with_identity, without, bare):
            await channel.close()
        await server.stop(grace=None)
        await bare_server.stop(grace=None)


async def checks_case(seconds: float, runs: int) -> dict[str, tuple[float, float]]:
    key = SigningKey.generate()
    keys = JwksTokenVerifier(local_jwks_source([key]))
    await keys.start()
    token = issue_service_token(key, "account").token
    cached = ServiceTokenVerifier(keys)
    uncached = ServiceTokenVerifier(keys, cache_size=0)
    issued = issue_service_token(key, "account")

    async def fetch():  # type: ignore[no-untyped-def]
        return issued

    credentials = ServiceCredentials("account", fetch)
    await credentials.token()
    authenticator = CallAuthenticator(keys, {})
    metadata = (("authorization", f"Bearer {token}"), ("x-request-id", "r-1"))

    def run_sync(coroutine: Any) -> Any:
        try:
            coroutine.send(None)  # these paths never suspend once the token is known
        except StopIteration as done:
            return done.value
        raise AssertionError("suspended on the fast path")

    return {
        "verify, cached (the steady state)": best_us(lambda: cached.verify(token), seconds, runs),
        "verify, uncached (first sight)": best_us(lambda: uncached.verify(token), seconds, runs),
        "server: whole identity check per call": best_us(
            lambda: run_sync(authenticator.authenticate(f"/{SERVICE}/GetUser", metadata))(), seconds, runs
        ),
        "client: token() while fresh": best_us(lambda: run_sync(credentials.token()), seconds, runs),
    }


async def run(seconds: float, runs: int, calls: int) -> None:
    checks = await checks_case(seconds, runs)
    print(f"{'check':38} {'µs':>8} {'(median)':>9}")
    for name, (best, median) in checks.items():
        print(f"{name:38} {best:8.2f} {median:9.2f}")
    measured = await calls_case(calls, runs)
    baseline = measured["call on a public method (no token)"][0]
    print(f"\n{'loopback unary call':38} {'µs/call':>8} {'(median)':>9} {'calls/s':>9} {'vs public':>10}")
    for name, (best, median) in measured.items():
        print(f"{name:38} {best:8.1f} {median:9.1f} {1e6 / best:9,.0f} {best / baseline:9.3f}×")
    added = measured["call with service identity"][0] - baseline
    print(f"\nservice identity adds {added:.1f} µs per call ({added / baseline:+.1%} of a call)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args()
    configure_logging(Settings(log_level="WARNING"))
    asyncio.run(run(args.seconds, args.runs, args.calls))


if __name__ == "__main__":
    main()
