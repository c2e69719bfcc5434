"""Context variables ⇄ gRPC metadata, and the client's retry configuration."""

from __future__ import annotations

import json

import pytest

from parovoz.chassis import context
from parovoz.chassis.rpc.client import RETRY_POLICY, service_config
from parovoz.chassis.rpc.metadata import (
    bind_incoming,
    caller_service,
    outgoing_metadata,
    preferred_language,
    service_of_method,
    serving_service,
)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "ru"),
        ("", "ru"),
        ("en", "en"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("ru;q=0.5, en;q=0.7", "en"),
        ("de-DE, ru;q=0.3", "ru"),
        ("fr, de", "ru"),
        ("en;q=0, ru;q=0.1", "ru"),
    ],
)
def test_preferred_language(header: str | None, language: str) -> None:
    assert preferred_language(header) == language


def test_service_of_method() -> None:
    assert service_of_method("/platform.auth.v1.AuthService/GetUser") == "auth"
    assert service_of_method("/grpc.health.v1.Health/Check") is None


def test_outgoing_metadata_from_context() -> None:
    tokens = [
        (context.request_id, context.request_id.set("r1")),
        (context.user_token, context.user_token.set("jwt")),
    ]
    try:
        pairs = dict(outgoing_metadata("payment"))
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
    assert pairs == {
        "x-caller-service": "payment",
        "accept-language": "ru",
        "x-request-id": "r1",
        "x-correlation-id": "r1",
        # the user's token has its own key: `authorization` carries the calling service's token
        "x-user-token": "jwt",
    }


def test_outgoing_metadata_without_user_has_no_user_token() -> None:
    pairs = dict(outgoing_metadata("payment"))
    assert "x-user-token" not in pairs and "authorization" not in pairs


def test_bind_incoming_sets_and_undo_restores() -> None:
    metadata = [
        ("x-request-id", "r9"),
        ("x-correlation-id", "c9"),
        ("x-user-token", "tok"),
        ("authorization", "Bearer service-token"),
        ("accept-language", "en-GB"),
        ("x-caller-service", "gateway"),
    ]
    undo = bind_incoming(metadata, "/platform.library.v1.LibraryService/GetGame")
    seen = (
        context.request_id.get(),
        context.correlation_id.get(),
        context.user_token.get(),
        context.language.get(),
        caller_service.get(),
        serving_service.get(),
    )
    undo()
    assert seen == ("r9", "c9", "tok", "en", "gateway", "library")
    assert context.request_id.get() is None and caller_service.get() is None
    assert context.language.get() == "ru"


def test_bind_incoming_never_takes_the_service_token_for_the_users() -> None:
    undo = bind_incoming([("authorization", "Bearer service-token")], "/x.Y/Z")
    try:
        assert context.user_token.get() is None
    finally:
        undo()


def test_service_config_retries_only_listed_methods() -> None:
    config = json.loads(service_config(["platform.auth.v1.AuthService/GetUser", "/platform.x.v1.X/Get"]))
    (method_config,) = config["methodConfig"]
    assert method_config["name"] == [
        {"service": "platform.auth.v1.AuthService", "method": "GetUser"},
        {"service": "platform.x.v1.X", "method": "Get"},
    ]
    assert method_config["retryPolicy"] == RETRY_POLICY
    assert json.loads(service_config([])) == {"methodConfig": []}


@pytest.mark.parametrize("bad", ["GetUser", "platform.auth.v1.AuthService/", "a/b/c"])
def test_service_config_rejects_malformed_method_names(bad: str) -> None:
    with pytest.raises(ValueError, match=r"package\.Service/Method"):
        service_config([bad])
