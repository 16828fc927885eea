"""The host and agents APIs show each PF's NIC capabilities and the agent's configuration, as
the agent reported them."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import boot
from tests.integration.api.cloud import Cloud
from tests.integration.api.seeding import add_host

from sriovstack.client import ApiError
from sriovstack.domain.hostconfig import parse_host_config
from sriovstack.domain.reporting import (
    AgentConfiguration,
    HostFacts,
    HostReport,
    agent_configuration,
    offered_devices,
    report_to_wire,
)
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count
from sriovstack.services import hosts

HOST_CONFIG = parse_host_config("""
[pci]
device_spec = '{"devname":"enp3s0f1","physical_network":"physnet1"}'

[sriov_nic]
physical_device_mappings = "physnet1:enp3s0f1"
exclude_devices = "enp3s0f1:0000:04:10.1"

[FDB]
shared_physical_device_mappings = "physnet1:enp3s0f1"
""")
CONFIGURATION = {
    "device_mappings": {"physnet1": ["enp3s0f1"]},
    "exclude_devices": {"enp3s0f1": ["0000:04:10.1"]},
    "fdb_mappings": {"physnet1": ["enp3s0f1"]},
    "extensions": ["fdb"],
}


def talk_report(host: str = "compute-1", *, configured: bool = True) -> HostReport:
    """The talk's host with seven VFs on enp3s0f1 (one excluded), as its agent reports it."""
    kernel = boot("talk-after")
    set_vf_count(kernel, "enp3s0f1", 7)
    pfs = offered_devices(read_inventory(kernel), HOST_CONFIG.device_specs, HOST_CONFIG.agent)
    configuration = AgentConfiguration.of(agent_configuration(HOST_CONFIG))
    return HostReport(
        host,
        HostFacts(cpus=8, memory_mib=16384),
        pfs,
        configuration if configured else AgentConfiguration(),
    )


def test_a_host_shows_its_pfs_capabilities_and_its_agent_configuration(cloud: Cloud) -> None:
    add_host(cloud, talk_report())
    host = cloud.client("admin").get("/v1/hosts/compute-1")["host"]
    (pf,) = host["physical_functions"]
    assert (pf["address"], pf["netdev"], pf["physical_network"]) == (
        "0000:03:00.1",
        "enp3s0f1",
        "physnet1",
    )
    assert pf["capabilities"]["model"] == "x540"
    assert pf["capabilities"]["model_name"] == "Intel X540"
    assert (pf["capabilities"]["mac_filters"], pf["capabilities"]["vlan_filters"]) == (128, 64)
    assert pf["capabilities"]["mac_filters_shared"] is True
    assert pf["capabilities"]["supports_min_rate"] is False
    assert host["agent_configuration"] == CONFIGURATION
    assert host["vfs"] == 6  # the excluded VF is not offered


def test_the_agents_api_shows_the_reported_configuration(cloud: Cloud) -> None:
    add_host(cloud, talk_report())
    (agent,) = cloud.client("admin").get("/networking/v2.0/agents")["agents"]
    assert agent["agent_type"] == "NIC Switch agent"
    assert agent["configurations"] == {**CONFIGURATION, "devices": 6}


def test_a_report_without_configuration_clears_it_and_mappings_come_from_the_pfs(
    cloud: Cloud,
) -> None:
    agent = add_host(cloud, talk_report())
    agent.put("/v1/hosts/compute-1/inventory", report_to_wire(talk_report(configured=False)))
    admin = cloud.client("admin")
    assert admin.get("/v1/hosts/compute-1")["host"]["agent_configuration"] == {}
    (shown,) = admin.get("/networking/v2.0/agents")["agents"]
    assert shown["configurations"] == {
        "device_mappings": {"physnet1": ["enp3s0f1"]},
        "devices": 6,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"configuration": ["physnet1:enp3s0f1"]}, "configuration"),
        ({"capabilities": {"mac_filters": [128]}}, "pfs[0].capabilities.mac_filters"),
    ],
)
def test_bad_capabilities_or_configuration_are_refused_and_change_nothing(
    cloud: Cloud, change: dict[str, Any], field: str
) -> None:
    agent = add_host(cloud, talk_report())
    body = report_to_wire(talk_report(configured=False))
    if "capabilities" in change:
        body["pfs"][0]["capabilities"] = change["capabilities"]
    else:
        body.update(change)
    with pytest.raises(ApiError) as refused:
        agent.put("/v1/hosts/compute-1/inventory", body)
    assert refused.value.status == 400
    assert field in refused.value.message
    host = cloud.client("admin").get("/v1/hosts/compute-1")["host"]
    assert host["agent_configuration"] == CONFIGURATION
    assert host["physical_functions"][0]["capabilities"]["model"] == "x540"


def test_a_bulk_loaded_host_shows_what_a_reported_one_does(cloud: Cloud) -> None:
    add_host(cloud, talk_report("compute-1"))
    hosts.add_reported_hosts(cloud.env, [talk_report("compute-2")])
    admin = cloud.client("admin")
    reported = admin.get("/v1/hosts/compute-1")["host"]
    loaded = admin.get("/v1/hosts/compute-2")["host"]
    for key in ("physical_functions", "agent_configuration"):
        assert loaded[key] == reported[key]
