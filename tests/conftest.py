"""Shared fixtures; factories live in tests/factories.py."""

from __future__ import annotations

import pytest

from sriovstack.simulator.kernel import SimulatedKernel
from tests.factories import boot


@pytest.fixture
def talk() -> SimulatedKernel:
    """The talk's host after its fixes, freshly booted."""
    return boot("talk-after")
