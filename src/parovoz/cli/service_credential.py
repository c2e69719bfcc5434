"""`parovoz admin service-credential NAME`: a fresh secret for a service, and Auth's line for it.

Distributed mode only (embedded mode makes its own at every start). Output, for scripts:

    <secret>                 -> the service's PAROVOZ_SERVICE_SECRET
    <name>:<sha256 hex>      -> one entry of Auth's PAROVOZ_AUTH_SERVICE_CREDENTIALS (comma-separated)

The secret is printed once and stored nowhere; Auth keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
import sys


def add_service_credential_parser(admin_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = admin_sub.add_parser(
        "service-credential",
        help="print a new secret for a service and the name:sha256 entry for Auth",
        description="Print a fresh PAROVOZ_SERVICE_SECRET for service NAME (first line) and the "
        "'NAME:sha256hex' entry to add to Auth's PAROVOZ_AUTH_SERVICE_CREDENTIALS (second line).",
    )
    command.add_argument("name", help="the service's name, e.g. account")


def service_credential_command(args: argparse.Namespace) -> int:
    from parovoz.chassis.security.service_credentials import credential_line, new_service_secret
    from parovoz.chassis.security.service_tokens import is_service_name

    if not is_service_name(args.name):
        print(
            f"parovoz admin: {args.name!r} is not a service name (lower-case letters, digits, '-', '_')",
            file=sys.stderr,
        )
        return 2
    secret = new_service_secret()
    print(secret)
    print(credential_line(args.name, secret))
    return 0
