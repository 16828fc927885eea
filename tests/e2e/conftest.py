"""Fixtures for driving the ``sriovstack`` command line in-process, as a person would."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.running import Cli

# Settings a person may have exported in their shell; they would change what a test runs on.
_HOST_ENV = ("SRIOVSTACK_SIMULATE", "SRIOVSTACK_SYSFS_ROOT", "SRIOVSTACK_STATE", "FORCE_COLOR")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where simulated hosts keep their state between commands; wide output, no colour."""
    for name in _HOST_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # a stray relative path lands here, not in the checkout
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    path = tmp_path / "state"
    monkeypatch.setenv("SRIOVSTACK_STATE_DIR", str(path))
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], state_dir: Path) -> Cli:
    return Cli(capsys)
