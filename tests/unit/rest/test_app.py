from collections.abc import AsyncIterator

import httpx
import structlog
import structlog.testing


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


async def test_request_id_is_accepted_echoed_and_put_in_context(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v1/context", headers={"x-request-id": "abc-123", "accept-language": "en"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json() == {"requestId": "abc-123", "correlationId": "abc-123", "language": "en"}


async def test_insane_request_ids_are_replaced_and_missing_ones_generated(client: httpx.AsyncClient) -> None:
    for bad in ("has space", "x" * 200, 'quote"d', "new\tline"):
        response = await client.get("/api/v1/context", headers={"x-request-id": bad})
        generated = response.headers["x-request-id"]
        assert generated != bad
        assert response.json()["requestId"] == generated
    first = await client.get("/api/v1/context")
    second = await client.get("/api/v1/context")
    assert len(first.headers["x-request-id"]) == 36
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert first.json()["language"] == "ru"


async def test_security_headers_on_success_and_error(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/nowhere"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "x-request-id" in response.headers


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    missing = await client.get(
        "/api/v1/nothing-here", headers={"x-request-id": "r-404", "accept-language": "en"}
    )
    assert missing.status_code == 404
    assert missing.json()["errors"][0] == {
        "code": "ROUTE_NOT_FOUND",
        "title": "Route not found",
        "detail": "There is no such API route.",
    }
    assert missing.headers["x-request-id"] == "r-404"
    wrong = await client.delete("/api/v1/me")
    assert wrong.status_code == 405
    assert _code(wrong) == "METHOD_NOT_ALLOWED"
    assert wrong.headers["allow"] == "GET"


async def test_api_error_from_a_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/games/404", headers={"accept-language": "ru"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["title"] == "Не найдено"


async def test_unhandled_exception_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get(
            "/api/v1/games/500", headers={"x-request-id": "boom-1", "accept-language": "en"}
        )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "INTERNAL_ERROR"
    assert "secret" not in response.text
    assert "SELECT" not in response.text
    assert "RuntimeError" not in response.text
    # the log keeps the traceback the client must not see
    failures = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "error"
    assert failures[0]["exc_info"] is True
    assert failures[0]["path"] == "/api/v1/games/500"


async def test_path_and_query_validation_name_the_parameter(client: httpx.AsyncClient) -> None:
    path = await client.get("/api/v1/games/abc")
    assert path.status_code == 400
    assert path.json()["errors"][0]["code"] == "INVALID_PARAMETER"
    assert path.json()["errors"][0]["source"] == {"parameter": "game_id"}
    query = await client.get("/api/v1/games/1?verbose=perhaps", headers={"accept-language": "en"})
    assert query.status_code == 400
    assert query.json()["errors"][0]["source"] == {"parameter": "verbose"}
    assert query.json()["errors"][0]["detail"] == "The parameter verbose is invalid."


async def test_body_limit_by_content_length(client: httpx.AsyncClient) -> None:
    small = await client.post("/api/v1/echo-size", content=b"x" * 4096)
    assert small.json() == {"size": 4096}
    big = await client.post("/api/v1/echo-size", content=b"x" * 4097, headers={"x-request-id": "big-1"})
    assert big.status_code == 413
    assert _code(big) == "PAYLOAD_TOO_LARGE"
    assert big.headers["x-request-id"] == "big-1"
    liar = await client.post("/api/v1/echo-size", content=b"x", headers={"content-length": "abc"})
    assert liar.status_code == 400


async def test_body_limit_by_counting_streamed_chunks(client: httpx.AsyncClient) -> None:
    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"y" * 1000

    ok = await client.post("/api/v1/echo-size", content=chunks(4))
    assert ok.json() == {"size": 4000}
    streamed = await client.post("/api/v1/echo-size", content=chunks(10))
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    assert _code(streamed) == "PAYLOAD_TOO_LARGE"


async def test_health_readiness_and_metrics(client: httpx.AsyncClient, ready_state: dict[str, bool]) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    ready_state["ready"] = False
    not_ready = await client.get("/readyz", headers={"accept-language": "en"})
    assert not_ready.status_code == 503
    assert not_ready.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
    assert (await client.get("/healthz")).status_code == 200
    await client.get("/api/v1/games/7")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'parovoz_http_requests_total{method="GET",route="/api/v1/games/{game_id}",service="testsvc"'
        in metrics.text
    )


async def test_openapi_documents_bodies_in_both_forms(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    body = document["paths"]["/api/v1/games"]["post"]["requestBody"]
    refs = [option["$ref"] for option in body["content"]["application/json"]["schema"]["oneOf"]]
    assert refs == ["#/components/schemas/CreateGameDocument", "#/components/schemas/CreateGame"]
    schemas = document["components"]["schemas"]
    assert "priceAmount" in schemas["CreateGame"]["properties"]
    assert schemas["CreateGame"]["additionalProperties"] is False
    assert "Developer" in schemas
    assert "/healthz" not in document["paths"]
    assert (await client.get("/docs")).status_code == 404


async def test_probes_answer_before_the_framework(client: httpx.AsyncClient) -> None:
    head = await client.head("/healthz", headers={"x-request-id": "probe-1"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["x-request-id"] == "probe-1"
    assert head.headers["content-length"] == str(len(b'{"status":"ok"}'))
    # other methods on a probe path are the framework's: not a route there
    posted = await client.post("/healthz")
    assert posted.status_code in (404, 405)
    assert posted.json()["errors"][0]["code"] in ("ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED")
