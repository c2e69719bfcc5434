from typing import Any

import httpx
import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.body import decode_json, json_pointer, validate_payload
from tests.unit.rest.conftest import CreateGame

JSON = {"content-type": "application/json"}


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    return response.json()["errors"]


def test_bare_and_enveloped_forms_validate() -> None:
    bare = validate_payload({"title": "A", "priceAmount": 100}, CreateGame)
    enveloped = validate_payload(
        {"data": {"type": "games", "attributes": {"title": "A", "priceAmount": 100}}}, CreateGame
    )
    assert bare == enveloped
    assert bare.price_amount == 100


def test_pointers_follow_the_form_and_camel_case() -> None:
    with pytest.raises(ApiError) as bare:
        validate_payload({"title": "A", "priceAmount": "lots"}, CreateGame)
    assert bare.value.status == 422
    assert [i.pointer for i in bare.value.items] == ["/priceAmount"]
    with pytest.raises(ApiError) as wrapped:
        validate_payload({"data": {"attributes": {"title": 5}}}, CreateGame)
    assert sorted(i.pointer or "" for i in wrapped.value.items) == [
        "/data/attributes/priceAmount",
        "/data/attributes/title",
    ]


def test_unknown_fields_and_nested_errors_get_their_own_items() -> None:
    with pytest.raises(ApiError) as exc:
        validate_payload(
            {"title": "A", "priceAmount": 1, "roles": ["admin"], "developer": {"name": 3}}, CreateGame
        )
    pointers = {i.pointer: i.detail for i in exc.value.items}
    assert set(pointers) == {"/roles", "/developer/name"}
    assert pointers["/roles"] == "Неизвестное поле."  # ru by default


def test_snake_case_names_are_not_accepted() -> None:
    with pytest.raises(ApiError) as exc:
        validate_payload({"title": "A", "price_amount": 1}, CreateGame)
    assert {i.pointer for i in exc.value.items} == {"/priceAmount", "/price_amount"}


def test_non_object_bodies_are_422() -> None:
    for payload in ([1, 2], "text", 5, None, {"data": [1]}, {"data": {"attributes": "x"}}):
        with pytest.raises(ApiError) as exc:
            validate_payload(payload, CreateGame)
        assert exc.value.status == 422


def test_decode_json_media_types_and_malformed() -> None:
    assert decode_json(b'{"a":1}', "application/json; charset=utf-8") == {"a": 1}
    assert decode_json(b'{"a":1}', "application/vnd.api+json") == {"a": 1}
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        with pytest.raises(ApiError) as exc:
            decode_json(b'{"a":1}', content_type)
        assert exc.value.code == "UNSUPPORTED_MEDIA_TYPE"
        assert exc.value.status == 415
    for raw in (b"", b"{", b'{"a":}', b"\xff\xfe"):
        with pytest.raises(ApiError) as exc:
            decode_json(raw, "application/json")
        assert exc.value.code == "MALFORMED_JSON"


def test_json_pointer_escapes() -> None:
    assert json_pointer(["data", "a/b", "c~d", 0]) == "/data/a~1b/c~0d/0"
    assert json_pointer([]) == ""


async def test_body_route_accepts_both_forms(client: httpx.AsyncClient) -> None:
    bare = await client.post("/api/v1/games", json={"title": "A", "priceAmount": 1})
    assert bare.status_code == 201
    assert bare.json()["data"]["attributes"]["priceAmount"] == 1
    wrapped = await client.post(
        "/api/v1/games", json={"data": {"type": "games", "attributes": {"title": "B", "priceAmount": 2}}}
    )
    assert wrapped.status_code == 201
    assert wrapped.json()["data"]["attributes"]["title"] == "B"


async def test_body_route_errors(client: httpx.AsyncClient) -> None:
    malformed = await client.post("/api/v1/games", content=b"{oops", headers=JSON)
    assert malformed.status_code == 400
    assert _errors(malformed)[0]["code"] == "MALFORMED_JSON"
    form = await client.post("/api/v1/games", data={"title": "x"})
    assert form.status_code == 415
    invalid = await client.post(
        "/api/v1/games",
        json={"title": 1, "priceAmount": "x", "isAdmin": True},
        headers={"accept-language": "en"},
    )
    assert invalid.status_code == 422
    by_pointer = {e["source"]["pointer"]: e for e in _errors(invalid)}
    assert set(by_pointer) == {"/title", "/priceAmount", "/isAdmin"}
    assert by_pointer["/isAdmin"]["detail"] == "Unknown field."
    assert all(
        e["code"] == "VALIDATION_FAILED" and e["title"] == "Validation failed" for e in by_pointer.values()
    )


async def test_deeply_nested_json_is_refused_without_crashing(client: httpx.AsyncClient) -> None:
    def nested_tags(depth: int) -> bytes:
        return b'{"title":"a","priceAmount":1,"tags":' + b"[" * depth + b"]" * depth + b"}"

    too_deep = await client.post("/api/v1/games", content=nested_tags(1500), headers=JSON)
    assert too_deep.status_code == 400
    assert _errors(too_deep)[0]["code"] == "MALFORMED_JSON"
    deep = await client.post("/api/v1/games", content=nested_tags(1000), headers=JSON)
    assert deep.status_code == 422
    assert _errors(deep)[0]["source"]["pointer"] == "/tags/0"
    too_big = await client.post("/api/v1/games", content=nested_tags(2100), headers=JSON)
    assert too_big.status_code == 413  # over the test app's 4096-byte limit
    assert _errors(too_big)[0]["code"] == "PAYLOAD_TOO_LARGE"


def test_orjson_depth_limit_gives_malformed_json() -> None:
    with pytest.raises(ApiError) as exc:
        decode_json(b"[" * 100_000 + b"]" * 100_000, "application/json")
    assert exc.value.code == "MALFORMED_JSON"
    with pytest.raises(ApiError) as exc:
        validate_payload({"title": "a", "priceAmount": 1, "tags": [[[["deep"]]]]}, CreateGame)
    assert exc.value.items[0].pointer == "/tags/0"
