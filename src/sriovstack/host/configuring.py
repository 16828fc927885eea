"""Apply VF configs: check them against the NIC, write only what differs, read back to verify.

Several VFs of one PF go as a batch: one read of the PF, the writes, then one read-back for
all of them, so that configuring N VFs costs one PF read instead of N (an E810 port's 128 VFs
made every per-VF read a read of 128). One VF, as ``host vf set`` asks, is a batch of one.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TypeAlias

from sriovstack.domain.errors import (
    Conflict,
    FilterTableFull,
    InvalidInput,
    KernelError,
    SriovstackError,
    VerificationFailed,
)
from sriovstack.domain.inventory import PFEntry
from sriovstack.domain.observed import FdbEntry, ObservedVF
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


VfOutcome: TypeAlias = VfConfigResult | SriovstackError
"""What a batch says for one VF: its result, or why it was refused or failed."""


@dataclass(frozen=True, slots=True)
class _Written:
    """A VF the batch wrote (or found already right): what it must read back as."""

    wanted: VFConfig
    changed: tuple[str, ...]


def set_vf_config(kernel: Kernel, ref: str, index: int, change: VFConfigChange) -> VfConfigResult:
    """Apply the given settings to VF ``index`` of PF ``ref``; others stay as they are."""
    outcome = set_vf_configs(kernel, ref, {index: change})[index]
    if isinstance(outcome, SriovstackError):
        raise outcome
    return outcome


def set_vf_configs(
    kernel: Kernel, ref: str, changes: Mapping[int, VFConfigChange]
) -> dict[int, VfOutcome]:
    """Apply settings to several VFs of PF ``ref`` (by VF index) with one PF read, the writes
    that differ, and one read-back to verify them all.

    Every VF gets its own outcome, in the order given: one refused by a check, or failed in the
    kernel (what it applied undone), leaves the others to go on.
    """
    try:
        pf = find_pf(kernel, ref)
    except SriovstackError as exc:
        return {index: exc for index in changes}  # each VF fails as it would alone
    observed = _Observed(kernel, pf)
    outcomes: dict[int, VfOutcome] = {}
    written: dict[int, _Written] = {}
    for index, change in changes.items():
        try:
            written[index] = _write(observed, index, change)
        except SriovstackError as exc:
            outcomes[index] = exc
    outcomes.update(_read_back(kernel, pf, written))
    return {index: outcomes[index] for index in changes}


def reset_vf(kernel: Kernel, ref: str, index: int) -> VfConfigResult:
    """Return a VF to clean: MAC zero, VLAN 0, spoof check on, trust off, link auto, no rates."""
    full = VFConfigChange(**{name: getattr(CLEAN, name) for name in SETTINGS})
    return set_vf_config(kernel, ref, index, full)


class _Observed:
    """The PF as read at the start of a batch, with the batch's writes applied to it.

    A later VF's checks must see the earlier ones' writes (a MAC or a VLAN takes a filter table
    entry), which re-reading the PF per VF used to give. A VF that failed stays as read: what it
    applied was undone (were the undo to fail as well, a later check might count one entry too
    few, and the kernel's own refusal would still stand).
    """

    def __init__(self, kernel: Kernel, pf: PFEntry) -> None:
        self.kernel = kernel
        self.pf = pf
        self._fdb: list[FdbEntry] | None = None

    def fdb(self) -> list[FdbEntry]:
        """The PF's FDB entries; VF settings never change them, so one dump serves the batch."""
        if self._fdb is None:
            self._fdb = self.kernel.fdb_list(self.pf.netdev or "")
        return self._fdb

    def wrote(self, config: ObservedVF) -> None:
        vfs = tuple(
            replace(v, config=config) if v.index == config.index else v for v in self.pf.vfs
        )
        self.pf = replace(self.pf, vfs=vfs)


def _write(observed: _Observed, index: int, change: VFConfigChange) -> _Written:
    """Check one VF's settings and write those that differ from what the batch observed."""
    pf = observed.pf
    vf = find_vf(pf, index)
    if pf.netdev is None or vf.config is None:
        raise Conflict(f"{pf.name}: VF configs are unavailable ({pf.vf_config_note})")
    wanted = _merge(vf.config.config(), change)
    _check_against_nic(observed.fdb, pf, vf.config, wanted, change)
    todo = differing(vf.config, wanted)
    if todo:
        _set(observed.kernel, pf, index, vf.config, todo)
        observed.wrote(_holding(index, wanted))
    return _Written(wanted, tuple(todo))


def _holding(index: int, wanted: VFConfig) -> ObservedVF:
    """A VF as the kernel holds it once a write went in: every setting that differed (the
    unreported ones too) was written, and the others already matched."""
    return ObservedVF(
        index=index,
        mac=wanted.mac,
        vlan=wanted.vlan,
        spoofchk=wanted.spoofchk,
        trust=wanted.trust,
        link_state=wanted.link_state,
        rate=wanted.rate,
    )


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
    fdb: Callable[[], list[FdbEntry]],
    pf: PFEntry,
    observed: ObservedVF,
    wanted: VFConfig,
    change: VFConfigChange,
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
        use = mac_table(pf, fdb())
        if use.full and use.capacity is not None:
            raise FilterTableFull(pf.name, "unicast MAC", use.capacity)
    new_vlan = wanted.vlan.vlan
    if new_vlan and new_vlan != observed.vlan.vlan:
        use = vlan_table(pf)
        in_table = any(v.config and v.config.vlan.vlan == new_vlan for v in pf.vfs)
        if use.full and not in_table and use.capacity is not None:
            raise FilterTableFull(pf.name, "VLAN", use.capacity)


def _set(
    kernel: Kernel, pf: PFEntry, index: int, observed: ObservedVF, todo: dict[str, object]
) -> None:
    """One RTM_SETLINK; on a refusal, undo what the kernel applied before it stopped."""
    assert pf.netdev is not None
    try:
        kernel.set_vf(pf.netdev, index, **todo)  # type: ignore[arg-type]
    except KernelError as exc:
        _roll_back(kernel, pf.netdev, index, observed)
        full = _table_full(kernel, pf, index, exc, todo)
        if full is None:
            raise
        raise full from exc


def _read_back(
    kernel: Kernel, pf: PFEntry, written: Mapping[int, _Written]
) -> dict[int, VfOutcome]:
    """Verify every VF the batch wrote with one RTM_GETLINK of the PF."""
    if not written:
        return {}
    assert pf.netdev is not None  # a VF is only written when its PF has a netdev
    try:
        after = {vf.index: vf for vf in kernel.link(pf.netdev).vfs}
    except KernelError as exc:
        return {index: exc for index in written}
    return {index: _verified(pf, index, after.get(index), done) for index, done in written.items()}


def _verified(pf: PFEntry, index: int, after: ObservedVF | None, done: _Written) -> VfOutcome:
    if after is None:
        return VerificationFailed(f"{pf.netdev}: VF {index} is missing from the kernel's VF list")
    left = {
        k: v for k, v in differing(after, done.wanted).items() if getattr(after, k) is not None
    }  # a setting the driver does not report is unverifiable
    if left:
        return VerificationFailed(
            f"{pf.name} VF {index}: the kernel accepted {', '.join(done.changed)} but reads back "
            f"other values for {', '.join(left)}"
        )
    return VfConfigResult(pf=pf.name, index=index, changed=done.changed, after=after.config())


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
