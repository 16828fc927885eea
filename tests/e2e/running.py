"""Running the ``sriovstack`` command line in-process and reading what it printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sriovstack.cli.main import main

TALK_VFS = [
    "0000:04:10.1",
    "0000:04:10.3",
    "0000:04:10.5",
    "0000:04:10.7",
    "0000:04:11.1",
    "0000:04:11.3",
    "0000:04:11.5",
]
"""Where the talk's ``lspci -vt`` shows the seven VFs of enp3s0f1 (device 8086:1515)."""

TALK_FIXES = "intel_iommu=on iommu=pt pci=realloc pci=assign-busses"
AFTER = ("--simulate", "talk-after")
BEFORE = ("--simulate", "talk-before")


@dataclass(frozen=True)
class Result:
    """One command's exit code and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_line(self) -> str:
        """The one error line a refused command prints; fails when there is not exactly one."""
        lines = self.err.splitlines()
        assert len(lines) == 1, f"want one error line, got {len(lines)}:\n{self.err}"
        assert lines[0].startswith("sriovstack: error: "), lines[0]
        return lines[0]


class Cli:
    """Run ``sriovstack ARGS...`` through ``main`` and capture its output."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(list(args))
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        """Run a command that must succeed."""
        result = self(*args)
        assert result.code == 0, f"sriovstack {' '.join(args)} -> {result.code}:\n{result.err}"
        return result


def pf_of(inventory: dict[str, Any], netdev: str) -> dict[str, Any]:
    """One PF of ``host show --json`` output, by netdev."""
    found = [pf for pf in inventory["pfs"] if pf["netdev"] == netdev]
    assert len(found) == 1, [pf["netdev"] for pf in inventory["pfs"]]
    pf: dict[str, Any] = found[0]
    return pf


def files_in(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its bytes and modification time."""
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
