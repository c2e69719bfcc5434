"""Signed manifests: serialization, signing, loading with trust, and validation of hostile input.

`load` checks the signature before it even parses the manifest, then `validate` refuses anything an
installer could be tricked by: paths out of the install directory or clashing on case-insensitive
file systems, sizes and totals that do not add up, absurd sizes, malformed deltas
(`delta.check_deltas`). A manifest that passes can be installed by trusting its paths and sizes
without further checks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.message import DecodeError

from parovoz.content import delta, keys
from parovoz.content.chunking import MAX_CHUNK_SIZE, ChunkingParams
from parovoz.content.codec import MAX_OVERHEAD
from parovoz.content.errors import ManifestRejected, UnsafePath
from parovoz.protos.platform.content.v1.manifest_pb2 import FileEntry, Manifest, SignedManifest, Totals

FORMAT = 1
TiB = 1024**4
# Install state lives in `<DIR>/.parovoz/`: no build may write there.
RESERVED_TOP = ".parovoz"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
# A build id names a file in the install state, so it is kept to a safe file name.
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_PATH_BYTES = 4096
_MAX_PART_BYTES = 255
_MAX_LABEL = 256


@dataclass(frozen=True, slots=True)
class Limits:
    """What a manifest may not exceed (absurd sizes are refused before any work is done)."""

    max_bytes: int = 2 * TiB
    max_files: int = 10_000_000
    max_manifest_bytes: int = 2**31 - 1


def serialize(manifest: Manifest) -> bytes:
    """Deterministic bytes: the same manifest always serializes the same way."""
    return manifest.SerializeToString(deterministic=True)


def sign(manifest: Manifest, private_key: Ed25519PrivateKey) -> bytes:
    """The manifest file: a `SignedManifest` over the manifest's deterministic bytes."""
    body = serialize(manifest)
    signed = SignedManifest(manifest=body, signature=private_key.sign(body), key_id=keys.key_id(private_key))
    return signed.SerializeToString(deterministic=True)


def load(data: bytes, trusted_keys: Iterable[Ed25519PublicKey], *, limits: Limits = Limits()) -> Manifest:
    """The manifest in `data` if signed by one of `trusted_keys` and valid; else `ManifestRejected`."""
    by_id = {keys.key_id(key): key for key in trusted_keys}
    if not by_id:
        raise ManifestRejected("no trusted public key given: refusing to accept any manifest")
    if len(data) > limits.max_manifest_bytes:
        raise ManifestRejected(f"manifest file of {len(data)} bytes exceeds the limit")
    signed = SignedManifest()
    try:
        signed.ParseFromString(data)
    except DecodeError:
        raise ManifestRejected("not a signed manifest (the file does not parse)") from None
    key = by_id.get(signed.key_id)
    if key is None:
        raise ManifestRejected(
            f"manifest is signed by key {signed.key_id or '(none)'!s}, which is not trusted "
            f"(trusted: {', '.join(sorted(by_id))})"
        )
    try:
        key.verify(signed.signature, signed.manifest)
    except InvalidSignature:
        raise ManifestRejected(
            f"manifest signature does not verify with key {signed.key_id}: the file was altered or forged"
        ) from None
    manifest = Manifest()
    try:
        manifest.ParseFromString(signed.manifest)
    except DecodeError:
        raise ManifestRejected("signed manifest body does not parse") from None
    validate(manifest, limits=limits)
    return manifest


def compute_totals(files: Iterable[FileEntry]) -> Totals:
    totals = Totals()
    stored: dict[str, int] = {}
    for entry in files:
        totals.files += 1
        totals.bytes += entry.size
        totals.chunks += len(entry.chunks)
        for ref in entry.chunks:
            stored.setdefault(ref.id, ref.stored_size)
    totals.unique_chunks = len(stored)
    totals.stored_bytes = sum(stored.values())
    return totals


def validate(manifest: Manifest, *, limits: Limits = Limits()) -> None:
    """Raise `ManifestRejected` (or its `UnsafePath`) for anything inconsistent or hostile."""
    if manifest.format != FORMAT:
        raise ManifestRejected(f"unsupported manifest format {manifest.format} (this client reads {FORMAT})")
    if not _BUILD_ID.fullmatch(manifest.build_id):
        raise ManifestRejected(f"build id {manifest.build_id!r} is not a safe name ([A-Za-z0-9._-], ≤ 128)")
    for label in (manifest.game_id, manifest.depot_id, manifest.branch):
        if len(label) > _MAX_LABEL or "\0" in label:
            raise ManifestRejected(f"game, depot or branch label {label[:40]!r}… is not acceptable")
    if manifest.encryption_key_id and not _KEY_ID.fullmatch(manifest.encryption_key_id):
        raise ManifestRejected(f"encryption key id {manifest.encryption_key_id!r} is malformed")
    max_chunk = _check_chunking(manifest)
    declared = manifest.totals
    # Totals first: an absurd manifest is refused before its files are walked.
    if declared.files > limits.max_files or len(manifest.files) > limits.max_files:
        raise ManifestRejected(f"manifest lists more than {limits.max_files} files")
    if declared.bytes > limits.max_bytes:
        raise ManifestRejected(
            f"manifest declares {declared.bytes} bytes, over the limit of {limits.max_bytes}"
        )
    _check_files(manifest, max_chunk, limits)
    actual = compute_totals(manifest.files)
    if actual != declared:
        raise ManifestRejected(
            "manifest totals do not match its files: declared "
            f"{_totals_text(declared)}, actual {_totals_text(actual)}"
        )
    delta.check_deltas(manifest)


