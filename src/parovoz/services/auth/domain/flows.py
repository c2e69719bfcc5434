"""Sign-up, sign-in, refresh, sign-out: the use cases, written against the store protocols of
`ports` (AuthStore, AuthTx, TokenPair)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from parovoz.chassis.errors import ApiError, unprocessable
from parovoz.chassis.rest.query import ListQuery
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.tokens import invalid_token
from parovoz.services.auth.domain import errors, external_errors, rules
from parovoz.services.auth.domain.mfa import MfaChallenge, MfaFlows
from parovoz.services.auth.domain.one_time import (
    RESET_PASSWORD,
    VERIFY_EMAIL,
    new_one_time_token,
    token_hash,
)
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.domain.places import NoPlaces, PlaceLocator, note_new_country
from parovoz.services.auth.domain.ports import AccessIssuer, AuthStore, TokenPair
from parovoz.services.auth.domain.sessions import (
    RefreshGrant,
    RefreshVerdict,
    SessionInfo,
    judge_refresh,
    new_refresh_grant,
    new_session,
    refresh_token_hash,
)
from parovoz.services.auth.domain.users import DEFAULT_ROLES, Consent, User, new_user


def utcnow() -> datetime:
    return datetime.now(UTC)


def _checked(check: Callable[[str], str], value: str, field: str) -> str:
    try:
        return check(value)
    except rules.RuleViolation as exc:
        raise unprocessable(exc.code, pointer=f"/data/attributes/{field}") from None


def _is_uuid(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _login_key(login: str) -> str:
    """The stored form of the login: an e-mail normalised as at sign-up, a username lower-cased."""
    key = rules.normalize_login(login)
    if rules.is_email_login(key):
        try:
            return rules.normalize_email(key)
        except rules.RuleViolation:
            return key  # matches nobody; answered like any unknown user
    return key


class AuthFlows:
    def __init__(
        self,
        store: AuthStore,
        passwords: Passwords,
        issue_access: AccessIssuer,
        *,
        access_ttl: int,
        refresh_ttl: int,
        clock: Callable[[], datetime] = utcnow,
        places: PlaceLocator | None = None,
        mfa: MfaFlows | None = None,
    ) -> None:
        # Two-factor authentication: with it on, a sign-in answers a challenge (None: no 2FA).
        self.mfa = mfa
        self.places = places or NoPlaces()  # GeoIP: where sessions sign in from
        self.store = store
        self.passwords = passwords
        self.issue_access = issue_access
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.clock = clock

    async def register(
        self,
        email: str,
        username: str,
        password: str,
        *,
        language: str = "ru",
        roles: tuple[str, ...] = DEFAULT_ROLES,
        consents: tuple[Consent, ...] = (),
    ) -> User:
        email = _checked(rules.normalize_email, email, "email")
        username = _checked(rules.check_username, username, "username")
        password = _checked(
            functools.partial(rules.check_password, email=email, username=username), password, "password"
        )
        password_hash = await self.passwords.hash(password)
        user = new_user(
            email=email,
            username=username,
            password_hash=password_hash,
            now=self.clock(),
            language=language,
            roles=roles,
        )
        # The user row and its event commit together (transactional outbox); a duplicate fails
        # on the unique indexes, which settles races between simultaneous sign-ups.
        # The verification mail's token commits with them as well.
        verification = new_one_time_token(user.id, VERIFY_EMAIL, now=user.created_at)
        async with self.store.transaction() as tx:
            await tx.insert_user(user)
            await tx.record_registered(user, consents)
            await tx.insert_one_time_token(user, verification)
        return user

    async def verify_email(self, token: str) -> None:
        """Spend a verification token and mark its user's e-mail address verified."""
        now = self.clock()
        async with self.store.transaction() as tx:
            user_id = await tx.consume_one_time_token(token_hash(token), VERIFY_EMAIL, now)
            if user_id is not None:
                await tx.mark_email_verified(user_id, now)
        if user_id is None:
            raise errors.invalid_one_time_token()

    async def forgot_password(self, email: str) -> None:
        """Issue a reset token for the account of `email` and ask for its mail. An unknown address
        does the same lookup and token generation and returns the same way: the caller learns
        nothing about which addresses have accounts (SECURITY.md, no enumeration)."""
        try:
            key = rules.normalize_email(email)
        except rules.RuleViolation:
            return  # no account has it (the API refuses such input before this)
        user = await self.store.user_by_login(key)
        token = new_one_time_token(user.id if user else "", RESET_PASSWORD, now=self.clock())
        if user is None:
            return
        async with self.store.transaction() as tx:
            await tx.insert_one_time_token(user, token)

    async def reset_password(self, token: str, new_password: str) -> None:
        """Spend a reset token, store the new password and end every session of the user."""
        hashed = token_hash(token)
        user_id = await self.store.one_time_token_user(hashed, RESET_PASSWORD, self.clock())
        user = await self.store.user_by_id(user_id) if user_id else None
        if user is None:
            raise errors.invalid_one_time_token()
        new_password = _checked(
            functools.partial(rules.check_password, email=user.email, username=user.username),
            new_password,
            "newPassword",
        )
        new_hash = await self.passwords.hash(new_password)
        now = self.clock()
        async with self.store.transaction() as tx:
            # Spent here, conditionally: of two simultaneous resets with one token only one wins.
            if await tx.consume_one_time_token(hashed, RESET_PASSWORD, now) != user.id:
                raise errors.invalid_one_time_token()
            await tx.set_password_hash(user.id, new_hash, now)
            # The mail reached the owner of the address: it is verified as well.
            await tx.mark_email_verified(user.id, now)
            await tx.revoke_all_sessions(user.id, now, "password_reset")

    async def login(
        self, login: str, password: str, *, user_agent: str | None, client_ip: str | None
    ) -> TokenPair | MfaChallenge:
        user = await self.store.user_by_login(_login_key(login))
        if user is None:
            # Same work and the same answer as a wrong password: no account enumeration.
            await self.passwords.verify_dummy(password)
            raise errors.invalid_credentials()
        if not await self.passwords.verify(user.password_hash, password):
            raise errors.invalid_credentials()
        # Only after the password is proven: otherwise "blocked" would leak that the account exists.
        if user.is_blocked:
            raise errors.account_blocked()
        await self._rehash_if_needed(user, password)
        return await self.start_session(user, user_agent=user_agent, client_ip=client_ip, method="password")

    async def _rehash_if_needed(self, user: User, password: str) -> None:
        """The password is proven; when its hash predates raised parameters, store a new one."""
        if user.password_hash is not None and self.passwords.needs_rehash(user.password_hash):
            new_hash = await self.passwords.hash(password)
            async with self.store.transaction() as tx:
                await tx.replace_password_hash(user.id, user.password_hash, new_hash)

    async def start_session(
        self, user: User, *, user_agent: str | None, client_ip: str | None, method: str
    ) -> TokenPair | MfaChallenge:
        """Every sign-in ends here once the user has proven who they are (`method`: "password",
        "vk", "ok", "telegram", …): the blocked check, then a new session and its first refresh
        token, or, when the user has 2FA on, a challenge (mfa_sign_in.finish_sign_in completes it)."""
        if user.is_blocked:
            raise errors.account_blocked()
        if self.mfa is not None and await self.mfa.is_enabled(user.id):
            return await self.mfa.open_challenge(
                user, user_agent=user_agent, client_ip=client_ip, method=method
            )
        return await self.open_session(user, user_agent=user_agent, client_ip=client_ip, method=method)

    async def open_session(
        self, user: User, *, user_agent: str | None, client_ip: str | None, method: str
    ) -> TokenPair:
        """A new session and its first refresh token, for a user fully proven (2FA included)."""
        now = self.clock()
        place = self.places.locate(client_ip)
        session = new_session(user.id, user_agent=user_agent, client_ip=client_ip, now=now, place=place)
        grant = new_refresh_grant(session.id, now=now, ttl=timedelta(seconds=self.refresh_ttl))
        async with self.store.transaction() as tx:
            await tx.insert_session(session)
            await tx.insert_refresh(grant)
            await note_new_country(tx, user, session)
        return await self._pair(user, session.id, grant)

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self.clock()
        failure: ApiError | None = None
        user: User | None = None
        grant: RefreshGrant | None = None
        async with self.store.transaction() as tx:
            record = await tx.lock_refresh(refresh_token_hash(refresh_token))
            verdict = judge_refresh(record, now)
            if record is not None and verdict is RefreshVerdict.ROTATE:
                user = await tx.user_by_id(record.user_id)
                if user is None or user.is_blocked:
                    await tx.revoke_session(record.session_id, now, "user_blocked")
                    failure = errors.account_blocked()
                else:
                    await tx.mark_refresh_used(record.id, now)
                    grant = new_refresh_grant(
                        record.session_id, now=now, ttl=timedelta(seconds=self.refresh_ttl)
                    )
                    await tx.insert_refresh(grant)
            elif record is not None and verdict is RefreshVerdict.REUSED:
                await tx.revoke_session(record.session_id, now, "refresh_token_reused")
                failure = errors.refresh_token_reused()
            else:
                failure = errors.invalid_refresh_token()
        # Raised after the commit: the revocation above must persist although the call fails.
        if failure is not None:
            raise failure
        assert user is not None and record is not None and grant is not None
        return await self._pair(user, record.session_id, grant)

    async def logout(self, refresh_token: str) -> None:
        async with self.store.transaction() as tx:
            record = await tx.lock_refresh(refresh_token_hash(refresh_token))
            if record is not None:
                await tx.revoke_session(record.session_id, self.clock(), "logout")
        if record is None:
            raise errors.invalid_refresh_token()

    async def live_caller(self, caller: Principal) -> str:  # `_live_caller` for other route modules
        return await self._live_caller(caller)

    async def _live_caller(self, caller: Principal) -> str:
        """The caller's session id, when that session is still live (an access token outlives a
        revoked session by up to its TTL: these routes must not); else 401 INVALID_TOKEN."""
        session_id = caller.session_id
        if session_id is None or not _is_uuid(session_id) or not _is_uuid(caller.user_id):
            raise invalid_token()
        if not await self.store.session_is_live(session_id, caller.user_id):
            raise invalid_token()
        return session_id

    async def sessions(self, caller: Principal, query: ListQuery) -> tuple[list[SessionInfo], int, str]:
        """A page of the caller's live sessions, their total, and the caller's own session id."""
        current = await self._live_caller(caller)
        # Each refresh issues a token living `refresh_ttl` from then: older sessions are dead.
        active_since = self.clock() - timedelta(seconds=self.refresh_ttl)
        found, total = await self.store.list_sessions(caller.user_id, active_since, query)
        return found, total, current

    async def revoke_session(self, caller: Principal, session_id: str) -> None:
        """End one of the caller's sessions (the current one included). Another user's session,
        a revoked or an unknown one: the same 404."""
        await self._live_caller(caller)
        if not _is_uuid(session_id):
            raise errors.session_not_found()
        now = self.clock()
        async with self.store.transaction() as tx:
            revoked = await tx.revoke_user_session(session_id, caller.user_id, now, "revoked_by_user")
        if not revoked:
            raise errors.session_not_found()

    async def change_password(self, caller: Principal, current_password: str, new_password: str) -> None:
        """Check the current password, store the new one (current hash parameters) and end every
        other session of the user; the caller's session stays."""
        session_id = await self._live_caller(caller)
        user = await self.store.user_by_id(caller.user_id)
        if user is None:
            raise invalid_token()
        if user.password_hash is None:
            # signed up through VK ID, OK or Telegram: a first password comes by password/forgot
            raise external_errors.password_not_set()
        new_password = _checked(
            functools.partial(rules.check_password, email=user.email, username=user.username),
            new_password,
            "newPassword",
        )
        if not await self.passwords.verify(user.password_hash, current_password):
            raise errors.invalid_current_password()
        new_hash = await self.passwords.hash(new_password)
        async with self.store.transaction() as tx:
            # Conditional on the hash just verified: a change that won a race meanwhile stands,
            # and this one fails as if the current password were wrong (it no longer is current).
            if not await tx.replace_password_hash(user.id, user.password_hash, new_hash):
                raise errors.invalid_current_password()
            await tx.revoke_other_sessions(user.id, session_id, self.clock(), "password_changed")

    async def user(self, user_id: str) -> User:
        user = await self.store.user_by_id(user_id)
        if user is None:
            raise ApiError(404, "USER_NOT_FOUND")
        return user

    async def _pair(self, user: User, session_id: str, grant: RefreshGrant) -> TokenPair:
        access = await self.issue_access(user, session_id)
        return TokenPair(session_id, access, grant, self.access_ttl, self.refresh_ttl)
