"""Every integration event of the platform: name, owner, data schema. The registry reads this.

An incompatible change of a `data` model is a new event version (a new class and definition);
compatible additions (new optional fields) keep the version.
"""

from __future__ import annotations

from datetime import datetime

from parovoz.chassis.events.registry import EventDef, register
from parovoz.chassis.models import CamelModel


class UserRegisteredV1(CamelModel):
    """A user registered with Auth; Account creates the account and profile from it."""

    user_id: str
    email: str
    username: str
    roles: list[str]
    registered_at: datetime
    language: str = "ru"


AUTH_USER_REGISTERED = register(
    EventDef(
        name="auth.user.registered.v1",
        owner="auth",
        data=UserRegisteredV1,
        description="A new user registered (e-mail and password). Account creates the profile.",
    )
)
