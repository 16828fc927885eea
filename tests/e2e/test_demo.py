"""``sriovstack demo``: the talk's host preparation, step by step, each outcome checked."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.running import TALK_VFS, Cli


@pytest.fixture
def steps(cli: Cli) -> dict[int, dict[str, Any]]:
    report = cli.ok("demo", "--json").json()
    assert report["passed"] == 9
    assert [s["step"] for s in report["steps"]] == list(range(1, 10))
    return {s["step"]: s for s in report["steps"]}


def test_demo_for_people(cli: Cli) -> None:
    out = cli.ok("demo").out

    assert "[1/9] host doctor before the kernel parameters" in out
    assert "[9/9] limitation: PF FDB entries use the MAC filter table" in out
    assert "FAILED" not in out
    assert "9 of 9 steps as expected" in out.splitlines()[-1]


def test_every_step_is_ok(steps: dict[int, dict[str, Any]]) -> None:
    assert all(s["ok"] for s in steps.values())
    assert all(s["expected"] and s["shown"] for s in steps.values())


def test_doctor_finds_the_talks_problems_first(steps: dict[int, dict[str, Any]]) -> None:
    facts = steps[1]["facts"]

    assert facts["clean"] is False
    assert {
        "iommu host",
        "iommu-pt host",
        "vf-bars enp3s0f0",
        "vf-bars enp3s0f1",
        "vf-bus-range enp3s0f1",
        "ari enp3s0f1",
        "vf-driver enp3s0f1",
        "pf-link enp3s0f1",
    } <= set(facts["findings"])


def test_seven_vfs_are_refused_before_the_fixes(steps: dict[int, dict[str, Any]]) -> None:
    assert "pci=realloc" in steps[2]["facts"]["refused"]


def test_reboot_with_the_talks_parameters(steps: dict[int, dict[str, Any]]) -> None:
    cmdline = steps[3]["facts"]["cmdline"].split()

    assert {"intel_iommu=on", "iommu=pt", "pci=realloc", "pci=assign-busses"} <= set(cmdline)
    assert any("Intel-IOMMU: enabled" in line for line in steps[3]["shown"])
    assert steps[4]["facts"] == {"clean": True}


def test_seven_vfs_at_the_talks_slots(steps: dict[int, dict[str, Any]]) -> None:
    assert steps[5]["facts"] == {"vfs": TALK_VFS, "ids": ["8086:1515"]}


def test_vf_config_is_applied_once(steps: dict[int, dict[str, Any]]) -> None:
    facts = steps[6]["facts"]

    assert sorted(facts["changed"]) == ["mac", "vlan"]
    assert facts["changed_again"] == []


def test_the_talks_limitations(steps: dict[int, dict[str, Any]]) -> None:
    in_use = steps[7]["facts"]
    assert in_use["in_use"] == ["VF 0 (0000:04:10.1, MAC fa:16:3e:11:22:33)"]
    assert "--force" in in_use["refused"]

    assert steps[8]["facts"] == {"carrier": False, "vf_links_up": 0}

    fdb = steps[9]["facts"]
    assert "00:de:ad:be:ef:00" in fdb["entries"]
    assert fdb["capacity"] == 128
    assert fdb["used"] == 3  # the PF's MAC, VF 0's MAC and the new entry
