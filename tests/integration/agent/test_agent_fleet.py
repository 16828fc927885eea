"""The API and agents of simulated hosts over HTTP on loopback: boot, delete, hotplug, agent
death, drift, port admin down and up, FDB entries and their capacity, configure failures."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.factories import boot, with_model
from tests.integration.agent.fleet import PORTS, SERVERS, Fleet, fleet, talk_kernel

from sriovstack.client import ApiError
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.vfconfig import CLEAN, LinkState, VFConfigChange, VlanTag
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.profiles import load_profile
from sriovstack.store.network_tables import PortRow
from sriovstack.store.querying import add_rows
from sriovstack.virt.guests import NicKind

DOWN_TIME = 61  # seconds past the default agent_down_time (60)


def vf_of(fleet: Fleet, port_id: str) -> int:
    return int(fleet.show_port(port_id)["binding:profile"]["vf_num"])


@pytest.fixture
def one(tmp_path: Path) -> Any:
    with fleet(tmp_path) as made:
        yield made


@pytest.fixture
def two(tmp_path: Path) -> Any:
    with fleet(tmp_path, ("sriov-1", "sriov-2")) as made:
        yield made


def test_boots_spread_over_two_hosts_go_active_and_delete_resets_before_release(
    two: Fleet,
) -> None:
    ports = [two.port() for _ in range(2)]
    servers = [two.boot(f"Instance-{i}", port) for i, port in enumerate(ports, 1)]
    assert {s["status"] for s in servers} == {"BUILD"}
    two.settle()
    shown = [two.server(s["id"]) for s in servers]
    assert all(s is not None and s["status"] == "ACTIVE" for s in shown)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in shown if s} == {"sriov-1", "sriov-2"}
    for port in ports:
        assert two.show_port(port)["status"] == "ACTIVE"
    first, port = shown[0], ports[0]
    assert first is not None
    host = two.host(first["OS-EXT-SRV-ATTR:host"])
    index = vf_of(two, port)
    assert host.vf(index).driver == "vfio-pci"

    two.demo.delete(f"{SERVERS}/{first['id']}")
    deleting = two.server(first["id"])
    assert deleting is not None and deleting["OS-EXT-STS:task_state"] == "deleting"
    assert len(two.devices("allocated")) == 2  # held until the agent has reset the VF
    result = host.agent.cycle()
    assert result.stopped == [first["id"]]
    assert result.deleted == [first["id"]]
    assert host.vf_config(index) == CLEAN
    assert two.server(first["id"]) is None
    assert len(two.devices("allocated")) == 1
    unbound = two.show_port(port)
    assert (unbound["binding:host_id"], unbound["device_id"], unbound["status"]) == ("", "", "DOWN")


def test_hotplug_attaches_a_vf_to_a_running_guest_and_detach_frees_it_after_the_reset(
    one: Fleet,
) -> None:
    host = one.host()
    server = one.boot("Instance-1", one.port())
    host.settle()
    extra = one.port()
    attached = one.demo.post(
        f"{SERVERS}/{server['id']}/os-interface", {"interfaceAttachment": {"port_id": extra}}
    )["interfaceAttachment"]
    assert (attached["port_id"], attached["port_state"]) == (extra, "DOWN")
    assert len(one.devices("claimed")) == 1  # claimed before anything touches the guest
    result = host.agent.cycle()
    assert result.plugged == [extra]
    (guest,) = host.hypervisor.guests()
    assert [nic.port_id for nic in guest.spec.nics][-1] == extra
    index = vf_of(one, extra)
    vf = host.vf(index)
    assert vf.driver == "vfio-pci"
    assert host.vf_config(index).mac == MacAddress.parse(one.show_port(extra)["mac_address"])
    assert one.show_port(extra)["status"] == "ACTIVE"
    listed = one.demo.get(f"{SERVERS}/{server['id']}/os-interface")["interfaceAttachments"]
    assert extra in {i["port_id"] for i in listed}

    one.demo.delete(f"{SERVERS}/{server['id']}/os-interface/{extra}")
    assert one.show_port(extra)["device_id"] == server["id"]  # until the agent confirms
    result = host.agent.cycle()
    assert (result.unplugged, result.detached) == ([extra], [extra])
    (guest,) = host.hypervisor.guests()
    assert extra not in {nic.port_id for nic in guest.spec.nics}
    assert host.vf_config(index) == CLEAN
    assert one.show_port(extra)["device_id"] == ""
    assert len(one.devices("allocated")) == 1
    assert one.server(server["id"])["status"] == "ACTIVE"  # type: ignore[index]


def test_a_hotplug_with_no_free_vf_is_refused_and_leaves_the_guest_as_it_was(
    one: Fleet,
) -> None:
    host = one.host()
    ports = [one.port() for _ in range(7)]
    server = one.boot("big", *ports)
    host.settle()
    (before,) = host.hypervisor.guests()
    with pytest.raises(ApiError) as refused:
        one.demo.post(
            f"{SERVERS}/{server['id']}/os-interface",
            {"interfaceAttachment": {"port_id": one.port()}},
        )
    assert refused.value.status == 400
    assert "none fits" in refused.value.message
    assert one.server(server["id"])["status"] == "ACTIVE"  # type: ignore[index]
    assert host.hypervisor.guests() == [before]
    assert not host.agent.cycle().changed


def test_a_dead_agents_host_is_skipped_and_a_local_delete_is_reset_when_it_returns(
    two: Fleet,
) -> None:
    server = two.boot("Instance-1", two.port())
    two.settle()
    shown = two.server(server["id"])
    assert shown is not None
    dead_name = shown["OS-EXT-SRV-ATTR:host"]
    dead = two.host(dead_name)
    alive = two.host("sriov-2" if dead_name == "sriov-1" else "sriov-1")
    index = vf_of(two, _port_of(two, server["id"]))

    two.cloud.clock.advance(DOWN_TIME)
    alive.agent.cycle()  # only this agent reports in time
    states = {h["name"]: h["state"] for h in two.admin.get("/v1/hosts")["hosts"]}
    assert states == {dead_name: "down", alive.name: "up"}
    later = two.boot("Instance-2", two.port())
    alive.settle()
    shown_later = two.server(later["id"])
    assert shown_later is not None and shown_later["OS-EXT-SRV-ATTR:host"] == alive.name

    two.demo.delete(f"{SERVERS}/{server['id']}")  # the dead host cannot answer: local delete
    assert two.server(server["id"]) is None
    (event,) = two.events(kind="local_delete")
    assert event["server_id"] == server["id"]
    assert dead.hypervisor.guests() != []  # the guest still runs on the host meanwhile
    dead.settle()  # the agent comes back
    assert dead.hypervisor.guests() == []
    assert dead.vf_config(index) == CLEAN


def _port_of(fleet: Fleet, server_id: str) -> str:
    (port,) = fleet.admin.get(PORTS, device_id=server_id)["ports"]
    return str(port["id"])


def test_drift_is_corrected_and_shown_to_the_ports_project_only(one: Fleet) -> None:
    host = one.host()
    port = one.port()
    one.boot("Instance-1", port)
    host.settle()
    index = vf_of(one, port)
    set_vf_config(host.kernel, "enp3s0f1", index, VFConfigChange(vlan=VlanTag(5)))
    result = host.agent.cycle()
    assert result.drift == (port,)
    assert host.vf_config(index).vlan == VlanTag(2010)
    (event,) = one.events(one.demo, kind="drift")
    assert event["port_id"] == port
    assert event["details"]["fields"] == ["vlan"]
    assert "host" not in event  # hosts are the admin's business
    stranger = one.cloud.add_member("eve", "other")
    assert one.events(stranger) == []


def test_a_port_set_admin_down_disables_its_vf_and_shows_down_then_comes_back(
    one: Fleet,
) -> None:
    host = one.host()
    port = one.port()
    one.boot("Instance-1", port)
    host.settle()
    index = vf_of(one, port)
    one.demo.put(f"{PORTS}/{port}", {"port": {"admin_state_up": False}})
    host.settle()
    assert host.vf_config(index).link_state is LinkState.DISABLE
    assert one.show_port(port)["status"] == "DOWN"
    one.demo.put(f"{PORTS}/{port}", {"port": {"admin_state_up": True}})
    host.settle()
    assert host.vf_config(index).link_state is LinkState.ENABLE
    assert one.show_port(port)["status"] == "ACTIVE"


def test_ovs_guests_on_the_vfs_pf_get_fdb_entries_removed_when_they_go(one: Fleet) -> None:
    host = one.host()
    normal = one.port(vnic_type="normal")
    server = one.boot("Instance-0", normal)
    host.settle()
    mac = one.show_port(normal)["mac_address"]
    assert mac in host.fdb()
    one.demo.delete(f"{SERVERS}/{server['id']}")
    host.settle()
    assert mac not in host.fdb()
    assert one.server(server["id"]) is None


def dhcp_ports(fleet: Fleet, count: int, host: str = "sriov-1") -> list[str]:
    """Ports owned by DHCP servers on ``host`` (what Neutron's DHCP agent binds there)."""
    macs = []
    now = fleet.cloud.clock()
    with fleet.cloud.env.unit_of_work() as uow:
        rows = []
        for i in range(count):
            mac = f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"
            macs.append(mac)
            rows.append(
                PortRow(
                    id=fleet.cloud.env.new_id(),
                    project_id="dhcp",
                    network_id=fleet.network,
                    mac_address=mac,
                    device_id=f"dhcp-{i}",
                    device_owner="network:dhcp",
                    host_id=host,
                    vif_type="ovs",
                    created_at=now,
                    updated_at=now,
                )
            )
        add_rows(uow.session, rows)
        uow.commit()
    return macs


def test_fdb_entries_past_the_mac_filter_table_are_refused_with_one_alert(one: Fleet) -> None:
    host = one.host()
    # An X540's table holds 128 unicast MACs, one of them the PF's own.
    macs = dhcp_ports(one, 128)
    host.settle()
    assert host.fdb() == set(macs[:127])  # never past the table: no promiscuous fallback
    (refused,) = one.events(kind="fdb_refused")
    assert macs[127] in refused["message"] and "enp3s0f1" in refused["message"]
    (full,) = one.events(kind="fdb_capacity")
    assert "128 of 128" in full["message"]
    host.settle()
    assert len(one.events(kind="fdb_refused")) == 1  # alerted once, not every cycle


def test_a_vf_the_nic_refuses_puts_the_port_and_server_in_error_with_the_reason(
    tmp_path: Path,
) -> None:
    # A shared table of 3: the PF's MAC and two VF MACs; the third VF MAC does not fit.
    small = talk_kernel(cards=with_model(load_profile("talk-after"), mac_filters=3).cards)
    with fleet(tmp_path, kernels={"sriov-1": small}) as made:
        host = made.host()
        servers = [made.boot(f"vm-{i}", made.port()) for i in range(3)]
        host.settle()
        statuses = [made.server(s["id"])["status"] for s in servers]  # type: ignore[index]
        assert sorted(statuses) == ["ACTIVE", "ACTIVE", "ERROR"]
        failed = next(s for s in servers if made.server(s["id"])["status"] == "ERROR")  # type: ignore[index]
        fault = made.server(failed["id"])["fault"]["message"]  # type: ignore[index]
        assert "MAC" in fault
        (port,) = made.admin.get(PORTS, device_id=failed["id"])["ports"]
        assert port["status"] == "ERROR"
        assert made.events(kind="server_error")[0]["server_id"] == failed["id"]
        assert len(host.hypervisor.guests()) == 2


def test_the_agent_long_polls_and_wakes_as_soon_as_its_host_has_work(one: Fleet) -> None:
    host = one.host()
    started = time.monotonic()
    assert host.agent.wait(0.3) is False  # nothing happened: the poll ran its time
    assert time.monotonic() - started >= 0.3
    port = one.port()
    timer = threading.Timer(0.2, lambda: one.boot("Instance-1", port))
    timer.start()
    try:
        started = time.monotonic()
        assert host.agent.wait(30) is True
        assert time.monotonic() - started < 10  # woken by the boot, not by the timeout
    finally:
        timer.join()
    assert host.agent.cycle().activated


def test_a_direct_physical_port_passes_the_whole_pf_when_it_has_no_vfs(
    one: Fleet, tmp_path: Path
) -> None:
    # With seven VFs enabled enp3s0f1 is offered only as VFs: no host takes a whole PF.
    refused = one.boot("Instance-pf", one.port(vnic_type="direct-physical"))
    assert refused["status"] == "ERROR"
    with fleet(tmp_path / "no-vfs", kernels={"sriov-1": boot("talk-after")}) as made:
        host = made.host()
        port = made.port(vnic_type="direct-physical")
        server = made.boot("Instance-pf", port)
        host.settle()
        assert made.server(server["id"])["status"] == "ACTIVE"  # type: ignore[index]
        (guest,) = host.hypervisor.guests()
        (nic,) = guest.spec.nics
        assert (nic.kind, str(nic.pci_address)) == (NicKind.HOSTDEV_PF, "0000:03:00.1")
        assert made.show_port(port)["binding:vif_type"] == "hostdev_physical"


def test_a_macvtap_port_needs_the_vfs_netdev_and_says_so_when_the_host_has_none(
    one: Fleet,
) -> None:
    # The talk blacklists ixgbevf on the host, so its VFs have no netdev to put a macvtap on.
    host = one.host()
    server = one.boot("Instance-mv", one.port(vnic_type="macvtap"))
    host.settle()
    failed = one.server(server["id"])
    assert failed is not None and failed["status"] == "ERROR"
    assert "no netdev for macvtap" in failed["fault"]["message"]
    assert host.hypervisor.guests() == []


def test_a_vf_that_vanishes_before_its_guest_starts_fails_the_boot_and_is_reported_once(
    one: Fleet,
) -> None:
    host = one.host()
    port = one.port()
    server = one.boot("Instance-1", port)
    set_vf_count(host.kernel, "enp3s0f1", 0, force=True)  # by hand, before the agent ran
    host.agent.cycle()
    host.agent.cycle()
    (event,) = one.events(one.demo, kind="vf_missing")
    assert event["port_id"] == port
    assert "gone from the host" in event["message"]
    assert [d["state"] for d in one.devices()] == ["removed"]
    failed = one.server(server["id"])
    assert failed is not None and failed["status"] == "ERROR"
    assert "is gone from the host" in failed["fault"]["message"]
    assert host.hypervisor.guests() == []


def test_the_agent_reports_nic_capabilities_and_its_configuration(one: Fleet) -> None:
    host = one.admin.get("/v1/hosts/sriov-1")["host"]
    pf = next(p for p in host["physical_functions"] if p["netdev"] == "enp3s0f1")
    assert (pf["capabilities"]["model"], pf["capabilities"]["mac_filters"]) == ("x540", 128)
    configuration = host["agent_configuration"]
    assert configuration["device_mappings"] == {"physnet1": ["enp3s0f1"]}
    assert configuration["fdb_mappings"] == {"physnet1": ["enp3s0f1"]}
    agents = one.admin.get("/networking/v2.0/agents", host="sriov-1")["agents"]
    sriov = next(a for a in agents if a["agent_type"] == "NIC Switch agent")
    assert sriov["configurations"]["device_mappings"] == {"physnet1": ["enp3s0f1"]}
