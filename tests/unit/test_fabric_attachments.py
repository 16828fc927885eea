"""Endpoints: how guests, namespaces and outside machines attach, how they are named, and checks."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.domain.vfconfig import VFConfigChange, VlanTag
from sriovstack.fabric.endpoints import Attachment, guest_endpoints
from sriovstack.fabric.model import (
    Cable,
    DhcpServer,
    ExternalHost,
    FabricHost,
    Network,
    PortAddress,
)
from sriovstack.fabric.scenes import HOST, INSTANCE_1, NETWORK, TalkScene, talk_scene
from sriovstack.fabric.tracing import Fabric
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind
from sriovstack.virt.simulated import SimulatedHypervisor

PF = "enp3s0f1"
VF0 = PciAddress.parse("0000:04:10.1")
WHOLE_PF = PciAddress.parse("0000:03:00.0")  # enp3s0f0: no VFs, so it can be passed through
ROUTER = ExternalHost(
    "router", NETWORK.id, MacAddress.parse("00:1b:21:0a:0b:01"), ipaddress.ip_address("10.0.0.1")
)
UUID_9 = "5f0c2a1e-7d3b-4c59-9e8a-1b6d4f2c0a99"
UUID_8 = "3e7b9d10-2c4a-4f1e-8b5d-6a0c9f7e2d18"


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def mac(last: int) -> MacAddress:
    return MacAddress(0xFA163E000000 + last)


GUEST_MAC = mac(0x10)


def vf_guest_host(
    kernel: SimulatedKernel, name: str = "sriov-1", guest_mac: MacAddress = GUEST_MAC
) -> FabricHost:
    """A host with one VF guest, vm-<host>, on VF 0 of enp3s0f1 (VLAN 2010), port <host>-vf."""
    set_vf_count(kernel, PF, 7)
    hypervisor = SimulatedHypervisor(kernel)
    nic = GuestNic(f"{name}-vf", guest_mac, NicKind.HOSTDEV, pci_address=VF0, vlan=2010)
    hypervisor.start(GuestSpec(UUID_9, f"vm-{name}", 1, 1024, (nic,)))
    return FabricHost(name, kernel, hypervisor)


@pytest.fixture
def talk_like() -> TalkScene:
    return talk_scene()


def test_guest_endpoints_join_the_guests_nics_with_their_ports_addresses() -> None:
    scene = talk_scene()
    ports = {p.port_id: p for p in scene.fabric.ports}

    endpoints = guest_endpoints(scene.fabric.hosts, ports)

    assert [(e.name, e.attachment, str(e.ip)) for e in endpoints] == [
        ("Instance-0", Attachment.TAP, "10.0.0.4"),
        ("Instance-1", Attachment.VF, "10.0.0.3"),
        ("Instance-2", Attachment.VF, "10.0.0.5"),
    ]
    assert endpoints[1].pci_address == VF0
    assert endpoints[0].device == "br-enp3s0f0"
    assert all(e.host == HOST and e.running for e in endpoints)


def test_an_outside_machine_on_a_tor_access_port_reaches_the_vf_guests() -> None:
    scene = talk_scene()
    fabric = replace(scene.fabric, externals=(ROUTER,))

    result = fabric.ping("router", "Instance-1")

    assert result.reachable, result.reason
    assert [h.place for h in result.legs[0].hops][:3] == [
        "router via its cable to tor port router",
        "wire",
        "tor port router",
    ]
    assert fabric.matrix().failures == ()


def test_a_guest_on_another_network_has_no_router_to_it() -> None:
    scene = talk_scene()
    other = Network("net-2", "other", 2020)
    printer = ExternalHost("printer", "net-2", mac(0x99), ip("10.1.0.9"))
    fabric = replace(scene.fabric, networks=(NETWORK, other), externals=(printer,))

    assert fabric.ping("Instance-1", "printer").reason == (
        "Instance-1 is on network physnet1 and printer on other: there is no router between "
        "them (the fabric carries L2 only)"
    )
    assert fabric.lease("printer").reason == "network other has no DHCP server"


def test_vf_guests_on_two_hosts_meet_through_the_tor() -> None:
    hosts = (
        vf_guest_host(boot("talk-after")),
        vf_guest_host(boot("talk-after"), "sriov-2", mac(0x11)),
    )
    ports = (
        PortAddress("sriov-1-vf", NETWORK.id, mac(0x10), ip("10.0.0.11")),
        PortAddress("sriov-2-vf", NETWORK.id, mac(0x11), ip("10.0.0.12")),
    )
    fabric = Fabric(hosts, (NETWORK,), ports)

    result = fabric.ping("vm-sriov-1", "vm-sriov-2")

    assert result.reachable, result.reason
    assert "tor port sriov-2/enp3s0f1" in [h.place for h in result.legs[2].hops]


def test_a_vf_guest_reaches_an_ovs_guest_on_another_hosts_vf_pf_without_an_fdb_entry() -> None:
    # Only the VF's own PF needs the FDB entry: from the wire, the OVS uplink is promiscuous.
    remote = talk_scene(ovs_on_sriov_pf=True)
    local = vf_guest_host(boot("talk-after"), "sriov-2")
    ports = (
        *remote.fabric.ports,
        PortAddress("sriov-2-vf", NETWORK.id, mac(0x10), ip("10.0.0.20")),
    )
    fabric = replace(remote.fabric, hosts=(*remote.fabric.hosts, local), ports=ports)

    assert fabric.ping("vm-sriov-2", "Instance-3").reachable


def test_a_whole_pf_guest_owns_its_tor_cable_and_needs_an_access_port() -> None:
    kernel = boot("talk-after")
    host = vf_guest_host(kernel)
    nic = GuestNic("whole", mac(0x20), NicKind.HOSTDEV_PF, pci_address=WHOLE_PF)
    host.hypervisor.start(GuestSpec(UUID_8, "Passthru", 1, 1024, (nic,)))
    ports = (
        PortAddress("sriov-1-vf", NETWORK.id, mac(0x10), ip("10.0.0.11")),
        PortAddress("whole", NETWORK.id, mac(0x20), ip("10.0.0.12")),
    )
    cables = (Cable("enp3s0f0", "sw-5", access_vlan=2010), Cable(PF, "sw-6"))
    access = Fabric((replace(host, cables=cables),), (NETWORK,), ports)
    trunk = Fabric((host,), (NETWORK,), ports)

    result = access.ping("Passthru", "vm-sriov-1")
    assert result.reachable, result.reason
    assert [h.place for h in result.legs[0].hops][:3] == [
        "Passthru via whole PF enp3s0f0 (sriov-1)",
        "wire",
        "tor port sw-5",
    ]
    assert trunk.ping("vm-sriov-1", "Passthru").reason.startswith(
        "dropped at Passthru: the frame arrives tagged (on VLAN 2010, set by the port VLAN of "
        "VF 0 of enp3s0f1 (sriov-1)) and Passthru has no VLAN interface for it"
    )


def test_a_macvtap_guest_rides_its_vf_with_its_own_mac() -> None:
    kernel = boot("talk-after", blacklist=frozenset())  # ixgbevf gives the VFs netdevs
    host = vf_guest_host(kernel)
    nic = GuestNic("tap", mac(0x30), NicKind.MACVTAP, source_dev="enp3s0f1v2")
    host.hypervisor.start(GuestSpec(UUID_8, "Macvtap", 1, 1024, (nic,)))
    set_vf_config(kernel, PF, 2, VFConfigChange(vlan=VlanTag(2010)))  # the agent's binding
    ports = (
        PortAddress("sriov-1-vf", NETWORK.id, mac(0x10), ip("10.0.0.11")),
        PortAddress("tap", NETWORK.id, mac(0x30), ip("10.0.0.13")),
    )
    fabric = Fabric((host,), (NETWORK,), ports)

    assert fabric.ping("Macvtap", "vm-sriov-1").reachable
    vf2 = next(n for n in fabric.nics() if n.pf == PF).vf(2)
    assert vf2 is not None and vf2.mac == mac(0x30)


# ----------------------------------------------------------------- plugs that go nowhere


def test_a_guest_on_a_bridge_the_host_lacks_is_unplugged(talk_like: TalkScene) -> None:
    nic = GuestNic("lost", mac(0x40), NicKind.BRIDGE, bridge="br-int")
    talk_like.hypervisor.start(GuestSpec(UUID_9, "Lost", 1, 1024, (nic,)))
    ports = (*talk_like.fabric.ports, PortAddress("lost", NETWORK.id, mac(0x40), ip("10.0.0.40")))

    result = replace(talk_like.fabric, ports=ports).ping("Instance-1", "Lost")

    assert result.reason == (
        "Lost's port lost is plugged into br-int, which sriov-1 does not have (its OVS bridges: "
        "br-enp3s0f0)"
    )


def test_a_guest_on_a_vf_the_host_lacks_is_unplugged() -> None:
    hypervisor = SimulatedHypervisor()  # no kernel: nothing checks the VF exists
    nic = GuestNic("ghost", mac(0x50), NicKind.HOSTDEV, pci_address=VF0, vlan=2010)
    hypervisor.start(GuestSpec(UUID_9, "Ghost", 1, 1024, (nic,)))
    ports = (PortAddress("ghost", NETWORK.id, mac(0x50), ip("10.0.0.50")),)
    fabric = Fabric((FabricHost(HOST, boot("talk-after"), hypervisor),), (NETWORK,), ports)

    assert fabric.lease("Ghost").reason == (
        "Ghost's port ghost is on VF 0000:04:10.1, which sriov-1 does not have"
    )


def test_a_pf_without_a_cable_drops_what_goes_to_the_wire(talk_like: TalkScene) -> None:
    host = replace(talk_like.fabric.hosts[0], cables=(Cable("enp3s0f0", "sw-5"),))
    fabric = replace(talk_like.fabric, hosts=(host,))

    assert fabric.ping("Instance-1", "Instance-0").reason == (
        "dropped: enp3s0f1 (sriov-1) is not cabled to the ToR"
    )
    assert fabric.ping("Instance-1", "Instance-2").reachable  # inside the NIC


# ----------------------------------------------------------------------- names and checks


def test_a_name_shared_by_several_endpoints_must_be_narrowed_to_a_port(
    talk_like: TalkScene,
) -> None:
    nic = GuestNic("second", mac(0x60), NicKind.BRIDGE, bridge="br-enp3s0f0")
    talk_like.hypervisor.attach_nic(INSTANCE_1.uuid, nic)
    ports = (*talk_like.fabric.ports, PortAddress("second", NETWORK.id, mac(0x60), ip("10.0.0.60")))
    fabric = replace(talk_like.fabric, ports=ports)

    with pytest.raises(
        InvalidInput, match="names several endpoints; pick a port: physnet1-vf1, second"
    ):
        fabric.endpoint("Instance-1")
    assert fabric.ping("second", "physnet1-vf1").reachable
    assert "Instance-1 (second)" in fabric.matrix().names


def test_an_unknown_endpoint_is_refused_with_the_known_names(talk_like: TalkScene) -> None:
    with pytest.raises(NotFound, match="known: Instance-0, Instance-1, Instance-2, qdhcp-"):
        talk_like.fabric.trace("Instance-1", "Instance-7")


def test_inputs_that_contradict_each_other_are_refused(talk_like: TalkScene) -> None:
    fabric = talk_like.fabric
    stray = PortAddress("p", "no-such-net", mac(1), ip("10.0.0.9"))
    with pytest.raises(InvalidInput, match=r"ports\[p\].network_id: must be one of"):
        replace(fabric, ports=(stray,))
    bad_dhcp = replace(fabric.dhcp_servers[0], bridge="br-int")
    with pytest.raises(InvalidInput, match=r"\.bridge: must be one of br-enp3s0f0"):
        replace(fabric, dhcp_servers=(bad_dhcp,))
    clash = replace(ROUTER, tor_port="sriov-1/enp3s0f1")
    with pytest.raises(InvalidInput, match="ToR ports: each must be unique"):
        replace(fabric, externals=(clash,))
    with pytest.raises(InvalidInput, match="must be 1-4094"):
        Network("n", "n", 5000)
    twin = DhcpServer(NETWORK.id, mac(2), ip("10.0.0.8"), HOST, "br-enp3s0f0", "other-dhcp")
    with pytest.raises(InvalidInput, match=r"dhcp_servers\.network_id: each must be unique"):
        replace(fabric, dhcp_servers=(*fabric.dhcp_servers, twin))
