"""What a host's agent must do to its VFs: the wanted config of each VF bound to a port, and the
plan (configure, reset) that takes the observed VFs there, writing only what differs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.vfconfig import CLEAN, LinkState, TxRate, VFConfig, VFConfigChange, VlanTag

VfKey = tuple[PciAddress, int]  # (PF address, VF index)


@dataclass(frozen=True, slots=True)
class BoundPort:
    """A port bound to one VF of this host, with what its VF must carry (Neutron's rules)."""

    port_id: str
    pf: PciAddress
    vf_index: int
    mac: MacAddress
    vlan: int  # the network's segmentation ID; 0 for a flat network
    admin_state_up: bool = True
    port_security_enabled: bool = True
    trusted: bool = False
    propagate_uplink_status: bool = False
    max_kbps: int | None = None
    min_kbps: int | None = None

    @property
    def key(self) -> VfKey:
        return (self.pf, self.vf_index)


@dataclass(frozen=True, slots=True)
class Configure:
    """Change a VF bound to a port: only the settings that differ; ``drift`` when it had been
    right before (someone changed it by hand)."""

    port_id: str
    pf: PciAddress
    vf_index: int
    change: VFConfigChange
    drift: bool = False


@dataclass(frozen=True, slots=True)
class Reset:
    """Return a VF no port holds to clean (MAC zero, VLAN 0, trust off, spoof check on, ...)."""

    pf: PciAddress
    vf_index: int
    change: VFConfigChange


Action = Configure | Reset


def wanted_config(port: BoundPort) -> VFConfig:
    """The VF config a bound port asks for.

    MAC = the port's; VLAN = the segment; spoof check follows port security; link state: an
    administratively down port disables its VF (that wins), a port propagating the uplink's state
    leaves the VF on auto, any other up port enables it; trust from binding:profile; the QoS
    rates rounded up to whole Mbit/s, since the NIC takes nothing finer.
    """
    if not port.admin_state_up:
        link = LinkState.DISABLE
    elif port.propagate_uplink_status:
        link = LinkState.AUTO
    else:
        link = LinkState.ENABLE
    return VFConfig(
        mac=port.mac,
        vlan=VlanTag(port.vlan),
        spoofchk=port.port_security_enabled,
        trust=port.trusted,
        link_state=link,
        rate=TxRate(min_mbps=_mbps(port.min_kbps), max_mbps=_mbps(port.max_kbps)),
    )


def difference(current: VFConfig, wanted: VFConfig) -> VFConfigChange:
    """The settings of ``wanted`` that ``current`` lacks (empty when they agree)."""
    changes = {
        f.name: getattr(wanted, f.name)
        for f in fields(VFConfig)
        if getattr(current, f.name) != getattr(wanted, f.name)
    }
    return VFConfigChange(**changes)


def plan_vfs(
    bound: Sequence[BoundPort],
    observed: Mapping[VfKey, VFConfig],
    *,
    managed: Sequence[VfKey],
    verified: Mapping[VfKey, VFConfig] | None = None,
) -> tuple[Action, ...]:
    """The actions that take the observed VFs to the wanted ones, in PF and VF order.

    ``managed`` are the VFs this agent offers (its device specs); a managed VF that no port
    holds must be clean. ``verified`` is what the agent last applied and read back, so that a
    VF that was right and now differs is reported as drift. Bound VFs missing from ``observed``
    (gone from the host) get no action: the report says they are missing.
    """
    seen: dict[VfKey, BoundPort] = {}
    for port in bound:
        if port.key in seen:
            other = seen[port.key]
            raise InvalidInput(
                "bindings",
                f"ports {other.port_id} and {port.port_id} are bound to the same VF "
                f"{port.vf_index} of {port.pf}",
            )
        seen[port.key] = port
    actions: list[Action] = []
    for key in sorted(set(observed) & (set(seen) | set(managed)), key=_order):
        current = observed[key]
        holder = seen.get(key)
        if holder is None:
            change = difference(current, CLEAN)
            if not change.is_empty:
                actions.append(Reset(key[0], key[1], change))
            continue
        wanted = wanted_config(holder)
        change = difference(current, wanted)
        if change.is_empty:
            continue
        drift = verified is not None and verified.get(key) == wanted
        actions.append(Configure(holder.port_id, key[0], key[1], change, drift=drift))
    return tuple(actions)


def _mbps(kbps: int | None) -> int:
    if kbps is None or kbps == 0:
        return 0
    if kbps < 0:
        raise InvalidInput("qos", "rates must be 0 or more kbit/s", kbps)
    return math.ceil(kbps / 1000)


def _order(key: VfKey) -> tuple[str, int]:
    return (str(key[0]), key[1])
