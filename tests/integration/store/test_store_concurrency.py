"""Concurrent claims: many boots at once never share a VF, and exactly the free ones succeed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select
from tests.integration.conftest import NOW, EngineFactory
from tests.integration.store.inventories import PF0, host_inventory, pf_entry

from sriovstack.domain.errors import ConcurrentUpdate
from sriovstack.store.claims import ClaimedVF, claim_free_vf
from sriovstack.store.inventory import upsert_inventory
from sriovstack.store.tables import ClaimRow, VFState, VirtualFunctionRow
from sriovstack.store.unit_of_work import SqlUnitOfWork

THREADS = 32
FREE_VFS = 20
ATTEMPTS = 5


def test_32_concurrent_claims_on_20_free_vfs_get_20_distinct_vfs_and_12_nones(
    engine: Engine, make_engine: EngineFactory
) -> None:
    with SqlUnitOfWork(engine) as uow:
        inventory = host_inventory(pf_entry(PF0, vfs=FREE_VFS))
        upsert_inventory(uow.session, "compute-1", inventory, now=NOW, physnets={PF0: "physnet1"})
        uow.commit()
    shared = make_engine(pool_size=THREADS)  # a connection of its own for every thread
    start = threading.Barrier(THREADS)

    def boot(n: int) -> ClaimedVF | None:
        start.wait()
        for _ in range(ATTEMPTS):
            try:
                with SqlUnitOfWork(shared) as uow:
                    claimed = claim_free_vf(
                        uow.session,
                        host="compute-1",
                        physnet="physnet1",
                        owner=f"port-{n}",
                        now=NOW,
                    )
                    uow.commit()
                return claimed
            except ConcurrentUpdate:
                # PostgreSQL may pick this claim as a deadlock victim among the waiters: it
                # saved nothing, and like any lost race the caller tries again.
                continue
        raise AssertionError(f"port-{n} lost {ATTEMPTS} races in a row")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(boot, range(THREADS)))

    won = [c for c in results if c is not None]
    assert len(won) == FREE_VFS
    assert results.count(None) == THREADS - FREE_VFS
    assert sorted(c.index for c in won) == list(range(FREE_VFS))  # no VF twice
    with SqlUnitOfWork(engine) as uow:
        held = uow.session.execute(
            select(VirtualFunctionRow.vf_index, VirtualFunctionRow.claimed_by).where(
                VirtualFunctionRow.state == VFState.CLAIMED
            )
        )
        assert {index: owner for index, owner in held} == {c.index: c.owner for c in won}
        assert uow.session.scalar(select(func.count()).select_from(ClaimRow)) == FREE_VFS
