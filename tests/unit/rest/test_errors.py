import orjson

from parovoz.chassis.errors import ApiError, ErrorItem, too_many_requests, unauthorized
from parovoz.chassis.rest.errors import error_document, negotiate_language, render_error


def test_render_error_has_status_json_headers_and_localized_body() -> None:
    status, headers, body = render_error(
        ApiError(422, "VALIDATION_FAILED", pointer="/data/attributes/email"), "en"
    )
    assert status == 422
    assert (b"content-type", b"application/json") in headers
    assert (b"content-length", str(len(body)).encode()) in headers
    assert orjson.loads(body) == {
        "errors": [
            {
                "code": "VALIDATION_FAILED",
                "title": "Validation failed",
                "detail": "The field is invalid.",
                "source": {"pointer": "/data/attributes/email"},
            }
        ]
    }


def test_russian_texts_and_params_in_detail() -> None:
    doc = error_document(too_many_requests(7), "ru")
    assert doc["errors"][0]["title"] == "Слишком много запросов"
    assert doc["errors"][0]["detail"] == "Повторите попытку через 7 с."


def test_source_is_omitted_without_pointer_or_parameter_and_parameter_is_rendered() -> None:
    assert "source" not in error_document(ApiError(404, "NOT_FOUND"), "en")["errors"][0]
    item = error_document(ApiError(400, "INVALID_SORT", parameter="sort", params={"field": "x"}), "en")
    assert item["errors"][0]["source"] == {"parameter": "sort"}
    assert item["errors"][0]["detail"] == "Sorting by x is not available."


def test_error_headers_are_passed_through() -> None:
    _, headers, _ = render_error(too_many_requests(3), "ru")
    assert (b"retry-after", b"3") in headers
    _, headers, _ = render_error(unauthorized(), "ru")
    assert (b"www-authenticate", b"Bearer") in headers


def test_several_items_and_explicit_detail() -> None:
    error = ApiError(
        422,
        "VALIDATION_FAILED",
        items=[
            ErrorItem("VALIDATION_FAILED", pointer="/a", detail="own text"),
            ErrorItem("VALIDATION_FAILED"),
        ],
    )
    errors = error_document(error, "en")["errors"]
    assert [e["detail"] for e in errors] == ["own text", "The field is invalid."]


def test_unknown_code_falls_back_to_internal_error_texts_without_internals() -> None:
    error = ApiError(500, "SOMETHING_UNREGISTERED")
    entry = error_document(error, "en")["errors"][0]
    assert entry["code"] == "SOMETHING_UNREGISTERED"
    assert entry["title"] == "Internal error"


def test_negotiate_language() -> None:
    assert negotiate_language(None) == "ru"
    assert negotiate_language("") == "ru"
    assert negotiate_language("en") == "en"
    assert negotiate_language("en-US,en;q=0.9") == "en"
    assert negotiate_language("de-DE, fr;q=0.8") == "ru"
    assert negotiate_language("ru;q=0.5, en;q=0.8") == "en"
    assert negotiate_language("en;q=0.5, ru;q=0.8") == "ru"
    assert negotiate_language("en;q=0, ru;q=0.1") == "ru"
    assert negotiate_language("en;q=0") == "ru"
    assert negotiate_language("EN-gb;Q=1") == "en"
    assert negotiate_language("en;q=abc") == "ru"
    assert negotiate_language("fr, en;q=0.3, ru;q=0.3") == "en"  # equal weights: the first listed
    assert negotiate_language("*") == "ru"
