"""Shared fixtures; factories live in tests/factories.py."""

from __future__ import annotations

import pytest
from tests.factories import boot

from sriovstack.simulator.kernel import SimulatedKernel


@pytest.fixture
def talk() -> SimulatedKernel:
    """The talk's host after its fixes, freshly booted."""
    return boot("talk-after")
