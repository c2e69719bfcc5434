"""Blobs: how a chunk is stored. See docs/CONTENT.md ("Chunk").

    magic b"PZC1" · flags (u8: bit0 zstd, bit1 AES-256-GCM) · plain size (u32 BE) · payload

The payload is a zstd frame with its content size written, or the plain bytes themselves when zstd
does not make them smaller (already compressed assets: storing them raw costs nothing to decode).
When encrypted, the payload is nonce (12 bytes) · AES-256-GCM(key, nonce, inner, aad = chunk id),
with nonce = HMAC-SHA-256(key, chunk id)[:12]: the same chunk under the same key always gives the
same blob, so dedup and resumed uploads keep working; the id is public anyway, and a nonce repeats
only for the very same plaintext, which reveals nothing new.

`decode` trusts nothing in the blob: every size is checked against what the manifest expects before
anything is allocated, and the plain bytes must hash to the chunk id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parovoz.content.chunking import MAX_CHUNK_SIZE
from parovoz.content.errors import ChunkCorrupt, KeyInvalid

MAGIC = b"PZC1"
FLAG_ZSTD = 0x01
FLAG_AES_GCM = 0x02
_KNOWN_FLAGS = FLAG_ZSTD | FLAG_AES_GCM
_HEADER = struct.Struct(">4sBI")
HEADER_SIZE = _HEADER.size
NONCE_SIZE = 12
TAG_SIZE = 16
DEPOT_KEY_SIZE = 32
# A blob is never larger than its plain bytes plus this (zstd output larger than the input is
# replaced by the raw bytes): manifests may rely on it to refuse absurd stored sizes.
MAX_OVERHEAD = HEADER_SIZE + NONCE_SIZE + TAG_SIZE
DEFAULT_LEVEL = 3
# Large enough for any frame we write (content size known, window <= chunk size), small enough that
# a hostile frame cannot make the decoder reserve much memory.
_MAX_WINDOW = 2 * MAX_CHUNK_SIZE
_per_thread = threading.local()


def chunk_id(plain: bytes | memoryview) -> str:
    """A chunk's id: lower-case hex SHA-256 of its plain bytes."""
    return hashlib.sha256(plain).hexdigest()


def read_chunk(fd: int, offset: int, size: int, cid: str) -> bytes | None:
    """The `size` bytes at `offset` of an open file when they are chunk `cid`, else None (a file
    changed or cut short since its manifest was written)."""
    try:
        data = os.pread(fd, size, offset)
    except OSError:
        return None
    return data if len(data) == size and chunk_id(data) == cid else None


def encode(
    plain: bytes, level: int = DEFAULT_LEVEL, key: bytes | None = None, *, cid: str | None = None
) -> bytes:
    """The blob of `plain`. `cid` (its id) may be passed when already known, to skip hashing again."""
    if len(plain) > MAX_CHUNK_SIZE:
        raise ValueError(f"a chunk is at most {MAX_CHUNK_SIZE} bytes, got {len(plain)}")
    frame = _compressor(level).compress(plain)
    flags, inner = (FLAG_ZSTD, frame) if len(frame) < len(plain) else (0, bytes(plain))
    if key is not None:
        _check_key(key)
        cid = cid or chunk_id(plain)
        nonce = _nonce(key, cid)
        inner = nonce + AESGCM(key).encrypt(nonce, inner, cid.encode())
        flags |= FLAG_AES_GCM
    return _HEADER.pack(MAGIC, flags, len(plain)) + inner


