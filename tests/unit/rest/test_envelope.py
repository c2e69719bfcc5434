from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.datastructures import URL

from parovoz.chassis.models import CamelModel
from parovoz.chassis.rest.envelope import (
    EnvelopeResponse,
    PageParams,
    collection_document,
    document,
    resource,
)


class GameAttrs(CamelModel):
    title: str
    release_date: datetime


def test_resource_and_document() -> None:
    attrs = GameAttrs(title="Rail", release_date=datetime(2026, 11, 27, 10, tzinfo=UTC))
    obj = resource(
        "games", 42, attrs, relationships={"developer": {"data": {"id": "d1", "type": "developers"}}}
    )
    assert obj["id"] == "42"
    assert obj["type"] == "games"
    assert obj["attributes"] == {"title": "Rail", "releaseDate": "2026-11-27T10:00:00Z"}
    assert obj["relationships"]["developer"]["data"]["id"] == "d1"
    assert "relationships" not in resource("games", "1", {"title": "x"})
    assert document(obj) == {"data": obj}
    assert document([obj], meta={"a": 1}) == {"data": [obj], "meta": {"a": 1}}
    assert document(None) == {"data": None}


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def test_collection_document_meta_and_links_keep_other_parameters() -> None:
    url = URL("http://svc.local/api/v1/games?genre=rpg&page=2&per_page=10&sort=-price")
    doc = collection_document([{"id": "1"}], PageParams(page=2, per_page=10), total=35, url=url)
    assert doc["meta"] == {"page": 2, "perPage": 10, "totalPages": 4, "totalItems": 35}
    links = doc["links"]
    for name, page in {"self": "2", "first": "1", "prev": "1", "next": "3", "last": "4"}.items():
        assert links[name].startswith("/api/v1/games?"), links[name]
        query = _query(links[name])
        assert query["page"] == [page]
        assert query["per_page"] == ["10"]
        assert query["genre"] == ["rpg"]
        assert query["sort"] == ["-price"]


def test_collection_document_edges() -> None:
    url = URL("http://h/api/v1/games")
    first = collection_document([], PageParams(1, 20), total=0, url=url)
    assert first["meta"]["totalPages"] == 0
    assert first["links"]["prev"] is None
    assert first["links"]["next"] is None
    assert _query(first["links"]["last"])["page"] == ["1"]
    last = collection_document([{"id": "x"}], PageParams(3, 20), total=60, url=url)
    assert last["links"]["next"] is None
    assert _query(last["links"]["prev"])["page"] == ["2"]


def test_envelope_response_uses_orjson_with_utc_z_and_models() -> None:
    payload = {
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "price": Decimal("1.50"),
        "attrs": GameAttrs(title="t", release_date=datetime(2026, 1, 1, tzinfo=UTC)),
    }
    response = EnvelopeResponse(payload, status_code=201)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.body) == {
        "when": "2026-01-02T03:04:05Z",
        "price": "1.50",
        "attrs": {"title": "t", "releaseDate": "2026-01-01T00:00:00Z"},
    }
