"""Content engine: build throughput, update bytes, chunk reuse, install over loopback HTTP, memory, each
beside real peers measured in the same run on the same data.

    .venv/bin/python -m bench.bench_content [--size 1G] [--quick] [--runs 3] [--level 3] [--keep]

Targets (PERFORMANCE.md): build ≥ 0.5× single-core `zstd -b<level>`; install of a 1 GiB build over
loopback ≥ 0.7× `dd conv=fdatasync`; ≥ 95 % of chunks reused after inserting 4 KiB at the front of a
1 GiB pack; update bytes ≤ rsync's and casync's for the same pair of builds (what the update install
fetches; the new build is made with `--previous` the old one, so changed chunks come as patches).

Every `parovoz content` command runs as its own process (as a user would run it), timed from the
outside, its peak RSS sampled from /proc (VmHWM).
The generated build mixes incompressible segments (like already-compressed textures and audio),
low-entropy ones and sparse ones (like meshes and tables): zstd -3 gets about 1.6:1 on it.
`--quick` (64 MiB) checks the harness; the figures that count are from the 1 GiB run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from parovoz.content.chunking import parse_size
from tests.infra import free_port, wait_port

KiB, MiB, GiB = 1024, 1024**2, 1024**3
PYTHON = sys.executable
# `parovoz content …` in a fresh interpreter, whether or not the top-level CLI wires it.
CONTENT = [PYTHON, "-c", "import sys; from parovoz.content.cli import main; sys.exit(main(sys.argv[1:]))"]


# -- processes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    seconds: float
    max_rss_mib: float
    out: str


def run(cmd: Sequence[str | os.PathLike[str]], *, check: bool = True) -> Ran:
    """Run to the end; wall time and the child's peak RSS.

    The peak is the child's own VmHWM, sampled from /proc every 20 ms: its rusage from wait4 would
    not do, because Linux folds the address space the child was forked from (this 100+ MiB process,
    through vfork) into the child's ru_maxrss at exec."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([os.fspath(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT)
        peak_kib = 0
        while proc.poll() is None:
            peak_kib = max(peak_kib, _vm_hwm_kib(proc.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{text[-3000:]}")
    return Ran(seconds, peak_kib / 1024, text)


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def ensure_casync() -> bool:
    if have("casync"):
        return True
    subprocess.run(["apt-get", "install", "-y", "casync"], capture_output=True, check=False)
    return have("casync")


# -- generated builds -----------------------------------------------------------------------------

LOW_ENTROPY = bytes(range(97, 113)) * 16  # every byte value -> one of 16 letters: ~4 bits a byte
SPARSE = bytes(b if b % 16 == 0 else 0 for b in range(256))  # 1 byte in 16 non-zero


class Data:
    """Seeded pseudo-random content with a realistic mix of compressibility."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def block(self, size: int) -> bytes:
        parts, left = [], size
        while left > 0:
            n = min(left, self.rng.randrange(64 * KiB, 512 * KiB))
            kind = self.rng.random()
            raw = self.rng.randbytes(n)
            parts.append(raw if kind < 0.35 else raw.translate(LOW_ENTROPY if kind < 0.75 else SPARSE))
            left -= n
        return b"".join(parts)

    def write(self, path: Path, size: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for offset in range(0, size, 4 * MiB):
                out.write(self.block(min(4 * MiB, size - offset)))


DIR_NAMES = ["data", "уровни", "データ", "café", "textures", "audio", "maps", "ui", "шейдеры", "x"]


def make_build(root: Path, size: int, seed: int = 1) -> None:
    """~70 % in three pack files, the rest in many small files in a deep tree, plus empty files."""
    data = Data(seed)
    rng = random.Random(seed)
    for i, share in enumerate((0.40, 0.20, 0.10)):
        data.write(root / "packs" / f"pack{i}.pak", int(size * share))
    left, n = int(size * 0.30), 0
    while left > 0:
        depth = rng.randrange(1, 9)
        parts = [rng.choice(DIR_NAMES) + str(rng.randrange(3)) for _ in range(depth)]
        file_size = min(left, rng.randrange(1 * KiB, 256 * KiB))
        data.write(root.joinpath(*parts, f"файл-{n}.bin"), file_size)
        left -= file_size
        n += 1
    for i in range(5):
        (root / "empty" / f"пусто{i}").parent.mkdir(parents=True, exist_ok=True)
        (root / "empty" / f"пусто{i}").touch()


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def make_update(old: Path, new: Path, seed: int = 2) -> str:
    """`new` = `old` with a patch's kind of change: edits and inserts inside the biggest pack, an
    appended pack, small files edited, deleted, renamed and added. Unchanged files are hard links."""
    data, rng = Data(seed), random.Random(seed)
    for path in files_of(old):
        target = new / path.relative_to(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    pack = new / "packs" / "pack0.pak"
    size = pack.stat().st_size
    edits = sorted(
        [(rng.randrange(size), "insert", 16 * KiB) for _ in range(8)]
        + [(rng.randrange(size), "overwrite", 4 * KiB) for _ in range(8)]
        + [(rng.randrange(size - 64 * KiB), "delete", 64 * KiB)]
    )
    pack.unlink()
    with open(old / "packs" / "pack0.pak", "rb") as src, open(pack, "wb") as out:
        position = 0
        for offset, kind, n in edits:
            offset = max(offset, position)
            out.write(src.read(offset - position))
            if kind in ("insert", "overwrite"):
                out.write(data.block(n))
            if kind in ("overwrite", "delete"):
                src.seek(n, os.SEEK_CUR)
            position = src.tell()
        shutil.copyfileobj(src, out, 4 * MiB)
    appended = new / "packs" / "pack1.pak"
    appended.unlink()
    shutil.copyfile(old / "packs" / "pack1.pak", appended)
    with open(appended, "ab") as out:
        out.write(data.block(1 * MiB))
    small = [p for p in files_of(new) if "packs" not in p.parts and p.stat().st_size > 0]
    rng.shuffle(small)
    k = max(1, len(small) // 50)
    edited, deleted, renamed = small[:k], small[k : 2 * k], small[2 * k : 3 * k]
    for path in edited:
        content = bytearray(path.read_bytes())
        content[len(content) // 2 : len(content) // 2 + 100] = data.block(100)
        path.unlink()
        path.write_bytes(content)
    for path in deleted:
        path.unlink()
    for path in renamed:
        path.rename(path.with_name("renamed-" + path.name))
    for i in range(10):
        data.write(new / "dlc" / f"новое-{i}.bin", rng.randrange(16 * KiB, 512 * KiB))
    return (
        f"pack0 ({size // MiB} MiB): 8 inserts of 16 KiB, 8 overwrites of 4 KiB, one 64 KiB deletion; "
        f"pack1: 1 MiB appended; {k} small files edited, {k} deleted, {k} renamed; 10 files added"
    )


def concatenate(root: Path, out: Path) -> int:
    with open(out, "wb") as sink:
        for path in files_of(root):
            with open(path, "rb") as src:
                shutil.copyfileobj(src, sink, 4 * MiB)
    return out.stat().st_size


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in files_of(root))


def store_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "chunks").rglob("*") if p.is_file())


# -- the engine -----------------------------------------------------------------------------------


def build(
    src: Path, store: Path, manifest: Path, key: Path, level: int, previous: Path | None = None
) -> tuple[Ran, dict[str, int]]:
    """`content build`, with `--previous` (per-chunk patches against that build) when given."""
    ran = run(
        [
            *CONTENT,
            "build",
            src,
            "--store",
            store,
            "--manifest",
            manifest,
            "--signing-key",
            key,
            "--level",
            str(level),
            "--created-at",
            "0",
            *(["--previous", previous] if previous is not None else []),
        ]
    )
    figures = {m[0]: int(m[1]) for m in re.findall(r"^([a-z ]+): (\d+)", ran.out, re.M)}
    return ran, figures


@contextmanager
def origin(store: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([*CONTENT, "serve", store, "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def install(manifest: Path, source: str, to: Path, trust: Path) -> Ran:
    return run([*CONTENT, "install", manifest, "--from", source, "--to", to, "--trust", trust])


# -- peers ----------------------------------------------------------------------------------------


def zstd_bench(path: Path, level: int) -> float:
    """Single-core in-memory compression speed of `zstd -b<level>`, bytes/s (zstd's MB = 10^6)."""
    out = subprocess.run(
        ["zstd", f"-b{level}", "--single-thread", "-i3", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    # Progress lines end "(x<ratio>),  <compress> MB/s" and, once decompression ran, ",  <decompress> MB/s";
    # the last complete line has the best of all rounds.
    rounds = re.findall(r"\(x[\d.]+\),\s+([\d.]+) MB/s,\s+[\d.]+ MB/s", out.stdout + out.stderr)
    return float(rounds[-1]) * 1e6


def rsync_bytes(old: Path, new: Path, work: Path, *, compress: bool) -> tuple[int, int]:
    """rsync's delta algorithm from `new` to a copy of `old`: (Total bytes sent, Literal data)."""
    dest = work / ("rsync-z" if compress else "rsync")
    subprocess.run(["cp", "-al", old, dest], check=True)  # rsync writes new files and renames: links are safe
    cmd = [
        "rsync",
        "-a",
        "--delete",
        "--no-whole-file",
        "--stats",
        *(["-z"] if compress else []),
        f"{new}/",
        f"{dest}/",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    shutil.rmtree(dest)

    def figure(name: str) -> int:
        return int(re.search(rf"{name}: ([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]

    return figure("Total bytes sent"), figure("Literal data")


def casync_bytes(old: Path, new: Path, work: Path) -> int:
    """New chunk bytes (compressed, as stored) casync adds to a store holding `old` when making `new`."""
    store = work / "casync.castr"

    def store_bytes() -> int:
        return sum(p.stat().st_size for p in store.rglob("*.cacnk"))

    subprocess.run(
        ["casync", "make", f"--store={store}", work / "old.caidx", old], check=True, capture_output=True
    )
    before = store_bytes()
    subprocess.run(
        ["casync", "make", f"--store={store}", work / "new.caidx", new], check=True, capture_output=True
    )
    grown = store_bytes() - before
    shutil.rmtree(store)
    return grown


def zstd_patch_bytes(old: Path, new: Path, work: Path, level: int) -> int:
    """Sum over the new tree: 0 for an unchanged file, `zstd --patch-from` for a changed one, plain
    zstd for a new one."""
    total = 0
    patch = work / "patch.zst"
    for path in files_of(new):
        rel = path.relative_to(new)
        before = old / rel
        if before.is_file() and os.path.samefile(before, path):
            continue
        cmd = ["zstd", "-q", "-f", f"-{level}", "--single-thread", str(path), "-o", str(patch)]
        if before.is_file():
            cmd[4:4] = [f"--patch-from={before}", "--long=31"]
        subprocess.run(cmd, check=True)
        total += patch.stat().st_size
    patch.unlink(missing_ok=True)
    return total


def dd_fdatasync(path: Path, size: int) -> float:
    """`dd conv=fdatasync` of `size` bytes into a new file, left in place (the caller deletes it at the
    end, as it does the installs). On this VM a page of memory the guest has not used lately costs
    far more when the page cache first takes it than a page freed moments before: dd into a
    new file ran at 0.33–0.40 GB/s on the former (the 0.35 GB/s of PERFORMANCE.md) and at
    1.4–2.5 GB/s on the latter, or once the guest's memory had all been used. Deleting each dd's
    file before the next one, as this once did, gave its second and later rounds the fast case
    whatever the installs met (504 MB/s in one run, 1,577 in another). Which kind a round gets is
    not under the benchmark's control (right after deletes the first GiB or so is fast), so each
    round's install is compared with that round's dd."""
    start = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size // MiB}", "conv=fdatasync"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def decode_ceiling(store: Path, manifest_path: Path, trust: Path) -> float:
    """Seconds to decode and verify (zstd + SHA-256) every distinct chunk of the build from memory on
    all cores, with nothing fetched or written: no install of the build can beat it on this machine."""
    from concurrent.futures import ThreadPoolExecutor

    from parovoz.content import codec, keys, manifest

    built = manifest.load(manifest_path.read_bytes(), [keys.load_public(trust)])
    sizes = {chunk.id: chunk.size for entry in built.files for chunk in entry.chunks}
    blobs = [((store / "chunks" / cid[:2] / cid).read_bytes(), cid, n) for cid, n in sizes.items()]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(lambda b: len(codec.decode(*b)), blobs))  # warm-up: the decoders and the heap
        start = time.perf_counter()
        list(pool.map(lambda b: len(codec.decode(*b)), blobs))
        return time.perf_counter() - start


def timed(cmd: Sequence[str | os.PathLike[str]]) -> float:
    start = time.perf_counter()
    subprocess.run([os.fspath(c) for c in cmd], check=True, capture_output=True)
    return time.perf_counter() - start


# -- the run --------------------------------------------------------------------------------------


def rate(nbytes: float, seconds: float) -> str:
    return f"{nbytes / seconds / 1e6:,.0f} MB/s"


def mib(n: float) -> str:
    return f"{n / MiB:,.1f} MiB"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--size", type=parse_size, default=1 * GiB, help="build size (default 1G)")
    cli.add_argument("--quick", action="store_true", help="64 MiB: check the harness, not the figures")
    cli.add_argument("--runs", type=int, default=3, help="rounds of each timed step (median)")
    cli.add_argument("--level", type=int, default=3, help="zstd level for the engine and its peers")
    cli.add_argument("--workdir", type=Path, default=None, help="default: a temp dir (removed at the end)")
    cli.add_argument("--keep", action="store_true", help="keep the work dir")
    args = cli.parse_args()
    size = 64 * MiB if args.quick else args.size
    work = Path(tempfile.mkdtemp(prefix="bench-content-", dir=args.workdir))
    try:
        results = bench(work, size, args.runs, args.level)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n## Summary\n")
    print("| what | figure | baseline (same run) | ratio | goal |")
    print("| --- | --- | --- | --- | --- |")
    for row in results:
        print("| " + " | ".join(row) + " |")


def bench(work: Path, size: int, runs: int, level: int) -> list[list[str]]:
    rows: list[list[str]] = []
    print(
        f"work dir {work}; build size {mib(size)}; zstd level {level}; {runs} rounds; {os.cpu_count()} cores"
    )
    key = work / "signing.key"
    run([*CONTENT, "keygen", key])
    trust = key.with_name(key.name + ".pub")
    old, new = work / "old", work / "new"
    t0 = time.perf_counter()
    make_build(old, size)
    change = make_update(old, new)
    total = tree_size(old)
    print(
        f"generated the builds in {time.perf_counter() - t0:.1f} s: {len(files_of(old))} files, {mib(total)}"
    )
    print(f"update: {change}")

    # Build throughput (fresh store each round) vs zstd -b and sha256sum on the same bytes.
    store, manifest_old, manifest_new = work / "store", work / "old.manifest", work / "new.manifest"
    builds = []
    for _ in range(runs):
        shutil.rmtree(store, ignore_errors=True)
        ran, figures = build(old, store, manifest_old, key, level)
        builds.append(ran)
        print(f"  build: {ran.seconds:.2f} s, {rate(total, ran.seconds)}, peak RSS {ran.max_rss_mib:.0f} MiB")
    build_s = statistics.median(r.seconds for r in builds)
    stored = figures["stored bytes"]
    concat = work / "concat.bin"
    concatenate(old, concat)
    zstd_rate = statistics.median(zstd_bench(concat, level) for _ in range(runs))
    sha_s = statistics.median(timed(["sha256sum", concat]) for _ in range(runs))
    concat.unlink()
    build_rate = total / build_s
    print(
        f"build {rate(total, build_s)} (stored {mib(stored)}, {total / stored:.2f}:1); "
        f"zstd -b{level} single core {zstd_rate / 1e6:,.0f} MB/s; sha256sum {rate(total, sha_s)}"
    )
    rows.append(
        [
            f"build (chunk + hash + zstd -{level} + store), {mib(total)}",
            rate(total, build_s),
            f"zstd -b{level} 1 core {zstd_rate / 1e6:,.0f} MB/s; sha256sum {rate(total, sha_s)}",
            f"{build_rate / zstd_rate:.2f}× zstd",
            "≥ 0.5× zstd -b",
        ]
    )

    # Update bytes for the same pair of builds: the new build patches its changed chunks against the
    # old one (`--previous`); what counts is what the update install fetches (further down).
    grown_from = store_bytes(store)
    ran, figures = build(new, store, manifest_new, key, level, previous=manifest_old)
    growth = store_bytes(store) - grown_from
    print(
        f"new build with --previous: {ran.seconds:.2f} s; store grew {growth:,} bytes "
        f"({figures['new chunks']} new chunks, {figures['new stored bytes']:,} bytes; "
        f"{figures['deltas']} patches, {figures['new patch bytes']:,} bytes)"
    )
    sent, literal = rsync_bytes(old, new, work, compress=False)
    sent_z, _ = rsync_bytes(old, new, work, compress=True)
    casync = casync_bytes(old, new, work) if ensure_casync() else None
    patch = zstd_patch_bytes(old, new, work, level)
    print(
        f"peers: rsync sent {sent:,} (literal {literal:,}), rsync -z sent {sent_z:,}; "
        f"casync {'not installable here' if casync is None else f'{casync:,}'}; zstd --patch-from {patch:,}"
    )
    peers = [("rsync -z", sent_z), ("rsync", sent), ("zstd --patch-from", patch)]
    if casync is not None:
        peers.insert(2, ("casync", casync))

    # Install over loopback HTTP (a fresh directory each round) vs dd conv=fdatasync of the same size.
    # The rounds' directories are deleted together at the end, not each just before the next round:
    # on an ext4 without a journal (as here) every inode allocation skips, one by one, the inodes of
    # its group freed in the last 60 s, which made each create of the next round several times slower.
    installs, dds = [], []
    with origin(store) as url:
        for round_ in range(runs):
            dest = work / f"installed-{round_}"
            ran = install(manifest_old, url, dest, trust)
            installs.append(ran)
            dds.append(dd_fdatasync(work / f"dd-{round_}.bin", total))  # the same memory state
            print(
                f"  install: {ran.seconds:.2f} s, {rate(total, ran.seconds)}, RSS {ran.max_rss_mib:.0f} MiB; "
                f"dd: {dds[-1]:.2f} s, {rate(total, dds[-1])}"
            )
        update = install(manifest_new, url, dest, trust)
        print(f"  update install (old -> new over HTTP): {update.seconds:.2f} s; it said:")
        print("    " + "\n    ".join(update.out.strip().splitlines()[-8:]))
    fetched = int(re.search(r"^fetched: .*?\((\d+) bytes", update.out, re.M).group(1))  # type: ignore[union-attr]
    print(f"update bytes: fetched by the update install {fetched:,}; store growth {growth:,}")
    for name, peer in peers:
        rows.append(
            [
                f"update bytes fetched vs {name}",
                mib(fetched),
                mib(peer),
                f"{fetched / peer:.2f}×",
                "≤ 1× (rsync, casync)" if "zstd" not in name else "—",
            ]
        )
    rows.append(["store growth of the update (new chunks + patches)", mib(growth), "", "", ""])
    dd_s = statistics.median(dds)
    install_s = statistics.median(r.seconds for r in installs)
    ceiling_s = decode_ceiling(store, manifest_old, trust)
    print(
        f"install {rate(total, install_s)}; dd conv=fdatasync {rate(total, dd_s)}; "
        f"decode + verify alone on {os.cpu_count()} cores {rate(total, ceiling_s)}"
    )
    rows.append(
        [
            f"install over loopback HTTP, {mib(total)}",
            rate(total, install_s),
            f"dd conv=fdatasync {rate(total, dd_s)}",
            f"{dd_s / install_s:.2f}× (rounds: "
            + ", ".join(f"{d / r.seconds:.2f}" for d, r in zip(dds, installs, strict=True))
            + ")",
            "≥ 0.7×",
        ]
    )
    rows.append(
        [
            "",
            "",
            f"decode + verify of its chunks from memory, {os.cpu_count()} cores {rate(total, ceiling_s)}",
            f"{ceiling_s / install_s:.2f}×",
            "(the ceiling)",
        ]
    )
    rows.append(
        [
            "peak RSS: build / install",
            f"{max(r.max_rss_mib for r in builds):.0f} / {max(r.max_rss_mib for r in installs):.0f} MiB",
            "",
            "",
            "bounded (independent of size)",
        ]
    )
    for round_ in range(runs):
        shutil.rmtree(work / f"installed-{round_}", ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)

    # Chunk reuse after inserting 4 KiB at the front of a pack of the build's size.
    reuse = work / "reuse"
    Data(3).write(reuse / "old" / "pack.bin", size)
    (reuse / "new").mkdir()
    with open(reuse / "new" / "pack.bin", "wb") as out, open(reuse / "old" / "pack.bin", "rb") as src:
        out.write(Data(4).block(4 * KiB))
        shutil.copyfileobj(src, out, 4 * MiB)
    shutil.rmtree(old)  # disk: the reuse pair is as large as the build
    build(reuse / "old", reuse / "store", reuse / "old.manifest", key, level)
    _, figures = build(reuse / "new", reuse / "store", reuse / "new.manifest", key, level)
    by_count = 1 - figures["new chunks"] / figures["chunks"]
    by_bytes = 1 - figures["new bytes"] / figures["bytes"]
    print(
        f"reuse after a 4 KiB insert at the front of a {mib(size)} pack: {by_count:.2%} of "
        f"{figures['chunks']} chunks, {by_bytes:.2%} of bytes ({figures['new chunks']} new chunks)"
    )
    rows.append(
        [
            f"chunks reused after 4 KiB inserted at the front of a {mib(size)} pack",
            f"{by_count:.1%} ({figures['new chunks']} new of {figures['chunks']})",
            "",
            "",
            "≥ 95 %",
        ]
    )
    return rows


if __name__ == "__main__":
    main()
