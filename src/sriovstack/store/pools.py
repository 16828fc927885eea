"""The scheduler's view of the store: device pool counts, candidate hosts found through an index,
and the hosts' states as the domain's scheduling rules read them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.devspec import DevType, TagValue
from sriovstack.domain.pools import PoolKey
from sriovstack.domain.scheduling import FreePool, HostState, NumaCell
from sriovstack.store.tables import (
    HELD_STATES,
    DevicePoolRow,
    HostRow,
    PhysicalFunctionRow,
    VFState,
    VirtualFunctionRow,
)

VF_POOL, PF_POOL = str(DevType.VF), str(DevType.PF)


@dataclass(frozen=True, slots=True)
class PoolDemand:
    """How many free devices of a kind, on a physnet, a boot needs from one host."""

    physnet: str | None
    dev_type: str
    count: int


def recount_pools(session: Session, host: HostRow) -> None:
    """Make the host's pool rows and ``free_devices`` match its PF and VF rows.

    Run after an inventory report and after releases: counts are rebuilt from the device rows,
    so a counter can never drift for longer than one report.
    """
    session.flush()
    existing = {
        (row.pf_id, row.dev_type): row
        for row in session.scalars(select(DevicePoolRow).where(DevicePoolRow.host_id == host.id))
    }
    wanted: dict[tuple[int, str], tuple[int, int]] = {}
    for pf in host.pfs:
        held = sum(1 for vf in pf.vfs if vf.state in HELD_STATES or vf.state is VFState.REMOVED)
        present = [vf for vf in pf.vfs if vf.state is not VFState.REMOVED]
        pf_free = pf.state is VFState.AVAILABLE
        if present:
            free = sum(1 for vf in present if vf.state is VFState.AVAILABLE) if pf_free else 0
            wanted[(pf.id, VF_POOL)] = (free, len(present))
        if pf.offered_whole:
            wanted[(pf.id, PF_POOL)] = (1 if pf_free and held == 0 else 0, 1)
    for key, stale in existing.items():
        if key not in wanted:
            session.delete(stale)
    total_free = 0
    for (pf_id, dev_type), (free, total) in wanted.items():
        pf_row = next(pf for pf in host.pfs if pf.id == pf_id)
        physnet = pf_row.physnet.lower() if pf_row.physnet else None
        row = existing.get((pf_id, dev_type))
        if row is None:
            session.add(
                DevicePoolRow(
                    host_id=host.id,
                    pf_id=pf_id,
                    dev_type=dev_type,
                    physnet=physnet,
                    numa_node=pf_row.numa_node,
                    free=free,
                    total=total,
                )
            )
        else:
            row.physnet, row.numa_node, row.free, row.total = physnet, pf_row.numa_node, free, total
        total_free += free
    host.free_devices = total_free
    session.flush()


def capacity_conditions(ram_mib: int, vcpus: int) -> list[ColumnElement[bool]]:
    """SQL conditions for a host with room for ``ram_mib`` and ``vcpus`` (Nova's ratios)."""
    usable_ram = (HostRow.memory_mib - HostRow.reserved_ram_mib) * HostRow.ram_allocation_ratio
    usable_cpus = HostRow.cpus * HostRow.cpu_allocation_ratio
    return [
        usable_ram - HostRow.used_ram_mib >= ram_mib,
        usable_cpus - HostRow.used_vcpus >= vcpus,
    ]


def candidate_hosts(
    session: Session,
    *,
    demands: Sequence[PoolDemand],
    ram_mib: int,
    vcpus: int,
    availability_zone: str | None,
    alive_since: datetime,
    strategy: str,
    limit: int,
    skip: Collection[int] = (),
    host: str | None = None,
) -> list[int]:
    """IDs of up to ``limit`` hosts that pass the cheap filters, best first for ``strategy``.

    The walk follows an index (free devices of the most demanded pool kind, or the hosts'
    free device count for a boot without devices) and stops after ``limit`` hosts, so its
    cost does not grow with the fleet. The domain's filters and weighers judge the rest.
    A named ``host`` is the only candidate, if it passes.
    """
    host_filters: list[ColumnElement[bool]] = [
        HostRow.enabled.is_(True),
        HostRow.last_heartbeat >= alive_since,
        *capacity_conditions(ram_mib, vcpus),
    ]
    if availability_zone is not None:
        host_filters.append(HostRow.availability_zone == availability_zone)
    if skip:
        host_filters.append(HostRow.id.not_in(list(skip)))
    if host is not None:
        # Found through the unique index on the name, whatever the fleet's size. Its pools
        # are left to the domain's filters: walking the pool index for one host would not be.
        named = select(HostRow.id).where(HostRow.name == host, *host_filters)
        return list(session.scalars(named))
    if not demands:
        # Keep guests without devices off hosts with devices (Nova's PCIWeigher).
        query: Any = (
            select(HostRow.id)
            .where(*host_filters)
            .order_by(HostRow.free_devices.asc(), HostRow.id)
            .limit(limit)
        )
        return list(session.scalars(query))
    demand = max(demands, key=lambda d: d.count)
    physnet_match = (
        DevicePoolRow.physnet.is_(None)
        if demand.physnet is None
        else DevicePoolRow.physnet == demand.physnet.lower()
    )
    # Both keys in one direction, so the (physnet, dev_type, free) index (which ends in the
    # row ID on SQLite) yields rows already in order and the walk stops at the limit.
    if strategy == "spread":
        order = (DevicePoolRow.free.desc(), DevicePoolRow.id.desc())
    else:
        order = (DevicePoolRow.free.asc(), DevicePoolRow.id.asc())
    query = (
        select(DevicePoolRow.host_id)
        .join(HostRow, HostRow.id == DevicePoolRow.host_id)
        .where(
            physnet_match,
            DevicePoolRow.dev_type == demand.dev_type,
            DevicePoolRow.free >= 1,
            and_(*host_filters),
        )
        .order_by(*order)
        .limit(limit * 4)  # several PFs of one host may come first; de-duplicated below
    )
    found: list[int] = []
    for host_id in session.scalars(query):
        if host_id not in found:
            found.append(host_id)
        if len(found) == limit:
            break
    return found


def host_id_named(session: Session, name: str) -> int | None:
    found: int | None = session.scalar(select(HostRow.id).where(HostRow.name == name))
    return found


def all_host_ids(session: Session) -> list[int]:
    return list(session.scalars(select(HostRow.id).order_by(HostRow.name)))


def count_hosts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(HostRow)) or 0)


