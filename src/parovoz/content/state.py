"""An install's own state, in `<DIR>/.parovoz/` (docs/CONTENT.md, "Install state").

- `manifests/<build_id>.manifest`: the signed manifests of the last few installs (rollback);
- `current`: the installed build id;
- `journal`: append-only JSON lines of an install in progress (see `install.py` for the records);
- `staging/<n>`: files being written, named by their index in the new manifest.

Small files are replaced atomically (temp file, fsync, rename, fsync of the directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from typing import Any

from parovoz.content.errors import UnsafePath
from parovoz.content.targetfs import STATE_DIR, Target

KEEP_MANIFESTS = 3
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_build_id(build_id: str) -> str:
    """A build id that is safe as a file name (it comes from a manifest, so it is not trusted)."""
    if not _BUILD_ID.fullmatch(build_id):
        raise UnsafePath(f"build id {build_id!r} is not usable as a name (letters, digits, '.', '_', '-')")
    return build_id


class Journal:
    """Append-only records, one JSON object a line. Appends go to the page cache at once (a kill -9
    loses none); `sync` makes them durable. A torn last line (power loss) is ignored on reading."""

    def __init__(self, dir_fd: int, name: str = "journal") -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd = os.open(name, flags, 0o644, dir_fd=dir_fd)

    def append(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)

    @staticmethod
    def read(dir_fd: int, name: str = "journal") -> list[dict[str, Any]]:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "rb") as f:
            lines = f.read().split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                break  # a torn line: nothing after it was written either
            if isinstance(record, dict):
                records.append(record)
        return records


class InstallState:
    """The `.parovoz/` directory of an install (created on first use; a symlink there is refused)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        with target.directory([STATE_DIR, "manifests"], create=True):
            pass
        with target.directory([STATE_DIR, "staging"], create=True):
            pass
        self.fd = os.open(STATE_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=target.fd)
        self.manifests_fd = os.open("manifests", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
        self.staging_fd = os.open("staging", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)

    def close(self) -> None:
        for fd in (self.staging_fd, self.manifests_fd, self.fd):
            os.close(fd)

    def current(self) -> str | None:
        data = _read(self.fd, "current")
        return check_build_id(data.decode().strip()) if data else None

    def set_current(self, build_id: str) -> None:
        write_atomic(self.fd, "current", check_build_id(build_id).encode() + b"\n")

    def manifest_bytes(self, build_id: str) -> bytes | None:
        return _read(self.manifests_fd, f"{check_build_id(build_id)}.manifest")

    def save_manifest(self, build_id: str, data: bytes) -> None:
        name = f"{check_build_id(build_id)}.manifest"
        if _read(self.manifests_fd, name) != data:
            write_atomic(self.manifests_fd, name, data)
        os.utime(name, dir_fd=self.manifests_fd, follow_symlinks=False)  # most recent use first

    def saved_builds(self) -> list[str]:
        """Build ids of the kept manifests, most recently installed first."""
        entries = []
        for name in os.listdir(self.manifests_fd):
            if name.endswith(".manifest"):
                st = os.stat(name, dir_fd=self.manifests_fd, follow_symlinks=False)
                entries.append((st.st_mtime_ns, name.removesuffix(".manifest")))
        return [build for _, build in sorted(entries, reverse=True)]

    def prune_manifests(self, keep: int = KEEP_MANIFESTS) -> None:
        for build in self.saved_builds()[keep:]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{build}.manifest", dir_fd=self.manifests_fd)

    def clear_staging(self) -> None:
        for name in os.listdir(self.staging_fd):
            try:
                os.unlink(name, dir_fd=self.staging_fd)
            except IsADirectoryError:
                shutil.rmtree(name, dir_fd=self.staging_fd)
            except FileNotFoundError:
                pass

    def remove_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink("journal", dir_fd=self.fd)
        os.fsync(self.fd)


def write_atomic(dir_fd: int, name: str, data: bytes) -> None:
    temp = f".{name}.tmp"
    fd = os.open(
        temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
    )
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    os.fsync(dir_fd)


def _read(dir_fd: int, name: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()
