"""The talk's demo as a ready fabric: one X540 host, OVS on enp3s0f0, guests on VFs of enp3s0f1.

As the talk sets it up: 7 VFs on enp3s0f1, physnet1 as VLAN 2010, the qdhcp namespace and
Instance-0 on br-enp3s0f0, Instance-1 and Instance-2 each on a VF. With
``ovs_on_sriov_pf`` a second bridge, br-enp3s0f1, sits on the VFs' own PF with Instance-3
on it: the case Neutron's FDB extension exists for.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.fabric.model import DhcpServer, FabricHost, Network, PortAddress
from sriovstack.fabric.tracing import Fabric
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import HostProfile, load_profile
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind
from sriovstack.virt.simulated import SimulatedHypervisor

HOST = "sriov-1"
NETWORK = Network("19c44e2f-6abf-4f5e-bb93-5665fc9d0d9e", "physnet1", 2010)
OVS_PF, VF_PF = "enp3s0f0", "enp3s0f1"
DHCP = DhcpServer(
    NETWORK.id,
    MacAddress.parse("fa:16:3e:5c:0d:02"),
    ipaddress.ip_address("10.0.0.2"),
    HOST,
    f"br-{OVS_PF}",
)


@dataclass(frozen=True, slots=True)
class SceneGuest:
    """A guest of the scene: its name, UUID, port and addresses."""

    name: str
    uuid: str
    port_id: str
    mac: MacAddress
    ip: str


INSTANCE_0 = SceneGuest(
    "Instance-0", "6c1d9a52-0f3e-4b8a-9c47-2e5d1f0a7b30", "physnet1-ovs0",
    MacAddress.parse("fa:16:3e:3c:9b:20"), "10.0.0.4",
)  # fmt: skip
INSTANCE_1 = SceneGuest(
    "Instance-1", "fe972329-0666-4160-9950-e1f6f79146c5", "physnet1-vf1",
    MacAddress.parse("fa:16:3e:3c:9b:21"), "10.0.0.3",
)  # fmt: skip
INSTANCE_2 = SceneGuest(
    "Instance-2", "0b5d6a38-2f41-4c8e-9d1a-7e3f5c2b9a04", "physnet1-vf2",
    MacAddress.parse("fa:16:3e:3c:9b:22"), "10.0.0.5",
)  # fmt: skip
INSTANCE_3 = SceneGuest(
    "Instance-3", "9a3e1c7d-5b2f-4e60-8d14-3f7a6c0b2e93", "physnet1-ovs3",
    MacAddress.parse("fa:16:3e:3c:9b:23"), "10.0.0.6",
)  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class TalkScene:
    """The simulated host, its hypervisor, and the fabric over them."""

    kernel: SimulatedKernel
    hypervisor: SimulatedHypervisor
    fabric: Fabric


def talk_scene(profile: HostProfile | None = None, *, ovs_on_sriov_pf: bool = False) -> TalkScene:
    """Boot the talk's host (or ``profile``) and start the demo's guests on it."""
    kernel = SimulatedKernel(profile or load_profile("talk-after"))
    set_vf_count(kernel, VF_PF, 7)
    hypervisor = SimulatedHypervisor(kernel)
    vfs = kernel.pfs[next(a for a, pf in kernel.pfs.items() if pf.netdev_name == VF_PF)].vfs
    plugs = [
        (INSTANCE_0, _tap_nic(INSTANCE_0, DHCP.bridge)),
        (INSTANCE_1, _vf_nic(INSTANCE_1, vfs[0].address)),
        (INSTANCE_2, _vf_nic(INSTANCE_2, vfs[1].address)),
    ]
    bridges = {DHCP.bridge: OVS_PF}
    if ovs_on_sriov_pf:
        bridges[f"br-{VF_PF}"] = VF_PF
        plugs.append((INSTANCE_3, _tap_nic(INSTANCE_3, f"br-{VF_PF}")))
    for guest, nic in plugs:
        hypervisor.start(GuestSpec(guest.uuid, guest.name, 1, 2048, (nic,)))
    ports = tuple(
        PortAddress(g.port_id, NETWORK.id, g.mac, ipaddress.ip_address(g.ip)) for g, _ in plugs
    )
    fabric = Fabric(
        hosts=(FabricHost(HOST, kernel, hypervisor, bridges),),
        networks=(NETWORK,),
        ports=ports,
        dhcp_servers=(DHCP,),
    )
    return TalkScene(kernel, hypervisor, fabric)


def _vf_nic(guest: SceneGuest, address: PciAddress) -> GuestNic:
    kind = NicKind.HOSTDEV
    return GuestNic(guest.port_id, guest.mac, kind, pci_address=address, vlan=NETWORK.vlan)


def _tap_nic(guest: SceneGuest, bridge: str) -> GuestNic:
    return GuestNic(guest.port_id, guest.mac, NicKind.BRIDGE, bridge=bridge)
