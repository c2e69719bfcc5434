"""CloudEvent envelope: round trip, CloudEvents 1.0 checks, and new_event's validation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from parovoz.chassis import context
from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent, new_event
from parovoz.contracts.events import UserRegisteredV1

DATA = {
    "userId": "u-1",
    "email": "ivan@example.org",
    "username": "ivan",
    "roles": ["user"],
    "registeredAt": "2026-11-27T10:00:00Z",
}


def registered(**overrides: object) -> CloudEvent:
    return new_event("auth.user.registered.v1", subject="u-1", data={**DATA, **overrides}, service="auth")


def test_new_event_fills_the_envelope() -> None:
    token = context.correlation_id.set("corr-42")
    try:
        event = registered()
    finally:
        context.correlation_id.reset(token)
    assert uuid.UUID(event.id).version == 4
    assert event.type == "com.parovoz.auth.user.registered.v1"
    assert event.name == "auth.user.registered.v1"
    assert event.topic == "auth.user.registered"
    assert event.source == "/auth/user"
    assert event.specversion == "1.0"
    assert event.datacontenttype == "application/json"
    assert event.subject == "u-1"
    assert event.correlationid == "corr-42"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event.time)
    # camelCase data, defaults filled in by the model
    assert event.data["userId"] == "u-1" and event.data["language"] == "ru"


def test_new_event_accepts_the_model_and_a_source_path() -> None:
    model = UserRegisteredV1(
        user_id="u-2", email="a@b.c", username="a", roles=["user"], registered_at=datetime.now(UTC)
    )
    event = new_event(
        "auth.user.registered.v1", subject="u-2", data=model, service="auth", source_path="/users/u-2"
    )
    assert event.source == "/auth/users/u-2"
    assert event.data["userId"] == "u-2"
    assert event.model() == model


def test_new_event_without_correlation_id_makes_one() -> None:
    assert context.correlation_id.get() is None
    assert uuid.UUID(registered().correlationid)


def test_new_event_rejects_invalid_data() -> None:
    with pytest.raises(InvalidEvent, match="userId"):
        new_event(
            "auth.user.registered.v1",
            subject="u-1",
            data={k: v for k, v in DATA.items() if k != "userId"},
            service="auth",
        )
    with pytest.raises(InvalidEvent):
        registered(roles="admin")


def test_new_event_rejects_unknown_name_and_empty_subject() -> None:
    with pytest.raises(KeyError):
        new_event("auth.user.vanished.v1", subject="u", data={}, service="auth")
    with pytest.raises(InvalidEvent, match="subject"):
        new_event("auth.user.registered.v1", subject="", data=DATA, service="auth")


def test_round_trip() -> None:
    event = registered()
    raw = event.to_json()
    assert orjson.loads(raw)["specversion"] == "1.0"
    assert CloudEvent.from_json(raw) == event


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "'id'"),
        ({"id": "not-a-uuid"}, "UUID"),
        ({"type": "org.example.thing"}, "com.parovoz."),
        ({"source": "auth/user"}, "source"),
        ({"time": "2026-11-27T10:00:00+03:00"}, "RFC 3339"),
        ({"time": 12}, "'time'"),
        ({"datacontenttype": "text/xml"}, "datacontenttype"),
        ({"data": [1, 2]}, "data"),
        ({"correlationid": None}, "correlationid"),
        ({"subject": None}, "subject"),
    ],
)
def test_from_json_rejects_invalid_envelopes(change: dict[str, object], message: str) -> None:
    doc = {**registered().to_dict(), **change}
    with pytest.raises(InvalidEvent, match=re.escape(message)):
        CloudEvent.from_json(orjson.dumps(doc))


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]", b'"event"'])
def test_from_json_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        CloudEvent.from_json(raw)


def test_model_of_unregistered_version_is_invalid() -> None:
    doc = {**registered().to_dict(), "type": "com.parovoz.auth.user.registered.v9"}
    event = CloudEvent.from_json(orjson.dumps(doc))  # the envelope is fine: v9 may be newer
    assert event.name == "auth.user.registered.v9"
    with pytest.raises(InvalidEvent, match="not registered"):
        event.model()
