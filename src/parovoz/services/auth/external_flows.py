"""Sign-in, sign-up and linking through VK ID, Odnoklassniki and Telegram: the use cases.

Whatever the provider, a proven external profile ends in one of three ways: its linked user signs
in (`AuthFlows.start_session`), a new passwordless user is made with it (in one transaction with
the registered event and its 152-FZ consents, as `AuthFlows.register` does), or it is linked to the
signed-in caller.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.query import ListQuery
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.tokens import invalid_token
from parovoz.services.auth.domain import errors, external_errors, rules, telegram
from parovoz.services.auth.domain.external import (
    LINK,
    SIGN_IN,
    SIGN_UP,
    TELEGRAM,
    ExternalProfile,
    Identity,
    OAuthState,
    digest,
    pkce_challenge,
    pkce_verifier,
    placeholder_email,
    random_token,
    username_candidates,
)
from parovoz.services.auth.domain.flows import AuthFlows, TokenPair
from parovoz.services.auth.domain.mfa import MfaChallenge
from parovoz.services.auth.domain.users import PRIVACY, TERMS, Consent, User, new_user
from parovoz.services.auth.external_store import ExternalStore, ExternalTransaction
from parovoz.services.auth.oauth import OAuthClient
from parovoz.services.auth.oauth.config import ExternalConfig

# What start_session returns: a token pair, or a second-factor challenge when 2FA is on.
SignInResult = TokenPair | MfaChallenge
Spend = Callable[[ExternalTransaction], Awaitable[None]]


@dataclass(frozen=True)
class Authorization:
    """A started authorization: where to send the browser, and the nonce its cookie must hold."""

    id: str
    url: str
    browser_nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Outcome:
    """A callback's result: a sign-in (`signed_in`) or, for purpose link, the identity linked."""

    signed_in: SignInResult | None = None
    linked: Identity | None = None


@dataclass(frozen=True)
class Client:
    """Who is calling, for the session and the consent records."""

    ip: str | None
    user_agent: str | None
    language: str = "ru"


