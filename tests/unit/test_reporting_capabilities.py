"""An agent's report carries each PF's NIC capabilities and its Neutron-style configuration."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tests.factories import boot

from sriovstack.domain.devspec import DeviceSpecList, parse_device_spec
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.hostconfig import parse_host_config
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.reporting import (
    CAPABILITY_KEYS,
    MAX_CONFIGURATION_BYTES,
    AgentConfiguration,
    HostFacts,
    HostReport,
    agent_configuration,
    offered_devices,
    report_from_wire,
    report_to_wire,
)
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count

SPECS = DeviceSpecList(
    tuple(parse_device_spec('{"devname":"enp3s0f1","physical_network":"physnet1"}'))
)
X540 = {
    "model": "x540",
    "model_name": "Intel X540",
    "link_speed_mbps": 10000,
    "mac_filters": 128,
    "mac_filters_shared": True,
    "vlan_filters": 64,
    "vlan_filters_shared": True,
    "vf_mac_limit": 0,
    "vf_vlan_limit": 0,
    "reports_spoofchk": True,
    "reports_trust": True,
    "supports_8021ad": False,
    "supports_min_rate": False,
}
HOST_CONFIG = """
[sriov_nic]
physical_device_mappings = "physnet1:enp3s0f1,physnet2:enp3s0f1"
exclude_devices = "enp3s0f1:0000:04:10.3;0000:04:10.1"

[FDB]
shared_physical_device_mappings = "physnet1:enp3s0f1"
"""


def talk(vfs: int = 7) -> HostInventory:
    """The talk's host (two X540 ports) with ``vfs`` VFs on enp3s0f1."""
    kernel = boot("talk-after")
    set_vf_count(kernel, "enp3s0f1", vfs)
    return read_inventory(kernel)


def report(**changes: Any) -> HostReport:
    base = HostReport(
        "compute-1", HostFacts(cpus=8, memory_mib=16384), offered_devices(talk(), SPECS)
    )
    return dataclasses.replace(base, **changes)


def wire_pf(**capabilities: Any) -> dict[str, Any]:
    body = report_to_wire(report())
    body["pfs"][0]["capabilities"] = capabilities
    return body


# ------------------------------------------------------------------------------ capabilities


def test_an_offered_x540_port_carries_the_catalogue_facts_of_its_model() -> None:
    (pf,) = offered_devices(talk(), SPECS)
    assert pf.netdev == "enp3s0f1"
    assert dict(pf.capabilities) == X540
    assert [key for key, _ in pf.capabilities] == sorted(CAPABILITY_KEYS)


def test_capabilities_are_static_so_a_changed_vf_count_changes_nothing_else() -> None:
    (seven,) = offered_devices(talk(7), SPECS)
    (three,) = offered_devices(talk(3), SPECS)
    assert len(seven.vfs) != len(three.vfs)
    assert seven.capabilities == three.capabilities


@pytest.mark.parametrize("model", [None, "no-such-nic"])
def test_a_nic_the_catalogue_does_not_know_has_no_capabilities(model: str | None) -> None:
    inventory = talk()
    unknown = HostInventory(tuple(dataclasses.replace(pf, model=model) for pf in inventory.pfs))
    (pf,) = offered_devices(unknown, SPECS)
    assert pf.capabilities == ()
    assert len(pf.vfs) == 7  # still offered: capabilities only describe the NIC
    assert report_to_wire(HostReport("h", HostFacts(1, 1), (pf,)))["pfs"][0]["capabilities"] == {}


# ----------------------------------------------------------------------------- configuration


def test_the_agent_configuration_shows_mappings_exclusions_and_the_fdb_extension() -> None:
    configuration = agent_configuration(parse_host_config(HOST_CONFIG))
    assert configuration == {
        "device_mappings": {"physnet1": ["enp3s0f1"], "physnet2": ["enp3s0f1"]},
        "exclude_devices": {"enp3s0f1": ["0000:04:10.1", "0000:04:10.3"]},
        "fdb_mappings": {"physnet1": ["enp3s0f1"]},
        "extensions": ["fdb"],
    }


