"""Pydantic base models for bodies and event data: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Outgoing shapes (responses, event data): camelCase aliases, unknown fields ignored on read."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def wire(self) -> dict:
        """The camelCase JSON-ready dict."""
        return self.model_dump(mode="json", by_alias=True)


class StrictBody(BaseModel):
    """Incoming request attributes: camelCase names, unknown fields rejected (no mass assignment)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")
