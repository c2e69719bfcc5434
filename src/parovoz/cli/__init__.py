"""The `parovoz` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parovoz", description="Parovoz game distribution platform")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole platform in one process (embedded mode)")
    up.add_argument("--host", default=os.environ.get("PAROVOZ_HTTP_HOST", "127.0.0.1"))
    up.add_argument("--port", type=int, default=int(os.environ.get("PAROVOZ_HTTP_PORT", "8000")))
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("PAROVOZ_DATA_DIR", ".data")),
        help="where the private PostgreSQL and files live (default ./.data)",
    )
    up.add_argument("--no-demo", action="store_true", help="do not seed demo data")

    serve = sub.add_parser("serve", help="run one service or the gateway (distributed mode)")
    serve.add_argument("service", help="gateway, auth, account, ...")

    events = sub.add_parser("events", help="the event registry")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    cat = events_sub.add_parser("catalogue", help="write the generated AsyncAPI event catalogue")
    cat.add_argument("--out", type=Path, default=Path("docs/events.asyncapi.json"))
    cat.add_argument("--check", action="store_true", help="exit 1 when the file is not current")

    sandbox = sub.add_parser("sandbox", help="serve a local sandbox of an external provider")
    sandbox.add_argument("name", help="which provider the sandbox plays (see parovoz.sandboxes)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, required=True)

    from parovoz.cli.admin import add_admin_parser

    add_admin_parser(sub)
    # Listed here for --help only: `main` hands everything after `content` to parovoz.content.cli.
    sub.add_parser("content", help="game builds: build, keygen, install, verify, serve", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["content"]:
        from parovoz.content.cli import main as content_main

        return content_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "events":
        from parovoz.cli.catalogue import catalogue_command

        return catalogue_command(args.out, check=args.check)
    if args.command == "admin":
        # Before the platform's logging set-up: stdout carries only the result (the new user's id).
        from parovoz.cli.admin import admin_command

        return admin_command(args)

    from parovoz.chassis.config import Settings
    from parovoz.chassis.obs.logging import configure_logging

    configure_logging(Settings.from_env())
    if args.command == "up":
        from parovoz.runtime.embedded import run_embedded
        from parovoz.runtime.loop import run

        try:
            run(run_embedded(args.host, args.port, args.data_dir.resolve(), demo=not args.no_demo))
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "sandbox":
        from parovoz.runtime.http import serve_http
        from parovoz.runtime.loop import run
        from parovoz.sandboxes import SANDBOXES, sandbox_app

        if args.name not in SANDBOXES:
            print(f"no sandbox {args.name!r}; there are: {', '.join(sorted(SANDBOXES)) or 'none'}")
            return 2
        try:
            run(serve_http(sandbox_app(args.name), args.host, args.port))
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "serve":
        from parovoz.runtime.serve import serve

        try:
            serve(args.service)
        except KeyboardInterrupt:
            pass
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
