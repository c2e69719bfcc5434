"""Where users sign in from, the database side: the countries of a user's earlier sessions and the
`auth.user.new_country_signed_in.v1` event (the decision itself is `domain.places.note_new_country`)."""

from __future__ import annotations

import sqlalchemy as sa

from parovoz.chassis.db import UnitOfWork
from parovoz.contracts.events import AUTH_USER_NEW_COUNTRY_SIGNED_IN, NewCountrySignedInV1
from parovoz.services.auth.domain.sessions import Session
from parovoz.services.auth.domain.users import User
from parovoz.services.auth.tables import sessions, users


async def earlier_countries(uow: UnitOfWork, user_id: str, session_id: str) -> frozenset[str]:
    """Known countries of the user's sessions but `session_id`, revoked ones included.

    The user row is locked first (until commit): two sign-ins of one user from a new country at
    once are judged one after the other, and the second sees the first's session, so exactly one
    event goes out. FOR NO KEY UPDATE, not FOR UPDATE: the session row's foreign key holds a KEY
    SHARE lock on the user, which FOR UPDATE would deadlock against.
    """
    await uow.conn.execute(
        sa.select(users.c.id)
        .where(users.c.id == user_id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE
    )
    query = (
        sa.select(sessions.c.country)
        .where(
            sessions.c.user_id == user_id,
            sessions.c.id != session_id,
            sessions.c.country.is_not(None),
        )
        .distinct()
    )
    return frozenset((await uow.conn.execute(query)).scalars().all())


async def emit_new_country(uow: UnitOfWork, user: User, session: Session) -> None:
    """Queue the event in `uow`'s transaction (it commits with the session row)."""
    assert session.country is not None
    await uow.emit(
        AUTH_USER_NEW_COUNTRY_SIGNED_IN.name,
        subject=user.id,
        data=NewCountrySignedInV1(
            user_id=user.id,
            email=user.email,
            language=user.language,
            session_id=session.id,
            country=session.country,
            city=session.city,
            ip=session.client_ip,
            device=session.device,
            signed_in_at=session.created_at,
        ),
    )


class SignInPlacesTx:
    """The new-country part of Auth's transaction (`domain.places.NewCountryTx`), mixed into
    `store.AuthTransaction`."""

    uow: UnitOfWork

    async def earlier_countries(self, user_id: str, session_id: str) -> frozenset[str]:
        return await earlier_countries(self.uow, user_id, session_id)

    async def record_new_country(self, user: User, session: Session) -> None:
        await emit_new_country(self.uow, user, session)
