"""Manifests: signatures and trust, and every hostile or inconsistent manifest refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from parovoz.content import keys, manifest
from parovoz.content.errors import ManifestRejected, UnsafePath
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest, SignedManifest

KiB = 1024


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _valid() -> Manifest:
    m = Manifest(format=1, build_id="b-1", game_id="g", depot_id="d", branch="public", created_at=1)
    m.chunking.min_size, m.chunking.avg_size, m.chunking.max_size = 4 * KiB, 16 * KiB, 64 * KiB
    for path, sizes in (("a/x.bin", [20 * KiB, 5 * KiB]), ("a/y", []), ("b.txt", [100])):
        entry = m.files.add(path=path, size=sum(sizes), mode=0o644, sha256=_hex(path))
        offset = 0
        for size in sizes:
            entry.chunks.add(id=_hex(f"{path}{offset}"), offset=offset, size=size, stored_size=size // 2 + 1)
            offset += size
    _retotal(m)
    return m


def _retotal(m: Manifest) -> None:
    m.totals.CopyFrom(manifest.compute_totals(m.files))


def _set_path(index: int, path: str) -> Callable[[Manifest], None]:
    def mutate(m: Manifest) -> None:
        m.files[index].path = path

    return mutate


def _add_file(path: str) -> Callable[[Manifest], None]:
    def mutate(m: Manifest) -> None:
        m.files.add(path=path, size=0, mode=0o644, sha256=_hex(path))
        ordered = sorted(m.files, key=lambda entry: entry.path.encode())
        del m.files[:]
        m.files.extend(ordered)
        _retotal(m)

    return mutate


def test_a_valid_manifest_passes() -> None:
    manifest.validate(_valid())


HOSTILE_PATHS = {
    "dotdot": ("../escape", "'..' part"),
    "inner dotdot": ("a/../../escape", "'..' part"),
    "dot": ("./a", "'.' or '..'"),
    "absolute": ("/etc/passwd", "absolute"),
    "backslash": ("a\\..\\..\\evil", "backslash"),
    "nul": ("a\0b", "NUL"),
    "empty part": ("a//b", "empty"),
    "trailing slash": ("a/", "empty"),
    "empty": ("", "empty path"),
    "not NFC": ("cafe\u0301", "NFC"),
    "install state": (".parovoz/journal", "reserved"),
    "install state, other case": (".PAROVOZ/current", "reserved"),
    "long part": ("x" * 300, "longer than"),
}


@pytest.mark.parametrize("path, message", HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_hostile_paths_are_refused(path: str, message: str) -> None:
    m = _valid()
    m.files[0].path = path
    with pytest.raises(UnsafePath, match=message):
        manifest.validate(m)


INCONSISTENT: dict[str, tuple[Callable[[Manifest], None], str]] = {
    "duplicate path": (_add_file("b.txt"), "duplicate path"),
    "case-folded duplicate": (_add_file("b.TXT"), "case-insensitive"),
    "unsorted": (_set_path(2, "a/a"), "not sorted"),
    "file is a directory": (_add_file("b.txt/inner"), "both a file and a directory"),
    "file is a directory, other case": (_add_file("B.txt/inner"), "both a file and a directory"),
    "size does not add up": (lambda m: setattr(m.files[0], "size", 1), "add up"),
    "non-contiguous": (lambda m: setattr(m.files[0].chunks[1], "offset", 20 * KiB + 1), "not contiguous"),
    "oversize chunk": (lambda m: setattr(m.files[2].chunks[0], "size", 65 * KiB), "outside"),
    "zero-size chunk": (lambda m: setattr(m.files[2].chunks[0], "size", 0), "outside"),
    "impossible stored size": (lambda m: setattr(m.files[2].chunks[0], "stored_size", 10_000), "impossible"),
    "lying file total": (lambda m: setattr(m.totals, "files", 2), "totals do not match"),
    "lying byte total": (lambda m: setattr(m.totals, "bytes", 1), "totals do not match"),
    "lying stored total": (lambda m: setattr(m.totals, "stored_bytes", 7), "totals do not match"),
    "absurd byte total": (lambda m: setattr(m.totals, "bytes", 3 * 1024**4), "over the limit"),
    "absurd file total": (lambda m: setattr(m.totals, "files", 10**9), "more than"),
    "absurd file size": (lambda m: setattr(m.files[1], "size", 2**63), "absurd size"),
    "bad chunk id": (lambda m: setattr(m.files[2].chunks[0], "id", "../../x"), "malformed chunk id"),
    "bad sha256": (lambda m: setattr(m.files[1], "sha256", "nope"), "malformed sha256"),
    "unsafe build id": (lambda m: setattr(m, "build_id", "../../evil"), "not a safe name"),
    "unknown format": (lambda m: setattr(m, "format", 2), "unsupported manifest format"),
    "bad chunking": (lambda m: setattr(m.chunking, "max_size", 1), "chunking parameters"),
    "bad key id": (lambda m: setattr(m, "encryption_key_id", "zz"), "key id"),
}


@pytest.mark.parametrize("mutate, message", INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_inconsistent_manifests_are_refused(mutate: Callable[[Manifest], None], message: str) -> None:
    m = _valid()
    mutate(m)
    with pytest.raises(ManifestRejected, match=message):
        manifest.validate(m)


def test_the_same_chunk_with_two_sizes_is_refused() -> None:
    m = _valid()
    m.files[2].chunks[0].id = m.files[0].chunks[0].id
    _retotal(m)
    with pytest.raises(ManifestRejected, match="different sizes"):
        manifest.validate(m)


def test_limits_are_configurable() -> None:
    with pytest.raises(ManifestRejected, match="more than 2 files"):
        manifest.validate(_valid(), limits=manifest.Limits(max_files=2))


def test_signature_round_trip_and_deterministic_bytes() -> None:
    key = keys.generate()
    data = manifest.sign(_valid(), key)
    assert data == manifest.sign(_valid(), key)  # Ed25519 is deterministic, so is the serialization
    assert manifest.load(data, [key.public_key()]) == _valid()


def test_an_untrusted_key_is_refused_with_its_id() -> None:
    signer, other = keys.generate(), keys.generate()
    data = manifest.sign(_valid(), signer)
    with pytest.raises(ManifestRejected, match=f"signed by key {keys.key_id(signer)}, which is not trusted"):
        manifest.load(data, [other.public_key()])
    with pytest.raises(ManifestRejected, match="no trusted public key"):
        manifest.load(data, [])


def test_tampered_bytes_are_refused() -> None:
    key = keys.generate()
    signed = SignedManifest.FromString(manifest.sign(_valid(), key))
    body = bytearray(signed.manifest)
    body[len(body) // 2] ^= 1
    signed.manifest = bytes(body)
    with pytest.raises(ManifestRejected, match="does not verify"):
        manifest.load(signed.SerializeToString(), [key.public_key()])


def test_a_key_id_swapped_to_a_trusted_one_does_not_help() -> None:
    trusted, forger = keys.generate(), keys.generate()
    signed = SignedManifest.FromString(manifest.sign(_valid(), forger))
    signed.key_id = keys.key_id(trusted)
    with pytest.raises(ManifestRejected, match="does not verify"):
        manifest.load(signed.SerializeToString(), [trusted.public_key()])


def test_a_validly_signed_hostile_manifest_is_still_refused() -> None:
    key = keys.generate()
    m = _valid()
    m.files[0].path = "../../etc/cron.d/x"
    with pytest.raises(UnsafePath):
        manifest.load(manifest.sign(m, key), [key.public_key()])


def test_garbage_is_refused() -> None:
    with pytest.raises(ManifestRejected, match="does not parse"):
        manifest.load(b"\xff\xff\xff garbage", [keys.generate().public_key()])
