"""Writing a host's inventory report into the store's hosts, PFs and VFs, as Nova's resync does.

New VFs come in available; a free VF that vanished is deleted; a claimed or allocated one becomes
removed, keeps its owner and goes when it is released; a held VF keeps the facts it was claimed
with. Reporting the same inventory again changes nothing but the heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.devspec import TagValue
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.reporting import CapabilityValue, nic_capabilities
from sriovstack.store.tables import (
    FREE_STATES,
    HELD_STATES,
    HostRow,
    PhysicalFunctionRow,
    VFState,
    VirtualFunctionRow,
)


class VFFacts(Protocol):
    """What the store keeps of a VF (an observed VFEntry or an agent's ReportedVF)."""

    @property
    def index(self) -> int: ...
    @property
    def address(self) -> PciAddress: ...


class PFFacts(Protocol):
    """What the store keeps of a PF (an observed PFEntry or an agent's ReportedPF)."""

    @property
    def address(self) -> PciAddress: ...
    @property
    def vendor_id(self) -> int: ...
    @property
    def device_id(self) -> int: ...
    @property
    def vf_device_id(self) -> int: ...
    @property
    def netdev(self) -> str | None: ...
    @property
    def numa_node(self) -> int | None: ...
    @property
    def total_vfs(self) -> int: ...
    @property
    def vfs(self) -> Sequence[VFFacts]: ...


@dataclass(frozen=True, slots=True)
class InventoryChanges:
    """What an upsert changed, by PCI address of the PF or VF; all empty when nothing did."""

    added: tuple[PciAddress, ...] = ()  # new to the store
    updated: tuple[PciAddress, ...] = ()  # facts changed
    deleted: tuple[PciAddress, ...] = ()  # vanished while free: the row is gone
    removed: tuple[PciAddress, ...] = ()  # vanished while held: kept as removed until released

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.deleted or self.removed)


@dataclass(slots=True)
class _Changes:
    added: list[PciAddress] = field(default_factory=list)
    updated: list[PciAddress] = field(default_factory=list)
    deleted: list[PciAddress] = field(default_factory=list)
    removed: list[PciAddress] = field(default_factory=list)

    def frozen(self) -> InventoryChanges:
        return InventoryChanges(
            tuple(self.added), tuple(self.updated), tuple(self.deleted), tuple(self.removed)
        )


def upsert_inventory(
    session: Session,
    host: str,
    inventory: HostInventory,
    *,
    now: datetime,
    physnets: Mapping[PciAddress, str] | None = None,
) -> InventoryChanges:
    """Make the rows of ``host`` match ``inventory`` and record ``now`` as its heartbeat.

    ``physnets`` names the physical network of each PF by its PCI address (from the device
    spec or device mappings); a PF not in it has none. The host row is made on first report.
    Each PF's capabilities come from the NIC catalogue, as an agent's report carries them.
    """
    capabilities = {pf.address: dict(nic_capabilities(pf.model)) for pf in inventory.pfs}
    return upsert_pfs(
        session, host, inventory.pfs, now=now, physnets=physnets, capabilities=capabilities
    )[1]


def upsert_pfs(
    session: Session,
    host: str,
    pfs: Sequence[PFFacts],
    *,
    now: datetime,
    physnets: Mapping[PciAddress, str | None] | None = None,
    tags: Mapping[PciAddress, Mapping[str, TagValue]] | None = None,
    offered_whole: frozenset[PciAddress] = frozenset(),
    capabilities: Mapping[PciAddress, Mapping[str, CapabilityValue]] | None = None,
) -> tuple[HostRow, InventoryChanges]:
    """``upsert_inventory`` for PFs of any source, with each PF's pool tags, whether the PF
    itself is offered (type-PF) and its NIC capabilities; the host row comes back for the
    caller's further updates."""
    host_row = _host_row(session, host)
    host_row.last_heartbeat = now
    changes = _Changes()
    stored = {row.address: row for row in host_row.pfs}
    for pf in pfs:
        physnet = (physnets or {}).get(pf.address)
        extra = _pf_extra(
            (tags or {}).get(pf.address, {}),
            pf.address in offered_whole,
            (capabilities or {}).get(pf.address, {}),
        )
        row = stored.pop(str(pf.address), None)
        if row is None:
            host_row.pfs.append(_new_pf(pf, physnet, extra, changes))
        else:
            _sync_pf(row, pf, physnet, extra, changes)
    for row in stored.values():  # PFs that vanished
        if _sync_vfs(row, {}, changes):
            row.version += 1
        if not row.vfs:
            host_row.pfs.remove(row)
            changes.deleted.append(PciAddress.parse(row.address))
    session.flush()
    return host_row, changes.frozen()


