"""Generated game builds for the content engine's tests: deterministic for a seed, a few MB at most.

A build has many small files, a few larger "pack" files (part random, part compressible, with a
repeated region so chunks dedup), empty files, a deep tree and non-ASCII names (Cyrillic, accented,
CJK, emoji). Tests scale chunk sizes down (`SMALL_PARAMS`) so a few MB still make hundreds of chunks.
"""

from __future__ import annotations

import random
from pathlib import Path

from parovoz.content.chunking import ChunkingParams

KiB = 1024
MiB = 1024 * KiB
SMALL_PARAMS = ChunkingParams(min_size=4 * KiB, avg_size=16 * KiB, max_size=64 * KiB)

_NAMES = ["readme", "текстуры", "café", "données", "日本語", "🎮-save", "level", "Ωmega", "naïve", "data"]
_WORDS = b"the quick brown fox jumps over the lazy dog while shaders compile and textures stream in ".split()


def pack_bytes(rng: random.Random, size: int) -> bytes:
    """Game-asset-like bytes: random blocks (already compressed media) and text-like runs."""
    out = bytearray()
    while len(out) < size:
        if rng.random() < 0.5:
            out += rng.randbytes(rng.randint(1 * KiB, 32 * KiB))
        else:
            out += b" ".join(rng.choice(_WORDS) for _ in range(rng.randint(200, 4000)))
    return bytes(out[:size])


def generate_build(
    root: Path,
    *,
    seed: int = 0,
    small_files: int = 120,
    pack_files: int = 3,
    pack_size: int = 1 * MiB,
    depth: int = 12,
) -> list[str]:
    """Write a build under `root` (created); return its files' relative paths, '/'-separated."""
    rng = random.Random(seed)
    written: list[str] = []

    def write(relative: str, data: bytes) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(relative)

    for index in range(small_files):
        folder = "/".join(rng.choice(_NAMES) for _ in range(rng.randint(0, 3)))
        name = f"{rng.choice(_NAMES)}-{index}.dat"
        size = 0 if index % 15 == 0 else rng.randint(1, 12 * KiB)
        write(f"{folder}/{name}" if folder else name, pack_bytes(rng, size))
    deep = "/".join(f"d{level}" for level in range(depth))
    write(f"{deep}/bottom.txt", b"deep\n")
    write(f"{deep}/empty", b"")
    shared = pack_bytes(rng, 128 * KiB)  # the same region in every pack: chunks dedup across files
    for index in range(pack_files):
        body = pack_bytes(rng, max(pack_size - len(shared), 0))
        half = len(body) // 2
        write(f"packs/pak{index:02d}.pak", body[:half] + shared + body[half:])
    write("packs/copy-of-pak00.pak", (root / "packs/pak00.pak").read_bytes() if pack_files else b"")
    return sorted(written, key=str.encode)


def insert_bytes(path: Path, offset: int, data: bytes) -> None:
    """Insert `data` into the file at `offset` (the classic delta test: everything after it shifts)."""
    content = path.read_bytes()
    path.write_bytes(content[:offset] + data + content[offset:])


def scatter_edits(root: Path, *, seed: int = 1, every: int = 48 * KiB) -> None:
    """A patch's kind of change to a `generate_build` tree: in each pack a few bytes overwritten every
    `every` bytes, 300 random bytes inserted in pak01, 2 KiB appended to pak02, and every small
    file over 2 KiB edited in its middle. Most changed chunks then differ from an old one by a little."""
    rng = random.Random(seed)
    for pack in sorted((root / "packs").glob("pak*.pak")):
        data = bytearray(pack.read_bytes())
        for offset in range(every // 2, len(data) - 64, every):
            data[offset : offset + 16] = rng.randbytes(16)
        pack.write_bytes(bytes(data))
    insert_bytes(root / "packs" / "pak01.pak", 200 * KiB, rng.randbytes(300))
    with open(root / "packs" / "pak02.pak", "ab") as out:
        out.write(rng.randbytes(2 * KiB))
    for path in sorted(p for p in root.rglob("*.dat") if p.stat().st_size > 2 * KiB):
        data = bytearray(path.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 8] = rng.randbytes(8)
        path.write_bytes(bytes(data))
