"""The installed ``sriovstack`` console script: a real process, its exit codes and its streams."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.e2e.running import TALK_VFS


@pytest.fixture(scope="module")
def script() -> str:
    """The entry point installed beside this Python (the venv's bin directory)."""
    found = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    assert found, "the sriovstack console script is not installed beside this Python"
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("SRIOVSTACK_")}
    return keep | {
        "SRIOVSTACK_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


def run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_talks_seven_vfs(script: str, env: dict[str, str]) -> None:
    made = run(script, env, "host", "set-vfs", "enp3s0f1", "7", "--simulate", "talk-after")
    shown = run(script, env, "host", "show", "--simulate", "talk-after", "--json")

    assert (made.returncode, made.stderr) == (0, "")
    assert shown.returncode == 0
    pf = next(p for p in json.loads(shown.stdout)["pfs"] if p["netdev"] == "enp3s0f1")
    assert [vf["address"] for vf in pf["vfs"]] == TALK_VFS
    assert {vf["device_id"] for vf in pf["vfs"]} == {0x1515}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["version"], 0),
        (["host", "doctor", "--simulate", "talk-after"], 0),
        (["host", "doctor", "--simulate", "talk-before"], 1),
        (["host", "set-vfs", "enp3s0f1", "64", "--simulate", "talk-after"], 2),
        (["host", "vf", "set", "enp3s0f1", "0", "--vlan", "abc", "--simulate", "talk-after"], 2),
        (["host", "set-vfs", "eth9", "1", "--simulate", "talk-after"], 3),
        (["host", "set-vfs", "enp3s0f1", "7", "--simulate", "talk-before"], 4),
    ],
)
def test_exit_codes(script: str, env: dict[str, str], args: list[str], code: int) -> None:
    result = run(script, env, *args)

    assert result.returncode == code, result.stderr
    if code >= 2:
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("sriovstack: error: ")
        assert "Traceback" not in result.stderr
    else:
        assert result.stderr == ""


def test_demo_json(script: str, env: dict[str, str]) -> None:
    result = run(script, env, "demo", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passed"] == 7
