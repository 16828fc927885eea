"""The API tests' cloud: a server on loopback over a fresh database of each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.api.cloud import Cloud, running_cloud


@pytest.fixture
def cloud(migrated_database_url: str) -> Iterator[Cloud]:
    with running_cloud(migrated_database_url) as running:
        yield running
