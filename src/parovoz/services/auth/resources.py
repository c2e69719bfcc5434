"""The resources Auth's routes answer with: users, sessions, token pairs and 2FA challenges, and
`sign_in_response`, the answer of every sign-in route (tokens, or a 2FA challenge)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from parovoz.chassis.rest.envelope import EnvelopeResponse, document, resource
from parovoz.services.auth.domain.flows import TokenPair
from parovoz.services.auth.domain.mfa import MfaChallenge
from parovoz.services.auth.domain.sessions import SessionInfo
from parovoz.services.auth.domain.users import User

# Token responses must never sit in a cache (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def session_resource(session: SessionInfo, current_session_id: str) -> dict[str, Any]:
    return resource(
        "sessions",
        session.id,
        {
            "device": session.device,
            "userAgent": session.user_agent,
            "ip": session.client_ip,
            "country": session.country,
            "city": session.city,
            "createdAt": session.created_at,
            "lastUsedAt": session.last_used_at,
            "current": session.id == current_session_id,
        },
    )


def user_resource(user: User) -> dict[str, Any]:
    return resource(
        "users",
        user.id,
        {
            "email": user.email,
            "username": user.username,
            "roles": list(user.roles),
            "emailVerified": user.email_verified,
            "createdAt": user.created_at,
        },
    )


def tokens_resource(pair: TokenPair) -> dict[str, Any]:
    return resource(
        "tokens",
        pair.session_id,
        {
            "accessToken": pair.access.token,
            "refreshToken": pair.refresh.token,
            "tokenType": "Bearer",
            "expiresIn": pair.expires_in,
            "refreshExpiresIn": pair.refresh_expires_in,
        },
    )


def challenge_resource(challenge: MfaChallenge) -> dict[str, Any]:
    return resource(
        "mfa-challenges",
        challenge.id,
        {
            "mfaToken": challenge.token,
            "expiresIn": challenge.expires_in,
            "expiresAt": challenge.expires_at,
            "methods": list(challenge.methods),
        },
    )


def sign_in_response(result: TokenPair | MfaChallenge) -> Response:
    """200 with the `tokens` resource, or with an `mfa-challenges` one when the user has 2FA on
    (finish with POST /api/v1/auth/login/2fa). For every sign-in route."""
    if isinstance(result, MfaChallenge):
        return EnvelopeResponse(document(challenge_resource(result)), headers=NO_STORE)
    return EnvelopeResponse(document(tokens_resource(result)), headers=NO_STORE)
