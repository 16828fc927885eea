"""The native host API: registration, agent credentials limited to their host, inventory reports,
heartbeats and the PCI device list."""

from __future__ import annotations

import pytest
from tests.integration.api.cloud import Cloud
from tests.integration.api.seeding import add_host

from sriovstack.client import ApiError
from sriovstack.domain.reporting import report_to_wire
from sriovstack.simulator.fleet import synthetic_report


def test_a_registered_host_reports_its_vfs_and_shows_them(cloud: Cloud) -> None:
    add_host(cloud, synthetic_report("compute-1", pfs=2, vfs_per_pf=7))
    admin = cloud.client("admin")
    host = admin.get("/v1/hosts/compute-1")["host"]
    assert (host["pfs"], host["vfs"], host["free_devices"]) == (2, 14, 14)
    assert host["state"] == "up"
    assert host["vfs_by_state"]["available"] == 14
    devices = admin.get("/v1/pci-devices", host="compute-1")["pci_devices"]
    vfs = [d for d in devices if d["dev_type"] == "type-VF"]
    assert len(vfs) == 14
    assert vfs[0]["address"] == "0000:03:10.0"
    assert vfs[0]["product_id"] == "1515"
    assert {d["physical_network"] for d in vfs} == {"physnet1"}


def test_reporting_fewer_vfs_deletes_free_ones_and_recounts(cloud: Cloud) -> None:
    agent = add_host(cloud, synthetic_report("compute-1", pfs=1, vfs_per_pf=7))
    agent.put(
        "/v1/hosts/compute-1/inventory",
        report_to_wire(synthetic_report("compute-1", pfs=1, vfs_per_pf=3)),
    )
    host = cloud.client("admin").get("/v1/hosts/compute-1")["host"]
    assert (host["vfs"], host["free_devices"]) == (3, 3)


def test_an_agent_speaks_only_for_its_own_host(cloud: Cloud) -> None:
    agent = add_host(cloud, synthetic_report("compute-1", pfs=1, vfs_per_pf=2))
    add_host(cloud, synthetic_report("compute-2", pfs=1, vfs_per_pf=2))
    other = report_to_wire(synthetic_report("compute-2", pfs=1, vfs_per_pf=5))
    with pytest.raises(ApiError) as refused:
        agent.put("/v1/hosts/compute-2/inventory", other)
    assert refused.value.status == 403
    with pytest.raises(ApiError) as listing:
        agent.get("/v1/hosts")
    assert listing.value.status == 403
    with pytest.raises(ApiError) as networks:
        agent.post("/networking/v2.0/networks", {"network": {"name": "x"}})
    assert networks.value.status == 403
    assert cloud.client("admin").get("/v1/hosts/compute-2")["host"]["vfs"] == 2


def test_members_cannot_register_hosts(cloud: Cloud) -> None:
    with pytest.raises(ApiError) as refused:
        cloud.client("demo").post("/v1/hosts", {"name": "rogue"})
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"facts": {"cpus": 0, "memory_mib": 1024}}, "facts.cpus"),
        ({"pfs": [{"address": "not-pci", "total_vfs": 1}]}, "pfs[0].address"),
        (
            {
                "pfs": [
                    {
                        "address": "0000:03:00.0",
                        "vendor_id": "8086",
                        "device_id": "1528",
                        "total_vfs": 2,
                        "vfs": [{"index": 5, "address": "0000:03:10.0"}],
                    }
                ]
            },
            "pfs[0].vfs[0].index",
        ),
    ],
)
def test_a_malformed_report_is_refused_naming_the_field_and_changes_nothing(
    cloud: Cloud, change: dict[str, object], field: str
) -> None:
    agent = add_host(cloud, synthetic_report("compute-1", pfs=1, vfs_per_pf=4))
    body = {**report_to_wire(synthetic_report("compute-1", pfs=1, vfs_per_pf=4)), **change}
    with pytest.raises(ApiError) as refused:
        agent.put("/v1/hosts/compute-1/inventory", body)
    assert refused.value.status == 400
    assert field in refused.value.message
    assert cloud.client("admin").get("/v1/hosts/compute-1")["host"]["vfs"] == 4


def test_a_silent_agent_makes_its_host_down(cloud: Cloud) -> None:
    agent = add_host(cloud, synthetic_report("compute-1", pfs=1, vfs_per_pf=1))
    admin = cloud.client("admin")
    cloud.clock.advance(cloud.env.settings.agent_down_time.total_seconds() + 1)
    assert admin.get("/v1/hosts/compute-1")["host"]["state"] == "down"
    agent.post("/v1/hosts/compute-1/heartbeat", {})
    assert admin.get("/v1/hosts/compute-1")["host"]["state"] == "up"


def test_registering_a_host_twice_is_a_conflict(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post("/v1/hosts", {"name": "compute-1"})
    with pytest.raises(ApiError) as refused:
        admin.post("/v1/hosts", {"name": "compute-1"})
    assert refused.value.status == 409


def test_disabling_a_host_with_a_reason(cloud: Cloud) -> None:
    add_host(cloud, synthetic_report("compute-1", pfs=1, vfs_per_pf=1))
    admin = cloud.client("admin")
    host = admin.request(
        "PATCH", "/v1/hosts/compute-1", json={"enabled": False, "disabled_reason": "maintenance"}
    )["host"]
    assert (host["enabled"], host["disabled_reason"]) == (False, "maintenance")


def test_agents_show_as_neutron_sriov_nic_agents_with_their_liveness(cloud: Cloud) -> None:
    add_host(cloud, synthetic_report("compute-1", pfs=2, vfs_per_pf=1))
    admin = cloud.client("admin")
    (agent,) = admin.get("/networking/v2.0/agents")["agents"]
    assert (agent["host"], agent["binary"], agent["alive"]) == (
        "compute-1",
        "neutron-sriov-nic-agent",
        True,
    )
    assert agent["configurations"]["device_mappings"] == {"physnet1": ["enp3s0f0", "enp3s0f1"]}
    assert admin.get(f"/networking/v2.0/agents/{agent['id']}")["agent"]["host"] == "compute-1"
    cloud.clock.advance(cloud.env.settings.agent_down_time.total_seconds() + 1)
    assert admin.get("/networking/v2.0/agents", host="compute-1")["agents"][0]["alive"] is False
    with pytest.raises(ApiError) as refused:
        cloud.client("demo").get("/networking/v2.0/agents")
    assert refused.value.status == 403
