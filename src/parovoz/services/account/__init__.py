"""Account service: accounts and profiles (see spec.py)."""

from parovoz.services.account.spec import SPEC

__all__ = ["SPEC"]
