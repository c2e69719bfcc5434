from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from starlette.datastructures import QueryParams

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.query import CollectionSpec, ListQuery, parse_list_params, select_fields

games = sa.Table(
    "games",
    sa.MetaData(),
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("genre", sa.Text),
    sa.Column("price", sa.BigInteger),
    sa.Column("rating", sa.SmallInteger),
    sa.Column("released_at", sa.DateTime(timezone=True)),
    sa.Column("tags", postgresql.ARRAY(sa.Text)),
    sa.Column("published", sa.Boolean),
)

SPEC = CollectionSpec(
    fields={
        "id": games.c.id,
        "title": games.c.title,
        "genre": games.c.genre,
        "price": games.c.price,
        "rating": games.c.rating,
        "releasedAt": games.c.released_at,
        "tags": games.c.tags,
        "published": games.c.published,
    },
    sortable=("title", "price", "releasedAt"),
    filterable={
        "genre": {"eq", "in", "ne"},
        "price": {"eq", "lt", "lte", "gt", "gte"},
        "rating": {"gte"},
        "releasedAt": {"gte", "lte"},
        "title": {"contains"},
        "tags": {"contains"},
        "published": {"eq"},
        "id": {"eq", "in"},
    },
    default_sort=("-releasedAt",),
    selectable={"title": None, "price": None, "developer": ("name", "country")},
    tiebreaker="id",
    extra_parameters=("q",),
)


def parse(query: str) -> ListQuery:
    return parse_list_params(QueryParams(query), SPEC)


def sql(clauses: Any) -> str:
    return " AND ".join(
        str(c.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})) for c in clauses
    )


def fails(query: str) -> ApiError:
    with pytest.raises(ApiError) as exc:
        parse(query)
    assert exc.value.status == 400
    return exc.value


def test_defaults() -> None:
    q = parse("")
    assert (q.page, q.per_page, q.offset, q.where, q.fields) == (1, 20, 0, (), None)
    assert sql(q.order_by) == "games.released_at DESC AND games.id ASC"


def test_pagination_bounds() -> None:
    q = parse("page=3&per_page=100")
    assert (q.page, q.per_page, q.offset) == (3, 100, 200)
    for bad in (
        "per_page=1000",
        "per_page=101",
        "per_page=0",
        "page=0",
        "page=-1",
        "page=abc",
        "page=1&page=2",
    ):
        error = fails(bad)
        assert error.code == "INVALID_PAGINATION", bad
        assert error.items[0].parameter == bad.split("=")[0]


def test_sort() -> None:
    assert sql(parse("sort=title,-price").order_by) == "games.title ASC AND games.price DESC AND games.id ASC"
    assert sql(parse("sort=releasedAt").order_by) == "games.released_at ASC AND games.id ASC"
    for bad in ("sort=secret", "sort=-hash", "sort=", "sort=title,,price"):
        error = fails(bad)
        assert error.code == "INVALID_SORT"
        assert error.items[0].parameter == "sort"


def test_simple_filters() -> None:
    where = sql(parse("genre=rpg&price_min=500&price_max=900&released_at_min=2026-01-01T00:00:00Z&q=x").where)
    assert "games.genre = 'rpg'" in where
    assert "games.price >= 500" in where
    assert "games.price <= 900" in where
    assert "games.released_at >= '2026-01-01 00:00:00+00:00'" in where
    assert sql(parse("genre=rpg,strategy").where) == "games.genre IN ('rpg', 'strategy')"
    assert sql(parse("published=true").where) == "games.published = true"


def test_simple_filter_errors_name_the_parameter() -> None:
    cases = {
        "unknown=1": "unknown",
        "price=abc": "price",
        "price=99999999999999999999999": "price",
        "rating_min=40000": "rating_min",
        "rating_max=3": "rating_max",
        "title=x": "title",
        "released_at_min=yesterday": "released_at_min",
        "published=maybe": "published",
        "id=not-a-uuid": "id",
        "genre=a%00b": "genre",
        "genre=a&genre=b": "genre",
    }
    for query, parameter in cases.items():
        error = fails(query)
        assert error.code == "INVALID_FILTER", query
        assert error.items[0].parameter == parameter, query
        assert "reason" in error.items[0].params, query


