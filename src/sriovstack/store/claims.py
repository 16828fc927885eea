"""Claiming a free VF for an owner and releasing it, decided by conditional updates in the database.

A claim takes the first available VF of an enabled host's PFs on a physnet with
``UPDATE virtual_functions SET state='claimed', claimed_by=:owner WHERE id=:candidate AND
state='available'``. A writer that lost the race to that VF updates no row and tries the next
candidate, so concurrent claims never share a VF; the unique (pf_id, vf_index) of the claims
table is the last line of defence. On SQLite each transaction holds the single write lock from
its start (store/engine.py), so there the race is settled by waiting its turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.store.tables import (
    HELD_STATES,
    ClaimRow,
    HostRow,
    PhysicalFunctionRow,
    VFState,
    VirtualFunctionRow,
)

PF = PhysicalFunctionRow
VF = VirtualFunctionRow
OWNER_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ClaimedVF:
    """A VF reserved for an owner: where it is and what binding a port to it needs."""

    host: str
    pf: PciAddress
    pf_netdev: str | None
    physnet: str
    index: int
    address: PciAddress
    vendor_id: int
    device_id: int  # the VF's own device ID
    owner: str
    created_at: datetime


class _Candidate(NamedTuple):
    vf_id: int
    pf_id: int
    vf_index: int
    address: str
    pf_address: str
    pf_netdev: str | None
    vendor_id: int
    device_id: int


def claim_free_vf(
    session: Session, *, host: str, physnet: str, owner: str, now: datetime
) -> ClaimedVF | None:
    """Claim the first available VF on ``physnet`` of ``host`` for ``owner``; None if none is free.

    The claim is part of the session's transaction: it holds once that commits.
    """
    _check_owner(owner)
    lost: list[int] = []
    while (candidate := _choose(session, host=host, physnet=physnet, skip=lost)) is not None:
        taken = session.execute(
            update(VF)
            .where(VF.id == candidate.vf_id, VF.state == VFState.AVAILABLE)
            .values(state=VFState.CLAIMED, claimed_by=owner, version=VF.version + 1)
        )
        if cast(CursorResult[Any], taken).rowcount != 1:
            lost.append(candidate.vf_id)  # another claim took it after it was chosen
            continue
        session.execute(
            insert(ClaimRow).values(
                pf_id=candidate.pf_id, vf_index=candidate.vf_index, owner=owner, created_at=now
            )
        )
        return ClaimedVF(
            host=host,
            pf=PciAddress.parse(candidate.pf_address),
            pf_netdev=candidate.pf_netdev,
            physnet=physnet,
            index=candidate.vf_index,
            address=PciAddress.parse(candidate.address),
            vendor_id=candidate.vendor_id,
            device_id=candidate.device_id,
            owner=owner,
            created_at=now,
        )
    return None


def release_vf(session: Session, *, host: str, pf: PciAddress, index: int, owner: str) -> bool:
    """Free VF ``index`` of ``pf`` on ``host`` held by ``owner``; False if it holds no such VF.

    A VF that vanished while held (removed) is deleted instead of becoming available.
    """
    query = (
        select(VF.id, VF.pf_id, VF.state)
        .join(PF, VF.pf_id == PF.id)
        .join(HostRow, PF.host_id == HostRow.id)
        .where(
            HostRow.name == host,
            PF.address == str(pf),
            VF.vf_index == index,
            VF.claimed_by == owner,
        )
        .with_for_update(of=VF)  # see _choose
    )
    held = session.execute(query).first()
    if held is None:
        return False
    vf_id, pf_id, state = held
    session.execute(
        delete(ClaimRow).where(
            ClaimRow.pf_id == pf_id, ClaimRow.vf_index == index, ClaimRow.owner == owner
        )
    )
    if state is VFState.REMOVED:
        session.execute(delete(VF).where(VF.id == vf_id))
    else:
        session.execute(
            update(VF)
            .where(VF.id == vf_id, VF.state.in_(HELD_STATES))
            .values(state=VFState.AVAILABLE, claimed_by=None, version=VF.version + 1)
        )
    return True


def _check_owner(owner: str) -> None:
    if not owner or len(owner) > OWNER_LENGTH:
        raise InvalidInput("owner", f"must be a port or server ID of 1-{OWNER_LENGTH} characters")


def _choose(session: Session, *, host: str, physnet: str, skip: list[int]) -> _Candidate | None:
    """The first available VF not in ``skip``, locked on PostgreSQL until the transaction ends.

    SQLite has no row locks and renders no FOR UPDATE: there each transaction holds the
    database's write lock from its start (store/engine.py).
    """
    query = (
        select(
            VF.id,
            VF.pf_id,
            VF.vf_index,
            VF.address,
            PF.address,
            PF.netdev,
            PF.vendor_id,
            PF.vf_device_id,
        )
        .join(PF, VF.pf_id == PF.id)
        .join(HostRow, PF.host_id == HostRow.id)
        .where(
            HostRow.name == host,
            HostRow.enabled.is_(True),
            PF.physnet == physnet,
            VF.state == VFState.AVAILABLE,
            VF.id.not_in(skip),
        )
        .order_by(PF.address, VF.vf_index)
        .limit(1)
    )
    # Claims in flight hold their VFs' rows: step past them, and wait for them only when
    # nothing else is free, since a claim that rolls back frees its VF again.
    row = (
        session.execute(query.with_for_update(of=VF, skip_locked=True)).first()
        or session.execute(query.with_for_update(of=VF)).first()
    )
    return None if row is None else _Candidate(*row)
