"""Endpoints: guests' NICs (from the hypervisors' guest specs), DHCP namespaces, external hosts."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.domain.ipam import Address
from sriovstack.fabric.model import DhcpServer, ExternalHost, FabricHost, PortAddress
from sriovstack.virt.guests import Guest, GuestNic, NicKind


class Attachment(enum.StrEnum):
    """How an endpoint is plugged into the fabric."""

    VF = "vf"  # a VF passed through (vnic_type direct)
    MACVTAP = "macvtap"  # a macvtap in passthrough mode on a VF's netdev
    WHOLE_PF = "whole-pf"  # a whole PF passed through: the guest owns its ToR cable
    TAP = "tap"  # a virtio NIC on an Open vSwitch bridge (vnic_type normal)
    NAMESPACE = "namespace"  # a network namespace on an OVS bridge (a DHCP server)
    TOR = "tor"  # a machine on a ToR access port


_BY_NIC_KIND = {
    NicKind.HOSTDEV: Attachment.VF,
    NicKind.MACVTAP: Attachment.MACVTAP,
    NicKind.HOSTDEV_PF: Attachment.WHOLE_PF,
    NicKind.BRIDGE: Attachment.TAP,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Something that sends and takes frames, with the address the control plane gave it.

    ``device`` is the macvtap's source netdev, the OVS bridge, or the ToR port; ``pci_address``
    the VF or the whole PF. ``ip`` and ``network_id`` are None when the control plane knows no
    address for the port.
    """

    name: str
    mac: MacAddress
    attachment: Attachment
    host: str | None = None
    port_id: str | None = None
    network_id: str | None = None
    ip: Address | None = None
    pci_address: PciAddress | None = None
    device: str | None = None
    state: str = "running"

    @property
    def key(self) -> str:
        """Unique among endpoints: the port ID, else the namespace's or machine's name."""
        return self.port_id or self.name

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused")


def guest_endpoints(
    hosts: Iterable[FabricHost], ports: Mapping[str, PortAddress]
) -> tuple[Endpoint, ...]:
    """One endpoint per NIC of every guest, joined by port ID with its address, by guest name."""
    return tuple(
        _guest_endpoint(host.name, guest, nic, ports.get(nic.port_id))
        for host in hosts
        for guest in sorted(host.hypervisor.guests(), key=lambda g: (g.spec.name, g.uuid))
        for nic in guest.spec.nics
    )


def _guest_endpoint(
    host: str, guest: Guest, nic: GuestNic, address: PortAddress | None
) -> Endpoint:
    return Endpoint(
        name=guest.spec.name,
        mac=nic.mac,
        attachment=_BY_NIC_KIND[nic.kind],
        host=host,
        port_id=nic.port_id,
        network_id=address.network_id if address else None,
        ip=address.ip if address else None,
        pci_address=nic.pci_address,
        device=nic.source_dev or nic.bridge,
        state=guest.power_state.name.lower(),
    )


def dhcp_endpoint(server: DhcpServer) -> Endpoint:
    return Endpoint(
        name=server.label,
        mac=server.mac,
        attachment=Attachment.NAMESPACE,
        host=server.host,
        network_id=server.network_id,
        ip=server.ip,
        device=server.bridge,
    )


def external_endpoint(machine: ExternalHost) -> Endpoint:
    return Endpoint(
        name=machine.name,
        mac=machine.mac,
        attachment=Attachment.TOR,
        network_id=machine.network_id,
        ip=machine.ip,
        device=machine.port,
    )


def find_endpoint(endpoints: Iterable[Endpoint], ref: str) -> Endpoint:
    """The one endpoint ``ref`` names: a port ID (or namespace or machine name), IP, MAC or name."""
    everyone = list(endpoints)
    for matches in (
        [e for e in everyone if e.key == ref],
        [e for e in everyone if e.ip is not None and str(e.ip) == ref],
        [e for e in everyone if str(e.mac) == ref.lower()],
        [e for e in everyone if e.name == ref],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ports = ", ".join(e.key for e in matches)
            raise InvalidInput("endpoint", f"{ref!r} names several endpoints; pick a port: {ports}")
    known = ", ".join(sorted({e.name for e in everyone}))
    raise NotFound("endpoint", ref, f"name a server, port ID, IP or MAC; known: {known}")