def _check_chunking(manifest: Manifest) -> int:
    params = manifest.chunking
    try:
        ChunkingParams(params.min_size, params.avg_size, params.max_size)
    except ValueError as error:
        raise ManifestRejected(f"manifest chunking parameters are invalid: {error}") from None
    return min(params.max_size, MAX_CHUNK_SIZE)


def _check_files(manifest: Manifest, max_chunk: int, limits: Limits) -> None:
    previous: bytes | None = None
    folded_files: set[str] = set()
    folded_dirs: set[str] = set()
    chunk_sizes: dict[str, tuple[int, int]] = {}
    for entry in manifest.files:
        check_path(entry.path)
        encoded = entry.path.encode()
        if previous is not None and encoded <= previous:
            what = "duplicate path" if encoded == previous else "files are not sorted by path at"
            raise ManifestRejected(f"{what} {entry.path!r}")
        previous = encoded
        folded = _fold(entry.path)
        if folded in folded_files:
            raise UnsafePath(
                f"path {entry.path!r} collides with another path on a case-insensitive file system"
            )
        folded_files.add(folded)
        parts = folded.split("/")
        folded_dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        _check_entry(entry, max_chunk, limits, chunk_sizes)
    clash = folded_files & folded_dirs
    if clash:
        raise UnsafePath(f"path {sorted(clash)[0]!r} is both a file and a directory")


def _check_entry(
    entry: FileEntry, max_chunk: int, limits: Limits, chunk_sizes: dict[str, tuple[int, int]]
) -> None:
    name = entry.path
    if entry.size > limits.max_bytes:
        raise ManifestRejected(f"file {name!r} declares an absurd size of {entry.size} bytes")
    if not _HEX64.fullmatch(entry.sha256):
        raise ManifestRejected(f"file {name!r} has a malformed sha256 {entry.sha256!r}")
    offset = 0
    for ref in entry.chunks:
        if not _HEX64.fullmatch(ref.id):
            raise ManifestRejected(f"file {name!r} references a malformed chunk id {ref.id!r}")
        if ref.offset != offset:
            raise ManifestRejected(
                f"file {name!r}: chunks are not contiguous (chunk at {ref.offset}, expected {offset})"
            )
        if not 0 < ref.size <= max_chunk:
            raise ManifestRejected(f"file {name!r}: chunk size {ref.size} is outside (0, {max_chunk}]")
        if not 0 < ref.stored_size <= ref.size + MAX_OVERHEAD:
            raise ManifestRejected(
                f"file {name!r}: stored size {ref.stored_size} is impossible for {ref.size}"
            )
        if chunk_sizes.setdefault(ref.id, (ref.size, ref.stored_size)) != (ref.size, ref.stored_size):
            raise ManifestRejected(f"chunk {ref.id} is listed with different sizes")
        offset += ref.size
    if offset != entry.size:
        raise ManifestRejected(
            f"file {name!r}: chunks add up to {offset} bytes, the file declares {entry.size}"
        )


def check_path(path: str) -> None:
    """Refuse a path that is not a plain relative '/'-separated NFC path inside the install dir."""
    if not path:
        raise UnsafePath("empty path")
    if "\0" in path:
        raise UnsafePath(f"path {path!r} contains a NUL character")
    if "\\" in path:
        raise UnsafePath(f"path {path!r} contains a backslash (paths are '/'-separated)")
    if path.startswith("/"):
        raise UnsafePath(f"path {path!r} is absolute")
    if len(path.encode()) > _MAX_PATH_BYTES:
        raise UnsafePath(f"path {path[:60]!r}… is longer than {_MAX_PATH_BYTES} bytes")
    if unicodedata.normalize("NFC", path) != path:
        raise UnsafePath(f"path {path!r} is not in Unicode NFC form")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePath(f"path {path!r} has an empty, '.' or '..' part")
        if len(part.encode()) > _MAX_PART_BYTES:
            raise UnsafePath(f"path {path!r} has a part longer than {_MAX_PART_BYTES} bytes")
    if _fold(parts[0]) == RESERVED_TOP:
        raise UnsafePath(f"path {path!r} is inside {RESERVED_TOP}/, reserved for the install state")


def _fold(path: str) -> str:
    # casefold + NFC: what case-insensitive file systems (Windows, default macOS) treat as one name.
    return unicodedata.normalize("NFC", path.casefold())


def _totals_text(totals: Totals) -> str:
    return (
        f"{totals.files} files / {totals.bytes} bytes / {totals.chunks} chunks / "
        f"{totals.unique_chunks} unique / {totals.stored_bytes} stored"
    )
