"""Bulk-loading hosts writes exactly the rows that reporting them one by one writes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from tests.integration.conftest import NOW

from sriovstack.services import hosts
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.settings import Settings
from sriovstack.simulator.fleet import synthetic_report
from sriovstack.store.database import Database
from sriovstack.store.tables import HostRow

ADMIN = Caller("u", "admin", "p", "admin", frozenset({"admin"}))
REPORTS = [
    synthetic_report("a", pfs=2, vfs_per_pf=5),
    synthetic_report("b", pfs=1, vfs_per_pf=3, physnet="PhysNet2", offered_whole=True),
    synthetic_report("c", pfs=2, vfs_per_pf=0, numa_cells=1, tags=(("trusted", "true"),)),
]


def snapshot(database_url: str, load: str) -> tuple[Any, Any]:
    database = Database.open(database_url)
    ids = (f"{n:036d}" for n in itertools.count())
    env = Environment(database, Settings(), clock=lambda: NOW, new_id=lambda: next(ids))
    try:
        if load == "bulk":
            hosts.add_reported_hosts(env, REPORTS, batch=2)
        else:
            for report in REPORTS:
                with env.unit_of_work() as uow:
                    row = HostRow(name=report.host, uuid=env.new_id())
                    uow.session.add(row)
                    uow.session.flush()
                    hosts.apply_report(uow.session, row, report, now=NOW)
                    uow.commit()
        return hosts.list_hosts(env, ADMIN), hosts.list_pci_devices(env, ADMIN)
    finally:
        database.close()


def test_bulk_loading_equals_reporting_each_host(database_url: str, tmp_path: Path) -> None:
    bulk = snapshot(database_url, "bulk")
    assert bulk[0][0]["free_devices"] == 10
    assert bulk[0][1]["free_devices"] == 4  # three VFs and the PF itself
    assert len(bulk[1]) == 2 + 5 * 2 + 1 + 3 + 2
    other = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    assert snapshot(other, "each") == bulk
