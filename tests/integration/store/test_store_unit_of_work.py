"""The SQL unit of work: commit keeps, anything else undoes, lost races come out as Conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text
from tests.integration.conftest import NOW, EngineFactory
from tests.integration.store.inventories import PF0, host_inventory, pf_entry

from sriovstack.domain.errors import ConcurrentUpdate
from sriovstack.store.claims import claim_free_vf
from sriovstack.store.inventory import upsert_inventory
from sriovstack.store.tables import HostRow
from sriovstack.store.unit_of_work import SqlUnitOfWork


def add_host(uow: SqlUnitOfWork, name: str) -> None:
    uow.session.add(HostRow(name=name))
    uow.session.flush()


def host_names(engine: Engine) -> list[str]:
    with SqlUnitOfWork(engine) as uow:
        return list(uow.session.scalars(select(HostRow.name).order_by(HostRow.name)))


def test_commit_keeps_the_changes(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")
        uow.commit()
    assert host_names(engine) == ["compute-1"]


def test_leaving_without_commit_undoes_the_changes(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")
    assert host_names(engine) == []


def test_rollback_undoes_what_was_not_committed(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")
        uow.commit()
        add_host(uow, "compute-2")
        uow.rollback()
        uow.commit()
    assert host_names(engine) == ["compute-1"]


def test_an_error_that_is_not_the_databases_passes_through_unchanged(engine: Engine) -> None:
    with pytest.raises(KeyError), SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")
        raise KeyError("compute-2")
    assert host_names(engine) == []


def test_a_name_taken_in_the_meantime_is_a_concurrent_update(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")
        uow.commit()
    with pytest.raises(ConcurrentUpdate, match="another writer"), SqlUnitOfWork(engine) as uow:
        add_host(uow, "compute-1")


def test_a_writer_that_cannot_get_a_lock_in_time_fails_as_a_concurrent_update(
    engine: Engine, make_engine: EngineFactory
) -> None:
    with SqlUnitOfWork(engine) as uow:
        inventory = host_inventory(pf_entry(PF0, vfs=1))
        upsert_inventory(uow.session, "compute-1", inventory, now=NOW, physnets={PF0: "physnet1"})
        uow.commit()
    impatient = make_engine(lock_timeout=0.2)
    with SqlUnitOfWork(engine) as first:
        # holds the VF's row on PostgreSQL, the write lock on SQLite, until it ends
        assert claim_free_vf(
            first.session, host="compute-1", physnet="physnet1", owner="a", now=NOW
        )
        with pytest.raises(ConcurrentUpdate), SqlUnitOfWork(impatient) as second:
            claim_free_vf(second.session, host="compute-1", physnet="physnet1", owner="b", now=NOW)


def test_times_are_kept_in_utc_and_read_back_aware(engine: Engine) -> None:
    seen = datetime(2026, 11, 25, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with SqlUnitOfWork(engine) as uow:
        uow.session.add(HostRow(name="compute-1", last_heartbeat=seen))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        stored = uow.session.scalar(select(HostRow.last_heartbeat))
        assert stored == seen
        assert stored is not None
        assert stored.utcoffset() == timedelta(0)
        if engine.dialect.name == "sqlite":
            raw = uow.session.execute(text("SELECT last_heartbeat FROM hosts")).scalar()
            assert raw == "2026-11-25 12:30:00.000000"
