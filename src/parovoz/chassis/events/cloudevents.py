"""CloudEvents 1.0 structured JSON envelope (CONTRACTS.md, Events) and the event factory."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from parovoz.chassis import context
from parovoz.chassis.events.registry import TYPE_PREFIX, get
from parovoz.chassis.models import CamelModel

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_REQUIRED_STRINGS = ("id", "type", "source", "specversion", "time", "subject", "correlationid")
_SOURCE = re.compile(r"^/[a-z][a-z0-9_-]*(/[^\s/]+)*$")
# RFC 3339 in UTC with the `Z` designator, optional fraction
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


class InvalidEvent(ValueError):
    """A record that is not a valid CloudEvent of ours (or whose data breaks its schema)."""


def utc_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC with `Z`, microseconds: `2026-11-27T10:00:00.123456Z`."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class CloudEvent:
    """One integration event as it travels: envelope attributes plus camelCase `data`."""

    id: str
    type: str
    source: str
    subject: str
    correlationid: str
    data: dict[str, Any]
    time: str = field(default_factory=utc_timestamp)
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE

    @property
    def name(self) -> str:
        """The registered event name: `type` without `com.parovoz.`."""
        return self.type.removeprefix(TYPE_PREFIX)

    @property
    def topic(self) -> str:
        """The topic of this event's name (the name without its `.vN`)."""
        return self.name.rsplit(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "specversion": self.specversion,
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
            "subject": self.subject,
            "correlationid": self.correlationid,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        """Parse and check the CloudEvents 1.0 required attributes and our extensions."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not JSON: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> CloudEvent:
        if not isinstance(doc, dict):
            raise InvalidEvent("a CloudEvent must be a JSON object")
        for attr in _REQUIRED_STRINGS:
            value = doc.get(attr)
            if not isinstance(value, str) or not value:
                raise InvalidEvent(f"attribute {attr!r} is missing or not a non-empty string")
        if doc["specversion"] != SPEC_VERSION:
            raise InvalidEvent(f"specversion {doc['specversion']!r} is not {SPEC_VERSION!r}")
        if not doc["type"].startswith(TYPE_PREFIX):
            raise InvalidEvent(f"type {doc['type']!r} does not start with {TYPE_PREFIX!r}")
        if not _SOURCE.match(doc["source"]):
            raise InvalidEvent(f"source {doc['source']!r} is not /<service>/<path>")
        if not _TIME.match(doc["time"]):
            raise InvalidEvent(f"time {doc['time']!r} is not RFC 3339 UTC with Z")
        content_type = doc.get("datacontenttype", CONTENT_TYPE)
        if content_type != CONTENT_TYPE:
            raise InvalidEvent(f"datacontenttype {content_type!r} is not {CONTENT_TYPE!r}")
        if not isinstance(doc.get("data"), dict):
            raise InvalidEvent("data must be a JSON object")
        try:
            uuid.UUID(doc["id"])
        except ValueError:
            raise InvalidEvent(f"id {doc['id']!r} is not a UUID") from None
        return cls(
            id=doc["id"],
            type=doc["type"],
            source=doc["source"],
            subject=doc["subject"],
            correlationid=doc["correlationid"],
            data=doc["data"],
            time=doc["time"],
            specversion=doc["specversion"],
            datacontenttype=content_type,
        )

    def model(self) -> CamelModel:
        """`data` parsed into the registered data model of this event's name (InvalidEvent if not)."""
        try:
            defn = get(self.name)
        except KeyError:
            raise InvalidEvent(f"event {self.name!r} is not registered") from None
        try:
            return defn.data.model_validate(self.data)
        except ValidationError as exc:
            raise InvalidEvent(f"data of {self.name} is invalid: {exc}") from None


def new_event(
    name: str,
    *,
    subject: str,
    data: CamelModel | dict[str, Any],
    service: str,
    source_path: str | None = None,
) -> CloudEvent:
    """A new event `name` (registered) with `data` validated against its model.

    `source` is `/<service>/<source_path>` (default: the event's resource path, e.g.
    `/auth/user` for `auth.user.registered.v1`); the correlation id comes from the current context.
    """
    defn = get(name)
    if isinstance(data, CamelModel):
        if not isinstance(data, defn.data):
            raise InvalidEvent(f"data of {name} must be {defn.data.__name__}, not {type(data).__name__}")
        model = data
    else:
        try:
            model = defn.data.model_validate(data)
        except ValidationError as exc:
            raise InvalidEvent(f"data of {name} is invalid: {exc}") from None
    if not subject:
        raise InvalidEvent(f"event {name} needs a subject (the entity id, also the partition key)")
    if source_path is None:
        # the resource part of the name: auth.user.registered.v1 -> user
        source_path = "/".join(name.split(".")[1:-2]) or defn.owner
    return CloudEvent(
        id=str(uuid.uuid4()),
        type=defn.type,
        source=f"/{service}/{source_path.strip('/')}",
        subject=subject,
        correlationid=context.current_correlation_id(),
        data=model.wire(),
    )
