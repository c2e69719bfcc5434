"""Fixtures shared by the content integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.content_s3 import MotoS3


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    """moto's S3 server on a free loopback port, one per test module (tests/content_s3.py)."""
    server = MotoS3()
    yield server
    server.stop()
