"""Focused install benchmark: a generated build installed from a local store and over loopback HTTP,
beside `dd conv=fdatasync` of the same size into a new file (`bench_content.dd_fdatasync` says why
new) and the ceiling no install can beat here: decoding and verifying the build's chunks from memory
on all cores, nothing fetched or written. Each repeated (medians; the machine is shared).

    .venv/bin/python -m bench.bench_install [--size 256M] [--runs 3] [--workdir DIR] [--keep] [--delete-first]

Each install goes to a directory of its own; they are deleted at the end, not before the next
install. On an ext4 without a journal (as here), every inode allocation skips, one by one, the free
inodes of its block group that were freed in the last 60 s (`recently_deleted` in the kernel), so
deleting the previous 2,500-file install right before the next one made each of that install's
creates several times slower. `--delete-first` measures that case (the previous install deleted just
before each one).
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
    decode_ceiling,
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
    cli.add_argument(
        "--delete-first", action="store_true", help="delete the previous install just before each one"
    )
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
        timings: dict[str, list[float]] = {"local": [], "http": [], "dd": []}
        previous: Path | None = None
        with origin(store) as url:
            for round_ in range(args.runs):
                for name, source in (("local", str(store)), ("http", url)):
                    if args.delete_first and previous is not None:
                        shutil.rmtree(previous)
                    dest = previous = work / f"installed-{round_}-{name}"
                    ran = install(manifest, source, dest, trust)
                    timings[name].append(ran.seconds)
                    print(
                        f"  {name}: {ran.seconds:.2f} s, {rate(total, ran.seconds)}, "
                        f"RSS {ran.max_rss_mib:.0f} MiB"
                    )
                timings["dd"].append(dd_fdatasync(work / f"dd-{round_}.bin", total))
                dd_s = timings["dd"][-1]
                print(
                    f"  dd: {dd_s:.2f} s, {rate(total, dd_s)}; this round: local "
                    f"{dd_s / timings['local'][-1]:.2f}×, http {dd_s / timings['http'][-1]:.2f}× dd"
                )
        dd = statistics.median(timings["dd"])
        ceiling = decode_ceiling(store, manifest, trust)
        print(f"decode + verify alone, from memory on all cores: {ceiling:.2f} s, {rate(total, ceiling)}")
        for name in ("local", "http"):
            median = statistics.median(timings[name])
            # Each round's install against that round's dd (the same memory state, see dd_fdatasync).
            rounds = [d / t for d, t in zip(timings["dd"], timings[name], strict=True)]
            print(
                f"{name}: median {median:.2f} s, {rate(total, median)} = "
                f"{dd / median:.2f}× dd ({rate(total, dd)}), {ceiling / median:.2f}× the decode ceiling; "
                f"rounds {', '.join(f'{r:.2f}×' for r in rounds)} dd "
                f"(median {statistics.median(rounds):.2f}×)"
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
