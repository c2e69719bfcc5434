"""Auth: registration, sign-in, sessions with refresh-token rotation, access tokens and their keys."""

from parovoz.services.auth.spec import SPEC

__all__ = ["SPEC"]
