"""`parovoz content …`: build, keygen (install, verify and serve register themselves the same way).

Each subcommand is one `_add_<name>(sub)` function in `SUBCOMMANDS` that adds its parser and sets
`run`, a function of the parsed args returning the exit code. Errors the engine raises on purpose
(`ContentError`) and OS errors are printed as one line and exit 1: never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from parovoz.content.errors import ContentError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _add_build(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from parovoz.content.chunking import ChunkingParams, parse_size

    defaults = ChunkingParams()
    p = sub.add_parser("build", help="chunk a directory into a store and write a signed manifest")
    p.add_argument("src", metavar="SRC_DIR", type=Path)
    p.add_argument(
        "--store",
        required=True,
        metavar="STORE",
        help="chunk store: a directory (created if absent) or s3://BUCKET[/PREFIX]",
    )
    p.add_argument("--manifest", required=True, type=Path, metavar="OUT", help="where to write the manifest")
    p.add_argument("--signing-key", required=True, type=Path, metavar="KEY", help="Ed25519 PEM private key")
    p.add_argument("--key", metavar="DEPOT_KEY", help="encrypt chunks: 64 hex digits or a file holding them")
    p.add_argument("--game", default="local")
    p.add_argument("--depot", default="main")
    p.add_argument("--branch", default="public")
    p.add_argument("--build-id", default="", help="default: derived from the content")
    p.add_argument(
        "--created-at", type=int, help="seconds since the epoch (default: now or SOURCE_DATE_EPOCH)"
    )
    p.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    p.add_argument("--min", type=parse_size, default=defaults.min_size, help="min chunk size (e.g. 256K)")
    p.add_argument("--avg", type=parse_size, default=defaults.avg_size, help="average chunk size (e.g. 1M)")
    p.add_argument("--max", type=parse_size, default=defaults.max_size, help="max chunk size (e.g. 4M)")
    p.add_argument("--jobs", type=int, default=None, help="worker threads (default: up to 4)")
    p.add_argument(
        "--previous",
        action="append",
        default=[],
        type=Path,
        metavar="OLD_MANIFEST",
        help="patch changed chunks against this earlier build (signed with the same key); repeatable",
    )
    p.set_defaults(run=_run_build)


def _run_build(args: argparse.Namespace) -> int:
    from parovoz.content import keys
    from parovoz.content.build import BuildMeta, build
    from parovoz.content.chunking import ChunkingParams
    from parovoz.content.progress import Progress, format_bytes
    from parovoz.content.store import LocalChunkStore
    from parovoz.content.stores import open_store

    try:
        params = ChunkingParams(args.min, args.avg, args.max)
    except ValueError as error:
        return _fail(str(error))
    signing_key = keys.load_private(args.signing_key)
    depot_key = keys.load_depot_key(args.key) if args.key else None
    previous = [_load_previous(path, signing_key) for path in args.previous]
    store = open_store(args.store, writable=True)
    if isinstance(store, LocalChunkStore):
        store.sweep_temp()
    meta = BuildMeta(args.game, args.depot, args.branch, args.build_id, args.created_at)
    with Progress("build", 0) as progress:
        report = build(
            args.src,
            store,
            params=params,
            level=args.level,
            signing_key=signing_key,
            depot_key=depot_key,
            meta=meta,
            progress=progress,
            workers=args.jobs,
            previous=previous,
        )
    write_atomic(args.manifest, report.signed)
    rate = report.bytes / report.seconds if report.seconds > 0 else 0.0
    print(f"build id: {report.manifest.build_id}")
    print(f"files: {report.files}")
    print(f"bytes: {report.bytes} ({format_bytes(report.bytes)})")
    print(f"chunks: {report.chunks} ({report.unique_chunks} unique)")
    print(f"new chunks: {report.new_chunks}")
    print(f"new bytes: {report.new_bytes} ({format_bytes(report.new_bytes)})")
    print(f"new stored bytes: {report.new_stored_bytes} ({format_bytes(report.new_stored_bytes)})")
    print(f"stored bytes: {report.stored_bytes} ({format_bytes(report.stored_bytes)})")
    if previous:
        print(f"deltas: {report.deltas} (against {len(previous)} previous builds)")
        print(f"new patch bytes: {report.new_patch_bytes} ({report.new_patches} new patch blobs)")
    print(f"manifest: {args.manifest}")
    print(f"time: {report.seconds:.2f} s ({format_bytes(rate)}/s)")
    return 0


def _load_previous(path: Path, signing_key: Ed25519PrivateKey) -> Manifest:
    """An earlier build's manifest for `--previous`: it must verify with this build's own key."""
    from parovoz.content import manifest
    from parovoz.content.errors import ManifestRejected

    try:
        return manifest.load(path.read_bytes(), [signing_key.public_key()])
    except ManifestRejected as error:
        raise ContentError(
            f"--previous {path}: not usable, it must be a manifest signed with this build's signing key "
            f"({error})"
        ) from None


def _add_keygen(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keygen", help="write a new Ed25519 signing key (OUT and OUT.pub) or a depot key")
    p.add_argument("out", metavar="OUT", type=Path)
    p.add_argument(
        "--depot-key", action="store_true", help="write an AES-256 depot key (64 hex digits) instead"
    )
    p.set_defaults(run=_run_keygen)


def _run_keygen(args: argparse.Namespace) -> int:
    from parovoz.content import keys

    if args.depot_key:
        depot_key = keys.generate_depot_key()
        keys.save_depot_key(depot_key, args.out)
        print(f"depot key: {args.out}")
        print(f"depot key id: {keys.depot_key_id(depot_key)}")
        return 0
    private = keys.generate()
    public_path = args.out.with_name(args.out.name + ".pub")
    if public_path.exists():
        return _fail(f"{public_path} already exists: not overwriting a key")
    keys.save_private(private, args.out)
    public_path.write_bytes(keys.public_pem(private))
    print(f"private key: {args.out}")
    print(f"public key file: {public_path}")
    print(f"public key: {keys.public_raw(private).hex()}")
    print(f"key id: {keys.key_id(private)}")
    return 0


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from parovoz.content.origin import add_serve_arguments, serve_command

    p = sub.add_parser("serve", help="serve a chunk store read-only over HTTP (a chunk origin for a CDN)")
    add_serve_arguments(p)
    p.set_defaults(run=serve_command)


def _add_install_and_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from parovoz.content.install_cli import add_install, add_verify

    add_install(sub)
    add_verify(sub)


SUBCOMMANDS: list[Registrar] = [_add_build, _add_keygen, _add_serve, _add_install_and_verify]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parovoz content", description="game builds as signed chunk manifests")
    sub = top.add_subparsers(dest="content_command", required=True)
    for register in SUBCOMMANDS:
        register(sub)
    return top


def main(args: list[str]) -> int:
    parsed = parser().parse_args(args)
    try:
        return int(parsed.run(parsed))
    except ContentError as error:
        return _fail(str(error))
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        return _fail(f"{error.strerror or error}{':' if where else ''}{where}")
    except KeyboardInterrupt:
        return _fail("interrupted", code=130)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file whole or not at all: temp file in the same directory, fsync, rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _fail(message: str, *, code: int = 1) -> int:
    print(f"parovoz content: error: {message}", file=sys.stderr)
    return code
