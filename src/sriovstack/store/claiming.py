"""Claiming a boot's devices and host resources in one transaction, and giving them back.

Every step is a conditional UPDATE that succeeds only while what the scheduler saw still holds:
the host has room and is alive, the pool still has enough free devices, each VF is still
available. A step that finds the world changed raises ConcurrentUpdate, the caller's
transaction rolls back whole (all or nothing), and the boot tries again elsewhere. Rows are
always taken in the same order (host, then pools, then devices) so claims and releases on
PostgreSQL never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session, selectinload

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import ConcurrentUpdate
from sriovstack.store.pools import PF_POOL, VF_POOL, capacity_conditions, recount_pools
from sriovstack.store.tables import (
    ClaimRow,
    DevicePoolRow,
    HostRow,
    PhysicalFunctionRow,
    VFState,
    VirtualFunctionRow,
)

PF, VF = PhysicalFunctionRow, VirtualFunctionRow


@dataclass(frozen=True, slots=True)
class DeviceTake:
    """Devices to claim from one PF: its VFs (one owner each) or the PF itself (one owner)."""

    pf_address: PciAddress
    dev_type: str  # type-VF or type-PF
    owners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimedDevice:
    """A device now held by ``owner``: where it is and what a port binding needs of it."""

    owner: str
    pf_address: PciAddress
    pf_netdev: str | None
    physnet: str | None
    vf_index: int | None  # None for a whole PF
    address: PciAddress
    vendor_id: int
    product_id: int
    tags: dict[str, str | None]


def claim_boot(
    session: Session,
    *,
    host_id: int,
    server_id: str,
    ram_mib: int,
    vcpus: int,
    alive_since: datetime,
    takes: Sequence[DeviceTake],
    now: datetime,
) -> list[ClaimedDevice]:
    """Reserve RAM, vCPUs and every device of ``takes`` on the host, or raise ConcurrentUpdate."""
    _take_capacity(session, host_id, ram_mib, vcpus, alive_since)
    return claim_devices(session, host_id=host_id, server_id=server_id, takes=takes, now=now)


def claim_devices(
    session: Session,
    *,
    host_id: int,
    server_id: str,
    takes: Sequence[DeviceTake],
    now: datetime,
) -> list[ClaimedDevice]:
    """Reserve every device of ``takes`` on the host for a server (a boot, or a NIC hotplugged
    into a running guest), or raise ConcurrentUpdate."""
    claimed: list[ClaimedDevice] = []
    for take in takes:
        pf = session.scalars(
            select(PF).where(PF.host_id == host_id, PF.address == str(take.pf_address))
        ).one_or_none()
        if pf is None:
            raise ConcurrentUpdate(f"PF {take.pf_address} left the host")
        if take.dev_type == PF_POOL:
            claimed.append(_claim_pf(session, pf, take.owners[0], server_id, now))
        else:
            claimed.extend(_claim_vfs(session, pf, take.owners, server_id, now))
    count = sum(len(take.owners) for take in takes)
    if count:
        _write(
            session,
            update(HostRow)
            .where(HostRow.id == host_id)
            .values(free_devices=HostRow.free_devices - count),
        )
    return claimed


def allocate_server(session: Session, server_id: str, ports: Collection[str] = ()) -> int:
    """Claimed -> allocated for every device of the server (its guest runs); how many moved.

    ``ports`` are the server's port IDs: a whole PF for a port is held under the port's ID.
    """
    owners = _owners(session, server_id, ports)
    moved = _write(
        session,
        update(VF)
        .where(VF.claimed_by.in_(owners), VF.state == VFState.CLAIMED)
        .values(state=VFState.ALLOCATED, version=VF.version + 1),
    )
    _write(
        session,
        update(PF)
        .where(PF.claimed_by.in_(owners), PF.state == VFState.CLAIMED)
        .values(state=VFState.ALLOCATED),
    )
    return _rowcount(moved)


def held_by_server(
    session: Session, server_id: str, ports: Collection[str] = ()
) -> list[tuple[str, VFState]]:
    """(owner, state) of every VF and PF the server holds."""
    owners = _owners(session, server_id, ports)
    vfs = session.execute(select(VF.claimed_by, VF.state).where(VF.claimed_by.in_(owners)))
    pfs = session.execute(select(PF.claimed_by, PF.state).where(PF.claimed_by.in_(owners)))
    return [(str(owner), state) for owner, state in [*vfs, *pfs]]


def release_server(
    session: Session,
    *,
    server_id: str,
    host_id: int | None,
    ram_mib: int,
    vcpus: int,
    ports: Collection[str] = (),
) -> int:
    """Give back everything the server holds (devices, RAM, vCPUs); how many devices.

    VFs that vanished while held (removed) are deleted; the pools are recounted from the rows.
    """
    if host_id is None:
        return 0
    host = _locked_host(session, host_id)
    host.used_ram_mib = max(host.used_ram_mib - ram_mib, 0)
    host.used_vcpus = max(host.used_vcpus - vcpus, 0)
    owners = set(_owners(session, server_id, ports))
    # Claims rows go first: they point at the VF rows that a removed VF's release deletes.
    _write(session, delete(ClaimRow).where(ClaimRow.server_id == server_id))
    return _give_back(session, host, owners)


def release_owner(session: Session, *, host_id: int, owner: str) -> int:
    """Give back the devices held under one owner (a detached port's VF); how many."""
    host = _locked_host(session, host_id)
    _write(session, delete(ClaimRow).where(ClaimRow.owner == owner))
    return _give_back(session, host, {owner})


def _locked_host(session: Session, host_id: int) -> HostRow:
    return session.scalars(
        select(HostRow)
        .where(HostRow.id == host_id)
        .options(selectinload(HostRow.pfs).selectinload(PF.vfs))
        .with_for_update(of=HostRow)
    ).one()


def _give_back(session: Session, host: HostRow, owners: Collection[str]) -> int:
    """Owners' PFs and VFs back to available (a removed VF's row goes); pools recounted."""
    released = 0
    for pf in host.pfs:
        if pf.claimed_by in owners:
            pf.state, pf.claimed_by = VFState.AVAILABLE, None
            released += 1
            for vf in pf.vfs:
                if vf.state is VFState.UNCLAIMABLE:
                    vf.state = VFState.AVAILABLE
        for vf in list(pf.vfs):
            if vf.claimed_by not in owners:
                continue
            released += 1
            if vf.state is VFState.REMOVED:
                pf.vfs.remove(vf)
            else:
                vf.state, vf.claimed_by = VFState.AVAILABLE, None
    recount_pools(session, host)
    return released


def _take_capacity(
    session: Session, host_id: int, ram_mib: int, vcpus: int, alive_since: datetime
) -> None:
    taken = _write(
        session,
        update(HostRow)
        .where(
            HostRow.id == host_id,
            HostRow.enabled.is_(True),
            HostRow.last_heartbeat >= alive_since,
            *capacity_conditions(ram_mib, vcpus),
        )
        .values(used_ram_mib=HostRow.used_ram_mib + ram_mib, used_vcpus=HostRow.used_vcpus + vcpus),
    )
    if _rowcount(taken) != 1:
        raise ConcurrentUpdate(f"host {host_id} no longer has room or is no longer up")


def _claim_vfs(
    session: Session, pf: PhysicalFunctionRow, owners: Sequence[str], server_id: str, now: datetime
) -> list[ClaimedDevice]:
    count = len(owners)
    pool = _write(
        session,
        update(DevicePoolRow)
        .where(
            DevicePoolRow.pf_id == pf.id,
            DevicePoolRow.dev_type == VF_POOL,
            DevicePoolRow.free >= count,
        )
        .values(free=DevicePoolRow.free - count),
    )
    if _rowcount(pool) != 1:
        raise ConcurrentUpdate(f"PF {pf.address} has fewer than {count} free VFs now")
    # A PF with a VF held cannot go out whole (Nova: the parent becomes unavailable).
    _write(
        session,
        update(DevicePoolRow)
        .where(DevicePoolRow.pf_id == pf.id, DevicePoolRow.dev_type == PF_POOL)
        .values(free=0),
    )
    candidates = (
        select(VF.id, VF.vf_index, VF.address)
        .where(VF.pf_id == pf.id, VF.state == VFState.AVAILABLE)
        .order_by(VF.vf_index)
        .limit(count)
        .with_for_update(of=VF, skip_locked=True)
    )
    rows = session.execute(candidates).all()
    if len(rows) < count:
        raise ConcurrentUpdate(f"PF {pf.address} has fewer than {count} available VFs now")
    claimed = []
    for (vf_id, index, address), owner in zip(rows, owners, strict=True):
        taken = _write(
            session,
            update(VF)
            .where(VF.id == vf_id, VF.state == VFState.AVAILABLE)
            .values(state=VFState.CLAIMED, claimed_by=owner, version=VF.version + 1),
        )
        if _rowcount(taken) != 1:
            raise ConcurrentUpdate(f"VF {address} was taken first")
        _write(
            session,
            insert(ClaimRow).values(
                pf_id=pf.id, vf_index=index, owner=owner, created_at=now, server_id=server_id
            ),
        )
        claimed.append(_device(pf, owner, index, PciAddress.parse(address), pf.vf_device_id))
    return claimed


def _claim_pf(
    session: Session, pf: PhysicalFunctionRow, owner: str, server_id: str, now: datetime
) -> ClaimedDevice:
    pool = _write(
        session,
        update(DevicePoolRow)
        .where(
            DevicePoolRow.pf_id == pf.id, DevicePoolRow.dev_type == PF_POOL, DevicePoolRow.free == 1
        )
        .values(free=0),
    )
    taken = _write(
        session,
        update(PF)
        .where(PF.id == pf.id, PF.state == VFState.AVAILABLE)
        .values(state=VFState.CLAIMED, claimed_by=owner),
    )
    if _rowcount(pool) != 1 or _rowcount(taken) != 1:
        raise ConcurrentUpdate(f"PF {pf.address} was taken first")
    # Its VFs cannot be claimed while the PF is out whole (Nova: children unclaimable).
    _write(
        session,
        update(VF)
        .where(VF.pf_id == pf.id, VF.state == VFState.AVAILABLE)
        .values(state=VFState.UNCLAIMABLE, version=VF.version + 1),
    )
    _write(
        session,
        update(DevicePoolRow)
        .where(DevicePoolRow.pf_id == pf.id, DevicePoolRow.dev_type == VF_POOL)
        .values(free=0),
    )
    del server_id, now  # a whole PF has no claims row: the PF row's owner is the claim
    return _device(pf, owner, None, PciAddress.parse(pf.address), pf.device_id)


def _device(
    pf: PhysicalFunctionRow, owner: str, index: int | None, address: PciAddress, product: int
) -> ClaimedDevice:
    return ClaimedDevice(
        owner=owner,
        pf_address=PciAddress.parse(pf.address),
        pf_netdev=pf.netdev,
        physnet=pf.physnet,
        vf_index=index,
        address=address,
        vendor_id=pf.vendor_id,
        product_id=product,
        tags=dict(pf.tags or {}),
    )


def _owners(session: Session, server_id: str, ports: Collection[str]) -> list[str]:
    """The owner names a server's devices are held under: its claims rows' owners, its ports,
    and ``<server>:<n>`` names of alias devices (a whole PF carries no claims row)."""
    owners = {
        str(owner)
        for owner in session.scalars(select(ClaimRow.owner).where(ClaimRow.server_id == server_id))
    }
    owners.update(ports)
    owners.update(
        str(owner)
        for owner in session.scalars(
            select(PF.claimed_by).where(PF.claimed_by.startswith(f"{server_id}:"))
        )
    )
    return sorted(owners)


def _write(session: Session, statement: Any) -> Any:
    """Run an UPDATE, DELETE or INSERT without matching it against loaded objects: claims work
    on rows, and that matching is most of an ORM update's cost."""
    return session.execute(statement, execution_options={"synchronize_session": False})


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
