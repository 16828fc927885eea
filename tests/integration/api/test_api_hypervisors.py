"""Nova hypervisors and availability zones over HTTP, from hosts written straight to the store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.integration.api.cloud import Cloud
from tests.integration.store.inventories import PF0, PF1, host_inventory, pf_entry

from sriovstack.client import ApiError, Client
from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.inventory import upsert_inventory
from sriovstack.store.querying import find_rows
from sriovstack.store.tables import HostRow, VFState

HYPERVISORS = "/compute/v2.1/os-hypervisors"
ZONES = "/compute/v2.1/os-availability-zone"
COMPUTE1_UUID = "0b6cbd6a-6c8b-4d4a-9a4a-1f2e3d4c5b6a"


def at(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}", "X-OpenStack-Nova-API-Version": version}


def get(client: Client, path: str, version: str) -> Any:
    return client.request("GET", path, headers=at(version))


def refused(client: Client, path: str, version: str = "2.88") -> ApiError:
    with pytest.raises(ApiError) as error:
        get(client, path, version)
    return error.value


def add_host(cloud: Cloud, name: str, host_uuid: str, **columns: Any) -> int:
    """A host whose agent reported two X540 PFs now (4 VFs on physnet1, 2 without a physnet)."""
    inventory = host_inventory(pf_entry(PF0, vfs=4), pf_entry(PF1, vfs=2))
    with cloud.env.unit_of_work() as uow:
        upsert_inventory(
            uow.session, name, inventory, now=cloud.clock.now, physnets={PF0: "physnet1"}
        )
        (row,) = find_rows(uow.session, HostRow, where={"name": name})
        row.uuid = host_uuid
        row.cpus, row.memory_mib, row.host_ip = 16, 65536, "192.0.2.11"
        for key, value in columns.items():
            setattr(row, key, value)
        uow.commit()
        return row.id


def hold_vfs(cloud: Cloud, host: str, *states: VFState) -> None:
    """Give the first VFs of the host's first PF these states, each with an owner."""
    with cloud.env.unit_of_work() as uow:
        (row,) = find_rows(uow.session, HostRow, where={"name": host})
        pf = min(row.pfs, key=lambda p: p.address)
        for vf, state in zip(pf.vfs, states, strict=False):
            vf.state, vf.claimed_by = state, f"port-{vf.vf_index}"
        uow.commit()


