"""Loading many new hosts' first reports at once with plain INSERTs: the rows ``apply_report``
would write (hosts, PFs, VFs, pools), at a fraction of the cost, for simulated fleets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sriovstack.domain.reporting import HostReport
from sriovstack.store.pools import PF_POOL, VF_POOL
from sriovstack.store.tables import (
    DevicePoolRow,
    HostRow,
    PhysicalFunctionRow,
    VFState,
    VirtualFunctionRow,
)


def load_new_hosts(
    session: Session, reports: Sequence[HostReport], *, now: datetime, new_id: Callable[[], str]
) -> None:
    """Insert hosts that are not in the store yet, each as its first report leaves it."""
    if not reports:
        return
    session.execute(insert(HostRow), [_host(report, now, new_id()) for report in reports])
    ids = dict(
        session.execute(
            select(HostRow.name, HostRow.id).where(HostRow.name.in_([r.host for r in reports]))
        ).all()
    )
    pf_rows = [_pf(ids[report.host], pf) for report in reports for pf in report.pfs]
    if not pf_rows:
        return
    session.execute(insert(PhysicalFunctionRow), pf_rows)
    pf_ids = {
        (host_id, address): pf_id
        for pf_id, host_id, address in session.execute(
            select(
                PhysicalFunctionRow.id, PhysicalFunctionRow.host_id, PhysicalFunctionRow.address
            ).where(PhysicalFunctionRow.host_id.in_(list(ids.values())))
        ).all()
    }
    vfs: list[dict[str, Any]] = []
    pools: list[dict[str, Any]] = []
    free_by_host: dict[int, int] = {}
    for report in reports:
        host_id = ids[report.host]
        for pf in report.pfs:
            pf_id = pf_ids[(host_id, str(pf.address))]
            vfs.extend(
                {
                    "pf_id": pf_id,
                    "vf_index": vf.index,
                    "address": str(vf.address),
                    "state": VFState.AVAILABLE,
                    "version": 1,
                }
                for vf in pf.vfs
            )
            physnet = pf.physnet.lower() if pf.physnet else None
            kinds = [(VF_POOL, len(pf.vfs))] if pf.vfs else []
            if pf.offered_whole:
                kinds.append((PF_POOL, 1))
            for dev_type, count in kinds:
                pools.append(
                    {
                        "host_id": host_id,
                        "pf_id": pf_id,
                        "dev_type": dev_type,
                        "physnet": physnet,
                        "numa_node": pf.numa_node,
                        "free": count,
                        "total": count,
                    }
                )
                free_by_host[host_id] = free_by_host.get(host_id, 0) + count
    if vfs:
        session.execute(insert(VirtualFunctionRow), vfs)
    if pools:
        session.execute(insert(DevicePoolRow), pools)
    for host_id, free in free_by_host.items():
        session.get_one(HostRow, host_id).free_devices = free
    session.flush()


def _host(report: HostReport, now: datetime, uuid: str) -> dict[str, Any]:
    facts = report.facts
    cells = sorted(facts.numa_cells, key=lambda c: c.id)
    return {
        "name": report.host,
        "uuid": uuid,
        "cpus": facts.cpus,
        "memory_mib": facts.memory_mib,
        "numa_cells": len(cells) or None,
        "numa_sockets": [cell.socket for cell in cells],
        "availability_zone": facts.availability_zone,
        "hypervisor_type": facts.hypervisor_type,
        "host_ip": facts.host_ip,
        "last_heartbeat": now,
        "agent_configuration": report.configuration.to_dict(),
    }


def _pf(host_id: int, pf: Any) -> dict[str, Any]:
    return {
        "host_id": host_id,
        "address": str(pf.address),
        "vendor_id": pf.vendor_id,
        "device_id": pf.device_id,
        "vf_device_id": pf.vf_device_id,
        "netdev": pf.netdev,
        "physnet": pf.physnet,
        "numa_node": pf.numa_node,
        "total_vfs": pf.total_vfs,
        "version": 1,
        "tags": {k: None if v is None else str(v) for k, v in sorted(pf.tags)},
        "offered_whole": pf.offered_whole,
        "capabilities": dict(pf.capabilities),
    }