def _host_row(session: Session, name: str) -> HostRow:
    query = (
        select(HostRow)
        .where(HostRow.name == name)
        .options(selectinload(HostRow.pfs).selectinload(PhysicalFunctionRow.vfs))
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        row = HostRow(name=name)
        session.add(row)
    return row


def _pf_extra(
    tags: Mapping[str, TagValue],
    offered_whole: bool,
    capabilities: Mapping[str, CapabilityValue],
) -> dict[str, object]:
    return {
        "tags": {k: None if v is None else str(v) for k, v in sorted(tags.items())},
        "offered_whole": offered_whole,
        "capabilities": dict(sorted(capabilities.items())),
    }


def _pf_columns(pf: PFFacts, physnet: str | None) -> dict[str, object]:
    return {
        "vendor_id": pf.vendor_id,
        "device_id": pf.device_id,
        "vf_device_id": pf.vf_device_id,
        "netdev": pf.netdev,
        "physnet": physnet,
        "numa_node": pf.numa_node,
        "total_vfs": pf.total_vfs,
    }


def _new_pf(
    pf: PFFacts, physnet: str | None, extra: dict[str, object], changes: _Changes
) -> PhysicalFunctionRow:
    row = PhysicalFunctionRow(
        address=str(pf.address), version=1, **_pf_columns(pf, physnet), **extra
    )
    changes.added.append(pf.address)
    _sync_vfs(row, {vf.index: vf for vf in pf.vfs}, changes)
    return row


def _sync_pf(
    row: PhysicalFunctionRow,
    pf: PFFacts,
    physnet: str | None,
    extra: dict[str, object],
    changes: _Changes,
) -> None:
    changed = False
    for name, value in {**_pf_columns(pf, physnet), **extra}.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        changes.updated.append(pf.address)
    if _sync_vfs(row, {vf.index: vf for vf in pf.vfs}, changes) or changed:
        row.version += 1


def _sync_vfs(pf: PhysicalFunctionRow, present: dict[int, VFFacts], changes: _Changes) -> bool:
    """Bring the PF's VF rows in line with the VFs ``present``; whether any row changed."""
    changed = False
    for row in list(pf.vfs):
        vf = present.pop(row.vf_index, None)
        if vf is None:
            changed |= _vanish(pf, row, changes)
        elif row.state in FREE_STATES and row.address != str(vf.address):
            row.address = str(vf.address)
            changes.updated.append(vf.address)
            changed = True
        elif row.state is VFState.REMOVED and row.address == str(vf.address):
            # Back while still held (a VF count restored, a driver reloaded): its owner keeps
            # it, as claimed until its agent confirms the guest uses it again.
            row.state = VFState.CLAIMED
            changes.updated.append(vf.address)
            changed = True
    for index in sorted(present):
        vf = present[index]
        pf.vfs.append(
            VirtualFunctionRow(vf_index=index, address=str(vf.address), state=VFState.AVAILABLE)
        )
        changes.added.append(vf.address)
        changed = True
    return changed


def _vanish(pf: PhysicalFunctionRow, row: VirtualFunctionRow, changes: _Changes) -> bool:
    address = PciAddress.parse(row.address)
    if row.state in FREE_STATES:
        pf.vfs.remove(row)
        changes.deleted.append(address)
        return True
    if row.state in HELD_STATES:
        row.state = VFState.REMOVED
        changes.removed.append(address)
        return True
    return False  # already removed