def add_server(cloud: Cloud, host_id: int, name: str) -> str:
    server_id = str(uuid.uuid4())
    now = cloud.clock.now
    with cloud.env.unit_of_work() as uow:
        uow.session.add(
            ServerRow(
                id=server_id,
                project_id="p",
                user_id="u",
                name=name,
                flavor_id="2",
                flavor={"vcpus": 1, "ram": 2048},
                image_id=str(uuid.uuid4()),
                host_id=host_id,
                status="ACTIVE",
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    return server_id


def test_hypervisors_are_for_admins_only(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    for path in (HYPERVISORS, f"{HYPERVISORS}/detail", f"{HYPERVISORS}/{COMPUTE1_UUID}"):
        error = refused(demo, path)
        assert error.status == 403
        assert error.body["forbidden"]["code"] == 403
    assert refused(demo, f"{ZONES}/detail").status == 403


def test_the_detail_at_2_88_has_no_resource_figures(cloud: Cloud) -> None:
    add_host(cloud, "compute1", COMPUTE1_UUID)
    (hypervisor,) = get(cloud.client("admin"), f"{HYPERVISORS}/detail", "2.88")["hypervisors"]
    assert hypervisor["id"] == COMPUTE1_UUID
    assert hypervisor["hypervisor_hostname"] == "compute1"
    assert (hypervisor["state"], hypervisor["status"]) == ("up", "enabled")
    assert hypervisor["hypervisor_type"] == "QEMU"
    assert hypervisor["host_ip"] == "192.0.2.11"
    assert hypervisor["service"] == {
        "host": "compute1",
        "id": COMPUTE1_UUID,
        "disabled_reason": None,
    }
    for gone in ("vcpus", "memory_mb", "local_gb", "vcpus_used", "running_vms", "cpu_info"):
        assert gone not in hypervisor


def test_before_2_88_the_figures_are_there_and_before_2_53_ids_are_integers(
    cloud: Cloud,
) -> None:
    host_id = add_host(cloud, "compute1", COMPUTE1_UUID, used_vcpus=2, used_ram_mib=4096)
    add_server(cloud, host_id, "Instance-1")
    admin = cloud.client("admin")
    (at_287,) = get(admin, f"{HYPERVISORS}/detail", "2.87")["hypervisors"]
    assert at_287["id"] == COMPUTE1_UUID
    assert (at_287["vcpus"], at_287["vcpus_used"]) == (16, 2)
    assert at_287["memory_mb"] == 65536
    assert at_287["memory_mb_used"] == 4096 + 512  # with Nova's reserved host memory
    assert at_287["free_ram_mb"] == 65536 - 4608
    assert at_287["running_vms"] == 1
    assert at_287["cpu_info"] == {}
    (at_252,) = get(admin, f"{HYPERVISORS}/detail", "2.52")["hypervisors"]
    assert at_252["id"] == host_id
    assert at_252["service"]["id"] == host_id
    assert get(admin, f"{HYPERVISORS}/{host_id}", "2.52")["hypervisor"]["id"] == host_id
    stats = get(admin, f"{HYPERVISORS}/statistics", "2.87")["hypervisor_statistics"]
    assert (stats["count"], stats["vcpus"], stats["running_vms"]) == (1, 16, 1)
    assert refused(admin, f"{HYPERVISORS}/statistics", "2.88").status == 404


def test_ids_of_the_wrong_kind_name_no_hypervisor(cloud: Cloud) -> None:
    host_id = add_host(cloud, "compute1", COMPUTE1_UUID)
    admin = cloud.client("admin")
    # Nova says 400 "Invalid uuid"; a 404 lets `nova hypervisor-show compute1` go on by name.
    for key in (str(host_id), "compute1"):
        error = refused(admin, f"{HYPERVISORS}/{key}", "2.53")
        assert error.status == 404
        assert error.body["itemNotFound"]["message"] == (
            f"hypervisor {key} not found: Hypervisor with ID '{key}' could not be found "
            "(IDs are UUIDs)."
        )
    assert refused(admin, f"{HYPERVISORS}/{COMPUTE1_UUID}", "2.52").status == 404
    missing = refused(admin, f"{HYPERVISORS}/{uuid.uuid4()}", "2.53")
    assert missing.status == 404
    assert missing.body["itemNotFound"]["code"] == 404


def test_show_lists_the_pfs_with_their_vfs_by_state(cloud: Cloud) -> None:
    add_host(cloud, "compute1", COMPUTE1_UUID)
    hold_vfs(cloud, "compute1", VFState.ALLOCATED, VFState.CLAIMED)
    shown = get(cloud.client("admin"), f"{HYPERVISORS}/{COMPUTE1_UUID}", "2.88")["hypervisor"]
    assert shown["uptime"] is None
    first, second = shown["sriovstack:pci_devices"]
    assert first["address"] == str(PF0)
    assert (first["netdev"], first["physnet"], first["numa_node"]) == ("enp3s0f0", "physnet1", 0)
    assert (first["total_vfs"], first["num_vfs"], first["free_vfs"]) == (63, 4, 2)
    assert first["vfs_by_state"] == {
        "available": 2,
        "claimed": 1,
        "allocated": 1,
        "unavailable": 0,
        "unclaimable": 0,
        "removed": 0,
    }
    assert (second["physnet"], second["num_vfs"], second["free_vfs"]) == (None, 2, 2)


def test_a_silent_agent_makes_its_hypervisor_down(cloud: Cloud) -> None:
    add_host(cloud, "compute1", COMPUTE1_UUID)
    admin = cloud.client("admin")
    assert get(admin, HYPERVISORS, "2.88")["hypervisors"][0]["state"] == "up"
    cloud.clock.advance(61)  # past the agent down time of 60 s
    (listed,) = get(admin, HYPERVISORS, "2.88")["hypervisors"]
    assert listed == {
        "id": COMPUTE1_UUID,
        "hypervisor_hostname": "compute1",
        "state": "down",
        "status": "enabled",
    }


def test_the_name_pattern_and_with_servers_arrive_at_2_53(cloud: Cloud) -> None:
    host_id = add_host(cloud, "compute1", COMPUTE1_UUID)
    add_host(cloud, "compute2", str(uuid.uuid4()), enabled=False, disabled_reason="maintenance")
    server_id = add_server(cloud, host_id, "Instance-1")
    admin = cloud.client("admin")
    found = get(admin, f"{HYPERVISORS}?hypervisor_hostname_pattern=pute2", "2.53")["hypervisors"]
    assert [(h["hypervisor_hostname"], h["status"]) for h in found] == [("compute2", "disabled")]
    assert refused(admin, f"{HYPERVISORS}?hypervisor_hostname_pattern=nosuch", "2.53").status == 404
    listed = get(admin, f"{HYPERVISORS}?with_servers=true", "2.53")["hypervisors"]
    assert listed[0]["servers"] == [{"name": "Instance-1", "uuid": server_id}]
    assert "servers" not in listed[1]  # Nova leaves it out for a host without servers
    older = get(admin, f"{HYPERVISORS}?hypervisor_hostname_pattern=pute2", "2.52")["hypervisors"]
    assert len(older) == 2  # not a filter before 2.53
    shown = get(admin, f"{HYPERVISORS}/{COMPUTE1_UUID}?with_servers=1", "2.53")["hypervisor"]
    assert shown["servers"] == [{"name": "Instance-1", "uuid": server_id}]


def test_zones_come_from_the_hosts_and_nova_is_always_there(cloud: Cloud) -> None:
    demo, admin = cloud.client("demo"), cloud.client("admin")
    (empty,) = demo.get(ZONES)["availabilityZoneInfo"]
    assert empty == {"zoneName": "nova", "zoneState": {"available": False}, "hosts": None}
    add_host(cloud, "compute1", COMPUTE1_UUID)
    add_host(cloud, "edge1", str(uuid.uuid4()), availability_zone="edge", enabled=False)
    zones = {z["zoneName"]: z for z in demo.get(ZONES)["availabilityZoneInfo"]}
    assert zones["nova"]["zoneState"] == {"available": True}
    assert zones["edge"]["zoneState"] == {"available": False}  # its only host is disabled
    detail = {z["zoneName"]: z for z in admin.get(f"{ZONES}/detail")["availabilityZoneInfo"]}
    agent = detail["nova"]["hosts"]["compute1"]["sriovstack-agent"]
    assert (agent["available"], agent["active"]) == (True, True)
    assert detail["edge"]["hosts"]["edge1"]["sriovstack-agent"]["active"] is False
    cloud.clock.advance(61)
    zones = {z["zoneName"]: z for z in demo.get(ZONES)["availabilityZoneInfo"]}
    assert zones["nova"]["zoneState"] == {"available": False}


def test_there_are_no_aggregates_and_only_admins_may_list_them(cloud: Cloud) -> None:
    """``openstack hypervisor show`` lists the aggregates to name the host's."""
    aggregates = "/compute/v2.1/os-aggregates"
    assert get(cloud.client("admin"), aggregates, "2.88") == {"aggregates": []}
    error = refused(cloud.client("demo"), aggregates)
    assert error.status == 403
    assert error.body["forbidden"]["code"] == 403
