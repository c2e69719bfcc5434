from datetime import UTC, datetime

import httpx

from parovoz.chassis.rest.caching import etag_of, http_date, none_match, not_modified_since


def test_etag_is_strong_and_follows_the_bytes() -> None:
    tag = etag_of(b'{"a":1}')
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert tag == etag_of(b'{"a":1}')
    assert tag != etag_of(b'{"a":2}')


def test_if_none_match_lists_weak_and_star() -> None:
    tag = etag_of(b"x")
    assert none_match(tag, tag)
    assert none_match(f'"other", {tag}', tag)
    assert none_match(f"W/{tag}", tag)
    assert none_match("*", tag)
    assert not none_match('"other"', tag)
    assert not none_match("", tag)


def test_if_modified_since_second_precision() -> None:
    modified = datetime(2026, 11, 27, 10, 0, 0, 900_000, tzinfo=UTC)
    assert http_date(modified) == "Fri, 27 Nov 2026 10:00:00 GMT"
    assert not_modified_since("Fri, 27 Nov 2026 10:00:00 GMT", modified)
    assert not_modified_since("Fri, 27 Nov 2026 11:00:00 GMT", modified)
    assert not not_modified_since("Fri, 27 Nov 2026 09:59:59 GMT", modified)
    assert not not_modified_since("not a date", modified)


async def test_conditional_get_returns_304_without_body(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/games/7")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag == etag_of(first.content)
    assert first.headers["last-modified"] == "Fri, 27 Nov 2026 10:00:00 GMT"

    cached = await client.get("/api/v1/games/7", headers={"if-none-match": f'"zzz", W/{etag}'})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert "x-request-id" in cached.headers

    stale = await client.get("/api/v1/games/7", headers={"if-none-match": '"zzz"'})
    assert stale.status_code == 200
    assert stale.content == first.content

    by_date = await client.get(
        "/api/v1/games/7", headers={"if-modified-since": "Fri, 27 Nov 2026 10:00:00 GMT"}
    )
    assert by_date.status_code == 304
    older = await client.get(
        "/api/v1/games/7", headers={"if-modified-since": "Fri, 27 Nov 2026 09:00:00 GMT"}
    )
    assert older.status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    both = await client.get(
        "/api/v1/games/7",
        headers={"if-none-match": '"zzz"', "if-modified-since": "Fri, 27 Nov 2026 10:00:00 GMT"},
    )
    assert both.status_code == 200