def host_states(
    session: Session, host_ids: Sequence[int], *, alive_since: datetime
) -> list[tuple[int, HostState]]:
    """The domain's view of each host: usage, NUMA cells and free pools with Nova's pool keys.

    Reads columns, not entities: this runs for every candidate of every boot.
    """
    if not host_ids:
        return []
    host_columns = select(
        HostRow.id,
        HostRow.name,
        HostRow.availability_zone,
        HostRow.enabled,
        HostRow.last_heartbeat,
        HostRow.memory_mib,
        HostRow.reserved_ram_mib,
        HostRow.ram_allocation_ratio,
        HostRow.used_ram_mib,
        HostRow.cpus,
        HostRow.cpu_allocation_ratio,
        HostRow.used_vcpus,
        HostRow.numa_cells,
        HostRow.numa_sockets,
        HostRow.disabled_reason,
    ).where(HostRow.id.in_(list(host_ids)))
    hosts = {row.id: row for row in session.execute(host_columns)}
    pools: dict[int, list[FreePool]] = {host_id: [] for host_id in hosts}
    PF = PhysicalFunctionRow
    query = (
        select(
            DevicePoolRow.host_id,
            DevicePoolRow.dev_type,
            DevicePoolRow.free,
            PF.address,
            PF.vendor_id,
            PF.device_id,
            PF.vf_device_id,
            PF.netdev,
            PF.numa_node,
            PF.physnet,
            PF.tags,
        )
        .join(PF, PF.id == DevicePoolRow.pf_id)
        .where(DevicePoolRow.host_id.in_(list(hosts)))
        .order_by(PF.address, DevicePoolRow.dev_type)
    )
    for row in session.execute(query):
        pools[row.host_id].append(FreePool(pool_key(row, row.dev_type), row.free))
    return [
        (host_id, _host_state(hosts[host_id], pools[host_id], alive_since))
        for host_id in host_ids
        if host_id in hosts
    ]


def pool_key(pf: Any, dev_type: str) -> PoolKey:
    """The Nova pool key of a PF's VFs (``type-VF``) or of the PF itself (``type-PF``).

    ``pf`` is a PF row or a result row with the same column names.
    """
    tags: dict[str, TagValue] = {}
    if pf.physnet is not None:
        tags["physical_network"] = pf.physnet
    tags.update(pf.tags or {})
    tags.setdefault("remote_managed", "false")  # Nova's default for VFs and PFs
    is_vf = dev_type == VF_POOL
    return PoolKey(
        vendor_id=f"{pf.vendor_id:04x}",
        product_id=f"{pf.vf_device_id if is_vf else pf.device_id:04x}",
        numa_node=pf.numa_node,
        dev_type=DevType.VF if is_vf else DevType.PF,
        address=PciAddress.parse(pf.address),
        parent_ifname=pf.netdev if is_vf else None,
        tags=tuple(tags.items()),
    )


def _host_state(row: Any, pools: list[FreePool], alive_since: datetime) -> HostState:
    memory = row.memory_mib or 0
    cpus = row.cpus or 0
    free_ram = int((memory - row.reserved_ram_mib) * row.ram_allocation_ratio) - row.used_ram_mib
    free_cpus = int(cpus * row.cpu_allocation_ratio) - row.used_vcpus
    sockets = row.numa_sockets or [None] * (row.numa_cells or 0)
    return HostState(
        name=row.name,
        availability_zone=row.availability_zone,
        enabled=row.enabled,
        alive=row.last_heartbeat is not None and row.last_heartbeat >= alive_since,
        free_ram_mib=max(free_ram, 0),
        free_vcpus=max(free_cpus, 0),
        numa_cells=tuple(NumaCell(i, socket) for i, socket in enumerate(sockets)),
        pools=tuple(pools),
        disabled_reason=row.disabled_reason or "",
    )


def held_vfs(session: Session, pf_ids: Collection[int]) -> list[VirtualFunctionRow]:
    query = select(VirtualFunctionRow).where(
        VirtualFunctionRow.pf_id.in_(list(pf_ids)),
        VirtualFunctionRow.state.in_([*HELD_STATES, VFState.REMOVED]),
    )
    return list(session.scalars(query))