class ExternalFlows:
    def __init__(
        self,
        auth: AuthFlows,
        store: ExternalStore,
        config: ExternalConfig,
        *,
        terms_version: str,
        privacy_version: str,
    ) -> None:
        self.auth = auth
        self.store = store
        self.config = config
        self.terms_version = terms_version
        self.privacy_version = privacy_version

    def clock(self) -> datetime:
        return self.auth.clock()

    def client(self, provider: str) -> OAuthClient:
        if provider not in ("vk", "ok"):
            raise external_errors.provider_not_found()
        found = self.config.clients.get(provider)
        if found is None:
            raise external_errors.provider_not_configured()
        return found

    # --- OAuth (VK ID, OK) ---------------------------------------------------------------

    async def start(
        self, provider: str, who: Client, *, accept_terms: bool = False, linking: Principal | None = None
    ) -> Authorization:
        """Keep the state record and return the provider's URL with the state and PKCE challenge."""
        client = self.client(provider)
        user_id = await self._live_user(linking) if linking is not None else None
        now = self.clock()
        state, nonce, verifier = random_token(), random_token(), pkce_verifier()
        record = OAuthState(
            id=str(uuid.uuid4()),
            provider=provider,
            purpose=LINK if user_id else (SIGN_UP if accept_terms else SIGN_IN),
            user_id=user_id,
            code_verifier=verifier,
            accept_terms=accept_terms and user_id is None,
            client_ip=who.ip,
            user_agent=who.user_agent,
            created_at=now,
        )
        expires_at = now + timedelta(seconds=self.config.state_ttl_s)
        async with self.store.transaction() as tx:
            await tx.insert_state(
                record, state_hash=digest(state), browser_hash=digest(nonce), expires_at=expires_at
            )
        url = client.authorize_url(state=state, code_challenge=pkce_challenge(verifier))
        return Authorization(record.id, url, nonce, expires_at)

    async def callback(
        self,
        provider: str,
        who: Client,
        *,
        state: str | None,
        browser_nonce: str | None,
        code: str | None,
        device_id: str | None,
    ) -> Outcome:
        client = self.client(provider)
        if not state or not browser_nonce:
            raise external_errors.invalid_state()
        async with self.store.transaction() as tx:
            record = await tx.consume_state(
                state_hash=digest(state),
                browser_hash=digest(browser_nonce),
                provider=provider,
                now=self.clock(),
            )
        if record is None:
            raise external_errors.invalid_state()
        if not code:  # the user declined at the provider (`error=access_denied`) or no code came
            raise external_errors.exchange_failed()
        profile = await client.profile(
            code=code, code_verifier=record.code_verifier, device_id=device_id, state=state
        )
        if record.purpose == LINK and record.user_id:
            return Outcome(linked=await self._link(record.user_id, profile))
        consent = Client(record.client_ip, record.user_agent, who.language)
        signed_in = await self._sign_in_or_up(
            profile, who, accept_terms=record.accept_terms, consent=consent, consent_at=record.created_at
        )
        return Outcome(signed_in=signed_in)

    # --- Telegram Login ------------------------------------------------------------------

    async def telegram(
        self, fields: dict[str, object], who: Client, *, accept_terms: bool, linking: Principal | None
    ) -> Outcome:
        token = self.config.telegram_bot_token
        if not token:
            raise external_errors.provider_not_configured()
        now = self.clock()
        try:
            auth_date = telegram.verify(fields, token, now=now)
        except telegram.TelegramAuthError as exc:
            raise (
                external_errors.telegram_auth_expired()
                if exc.code == "TELEGRAM_AUTH_EXPIRED"
                else external_errors.invalid_telegram_auth()
            ) from None
        user_id = await self._live_user(linking) if linking is not None else None
        profile = ExternalProfile(
            provider=TELEGRAM,
            external_id=str(fields["id"]),
            first_name=_field(fields, "first_name"),
            last_name=_field(fields, "last_name"),
            username=_field(fields, "username"),
        )
        payload = telegram.payload_digest(fields)
        # kept until the payload would be refused as stale anyway
        keep_until = auth_date + telegram.MAX_AGE + telegram.FUTURE_SKEW

        async def spend(tx: ExternalTransaction) -> None:
            if not await tx.spend_telegram_payload(payload, keep_until, now):
                raise external_errors.telegram_auth_replayed()

        if user_id is not None:
            return Outcome(linked=await self._link(user_id, profile, spend))
        signed_in = await self._sign_in_or_up(
            profile, who, accept_terms=accept_terms, consent=who, consent_at=now, spend=spend
        )
        return Outcome(signed_in=signed_in)

    # --- linked identities ---------------------------------------------------------------

    async def identities(self, caller: Principal, query: ListQuery) -> tuple[list[Identity], int, bool]:
        """A page of the caller's linked identities, their total, and whether they have a password."""
        user_id = await self._live_user(caller)
        user = await self.auth.store.user_by_id(user_id)
        if user is None:
            raise invalid_token()
        found, total = await self.store.identities(user_id, query)
        return found, total, user.password_hash is not None

    async def unlink(self, caller: Principal, provider: str) -> None:
        if provider not in ("vk", "ok", TELEGRAM):
            raise external_errors.provider_not_found()
        user_id = await self._live_user(caller)
        async with self.store.transaction() as tx:
            user = await tx.lock_user(user_id)
            if user is None:
                raise invalid_token()
            count = await tx.count_identities(user_id)
            if not await tx.delete_identity(user_id, provider):
                raise external_errors.identity_not_found()
            if user.password_hash is None and count <= 1:
                raise external_errors.last_sign_in_method()  # rolls the delete back

    # --- the three endings -----------------------------------------------------------------

    async def _sign_in_or_up(
        self,
        profile: ExternalProfile,
        who: Client,
        *,
        accept_terms: bool,
        consent: Client,
        consent_at: datetime,
        spend: Spend | None = None,
    ) -> SignInResult:
        for _ in range(2):  # a second round when a simultaneous sign-up made the user first
            owner = await self.store.identity_owner(profile.provider, profile.external_id)
            if owner is not None:
                async with self.store.transaction() as tx:
                    if spend is not None:
                        await spend(tx)
                    await tx.touch_identity(profile.provider, profile.external_id, self.clock())
                    user = await tx.user_by_id(owner)
                if user is None:
                    continue
                return await self.auth.start_session(
                    user, user_agent=who.user_agent, client_ip=who.ip, method=profile.provider
                )
            if not accept_terms:
                raise external_errors.consent_required(parameter="acceptTerms")
            try:
                user = await self._sign_up(profile, consent, consent_at, spend)
            except ApiError as exc:
                if exc.code == "IDENTITY_ALREADY_LINKED":
                    continue
                raise
            return await self.auth.start_session(
                user, user_agent=who.user_agent, client_ip=who.ip, method=profile.provider
            )
        raise external_errors.identity_already_linked()

    async def _sign_up(
        self, profile: ExternalProfile, consent: Client, consent_at: datetime, spend: Spend | None
    ) -> User:
        now = self.clock()
        user = new_user(email="", username="", password_hash=None, now=now, language=consent.language)
        email, verified = placeholder_email(profile.provider, user.id), False
        if profile.email and profile.email_verified:
            try:
                email, verified = rules.normalize_email(profile.email), True
            except rules.RuleViolation:
                pass
        consents = (
            Consent(TERMS, self.terms_version, consent_at, consent.ip, consent.user_agent),
            Consent(PRIVACY, self.privacy_version, consent_at, consent.ip, consent.user_agent),
        )
        async with self.store.transaction() as tx:
            if spend is not None:
                await spend(tx)
            for username in username_candidates(profile):
                candidate = dataclasses.replace(user, email=email, username=username, email_verified=verified)
                try:
                    await tx.insert_user(candidate)
                except ApiError as exc:
                    if exc.code == "USERNAME_TAKEN":
                        continue  # the insert ran in a savepoint: the transaction goes on
                    raise  # EMAIL_TAKEN: a verified address of an existing account is not taken over
                user = candidate
                break
            else:
                raise errors.username_taken()
            await tx.record_registered(user, consents)
            await tx.insert_identity(user.id, profile, now)
        return user

    async def _link(self, user_id: str, profile: ExternalProfile, spend: Spend | None = None) -> Identity:
        now = self.clock()
        async with self.store.transaction() as tx:
            if spend is not None:
                await spend(tx)
            user = await tx.lock_user(user_id)
            if user is None:
                raise invalid_token()
            if user.is_blocked:
                raise errors.account_blocked()
            owner = await tx.identity_owner(profile.provider, profile.external_id)
            if owner is None:
                await tx.insert_identity(user_id, profile, now)
            elif owner != user_id:
                raise external_errors.identity_already_linked()
        return Identity(profile.provider, profile.external_id, profile.display_name, now, now)

    async def _live_user(self, caller: Principal) -> str:
        """The caller's user id when their session is still live (else 401 INVALID_TOKEN)."""
        await self.auth.live_caller(caller)
        return caller.user_id


def _field(fields: dict[str, object], name: str) -> str | None:
    value = fields.get(name)
    return value[:256] if isinstance(value, str) and value else None
