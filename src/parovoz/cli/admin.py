"""`parovoz admin ...`: operator commands; thin adapters over the services' own use cases."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from parovoz.chassis.security.roles import ALL_ROLES
from parovoz.cli.service_credential import add_service_credential_parser, service_credential_command


def add_admin_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="operator commands")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser(
        "create-user",
        help="create a user with roles (e.g. the first admin); prints the new user's id",
        description="Create a user through Auth's sign-up flow, with the given roles ('user' is always "
        "included). Works beside a running `parovoz up --data-dir DIR`.",
    )
    where = create.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="embedded mode: the data directory of `parovoz up`")
    where.add_argument(
        "--database-url",
        help="distributed mode: Auth's database (default PAROVOZ_AUTH_DATABASE_URL / PAROVOZ_DATABASE_URL)",
    )
    create.add_argument("--email", required=True)
    create.add_argument("--username", required=True)
    secret = create.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password", help="the password (visible in shell history: prefer --password-stdin)")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    create.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE",
        help=f"repeatable; one of {', '.join(sorted(ALL_ROLES))} ('user' is always included)",
    )
    _add_set_roles_parser(admin_sub)
    add_service_credential_parser(admin_sub)


def _add_set_roles_parser(admin_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    roles = admin_sub.add_parser(
        "set-roles",
        help="give a user exactly the given roles; ends the user's sessions; prints the roles",
        description="Set a user's roles through Auth's SetUserRoles use case ('user' is always kept): "
        "every session of the user ends and auth.user.roles.changed.v1 is emitted. Works beside a "
        "running `parovoz up --data-dir DIR`.",
    )
    where = roles.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="embedded mode: the data directory of `parovoz up`")
    where.add_argument(
        "--database-url",
        help="distributed mode: Auth's database (default PAROVOZ_AUTH_DATABASE_URL / PAROVOZ_DATABASE_URL)",
    )
    roles.add_argument("--user", required=True, help="the user's id, e-mail address or username")
    roles.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE",
        help=f"repeatable; one of {', '.join(sorted(ALL_ROLES))} ('user' is always kept; "
        "none given: the user keeps only 'user')",
    )


def admin_command(args: argparse.Namespace) -> int:
    """Run the `parovoz admin` subcommand in `args`."""
    if args.admin_command == "set-roles":
        return set_roles_command(args)
    if args.admin_command == "service-credential":
        return service_credential_command(args)
    return create_user_command(args)


def _fail(message: str) -> int:
    print(f"parovoz admin: {message}", file=sys.stderr)
    return 1


@asynccontextmanager
async def _auth_database_url(data_dir: Path | None, database_url: str | None) -> AsyncIterator[str]:
    """Auth's database URL: given, from the environment, or the private PostgreSQL of `data_dir`
    (reused when `parovoz up` runs; otherwise started here and stopped afterwards)."""
    if data_dir is None:
        if database_url is None:
            from parovoz.chassis.config import Settings

            database_url = Settings.from_env().database_url("auth")
        yield database_url
        return
    from parovoz.runtime.embedded import database_name, ensure_databases, start_postgres

    pg = await asyncio.to_thread(start_postgres, data_dir)
    try:
        await ensure_databases(pg.get_uri("postgres"), [database_name("auth")])
        yield pg.get_uri(database_name("auth"))
    finally:
        # Stops the server only when no other process (a running `parovoz up`) holds it.
        await asyncio.to_thread(pg.cleanup)


async def _create_user(args: argparse.Namespace, password: str) -> str:
    from parovoz.chassis.config import Settings
    from parovoz.chassis.db import Database
    from parovoz.services.auth.admin import create_user
    from parovoz.services.auth.config import AuthConfig

    config = AuthConfig.from_settings(Settings.from_env())
    async with _auth_database_url(args.data_dir, args.database_url) as url:
        db = Database(url, service="auth", pool_size=2)
        try:
            return await create_user(
                db,
                email=args.email,
                username=args.username,
                password=password,
                roles=args.role,
                config=config,
            )
        finally:
            await db.dispose()


def create_user_command(args: argparse.Namespace) -> int:
    from parovoz.chassis.errors import ApiError, message_for

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = args.password
    if args.data_dir is not None:
        args.data_dir = args.data_dir.resolve()
    try:
        user_id = asyncio.run(_create_user(args, password))
    except ApiError as exc:
        item = exc.items[0]
        _title, detail = message_for(item.code, "en", item.params)
        if item.code == "EMAIL_TAKEN":
            detail += " Nothing was changed (roles included)."
        return _fail(f"{item.code}: {detail}")
    except Exception as exc:  # an operator command: one clear line, no traceback
        return _fail(f"{type(exc).__name__}: {exc}")
    print(user_id)
    return 0


async def _set_roles(args: argparse.Namespace) -> Any:
    from parovoz.chassis.db import Database
    from parovoz.services.auth.admin import set_roles

    async with _auth_database_url(args.data_dir, args.database_url) as url:
        db = Database(url, service="auth", pool_size=2)
        try:
            return await set_roles(db, user=args.user, roles=args.role)
        finally:
            await db.dispose()


def set_roles_command(args: argparse.Namespace) -> int:
    """Prints `<user id> <role,role,...>` (what changed goes to stderr); exit 1 with one clear line."""
    from parovoz.chassis.errors import ApiError, message_for

    if args.data_dir is not None:
        args.data_dir = args.data_dir.resolve()
    try:
        change = asyncio.run(_set_roles(args))
    except ApiError as exc:
        item = exc.items[0]
        _title, detail = message_for(item.code, "en", item.params)
        return _fail(f"{item.code}: {detail}")
    except Exception as exc:  # an operator command: one clear line, no traceback
        return _fail(f"{type(exc).__name__}: {exc}")
    print(f"{change.user_id} {','.join(change.roles)}")
    if change.changed:
        print(
            f"roles changed from {','.join(change.previous_roles)}; {change.sessions_ended} session(s) ended",
            file=sys.stderr,
        )
    else:
        print("the user already had these roles: nothing changed", file=sys.stderr)
    return 0
