"""`parovoz content install` and `parovoz content verify` (registered in `cli.SUBCOMMANDS`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from parovoz.content.errors import ContentError
from parovoz.content.plan import Plan, Strategy
from parovoz.content.progress import Progress, format_bytes
from parovoz.content.store import ChunkStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from parovoz.content.verify import VerifyReport
    from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest


def add_install(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("install", help="install or update DIR to a signed manifest (resumable), or roll back")
    p.add_argument("manifest", metavar="MANIFEST", type=Path, nargs="?", help="signed manifest file")
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="STORE_OR_URL",
        help="chunk store: a directory, s3://BUCKET[/PREFIX] or an http(s) chunk origin",
    )
    p.add_argument("--to", dest="dir", required=True, type=Path, metavar="DIR", help="install directory")
    _trust_and_key(p)
    p.add_argument("--to-build", metavar="ID", help="install a build kept in DIR again (rollback)")
    p.add_argument("--jobs", type=int, default=8, help="concurrent chunk fetches (default 8)")
    p.set_defaults(run=_run_install)


def add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help="check DIR against a manifest; exit 0 when clean, 1 when it differs")
    p.add_argument("manifest", metavar="MANIFEST", type=Path)
    p.add_argument("--dir", required=True, type=Path, metavar="DIR")
    p.add_argument("--repair", action="store_true", help="fix what differs, fetching only bad chunks")
    p.add_argument("--from", dest="source", metavar="STORE_OR_URL", help="chunk store for --repair")
    _trust_and_key(p)
    p.add_argument("--jobs", type=int, default=8, help="concurrent chunk fetches when repairing")
    p.set_defaults(run=_run_verify)


def _trust_and_key(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="PUBKEY",
        help="trusted public key (PEM file); repeatable",
    )
    p.add_argument("--key", metavar="DEPOT_KEY", help="depot key of an encrypted build (hex or a file)")


def open_store(location: str, concurrency: int = 8) -> ChunkStore:
    """A store to read chunks from: a directory, s3://BUCKET[/PREFIX] or an http(s) chunk origin."""
    from parovoz.content.stores import open_store as open_spec

    return open_spec(location, writable=False, concurrency=concurrency)


def _run_install(args: argparse.Namespace) -> int:
    from parovoz.content import keys
    from parovoz.content.install import install, saved_manifest

    if (args.manifest is None) == (args.to_build is None):
        raise ContentError("give either MANIFEST or --to-build ID")
    data = saved_manifest(args.dir, args.to_build) if args.to_build else args.manifest.read_bytes()
    trusted = [keys.load_public(t) for t in args.trust]
    depot_key = keys.load_depot_key(args.key) if args.key else None
    store = open_store(args.source, args.jobs)
    with Progress("install", 0) as progress:
        report = install(data, store, args.dir, trusted, depot_key, args.jobs, progress, on_plan=_print_plan)
    print(f"installed build {report.build_id} in {args.dir}" + (" (resumed)" if report.resumed else ""))
    misses = f"; {report.delta_misses} patches unusable, fetched whole" if report.delta_misses else ""
    print(
        f"fetched: {format_bytes(report.bytes_fetched)} ({report.bytes_fetched} bytes, "
        f"{report.chunks_fetched} chunks whole, {report.chunks_patched} rebuilt from patches{misses})"
    )
    print(f"written: {format_bytes(report.bytes_written)} ({report.bytes_written} bytes)")
    print(f"chunks reused from disk: {report.chunks_reused}")
    print(
        f"files: {report.files_kept} kept, {report.files_written} written, {report.files_patched} patched, "
        f"{report.files_moved} moved, {report.files_deleted} deleted"
    )
    print(f"time: {report.seconds:.2f} s")
    return 0


def _print_plan(plan: Plan) -> None:
    counts = ", ".join(f"{plan.count(s)} {s.value}" for s in Strategy)
    print(
        f"plan: fetch {format_bytes(plan.fetch_bytes)} ({plan.fetch_bytes} bytes, {len(plan.fetch)} chunks, "
        f"{len(plan.deltas)} of them as patches)"
    )
    print(f"plan: write {format_bytes(plan.write_bytes)} ({plan.write_bytes} bytes)")
    print(f"plan: files {counts}, {len(plan.deletes)} delete")
    print(
        f"plan: writing every changed file whole would fetch {plan.all_new.fetch_bytes} and write "
        f"{plan.all_new.write_bytes} bytes",
        flush=True,
    )


def _run_verify(args: argparse.Namespace) -> int:
    from parovoz.content import keys
    from parovoz.content.verify import repair, verify

    if args.repair and not args.source:
        raise ContentError("--repair needs --from STORE_OR_URL")
    trusted = [keys.load_public(t) for t in args.trust]
    manifest = _load_for_verify(args.manifest.read_bytes(), trusted, args.dir)
    with Progress("verify", 0) as progress:
        report = verify(manifest, args.dir, progress=progress)
    _print_verify(report)
    if report.clean or not args.repair:
        return 0 if report.clean else 1
    depot_key = keys.load_depot_key(args.key) if args.key else None
    fixed = repair(manifest, args.dir, open_store(args.source, args.jobs), report=report, depot_key=depot_key)
    print(
        f"repaired: {fixed.files_fixed} changed, {fixed.files_restored} missing, "
        f"{fixed.extras_removed} extra; "
        f"fetched {format_bytes(fixed.bytes_fetched)} ({fixed.chunks_fetched} chunks)"
    )
    after = verify(manifest, args.dir)
    print("clean after repair" if after.clean else "still differs after repair:")
    if not after.clean:
        _print_verify(after)
    return 0 if after.clean else 1


def _print_verify(report: VerifyReport) -> None:
    for changed in report.changed:
        what = [f"{len(changed.bad_chunks)} bad chunks"] if changed.bad_chunks else []
        what += ["size differs"] if changed.size_differs else []
        what += ["mode differs"] if changed.mode_differs else []
        print(f"changed: {changed.path} ({', '.join(what)})")
    for path in report.missing:
        print(f"missing: {path}")
    for path in report.extra:
        print(f"extra: {path}")
    print(
        f"verified {report.files_checked} files, {format_bytes(report.bytes_checked)}: "
        f"{len(report.changed)} changed, "
        f"{len(report.missing)} missing, {len(report.extra)} extra"
    )


def _load_for_verify(data: bytes, trusted: list[Ed25519PublicKey], target_dir: Path) -> Manifest:
    """With --trust, the signature is checked; without, the manifest must be one this directory's
    installs kept (verified when installed), byte for byte."""
    from parovoz.content import manifest
    from parovoz.content.install import kept_manifest

    if trusted:
        return manifest.load(data, trusted)
    parsed = kept_manifest(target_dir, data)
    if parsed is None:
        raise ContentError(
            "no --trust key given, and this manifest is not one installed in "
            f"{target_dir}: give the publisher's key with --trust"
        )
    return parsed