def test_an_empty_host_config_has_empty_settings_and_no_extensions() -> None:
    assert agent_configuration(parse_host_config("")) == {
        "device_mappings": {},
        "exclude_devices": {},
        "fdb_mappings": {},
        "extensions": [],
    }


def test_reports_compare_and_hash_by_their_configuration() -> None:
    data = agent_configuration(parse_host_config(HOST_CONFIG))
    first = report(configuration=AgentConfiguration.of(data))
    again = report(configuration=AgentConfiguration.of(dict(reversed(data.items()))))
    assert first == again
    assert hash(first) == hash(again)
    assert first != report()  # what the agent compares to decide whether to re-report
    assert report().configuration.to_dict() == {}


# --------------------------------------------------------------------------------------- wire


def test_a_report_survives_the_wire_with_capabilities_and_configuration() -> None:
    configuration = AgentConfiguration.of(agent_configuration(parse_host_config(HOST_CONFIG)))
    sent = report(configuration=configuration)
    body = report_to_wire(sent)
    assert body["pfs"][0]["capabilities"] == X540
    assert body["configuration"]["device_mappings"] == {
        "physnet1": ["enp3s0f1"],
        "physnet2": ["enp3s0f1"],
    }
    assert report_from_wire("compute-1", body) == sent


def test_a_report_of_an_older_agent_has_neither() -> None:
    body = report_to_wire(report())
    del body["configuration"]
    del body["pfs"][0]["capabilities"]
    received = report_from_wire("compute-1", body)
    assert received.pfs[0].capabilities == ()
    assert received.configuration == AgentConfiguration()


@pytest.mark.parametrize(
    ("capabilities", "field"),
    [
        pytest.param({"mac_filters": [128]}, "pfs[0].capabilities.mac_filters", id="list"),
        pytest.param({"mac_filters": None}, "pfs[0].capabilities.mac_filters", id="null"),
        pytest.param({"mac_filters": 1.5}, "pfs[0].capabilities.mac_filters", id="float"),
        pytest.param({"vf_mac_limit": -1}, "pfs[0].capabilities.vf_mac_limit", id="negative"),
        pytest.param({"model": {"key": "x540"}}, "pfs[0].capabilities.model", id="object"),
        pytest.param({"model_name": "x" * 256}, "pfs[0].capabilities.model_name", id="long"),
        pytest.param({"": 1}, "pfs[0].capabilities", id="empty-key"),
        pytest.param({f"k{i}": i for i in range(65)}, "pfs[0].capabilities", id="too-many"),
    ],
)
def test_bad_capabilities_are_refused_naming_the_field(
    capabilities: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        report_from_wire("compute-1", wire_pf(**capabilities))
    assert refused.value.field == field


def test_capabilities_that_are_not_an_object_are_refused() -> None:
    body = report_to_wire(report())
    body["pfs"][0]["capabilities"] = ["x540"]
    with pytest.raises(InvalidInput) as refused:
        report_from_wire("compute-1", body)
    assert refused.value.field == "pfs[0].capabilities"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("configuration", "field"),
    [
        pytest.param(["physnet1:enp3s0f1"], "configuration", id="list"),
        pytest.param("physnet1:enp3s0f1", "configuration", id="text"),
        pytest.param({"x": "y" * MAX_CONFIGURATION_BYTES}, "configuration", id="too-large"),
        pytest.param({"x": float("nan")}, "configuration", id="nan"),
        pytest.param(nested(12), "configuration.a.a.a.a.a.a.a.a.a", id="too-deep"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_field(configuration: Any, field: str) -> None:
    body = {**report_to_wire(report()), "configuration": configuration}
    with pytest.raises(InvalidInput) as refused:
        report_from_wire("compute-1", body)
    assert refused.value.field == field
