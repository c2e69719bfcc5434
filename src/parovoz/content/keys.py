"""Keys: Ed25519 signing keys for manifests, AES-256 depot keys for encrypted chunks.

Files: a signing key is a PKCS#8 PEM private key (`keygen` also writes `<name>.pub`, a PEM public
key); a public key is read from PEM or 64 hex digits (the raw key); a depot key is 64 hex digits on
the command line or in a file (or a 32-byte raw file).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parovoz.content.codec import DEPOT_KEY_SIZE
from parovoz.content.errors import KeyInvalid

_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
KEY_ID_CHARS = 16


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Lower-case hex SHA-256 of the raw 32-byte public key, first 16 characters."""
    return hashlib.sha256(public_raw(key)).hexdigest()[:KEY_ID_CHARS]


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def save_private(key: Ed25519PrivateKey, path: str | os.PathLike[str]) -> None:
    """Write the private key readable by its owner only; refuse to overwrite an existing key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyInvalid(f"{path} already exists: not overwriting a key") from None
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem(key))


def load_private(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyInvalid(f"{path} is not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyInvalid(f"{path} is not an Ed25519 private key")
    return key


def load_public(source: str | os.PathLike[str]) -> Ed25519PublicKey:
    """A public key from a PEM file, a file holding 64 hex digits, or 64 hex digits given inline."""
    text = str(source).strip()
    if _HEX_KEY.fullmatch(text) and not Path(text).exists():
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    data = _read(source, "public key")
    if _HEX_KEY.fullmatch(data.strip().decode("ascii", "replace")):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(data.strip().decode()))
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:  # a private key file also holds its public key
            return load_private(source).public_key()
        except KeyInvalid:
            raise KeyInvalid(f"{source} is not a PEM or hex Ed25519 public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyInvalid(f"{source} is not an Ed25519 public key")
    return key


def generate_depot_key() -> bytes:
    return secrets.token_bytes(DEPOT_KEY_SIZE)


def depot_key_id(key: bytes) -> str:
    """A public name for a depot key (domain-separated hash: reveals nothing about the key)."""
    return hashlib.sha256(b"parovoz depot key id\0" + key).hexdigest()[:KEY_ID_CHARS]


def load_depot_key(value: str) -> bytes:
    """A depot key from 64 hex digits, or from a file holding them (or 32 raw bytes)."""
    text = value.strip()
    if _HEX_KEY.fullmatch(text) and not Path(text).exists():
        return bytes.fromhex(text)
    data = _read(value, "depot key")
    stripped = data.strip()
    if _HEX_KEY.fullmatch(stripped.decode("ascii", "replace")):
        return bytes.fromhex(stripped.decode())
    if len(data) == DEPOT_KEY_SIZE:
        return data
    raise KeyInvalid(f"{value} holds no depot key (expected 64 hex digits or {DEPOT_KEY_SIZE} raw bytes)")


def save_depot_key(key: bytes, path: str | os.PathLike[str]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyInvalid(f"{path} already exists: not overwriting a key") from None
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        with open(path, "rb") as source:
            # Key files are tiny; a huge "key" is a mistake, not something to read whole.
            data = source.read(64 * 1024)
    except OSError as error:
        raise KeyInvalid(f"cannot read {what} {path}: {error.strerror or error}") from None
    return data