def test_json_filter_tree() -> None:
    q = parse('filter={"and":[{"genre":{"in":["rpg","strategy"]}},{"price":{"lte":100000}}]}')
    assert sql(q.where) == "games.genre IN ('rpg', 'strategy') AND games.price <= 100000"
    q = parse('filter={"or":[{"genre":"rpg"},{"not":{"price":{"gt":5,"lt":10}}}]}')
    assert sql(q.where) == "games.genre = 'rpg' OR NOT (games.price > 5 AND games.price < 10)"
    q = parse('filter={"title":{"contains":"50%_off"},"tags":{"contains":"coop"}}')
    text = sql(q.where)
    assert "games.title ILIKE '%%50\\%%\\_off%%' ESCAPE '\\'" in text  # % and _ are literal
    assert "games.tags @> ARRAY['coop']" in text
    assert sql(parse('filter={"genre":{"eq":null}}').where) == "games.genre IS NULL"


def test_json_filter_errors() -> None:
    bad_filters = [
        '{"secret":{"eq":1}}',
        '{"price":{"like":"x"}}',
        '{"price":{"in":[1]}}',
        '{"price":{"gt":"cheap"}}',
        '{"price":{"gt":true}}',
        '{"genre":{"in":[]}}',
        '{"and":{"genre":"x"}}',
        '{"and":[]}',
        "[1,2]",
        "{not json",
        '{"genre":{}}',
        '{"not":' * 12 + '{"genre":"x"}' + "}" * 12,
        '{"or":[' + ",".join(['{"genre":"x"}'] * 70) + "]}",
    ]
    for raw in bad_filters:
        error = fails("filter=" + raw.replace("%", "%25").replace("&", "%26"))
        assert error.code == "INVALID_FILTER", raw
        assert error.items[0].parameter == "filter"


def test_fields_selection() -> None:
    q = parse("fields=id,title,developer{id,name}")
    assert q.fields == {"id": None, "title": None, "developer": {"id": None, "name": None}}
    for bad in (
        "fields=secret",
        "fields=title,developer{hash}",
        "fields=title{x}",
        "fields=developer{name",
        "fields=",
        "fields=title}",
    ):
        error = fails(bad)
        assert error.code == "INVALID_FIELDS", bad
        assert error.items[0].parameter == "fields"


def test_select_fields_trims_attributes_and_nested_relationships() -> None:
    obj = {
        "id": "1",
        "type": "games",
        "attributes": {"title": "T", "price": 5, "description": "long"},
        "relationships": {
            "developer": {
                "data": {"id": "d", "type": "developers", "attributes": {"name": "N", "country": "RU"}}
            },
            "publisher": {"data": {"id": "p", "type": "publishers"}},
        },
    }
    selection = parse("fields=id,title,developer{name}").fields
    trimmed = select_fields(obj, selection)
    assert trimmed["id"] == "1"
    assert trimmed["type"] == "games"
    assert trimmed["attributes"] == {"title": "T"}
    assert trimmed["relationships"] == {
        "developer": {"data": {"id": "d", "type": "developers", "attributes": {"name": "N"}}}
    }
    assert select_fields(obj, None) is obj


def test_apply_builds_one_page_statement() -> None:
    q = parse("page=2&per_page=5&genre=rpg&sort=price")
    stmt = q.apply(sa.select(games.c.id))
    text = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert "WHERE games.genre = 'rpg'" in text
    assert "ORDER BY games.price ASC, games.id ASC" in text
    assert "LIMIT 5 OFFSET 5" in text


def test_spec_refuses_undeclared_names() -> None:
    with pytest.raises(ValueError):
        CollectionSpec(fields={"id": games.c.id}, sortable=("title",))
