"""Focused install benchmark: a generated build installed from a local store and over loopback HTTP,
beside `dd conv=fdatasync` of the same size, each repeated (medians; the machine is shared).

    .venv/bin/python -m bench.bench_install [--size 256M] [--runs 3] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.bench_content import (
    CONTENT,
    MiB,
    build,
    dd_fdatasync,
    install,
    make_build,
    origin,
    rate,
    run,
    tree_size,
)
from parovoz.content.chunking import parse_size


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--size", type=parse_size, default=256 * MiB)
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--workdir", type=Path, default=None)
    cli.add_argument("--keep", action="store_true")
    args = cli.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-install-", dir=args.workdir))
    try:
        key = work / "signing.key"
        run([*CONTENT, "keygen", key])
        trust = key.with_name(key.name + ".pub")
        src, store, manifest = work / "src", work / "store", work / "build.manifest"
        make_build(src, args.size)
        total = tree_size(src)
        build(src, store, manifest, key, 3)
        files = sum(1 for p in src.rglob("*") if p.is_file())
        print(f"build: {total / MiB:.0f} MiB in {files} files")
        dest = work / "installed"
        timings: dict[str, list[float]] = {"local": [], "http": [], "dd": []}
        with origin(store) as url:
            for _ in range(args.runs):
                for name, source in (("local", str(store)), ("http", url)):
                    shutil.rmtree(dest, ignore_errors=True)
                    ran = install(manifest, source, dest, trust)
                    timings[name].append(ran.seconds)
                    print(
                        f"  {name}: {ran.seconds:.2f} s, {rate(total, ran.seconds)}, "
                        f"RSS {ran.max_rss_mib:.0f} MiB"
                    )
                timings["dd"].append(dd_fdatasync(work / "dd.bin", total))
                print(f"  dd: {timings['dd'][-1]:.2f} s, {rate(total, timings['dd'][-1])}")
        dd = statistics.median(timings["dd"])
        for name in ("local", "http"):
            median = statistics.median(timings[name])
            print(
                f"{name}: median {median:.2f} s, {rate(total, median)} = "
                f"{dd / median:.2f}× dd ({rate(total, dd)})"
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
