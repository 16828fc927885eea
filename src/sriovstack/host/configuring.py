"""Apply a VF config: check it against the NIC, write only what differs, read back to verify."""

from __future__ import annotations

import errno
from dataclasses import dataclass, fields

from sriovstack.domain.errors import (
    Conflict,
    FilterTableFull,
    InvalidInput,
    KernelError,
    VerificationFailed,
)
from sriovstack.domain.inventory import PFEntry
from sriovstack.domain.observed import ObservedVF
from sriovstack.domain.vfconfig import CLEAN, VFConfig, VFConfigChange, VlanProto
from sriovstack.host.filters import mac_table, model_of, vlan_table
from sriovstack.host.kernel import Kernel
from sriovstack.host.locating import find_pf, find_vf

SETTINGS = ("mac", "vlan", "spoofchk", "trust", "link_state", "rate")

# How ixgbe (and the simulator after it) says a shared filter table has no free entry. The
# catalogue's table sizes may be larger than a NIC's real ones; the driver's refusal is final.
_TABLE_FULL = {errno.ENOMEM: ("mac", "unicast MAC"), errno.ENOSPC: ("vlan", "VLAN")}


@dataclass(frozen=True, slots=True)
class VfConfigResult:
    """The settings that had to change (empty when the VF already matched) and the VF after."""

    pf: str
    index: int
    changed: tuple[str, ...]
    after: VFConfig


def set_vf_config(kernel: Kernel, ref: str, index: int, change: VFConfigChange) -> VfConfigResult:
    """Apply the given settings to VF ``index`` of PF ``ref``; others stay as they are."""
    pf = find_pf(kernel, ref)
    vf = find_vf(pf, index)
    if pf.netdev is None or vf.config is None:
        raise Conflict(f"{pf.name}: VF configs are unavailable ({pf.vf_config_note})")
    wanted = _merge(vf.config.config(), change)
    _check_against_nic(kernel, pf, vf.config, wanted, change)
    return _apply(kernel, pf, index, vf.config, wanted)


def reset_vf(kernel: Kernel, ref: str, index: int) -> VfConfigResult:
    """Return a VF to clean: MAC zero, VLAN 0, spoof check on, trust off, link auto, no rates."""
    full = VFConfigChange(**{name: getattr(CLEAN, name) for name in SETTINGS})
    return set_vf_config(kernel, ref, index, full)


def _merge(current: VFConfig, change: VFConfigChange) -> VFConfig:
    values = {f.name: getattr(current, f.name) for f in fields(VFConfig)}
    values.update({k: v for k in SETTINGS if (v := getattr(change, k)) is not None})
    return VFConfig(**values)


def differing(observed: ObservedVF, wanted: VFConfig) -> dict[str, object]:
    """The settings whose observed value differs; unreported ones count as differing."""
    seen = {
        "mac": observed.mac,
        "vlan": observed.vlan,
        "spoofchk": observed.spoofchk,
        "trust": observed.trust,
        "link_state": observed.link_state,
        "rate": observed.rate,
    }
    return {k: getattr(wanted, k) for k in SETTINGS if seen[k] != getattr(wanted, k)}


def _check_against_nic(
    kernel: Kernel, pf: PFEntry, observed: ObservedVF, wanted: VFConfig, change: VFConfigChange
) -> None:
    model = model_of(pf)
    if model is None:
        return
    if (
        change.vlan is not None
        and change.vlan.proto is VlanProto.DOT1AD
        and not model.supports_8021ad
    ):
        raise InvalidInput(
            "proto", f"the {model.name} ({model.pf_driver}) takes only 802.1Q port VLANs", "802.1ad"
        )
    rate = wanted.rate
    if change.rate is not None and rate.min_mbps and not model.supports_min_rate:
        raise InvalidInput(
            "min-rate",
            f"the {model.name} ({model.pf_driver}) has no minimum rate; use 0",
            rate.min_mbps,
        )
    if change.rate is not None and rate.max_mbps > model.link_speed_mbps:
        raise InvalidInput(
            "max-rate",
            f"must not exceed the link speed, {model.link_speed_mbps} Mbit/s",
            rate.max_mbps,
        )
    if observed.mac.is_zero and not wanted.mac.is_zero and model.mac_filters_shared:
        use = mac_table(pf, kernel.fdb_list(pf.netdev or ""))
        if use.full and use.capacity is not None:
            raise FilterTableFull(pf.name, "unicast MAC", use.capacity)
    new_vlan = wanted.vlan.vlan
    if new_vlan and new_vlan != observed.vlan.vlan:
        use = vlan_table(pf)
        in_table = any(v.config and v.config.vlan.vlan == new_vlan for v in pf.vfs)
        if use.full and not in_table and use.capacity is not None:
            raise FilterTableFull(pf.name, "VLAN", use.capacity)


def _apply(
    kernel: Kernel, pf: PFEntry, index: int, observed: ObservedVF, wanted: VFConfig
) -> VfConfigResult:
    assert pf.netdev is not None
    todo = differing(observed, wanted)
    if todo:
        try:
            kernel.set_vf(pf.netdev, index, **todo)  # type: ignore[arg-type]
        except KernelError as exc:
            _roll_back(kernel, pf.netdev, index, observed)
            full = _table_full(kernel, pf, index, exc, todo)
            if full is None:
                raise
            raise full from exc
    after = _observe(kernel, pf.netdev, index)
    left = {
        k: v for k, v in differing(after, wanted).items() if getattr(after, k) is not None
    }  # a setting the driver does not report is unverifiable
    if left:
        raise VerificationFailed(
            f"{pf.name} VF {index}: the kernel accepted {', '.join(todo)} but reads back other "
            f"values for {', '.join(left)}"
        )
    return VfConfigResult(pf=pf.name, index=index, changed=tuple(todo), after=after.config())


def _table_full(
    kernel: Kernel, pf: PFEntry, index: int, exc: KernelError, todo: dict[str, object]
) -> FilterTableFull | None:
    """The kernel's refusal as FilterTableFull, sized by the entries in use when it refused."""
    setting, table = _TABLE_FULL.get(exc.errno, ("", ""))
    if setting not in todo:
        return None
    if setting == "vlan":
        others = {v.config.vlan.vlan for v in pf.vfs if v.index != index and v.config}
        return FilterTableFull(pf.name, table, len(others - {0}))
    return FilterTableFull(pf.name, table, mac_table(pf, kernel.fdb_list(pf.netdev or "")).used)


def _observe(kernel: Kernel, ifname: str, index: int) -> ObservedVF:
    link = kernel.link(ifname)
    for vf in link.vfs:
        if vf.index == index:
            return vf
    raise VerificationFailed(f"{ifname}: VF {index} is missing from the kernel's VF list")


def _roll_back(kernel: Kernel, ifname: str, index: int, before: ObservedVF) -> None:
    """The kernel applies VF settings in order and stops at a failure: undo what went in."""
    now = _observe(kernel, ifname, index)
    undo = {
        k: v for k, v in differing(now, before.config()).items() if getattr(before, k) is not None
    }
    if undo:
        kernel.set_vf(ifname, index, **undo)  # type: ignore[arg-type]
