"""S3 chunk store: `content build` into and `content install` from an `s3://` store on moto's S3 server
(its own process on loopback), beside the same through a local store directory in the same run; put
and get round-trip latency; `missing()` by concurrent HEADs vs ListObjectsV2 per `id[:2]` shard.

    .venv/bin/python -m bench.bench_s3_store [--size 64M] [--runs 3] [--keep]

moto is a functional S3, not a fast one (Flask, ~10 ms a request here): the figures bound what the
client costs, they say nothing of a real bucket's throughput. Needs the test extra (moto[server]).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.bench_content import CONTENT, MiB, make_build, rate, run, tree_size
from parovoz.content import codec
from parovoz.content.chunking import parse_size
from parovoz.content.s3_store import S3ChunkStore, S3Settings
from parovoz.content.store import ChunkStore, LocalChunkStore
from tests.infra import free_port, wait_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
REGION = "ru-central1"


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port("127.0.0.1", port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=REGION)


def new_bucket(client: Any, name: str) -> str:
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def median_ms(samples: list[float]) -> str:
    low, high = min(samples) * 1000, max(samples) * 1000
    return f"{statistics.median(samples) * 1000:.1f} ms (spread {low:.1f}–{high:.1f})"


def round_trips(store: ChunkStore, items: list[tuple[str, bytes]]) -> tuple[list[float], list[float]]:
    """Each blob put then got back, one at a time: (put times, get times)."""
    puts, gets = [], []
    for cid, blob in items:
        start = time.perf_counter()
        store.put(cid, blob)
        puts.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert store.get(cid) == blob
        gets.append(time.perf_counter() - start)
    return puts, gets


def blobs(count: int, size: int, seed: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        plain = hashlib.sha256(f"{seed}-{i}".encode()).digest() * (size // 32) + os.urandom(size // 2)
        cid = hashlib.sha256(plain).hexdigest()
        out.append((cid, codec.encode(plain, 3, None, cid=cid)))
    return out


def bench_commands(work: Path, endpoint: str, client: Any, size: int, runs: int) -> None:
    key = work / "signing.key"
    run([*CONTENT, "keygen", key])
    trust = key.with_name(key.name + ".pub")
    src = work / "src"
    make_build(src, size)
    total = tree_size(src)
    print(f"build: {total / MiB:.0f} MiB, {sum(1 for p in src.rglob('*') if p.is_file())} files")
    times: dict[str, list[float]] = {
        k: [] for k in ("build local", "build s3", "rebuild s3", "install local", "install s3")
    }
    for round_ in range(runs):
        store_dir = work / f"store-{round_}"
        spec = f"s3://{new_bucket(client, f'bench-{round_}-{os.getpid()}')}/games/main"
        for name, store in (("local", str(store_dir)), ("s3", spec)):
            manifest = work / f"{name}-{round_}.manifest"
            built = run([*CONTENT, "build", src, "--store", store, "--manifest", manifest,
                         "--signing-key", key, "--created-at", "0"])  # fmt: skip
            times[f"build {name}"].append(built.seconds)
            if name == "s3":
                again = run([*CONTENT, "build", src, "--store", store, "--manifest", manifest,
                             "--signing-key", key, "--created-at", "0"])  # fmt: skip
                assert "new chunks: 0" in again.out, again.out
                times["rebuild s3"].append(again.seconds)
            dest = work / f"installed-{name}"
            shutil.rmtree(dest, ignore_errors=True)
            installed = run([*CONTENT, "install", manifest, "--from", store, "--to", dest, "--trust", trust])
            times[f"install {name}"].append(installed.seconds)
        shutil.rmtree(store_dir)
        print("  round", round_ + 1, ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    for step in ("build", "install"):
        local, s3 = statistics.median(times[f"{step} local"]), statistics.median(times[f"{step} s3"])
        spread = ", ".join(f"{t:.2f}" for t in times[f"{step} s3"])
        print(
            f"{step}: s3 {s3:.2f} s ({rate(total, s3)}; runs {spread}) vs local {local:.2f} s "
            f"({rate(total, local)}): {local / s3:.2f}× the local store's rate"
        )
    print(f"re-run build to s3 (nothing uploaded): median {statistics.median(times['rebuild s3']):.2f} s")


def bench_latency(work: Path, endpoint: str, client: Any) -> None:
    settings = S3Settings(endpoint_url=endpoint, region=REGION)
    s3 = S3ChunkStore(new_bucket(client, f"bench-latency-{os.getpid()}"), "lat", settings=settings)
    local = LocalChunkStore(work / "latency-store")
    for label, size in (("4 KiB", 4 * 1024), ("1 MiB", MiB)):
        items = blobs(30, size, seed=size)
        for name, store in (("local", local), ("s3", s3)):
            put, get = round_trips(store, items)
            print(f"  {label} blob, {name}: put {median_ms(put)}, get {median_ms(get)}")
    s3.close()


def bench_missing(endpoint: str, client: Any) -> None:
    """missing() by concurrent HEADs (what S3ChunkStore does) vs one ListObjectsV2 per shard touched."""
    settings = S3Settings(endpoint_url=endpoint, region=REGION)
    store = S3ChunkStore(new_bucket(client, f"bench-missing-{os.getpid()}"), "m", settings=settings)
    present = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2048)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda cid: client.put_object(Bucket=store.bucket, Key=store.key(cid), Body=b"x"), present
            )
        )
    print(f"  bucket holds {len(present)} objects (~2 GiB of 1 MiB chunks)")

    def by_listing(ids: list[str]) -> set[str]:
        shards = sorted({cid[:2] for cid in ids})

        def listed(shard: str) -> set[str]:
            found, token = set(), None
            while True:
                extra = {"ContinuationToken": token} if token else {}
                page = client.list_objects_v2(Bucket=store.bucket, Prefix=f"m/chunks/{shard}/", **extra)
                found |= {o["Key"].rsplit("/", 1)[1] for o in page.get("Contents", [])}
                if not page.get("IsTruncated"):
                    return found
                token = page["NextContinuationToken"]

        with ThreadPoolExecutor(store.concurrency) as pool:
            have = set().union(*pool.map(listed, shards))
        return set(ids) - have

    for batch in (32, 1024):
        ids = present[: batch // 2] + [
            hashlib.sha256(f"absent{i}".encode()).hexdigest() for i in range(batch // 2)
        ]
        heads, lists = [], []
        for _ in range(3):
            fresh = S3ChunkStore(store.bucket, "m", settings=settings)  # no remembered sizes
            start = time.perf_counter()
            assert fresh.missing(ids) == set(ids[batch // 2 :])
            heads.append(time.perf_counter() - start)
            fresh.close()
            start = time.perf_counter()
            assert by_listing(ids) == set(ids[batch // 2 :])
            lists.append(time.perf_counter() - start)
        print(f"  batch of {batch}: HEADs {median_ms(heads)}; ListObjectsV2 per shard {median_ms(lists)}")
    store.close()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--size", type=parse_size, default=64 * MiB)
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--keep", action="store_true")
    args = cli.parse_args()
    os.environ.update(CREDENTIALS)
    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    try:
        with moto_server() as endpoint:
            os.environ["PAROVOZ_CONTENT_S3_ENDPOINT"] = endpoint
            client = s3_client(endpoint)
            print("## build and install, s3:// on moto vs a local store directory")
            bench_commands(work, endpoint, client, args.size, args.runs)
            print("## put / get latency, one at a time")
            bench_latency(work, endpoint, client)
            print("## missing(): HEADs vs listing")
            bench_missing(endpoint, client)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
