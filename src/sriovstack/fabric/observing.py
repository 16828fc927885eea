"""Read a simulated host's NICs as their embedded switches act on them.

The fabric reads the simulated NIC's own state rather than the inventory: the hardware acts
on settings its driver may not report (spoof checking on NICs whose get_vf_config leaves it
out), and on MACs the VF drivers registered, which no rtnetlink call shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.model import FabricHost
from sriovstack.fabric.nics import FilterEntry, NicView, VfView
from sriovstack.simulator.devices import SimPF, SimVF
from sriovstack.virt.guests import NicKind


def observe_nics(host: FabricHost) -> tuple[NicView, ...]:
    """Every PF of the host, in PCI address order."""
    macvtaps = _macvtap_macs(host)
    return tuple(
        _observe(host, pf, macvtaps)
        for pf in sorted(host.kernel.pfs.values(), key=lambda p: p.address)
    )


def _macvtap_macs(host: FabricHost) -> dict[str, MacAddress]:
    """VF netdev -> the guest MAC a running macvtap in passthrough mode put on it."""
    return {
        nic.source_dev: nic.mac
        for guest in host.hypervisor.guests()
        if guest.running
        for nic in guest.spec.nics
        if nic.kind is NicKind.MACVTAP and nic.source_dev is not None
    }


def _observe(host: FabricHost, pf: SimPF, macvtaps: Mapping[str, MacAddress]) -> NicView:
    vfs = tuple(_vf(vf, macvtaps) for vf in pf.vfs)
    mac = pf.netdev.mac if pf.netdev is not None else pf.boot.function.mac
    filters, used = _filters(pf, mac, vfs)
    down = "" if pf.carrier else "is down" if pf.netdev is not None else "has no driver bound"
    return NicView(
        host=host.name,
        pf=pf.netdev_name,
        address=pf.address,
        model=pf.model,
        mac=mac,
        up=pf.carrier,
        down_reason=down,
        vfs=vfs,
        filters=filters,
        used=used,
        bridge=host.bridge_on(pf.netdev_name),
    )


def _vf(vf: SimVF, macvtaps: Mapping[str, MacAddress]) -> VfView:
    return VfView(
        index=vf.index,
        address=vf.address,
        mac=_vf_mac(vf, macvtaps),
        vlan=vf.config.vlan.vlan or None,
        spoofchk=vf.config.spoofchk,
        link_state=vf.config.link_state,
        netdev=vf.netdev.ifname if vf.netdev is not None else None,
    )


def _vf_mac(vf: SimVF, macvtaps: Mapping[str, MacAddress]) -> MacAddress:
    """The admin MAC; without one, the MAC the VF's user registered with the PF."""
    if not vf.config.mac.is_zero:
        return vf.config.mac
    if vf.netdev is None:
        return MacAddress.zero()
    # macvtap passthrough moves the guest's MAC onto the VF; otherwise the VF driver's own
    # (random) MAC stands, and it too takes a filter through the PF mailbox.
    return macvtaps.get(vf.netdev.ifname, vf.netdev.mac)


def _filters(
    pf: SimPF, mac: MacAddress, vfs: tuple[VfView, ...]
) -> tuple[tuple[FilterEntry, ...], int]:
    """The filter table in the driver's order, with slots given until the capacity runs out."""
    shared = pf.model.mac_filters_shared
    wanted: list[tuple[FilterEntry, bool]] = [
        (FilterEntry(mac, None, f"PF {pf.netdev_name}"), True)
    ]
    wanted += [
        (FilterEntry(v.mac, v.vlan, f"VF {v.index}", vf=v.index), shared)
        for v in vfs
        if not v.mac.is_zero
    ]
    wanted += [(FilterEntry(m, None, "FDB"), True) for m in pf.fdb if m.is_unicast]
    entries: list[FilterEntry] = []
    used = 0
    for entry, counted in wanted:
        if counted:
            used += 1
        fits = not counted or used <= pf.model.mac_filters
        entries.append(entry if fits else replace(entry, slot=False))
    return tuple(entries), used
