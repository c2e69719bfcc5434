"""Blobs: round trips with and without encryption, and every kind of damage refused."""

from __future__ import annotations

import random

import pytest
import zstandard

from parovoz.content import codec
from parovoz.content.errors import ChunkCorrupt, KeyInvalid

KEY = bytes(range(32))
TEXT = b"all work and no play makes a dull chunk " * 500
NOISE = random.Random(3).randbytes(20_000)


@pytest.mark.parametrize("plain", [TEXT, NOISE, b"x"], ids=["text", "noise", "one-byte"])
@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "aes"])
def test_round_trip(plain: bytes, key: bytes | None) -> None:
    cid = codec.chunk_id(plain)
    blob = codec.encode(plain, 3, key)
    assert codec.decode(blob, cid, len(plain), key) == plain
    assert len(blob) <= len(plain) + codec.MAX_OVERHEAD


def test_compressible_chunks_shrink_and_incompressible_are_stored_raw() -> None:
    assert len(codec.encode(TEXT)) < len(TEXT) // 10
    raw = codec.encode(NOISE)
    assert raw[4] & codec.FLAG_ZSTD == 0 and raw[codec.HEADER_SIZE :] == NOISE


def test_encrypted_blob_is_deterministic_hides_the_plain_bytes_and_needs_the_key() -> None:
    blob = codec.encode(NOISE, 3, KEY)
    assert blob == codec.encode(NOISE, 3, KEY)
    assert NOISE[:64] not in blob
    cid = codec.chunk_id(NOISE)
    with pytest.raises(ChunkCorrupt, match="no depot key"):
        codec.decode(blob, cid, len(NOISE))
    with pytest.raises(ChunkCorrupt, match="authentication failed"):
        codec.decode(blob, cid, len(NOISE), bytes(32))


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "aes"])
@pytest.mark.parametrize("plain", [TEXT, NOISE[:1500]], ids=["zstd", "raw"])
def test_every_single_flipped_bit_is_detected(plain: bytes, key: bytes | None) -> None:
    blob = codec.encode(plain, 3, key)
    cid = codec.chunk_id(plain)
    for position in range(len(blob)):
        for bit in range(8):
            damaged = bytearray(blob)
            damaged[position] ^= 1 << bit
            with pytest.raises(ChunkCorrupt):
                codec.decode(bytes(damaged), cid, len(plain), key)


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "aes"])
def test_truncation_is_detected(key: bytes | None) -> None:
    blob = codec.encode(TEXT, 3, key)
    cid = codec.chunk_id(TEXT)
    for length in (0, 3, codec.HEADER_SIZE, codec.HEADER_SIZE + 5, len(blob) // 2, len(blob) - 1):
        with pytest.raises(ChunkCorrupt):
            codec.decode(blob[:length], cid, len(TEXT), key)


def test_a_frame_that_fails_mid_decode_leaves_the_threads_decoder_usable() -> None:
    # Each thread reuses one zstd decompressor: a failure must not spoil the next chunk's decode.
    blob = codec.encode(TEXT)
    cid = codec.chunk_id(TEXT)
    damaged = bytearray(blob)
    for position in range(codec.HEADER_SIZE + 12, len(blob) - 8):
        damaged[position] ^= 0xFF
    with pytest.raises(ChunkCorrupt):
        codec.decode(bytes(damaged), cid, len(TEXT))
    with pytest.raises(ChunkCorrupt):
        codec.decode(blob[: len(blob) // 2], cid, len(TEXT))
    assert codec.decode(blob, cid, len(TEXT)) == TEXT
    other = TEXT[::-1]
    assert codec.decode(codec.encode(other), codec.chunk_id(other), len(other)) == other


def test_wrong_id_or_size_is_refused() -> None:
    blob = codec.encode(TEXT)
    with pytest.raises(ChunkCorrupt, match="hash to"):
        codec.decode(blob, "0" * 64, len(TEXT))
    with pytest.raises(ChunkCorrupt, match="declares"):
        codec.decode(blob, codec.chunk_id(TEXT), len(TEXT) - 1)


def _blob(frame: bytes, declared: int) -> bytes:
    return codec.MAGIC + bytes([codec.FLAG_ZSTD]) + declared.to_bytes(4, "big") + frame


def test_a_frame_larger_than_declared_is_refused_before_decompressing() -> None:
    big = b"z" * 100_000
    frame = zstandard.ZstdCompressor(write_content_size=True).compress(big)
    with pytest.raises(ChunkCorrupt, match="frame declares 100000"):
        codec.decode(_blob(frame, 1000), codec.chunk_id(big[:1000]), 1000)


def test_a_frame_lying_about_its_size_is_refused() -> None:
    plain = b"abc" * 700  # 2100 bytes; the frame header is patched to declare 1000
    frame = bytearray(zstandard.ZstdCompressor(write_content_size=True).compress(plain))
    assert frame[4] == 0x60  # single segment, 2-byte content size at [5:7] (value - 256)
    frame[5:7] = (1000 - 256).to_bytes(2, "little")
    assert zstandard.frame_content_size(bytes(frame)) == 1000
    with pytest.raises(ChunkCorrupt, match="does not decode"):
        codec.decode(_blob(bytes(frame), 1000), codec.chunk_id(plain[:1000]), 1000)


def test_a_frame_without_content_size_is_refused() -> None:
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(TEXT)
    with pytest.raises(ChunkCorrupt, match="frame declares -1"):
        codec.decode(_blob(frame, len(TEXT)), codec.chunk_id(TEXT), len(TEXT))


def test_bad_magic_and_unknown_flags_are_refused() -> None:
    blob = bytearray(codec.encode(TEXT))
    with pytest.raises(ChunkCorrupt, match="bad magic"):
        codec.decode(b"XXXX" + bytes(blob[4:]), codec.chunk_id(TEXT), len(TEXT))
    blob[4] |= 0x80
    with pytest.raises(ChunkCorrupt, match="unknown blob flags"):
        codec.decode(bytes(blob), codec.chunk_id(TEXT), len(TEXT))


def test_wrong_key_size_is_refused() -> None:
    with pytest.raises(KeyInvalid, match="32 bytes"):
        codec.encode(TEXT, 3, b"short")
