"""Input rules for sign-up and sign-in: e-mail, username, password (OWASP ASVS 5.0 L2).

Each check returns the normalised value or raises `RuleViolation` carrying an error code; the
REST body models turn that into a 422 with the field's pointer and a localized text.
"""

from __future__ import annotations

import re

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


def check_password(raw: str) -> str:
    """8–256 characters, taken as is: no trimming, no truncation, no composition rules."""
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        raise RuleViolation("INVALID_PASSWORD")
    return raw


def is_email_login(login: str) -> bool:
    """Usernames cannot hold '@', so an '@' means the login is an e-mail address."""
    return "@" in login


def normalize_login(raw: str) -> str:
    """The key a login is looked up and rate-limited by: trimmed, lower-cased."""
    return raw.strip().lower()
