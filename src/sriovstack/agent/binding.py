"""Reading the desired state's servers and ports: the VF each bound port holds, and the guest
(NICs by port binding) each server must run as."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.reconciling import BoundPort, VfKey
from sriovstack.domain.vfconfig import VFConfig
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind

VF_VIF_TYPES = ("hw_veb",)  # ports whose VF the agent configures (direct, macvtap, ...)
LIVE = ("BUILD", "ACTIVE")  # server states whose guests should run here
DEFAULT_BRIDGE = "br-int"  # where normal ports plug in, when nothing better is known


def observed_configs(inventory: HostInventory) -> dict[VfKey, VFConfig]:
    """Each VF's config as the host reports it, by (PF address, VF index)."""
    return {
        (pf.address, vf.index): vf.config.config()
        for pf in inventory.pfs
        for vf in pf.vfs
        if vf.config is not None
    }


def bound_ports(server: Mapping[str, Any], *, detaching: bool = False) -> list[BoundPort]:
    """The server's ports bound to a VF of this host, read from their bindings; ports being
    detached count only with ``detaching`` (their VFs are on their way back to clean)."""
    ports = []
    for port in server["ports"]:
        profile = port.get("profile") or {}
        if port["vif_type"] not in VF_VIF_TYPES or "pf_address" not in profile:
            continue
        if port.get("detaching") and not detaching:
            continue
        details = port.get("vif_details") or {}
        ports.append(
            BoundPort(
                port_id=port["id"],
                pf=PciAddress.parse(profile["pf_address"]),
                vf_index=int(profile["vf_num"]),
                mac=MacAddress.parse(port["mac_address"]),
                vlan=int(details.get("vlan", 0)),
                admin_state_up=bool(port["admin_state_up"]),
                port_security_enabled=bool(port["port_security_enabled"]),
                trusted=profile.get("trusted") is True,
                propagate_uplink_status=bool(port.get("propagate_uplink_status", False)),
                max_kbps=port.get("qos_max_kbps"),
                min_kbps=port.get("qos_min_kbps"),
            )
        )
    return ports


def guest_spec(
    server: Mapping[str, Any], ports: Sequence[Mapping[str, Any]], inventory: HostInventory
) -> GuestSpec:
    """The guest a server runs as, with one NIC per port in the binding's order."""
    return GuestSpec(
        uuid=str(server["id"]),
        name=str(server["name"]),
        vcpus=int(server["vcpus"]),
        memory_mib=int(server["memory_mib"]),
        nics=tuple(guest_nic(port, inventory) for port in ports),
    )


def guest_nic(port: Mapping[str, Any], inventory: HostInventory) -> GuestNic:
    """A port's NIC: a VF passed through (direct), its netdev (macvtap), a whole PF
    (direct-physical), or a plug into the host's switch (normal)."""
    mac = MacAddress.parse(port["mac_address"])
    port_id = str(port["id"])
    profile = port.get("profile") or {}
    vlan = int((port.get("vif_details") or {}).get("vlan", 0)) or None
    if port["vif_type"] == "hostdev_physical":
        address = PciAddress.parse(profile["pci_slot"])
        return GuestNic(port_id, mac, NicKind.HOSTDEV_PF, pci_address=address)
    if port["vif_type"] in VF_VIF_TYPES:
        address = PciAddress.parse(profile["pci_slot"])
        if port["vnic_type"] == "macvtap":
            netdev = _vf_netdev(inventory, address)
            return GuestNic(port_id, mac, NicKind.MACVTAP, vlan=vlan, source_dev=netdev)
        return GuestNic(port_id, mac, NicKind.HOSTDEV, pci_address=address, vlan=vlan)
    return GuestNic(port_id, mac, NicKind.BRIDGE, bridge=DEFAULT_BRIDGE)


def _vf_netdev(inventory: HostInventory, address: PciAddress) -> str:
    for pf in inventory.pfs:
        for vf in pf.vfs:
            if vf.address == address and vf.netdev:
                return vf.netdev
    raise InvalidInput("binding:profile.pci_slot", f"VF {address} has no netdev for macvtap")
