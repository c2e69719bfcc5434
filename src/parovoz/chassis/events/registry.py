"""The central event registry: for every integration event its name, topic, owner and data schema.

Definitions live in `parovoz.contracts.events`; the published catalogue is generated from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic.json_schema import models_json_schema

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


def unregister(name: str) -> None:
    """Forget a definition (tests register throwaway events with unique topics, then drop them)."""
    defn = _BY_NAME.pop(name, None)
    if defn is not None:
        _BY_TYPE.pop(defn.type, None)


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


# CloudEvents envelope attributes every message carries (CONTRACTS.md, Events)
_ENVELOPE_PROPERTIES: dict[str, dict[str, Any]] = {
    "specversion": {"type": "string", "const": "1.0"},
    "id": {"type": "string", "format": "uuid", "description": "Event id (uuid4); consumers dedupe on it."},
    "source": {"type": "string", "pattern": "^/[a-z][a-z0-9_-]*(/[^\\s/]+)*$"},
    "time": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC, `Z`."},
    "datacontenttype": {"type": "string", "const": "application/json"},
    "subject": {"type": "string", "description": "Entity id; also the partition key."},
    "correlationid": {"type": "string", "description": "Correlation id of the causing operation."},
}


def catalogue() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every registered event, generated from the definitions.

    Channels are topics; each message is the CloudEvents envelope whose `data` is the JSON Schema
    of the event's data model (camelCase, as on the wire).
    """
    events = all_events()
    ref_template = "#/components/schemas/{model}"
    models = list(dict.fromkeys(d.data for d in events))
    schema_refs, defs = models_json_schema(
        [(model, "serialization") for model in models], by_alias=True, ref_template=ref_template
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for defn in events:
        data_schema = schema_refs[(defn.data, "serialization")]
        messages[defn.name] = {
            "name": defn.name,
            "title": defn.data.__name__,
            "summary": defn.description,
            "contentType": "application/cloudevents+json",
            "correlationId": {"location": "$message.payload#/correlationid"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "The event subject."}}},
            "x-owner": defn.owner,
            "x-secret-fields": sorted(defn.secret_fields),
            "payload": {
                "type": "object",
                "required": ["specversion", "id", "type", "source", "time", "subject", "data"],
                "properties": {
                    **_ENVELOPE_PROPERTIES,
                    "type": {"type": "string", "const": defn.type},
                    "data": data_schema,
                },
            },
        }
        channel = channels.setdefault(
            defn.topic,
            {"address": defn.topic, "description": f"Events of `{defn.topic}`.", "messages": {}},
        )
        channel["messages"][defn.name] = {"$ref": f"#/components/messages/{defn.name}"}
        operations[f"{defn.owner}.send.{defn.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{defn.topic}"},
            "messages": [{"$ref": f"#/channels/{defn.topic}/messages/{defn.name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parovoz integration events",
            "version": "1.0.0",
            "description": "Generated from parovoz.contracts.events; never edited by hand. "
            "Dead letters of a topic go to `<topic>.dlq`.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": defs.get("$defs", {})},
    }


def write_catalogue(path: str | Path) -> Path:
    """Write the catalogue as JSON (sorted keys, so a regenerated file diffs cleanly)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(catalogue(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return target
