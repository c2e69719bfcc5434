"""The central event registry: for every integration event its name, topic, owner and data schema.

Definitions live in `parovoz.contracts.events`; the published catalogue is generated from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parovoz.chassis.models import CamelModel

TYPE_PREFIX = "com.parovoz."
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v([1-9][0-9]*)$")


@dataclass(frozen=True)
class EventDef:
    """One integration event: `<service>.<resource…>.<action-in-past-tense>.v<N>`."""

    name: str
    owner: str
    data: type[CamelModel]
    description: str
    # data fields (camelCase) that must never reach logs or analytics (tokens, codes)
    secret_fields: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"event name {self.name!r} is not <service>.<resource>.<action>.v<N>")
        if not self.name.startswith(self.owner + "."):
            raise ValueError(f"event {self.name} must start with its owner {self.owner!r}")

    @property
    def type(self) -> str:
        """The CloudEvents `type`: `com.parovoz.` + name."""
        return TYPE_PREFIX + self.name

    @property
    def topic(self) -> str:
        """The Kafka topic: the name without its version."""
        return self.name.rsplit(".", 1)[0]

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])


_BY_NAME: dict[str, EventDef] = {}
_BY_TYPE: dict[str, EventDef] = {}


def register(defn: EventDef) -> EventDef:
    existing = _BY_NAME.get(defn.name)
    if existing is not None and existing != defn:
        raise ValueError(f"event {defn.name} registered twice with different definitions")
    _BY_NAME[defn.name] = defn
    _BY_TYPE[defn.type] = defn
    return defn


def _load_contracts() -> None:
    import parovoz.contracts.events  # noqa: F401  (registers every definition on import)


def get(name: str) -> EventDef:
    """The definition of a registered event name; KeyError when unknown."""
    if name not in _BY_NAME:
        _load_contracts()
    return _BY_NAME[name]


def by_type(type_: str) -> EventDef | None:
    if type_ not in _BY_TYPE:
        _load_contracts()
    return _BY_TYPE.get(type_)


def all_events() -> list[EventDef]:
    _load_contracts()
    return sorted(_BY_NAME.values(), key=lambda d: d.name)
