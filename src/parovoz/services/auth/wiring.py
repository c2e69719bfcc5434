"""Auth's long-lived objects for one service context, made once and kept in `ctx.extras`."""

from __future__ import annotations

from dataclasses import dataclass

from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.config import AuthConfig
from parovoz.services.auth.domain.flows import AuthFlows
from parovoz.services.auth.domain.mfa import MfaFlows
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.geoip import locator_from_settings
from parovoz.services.auth.keys import KeyRing
from parovoz.services.auth.mfa_config import mfa_limits_from
from parovoz.services.auth.mfa_store import MfaDbStore
from parovoz.services.auth.store import AuthDbStore

_EXTRAS_KEY = "auth"


@dataclass
class AuthComponents:
    config: AuthConfig
    store: AuthDbStore
    passwords: Passwords
    keyring: KeyRing
    flows: AuthFlows
    # Verifies access tokens with our own keys (read from the database, no network hop).
    verifier: JwksTokenVerifier
    # Two-factor authentication (TOTP + recovery codes); `flows` challenges sign-ins through it.
    mfa: MfaFlows


def components(ctx: ServiceContext) -> AuthComponents:
    found = ctx.extras.get(_EXTRAS_KEY)
    if found is None:
        found = ctx.extras[_EXTRAS_KEY] = _build(ctx)
    return found


def _build(ctx: ServiceContext) -> AuthComponents:
    config = AuthConfig.from_settings(ctx.settings)
    store = AuthDbStore(ctx.db)
    passwords = Passwords(config.hash_params, workers=config.hash_workers)
    keyring = KeyRing(ctx.db, access_ttl=config.access_ttl)
    mfa = MfaFlows(MfaDbStore(ctx.db), store, passwords, limits=mfa_limits_from(ctx.settings))
    flows = AuthFlows(
        store,
        passwords,
        keyring.issue_access,
        access_ttl=config.access_ttl,
        refresh_ttl=config.refresh_ttl,
        places=locator_from_settings(ctx.settings),
        mfa=mfa,
    )
    verifier = JwksTokenVerifier(keyring.jwks, revocations=ctx.revocations)
    return AuthComponents(config, store, passwords, keyring, flows, verifier, mfa)
