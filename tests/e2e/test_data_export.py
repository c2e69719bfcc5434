"""A data export end to end: asked for through the gateway, built by Account's job with Auth's
part fetched over gRPC, downloaded as a zip holding the user's data and no secret."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import httpx

from tests.e2e.people import eventually, signed_up


async def test_export_reaches_completed_and_holds_both_services_data(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway_client() as client:
        person = await signed_up(client)
        other = await signed_up(client)
        r = await client.patch("/api/v1/users/me", headers=person.auth, json={"bio": "экспорт"})
        assert r.status_code == 200, r.text

        r = await client.post("/api/v1/users/me/data-exports", headers=person.auth)
        assert r.status_code == 202, r.text
        assert r.json()["data"]["attributes"]["status"] == "pending"
        location = r.headers["location"]
        assert location == f"/api/v1/users/me/data-exports/{r.json()['data']['id']}"
        r = await client.post("/api/v1/users/me/data-exports", headers=person.auth)
        assert r.status_code == 409 and r.json()["errors"][0]["code"] == "DATA_EXPORT_IN_PROGRESS"

        async def completed() -> dict | None:
            r = await client.get(location, headers=person.auth)
            assert r.status_code == 200, r.text
            attributes = r.json()["data"]["attributes"]
            assert attributes["status"] in ("pending", "running", "completed"), attributes
            return attributes if attributes["status"] == "completed" else None

        attributes = await eventually(completed, "the export completes")
        assert attributes["downloadUrl"] == f"{location}/file" and attributes["expiresAt"]

        # another user's export id: 404, for the resource and for its file
        for path in (location, f"{location}/file"):
            r = await client.get(path, headers=other.auth)
            assert r.status_code == 404 and r.json()["errors"][0]["code"] == "DATA_EXPORT_NOT_FOUND"

        r = await client.get(attributes["downloadUrl"], headers=person.auth)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/zip"
        assert "attachment" in r.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            names = sorted(archive.namelist())
            texts = {name: archive.read(name).decode() for name in names}
        assert names == ["README.txt", "account.json", "auth.json"]
        account, auth = json.loads(texts["account.json"]), json.loads(texts["auth.json"])
        assert account["profile"]["id"] == person.id and account["profile"]["bio"] == "экспорт"
        assert account["profile"]["email"] == person.email
        assert {c["purpose"] for c in account["consents"]} == {"terms", "privacy"}
        assert account["privacy"]["visibility"] == "public" and account["settings"]["language"] == "ru"
        assert (auth["user"]["id"], auth["user"]["email"]) == (person.id, person.email)
        assert auth["user"]["username"] == person.username
        assert len(auth["sessions"]) >= 1 and auth["sessions"][0]["ip"].startswith("198.51.100.")
        everything = "".join(texts.values())
        for secret in (person.password, person.access, person.refresh, "argon2", "$argon", "passwordHash"):
            assert secret not in everything
