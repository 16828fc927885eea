"""What the fabric is told: hosts, their bridges and cables, networks, addresses, DHCP servers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.ipam import Address
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.simulated import SimulatedHypervisor

VLAN_RANGE = range(1, 4095)


def _check_vlan(where: str, vlan: int | None) -> None:
    if vlan is not None and vlan not in VLAN_RANGE:
        raise InvalidInput(where, "must be 1-4094, or None for untagged", vlan)


@dataclass(frozen=True, slots=True)
class Network:
    """A network as the control plane knows it; ``vlan`` is its segmentation ID, None when flat."""

    id: str
    name: str
    vlan: int | None = None

    def __post_init__(self) -> None:
        _check_vlan(f"networks[{self.id}].vlan", self.vlan)


@dataclass(frozen=True, slots=True)
class PortAddress:
    """A port's place on a network as the control plane knows it (a Neutron port's fixed IP)."""

    port_id: str
    network_id: str
    mac: MacAddress
    ip: Address


@dataclass(frozen=True, slots=True)
class Cable:
    """A PF's cable to a ToR port: a VLAN trunk, or an access port of ``access_vlan``."""

    pf: str
    tor_port: str
    access_vlan: int | None = None

    def __post_init__(self) -> None:
        _check_vlan(f"cables[{self.pf}].access_vlan", self.access_vlan)


@dataclass(frozen=True, slots=True, eq=False)
class FabricHost:
    """A simulated host: its kernel and hypervisor, its OVS bridges and its cables.

    ``bridges`` maps an Open vSwitch bridge to the PF netdev that is its uplink (the talk's
    br-enp3s0f0 on enp3s0f0). ``cables`` None cables every PF to a trunk port ``<host>/<pf>``.
    """

    name: str
    kernel: SimulatedKernel
    hypervisor: SimulatedHypervisor
    bridges: Mapping[str, str] = field(default_factory=dict)
    cables: tuple[Cable, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bridges", MappingProxyType(dict(self.bridges)))
        if self.cables is not None:
            object.__setattr__(self, "cables", tuple(self.cables))
            pfs = [c.pf for c in self.cables]
            twice = sorted({pf for pf in pfs if pfs.count(pf) > 1})
            if twice:
                raise InvalidInput(f"hosts[{self.name}].cables", "one cable per PF", twice)

    def cable(self, pf: str) -> Cable | None:
        """The cable of PF ``pf``, or None when it is not cabled."""
        if self.cables is None:
            return Cable(pf, f"{self.name}/{pf}")
        return next((c for c in self.cables if c.pf == pf), None)

    def bridge_on(self, pf: str) -> str | None:
        """The OVS bridge whose uplink is ``pf``, if any."""
        return next((b for b, uplink in sorted(self.bridges.items()) if uplink == pf), None)


@dataclass(frozen=True, slots=True)
class DhcpServer:
    """A network's DHCP server: a namespace plugged into an OVS bridge, like the talk's qdhcp-..."""

    network_id: str
    mac: MacAddress
    ip: Address
    host: str
    bridge: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"qdhcp-{self.network_id}"


@dataclass(frozen=True, slots=True)
class ExternalHost:
    """A machine outside the cloud on a ToR access port of one network's VLAN."""

    name: str
    network_id: str
    mac: MacAddress
    ip: Address
    tor_port: str = ""

    @property
    def port(self) -> str:
        return self.tor_port or self.name
