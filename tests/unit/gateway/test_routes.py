from __future__ import annotations

from dataclasses import dataclass

import pytest

from parovoz.gateway.routes import Route, RouteTable, routes_for


def table() -> RouteTable:
    return RouteTable(
        [
            Route("/api/v1/auth", "auth"),
            Route("/api/v1/users", "account"),
            Route("/api/v1/games", "catalog"),
            Route("/api/v1/games/builds", "download"),
        ]
    )


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/auth", "auth"),
        ("/api/v1/auth/login", "auth"),
        ("/api/v1/users/me/settings", "account"),
        ("/api/v1/games/42", "catalog"),
        ("/api/v1/games/builds/7/manifest", "download"),
        ("/api/v1/games/buildsx", "catalog"),
    ],
)
def test_longest_prefix_on_segment_boundary_wins(path: str, service: str) -> None:
    route = table().match(path)
    assert route is not None and route.service == service


@pytest.mark.parametrize("path", ["/api/v1/authors", "/api/v1", "/api/v2/auth/login", "/", "/api/v1/userss"])
def test_paths_outside_every_prefix_do_not_match(path: str) -> None:
    assert table().match(path) is None


def test_a_prefix_owned_by_two_services_is_rejected() -> None:
    with pytest.raises(ValueError, match="claimed"):
        RouteTable([Route("/api/v1/games", "catalog"), Route("/api/v1/games", "library")])


def test_malformed_prefix_is_rejected() -> None:
    with pytest.raises(ValueError):
        Route("/api/v1/games/", "catalog")


def test_routes_come_from_service_specs() -> None:
    @dataclass
    class Spec:
        name: str
        http_prefixes: tuple[str, ...]

    routes = routes_for(
        [Spec("auth", ("/api/v1/auth", "/api/v1/sessions")), Spec("account", ("/api/v1/users",))]
    )
    assert routes == [
        Route("/api/v1/auth", "auth"),
        Route("/api/v1/sessions", "auth"),
        Route("/api/v1/users", "account"),
    ]
    assert RouteTable(routes).services == ["auth", "account"]