def decode(blob: bytes, expected_id: str, expected_size: int, key: bytes | None = None) -> bytes:
    """The plain bytes of `blob`, which must be the chunk `expected_id` of `expected_size` bytes.

    Raises `ChunkCorrupt` for anything else (an encrypted blob without a key included).
    An unencrypted blob decodes without the key: the store is shared across depots, and a chunk
    already stored in the clear is public anyway.
    """
    if not 0 <= expected_size <= MAX_CHUNK_SIZE:
        raise ChunkCorrupt(f"chunk {expected_id}: expected size {expected_size} is outside the allowed range")
    if len(blob) < HEADER_SIZE:
        raise ChunkCorrupt(f"chunk {expected_id}: blob is truncated ({len(blob)} bytes, no full header)")
    magic, flags, plain_size = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ChunkCorrupt(f"chunk {expected_id}: not a chunk blob (bad magic {magic!r})")
    if flags & ~_KNOWN_FLAGS:
        raise ChunkCorrupt(f"chunk {expected_id}: unknown blob flags {flags:#04x}")
    if plain_size != expected_size:
        raise ChunkCorrupt(
            f"chunk {expected_id}: blob declares {plain_size} plain bytes, manifest expects {expected_size}"
        )
    if len(blob) > expected_size + MAX_OVERHEAD:
        raise ChunkCorrupt(f"chunk {expected_id}: blob of {len(blob)} bytes is too large for {expected_size}")
    inner = memoryview(blob)[HEADER_SIZE:]
    if flags & FLAG_AES_GCM:
        inner = memoryview(_decrypt(inner, expected_id, key))
    plain = _decompress(inner, expected_id, expected_size) if flags & FLAG_ZSTD else bytes(inner)
    if len(plain) != expected_size:
        raise ChunkCorrupt(
            f"chunk {expected_id}: blob holds {len(plain)} plain bytes, the manifest expects {expected_size}"
        )
    actual = chunk_id(plain)
    if actual != expected_id:
        raise ChunkCorrupt(f"chunk {expected_id}: plain bytes hash to {actual} (damaged blob)")
    return plain


def _decrypt(inner: memoryview, cid: str, key: bytes | None) -> bytes:
    if key is None:
        # Installers check up front that an encrypted manifest comes with its key: here it is damage.
        raise ChunkCorrupt(f"chunk {cid}: blob is encrypted and no depot key was given (damaged blob?)")
    _check_key(key)
    if len(inner) < NONCE_SIZE + TAG_SIZE:
        raise ChunkCorrupt(f"chunk {cid}: encrypted payload is truncated")
    try:
        return AESGCM(key).decrypt(bytes(inner[:NONCE_SIZE]), bytes(inner[NONCE_SIZE:]), cid.encode())
    except InvalidTag:
        raise ChunkCorrupt(f"chunk {cid}: authentication failed (damaged blob or wrong depot key)") from None


def _decompress(frame: memoryview, cid: str, expected_size: int) -> bytes:
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as error:
        raise ChunkCorrupt(f"chunk {cid}: bad zstd frame ({error})") from None
    # zstd ignores the frame header's unused bit (0x10 of the descriptor, after the 4-byte magic);
    # we never set it, so a flip there is damage too: every flipped bit of a blob is then refused.
    if len(frame) > 4 and frame[4] & 0x10:
        raise ChunkCorrupt(f"chunk {cid}: bad zstd frame header")
    # Checked before decompressing: the decoder allocates what the frame declares.
    if declared != expected_size:
        raise ChunkCorrupt(
            f"chunk {cid}: zstd frame declares {declared} bytes, the manifest expects {expected_size}"
        )
    try:
        return _decompressor().decompress(frame, max_output_size=expected_size)
    except zstandard.ZstdError as error:
        raise ChunkCorrupt(f"chunk {cid}: zstd frame does not decode ({error})") from None


def _decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompressor (not thread-safe either; one per chunk cost a context each time)."""
    dctx: zstandard.ZstdDecompressor | None = getattr(_per_thread, "decompressor", None)
    if dctx is None:
        dctx = _per_thread.decompressor = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW)
    return dctx


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """This thread's compressor for `level`: a compressor is not thread-safe, and making one per chunk
    costs a context allocation each time."""
    cache: dict[int, zstandard.ZstdCompressor] = _per_thread.__dict__.setdefault("compressors", {})
    compressor = cache.get(level)
    if compressor is None:
        compressor = cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return compressor


def _nonce(key: bytes, cid: str) -> bytes:
    return hmac.new(key, cid.encode(), hashlib.sha256).digest()[:NONCE_SIZE]


def _check_key(key: bytes) -> None:
    if len(key) != DEPOT_KEY_SIZE:
        raise KeyInvalid(f"a depot key is {DEPOT_KEY_SIZE} bytes, got {len(key)}")
