"""Registry naming rules and the generated AsyncAPI catalogue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from parovoz.chassis.events import registry
from parovoz.chassis.events.registry import EventDef, by_type, catalogue, get, register, write_catalogue
from parovoz.chassis.models import CamelModel


class Address(CamelModel):
    postal_code: str


class WidgetPaintedV2(CamelModel):
    widget_id: str
    new_colour: str
    shipping_address: Address


@pytest.fixture
def widget_event() -> Iterator[EventDef]:
    defn = register(
        EventDef(
            name="shop.widget.painted.v2",
            owner="shop",
            data=WidgetPaintedV2,
            description="A widget got a new colour.",
            secret_fields=frozenset({"shippingAddress"}),
        )
    )
    yield defn
    registry.unregister(defn.name)


def test_type_topic_version() -> None:
    defn = get("auth.user.registered.v1")
    assert defn.type == "com.parovoz.auth.user.registered.v1"
    assert defn.topic == "auth.user.registered"
    assert defn.version == 1
    assert by_type(defn.type) is defn
    assert by_type("com.parovoz.nothing.here.v1") is None


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("auth.user.registered", "auth"),  # no version
        ("auth.user.registered.v0", "auth"),
        ("Auth.user.registered.v1", "auth"),
        ("auth.v1", "auth"),
        ("account.user.registered.v1", "auth"),  # not its owner's
    ],
)
def test_bad_names_are_refused(name: str, owner: str) -> None:
    with pytest.raises(ValueError):
        EventDef(name=name, owner=owner, data=WidgetPaintedV2, description="x")


def test_registering_twice_differently_is_refused(widget_event: EventDef) -> None:
    assert register(widget_event) is widget_event  # the same definition again is fine
    with pytest.raises(ValueError, match="twice"):
        register(EventDef(name=widget_event.name, owner="shop", data=Address, description="other"))


def test_catalogue_is_asyncapi_with_json_schemas(widget_event: EventDef) -> None:
    doc = catalogue()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["shop.widget.painted"]["address"] == "shop.widget.painted"
    assert set(doc["channels"]["shop.widget.painted"]["messages"]) == {"shop.widget.painted.v2"}
    assert "auth.user.registered" in doc["channels"]

    message = doc["components"]["messages"]["shop.widget.painted.v2"]
    assert message["x-owner"] == "shop"
    assert message["x-secret-fields"] == ["shippingAddress"]
    payload = message["payload"]
    assert payload["properties"]["type"]["const"] == "com.parovoz.shop.widget.painted.v2"
    assert {"specversion", "id", "source", "time", "subject", "data"} <= set(payload["required"])
    assert payload["properties"]["data"] == {"$ref": "#/components/schemas/WidgetPaintedV2"}

    schemas = doc["components"]["schemas"]
    widget = schemas["WidgetPaintedV2"]
    # camelCase names, as on the wire; nested models referenced within components
    assert set(widget["properties"]) == {"widgetId", "newColour", "shippingAddress"}
    assert widget["properties"]["shippingAddress"] == {"$ref": "#/components/schemas/Address"}
    assert schemas["Address"]["properties"] == {"postalCode": {"title": "Postalcode", "type": "string"}}

    operation = doc["operations"]["shop.send.shop.widget.painted.v2"]
    assert operation["action"] == "send"
    assert operation["channel"] == {"$ref": "#/channels/shop.widget.painted"}

    # every local $ref resolves inside the document
    def refs(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    for ref in refs(doc):
        target: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, ref
            target = target[part]


def test_catalogue_follows_the_registry(widget_event: EventDef) -> None:
    assert "shop.widget.painted.v2" in catalogue()["components"]["messages"]
    registry.unregister(widget_event.name)
    assert "shop.widget.painted.v2" not in catalogue()["components"]["messages"]
    assert "shop.widget.painted" not in catalogue()["channels"]


def test_write_catalogue(tmp_path: Path) -> None:
    path = write_catalogue(tmp_path / "docs" / "events.asyncapi.json")
    assert json.loads(path.read_text()) == catalogue()
