"""``sriovstack demo``: the whole talk on simulated hosts with the API, agents and fabric; each
step's outcome is asserted from the facts ``--json`` reports, not only the exit code."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.running import TALK_FIXES, TALK_VFS, Cli

from sriovstack.cli import demo
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.cli.main import main

INSTANCES = ["Instance-0", "Instance-1", "Instance-2"]


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Any]]:
    """One run of ``sriovstack demo --json`` for every test of this module: it is the slow part."""
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as env,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        env.setenv("NO_COLOR", "1")
        code = main(["demo", "--json"])
    assert code == 0, err.getvalue()
    found: dict[str, Any] = json.loads(out.getvalue())  # stdout holds the document alone
    found["stderr"] = err.getvalue()
    yield found


@pytest.fixture(scope="module")
def steps(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["step"]: s for s in report["steps"]}


def facts(steps: dict[int, dict[str, Any]], number: int) -> dict[str, Any]:
    found: dict[str, Any] = steps[number]["facts"]
    return found


def test_every_step_behaves_as_the_talk_says(report: dict[str, Any]) -> None:
    assert (report["ok"], report["passed"], report["total"]) == (True, 7, 7)
    assert [s["step"] for s in report["steps"]] == list(range(1, 8))
    for step in report["steps"]:
        assert step["ok"] and step["error"] is None, step
        assert step["checks"] and all(c["ok"] for c in step["checks"]), step["checks"]
        assert step["expected"] and step["shown"]


def test_progress_goes_to_stderr_for_scripts(report: dict[str, Any]) -> None:
    assert "sriovstack demo: [3/7] starting the API server" in report["stderr"]
    assert "sriovstack demo: [7/7] limitations" in report["stderr"]


def test_1_doctor_finds_the_talks_problems_then_none(steps: dict[int, dict[str, Any]]) -> None:
    found = facts(steps, 1)

    assert found["before"]["clean"] is False
    assert {
        "iommu host",
        "iommu-pt host",
        "vf-bars enp3s0f0",
        "vf-bars enp3s0f1",
        "vf-bus-range enp3s0f1",
        "ari enp3s0f1",
        "vf-driver enp3s0f1",
        "pf-link enp3s0f1",
    } <= set(found["before"]["findings"])
    assert "pci=realloc" in found["refused"]
    assert set(TALK_FIXES.split()) <= set(found["cmdline"].split())
    assert any("Intel-IOMMU: enabled" in line for line in found["iommu"])
    assert found["after"] == {"clean": True}


def test_2_seven_vfs_at_the_talks_slots(steps: dict[int, dict[str, Any]]) -> None:
    found = facts(steps, 2)

    assert found["vfs"] == TALK_VFS
    assert found["ids"] == ["8086:1515"]
    assert found["drivers"] == ["none"]  # ixgbevf is blacklisted
    assert "  \\-11.5  8086:1515" in steps[2]["shown"]


def test_3_provider_network_key_pair_and_rules(steps: dict[int, dict[str, Any]]) -> None:
    found = facts(steps, 3)

    assert found["host"] == {"name": "sriov-1", "vfs": 7, "state": "up"}
    network = found["network"]
    assert (network["name"], network["provider:network_type"]) == ("physnet1", "vlan")
    assert (network["provider:physical_network"], network["provider:segmentation_id"]) == (
        "physnet1",
        2010,
    )
    assert found["subnet"] == {"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1"}
    assert found["dhcp_port"] == {"ip": "10.0.0.2", "host": "sriov-1"}
    assert found["keypair"]["name"] == "stack-ssh"
    assert len(found["keypair"]["fingerprint"].split(":")) == 16
    assert ["tcp", 22, 22, "0.0.0.0/0"] in found["rules"]
    assert ["icmp", None, None, "0.0.0.0/0"] in found["rules"]


def test_4_ports_and_servers_active_on_their_vfs(steps: dict[int, dict[str, Any]]) -> None:
    found = facts(steps, 4)

    assert found["ports"] == {f"physnet1-vf{i}": f"10.0.0.{i + 2}" for i in range(1, 8)}
    assert found["before_cycles"] == dict.fromkeys(INSTANCES, "BUILD")  # the agent does it
    assert found["cycles"] >= 2  # the last one found nothing left to do
    assert found["servers"] == {name: ["ACTIVE", "sriov-1"] for name in INSTANCES}
    vf_guests = [found["guests"]["Instance-1"], found["guests"]["Instance-2"]]
    assert [g["port"] for g in vf_guests] == ["physnet1-vf1", "physnet1-vf2"]
    for guest in vf_guests:
        assert (guest["driver"], guest["vlan"], guest["nic"]) == ("vfio-pci", 2010, "hostdev")
        assert guest["pci_slot"] in TALK_VFS
        assert guest["mac"].startswith("fa:16:3e:")
    assert vf_guests[0]["pci_slot"] != vf_guests[1]["pci_slot"]
    assert found["guests"]["Instance-0"] == {"nic": "bridge", "bridge": "br-int"}


def test_5_nova_list_leases_and_everyone_reaches_everyone(
    steps: dict[int, dict[str, Any]],
) -> None:
    found = facts(steps, 5)

    rows = found["nova_list"]
    assert sorted(rows) == INSTANCES
    assert rows["Instance-1"] == ["ACTIVE", "-", "Running", "physnet1=10.0.0.3"]  # the talk's
    assert all(row[:3] == ["ACTIVE", "-", "Running"] for row in rows.values())
    assert found["namespace"] == f"qdhcp-{facts(steps, 3)['network']['id']}"
    for name, lease in found["leases"].items():
        assert lease["offered"] == lease["fixed_ip"], name
        assert ipaddress.ip_address(lease["offered"]) in ipaddress.ip_network("10.0.0.0/24")
    matrix = found["matrix"]
    assert matrix["names"] == [*INSTANCES, found["namespace"]]
    assert (matrix["pairs"], matrix["reachable"], matrix["failures"]) == (12, 12, [])


def test_6_the_fdb_entry_the_agent_adds_is_what_lets_the_vf_reach_ovs(
    steps: dict[int, dict[str, Any]],
) -> None:
    found = facts(steps, 6)

    assert found["servers"] == {
        "Instance-3": ["ACTIVE", "sriov-2"],
        "Instance-4": ["ACTIVE", "sriov-2"],
    }
    without = found["without_fdb"]
    assert without["reachable"] is False
    assert without["reason"].startswith("dropped at tor: would have to go back out the port")
    (added,) = found["agent_added"]
    assert added[0] == "enp3s0f1"
    assert f"bridge fdb add {added[1]} dev enp3s0f1 on sriov-2" in without["reason"]
    assert list(found["other_way"].values()) == [True, False]  # ARP request in, reply lost
    assert found["with_fdb"] == {"reachable": True}
    assert found["removed_by_hand"] == {"reachable": False, "agent_added": [added]}
    assert found["restored"] == {"reachable": True}
    assert found["mac_filters"]["capacity"] == 128


def test_7_the_talks_limitations(steps: dict[int, dict[str, Any]]) -> None:
    found = facts(steps, 7)

    change = found["count_change"]
    assert len(change["in_use"]) == 2
    for slot, entry in zip(change["held_by_guests"], change["in_use"], strict=True):
        assert slot in entry and "vfio-pci" in entry
    assert "--force" in change["refused"]
    assert change["vfs_after"] == 7
    down = found["pf_down"]
    assert set(down["vf_guests"]) == {"Instance-1", "Instance-2"}
    for reason in down["vf_guests"].values():
        assert "PF enp3s0f1 (sriov-1) is down, so its VFs pass no traffic" in reason
    assert down["ovs_guest_reachable"] is True
    assert down["after_up"] == {"Instance-1": True, "Instance-2": True}


def test_demo_for_people(cli: Cli) -> None:
    out = cli.ok("demo").out
    lines = out.splitlines()

    assert "[1/7] host doctor before and after the kernel parameters" in out
    assert "[7/7] limitations: VFs all at once, PF down" in out
    assert "$ nova list" in out
    assert "Instance-1 │ ACTIVE │ -          │ Running     │ physnet1=10.0.0.3" in out
    assert "FAILED" not in out and "✗" not in out
    assert "Step" in out and "Expected" in out and "Result" in out  # the summary table
    assert lines[-1].startswith("7 of 7 steps as expected in ")


# ---------------------------------------------------------------- a step that fails


def _broken(stage: Stage, log: StepLog) -> None:
    log.check("something before it broke", True)
    raise RuntimeError("the fabric is on fire")


def _unexpected(stage: Stage, log: StepLog) -> None:
    log.check("what the talk says", False, "saw something else")


def _fine(stage: Stage, log: StepLog) -> None:
    log.facts["ran"] = True
    log.check("fine", True)


@pytest.fixture
def failing_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        demo,
        "STEPS",
        [
            ("a step that breaks", "no error", _broken),
            ("a step whose check fails", "what the talk says", _unexpected),
            ("a step after them", "it still runs", _fine),
        ],
    )


@pytest.mark.usefixtures("failing_steps")
def test_a_failed_step_is_marked_and_the_demo_goes_on(cli: Cli) -> None:
    result = cli("demo", "--json")

    assert result.code == 1
    report = result.json()
    assert (report["ok"], report["passed"], report["total"]) == (False, 1, 3)
    broken, unexpected, after = report["steps"]
    assert broken["ok"] is False
    assert broken["error"] == "RuntimeError: the fabric is on fire"
    assert unexpected["ok"] is False and unexpected["error"] is None
    assert unexpected["checks"] == [
        {"name": "what the talk says", "ok": False, "detail": "saw something else"}
    ]
    assert after["ok"] is True and after["facts"] == {"ran": True}


@pytest.mark.usefixtures("failing_steps")
def test_a_failed_step_shows_in_the_summary_for_people(cli: Cli) -> None:
    result = cli("demo")

    assert result.code == 1
    assert "error: RuntimeError: the fabric is on fire" in result.out
    assert "✗ what the talk says: saw something else" in result.out
    assert "FAILED: what the talk says" in result.out
    assert result.out.splitlines()[-1].startswith("1 of 3 steps as expected in ")
