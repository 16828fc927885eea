"""Claiming and releasing VFs: conditional updates, with the claims' unique key behind them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update
from tests.integration.conftest import NOW
from tests.integration.store.inventories import PF0, PF1, host_inventory, pf_entry

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import ConcurrentUpdate, Conflict, InvalidInput
from sriovstack.store.claims import ClaimedVF, claim_free_vf, release_vf
from sriovstack.store.inventory import upsert_inventory
from sriovstack.store.tables import ClaimRow, HostRow, VFState, VirtualFunctionRow
from sriovstack.store.unit_of_work import SqlUnitOfWork

HOST = "compute-1"


@pytest.fixture
def stocked(engine: Engine) -> Engine:
    """compute-1 with PF0 (4 VFs) on physnet1 and PF1 (2 VFs) on physnet2."""
    with SqlUnitOfWork(engine) as uow:
        inventory = host_inventory(pf_entry(PF0, vfs=4), pf_entry(PF1, vfs=2))
        physnets = {PF0: "physnet1", PF1: "physnet2"}
        upsert_inventory(uow.session, HOST, inventory, now=NOW, physnets=physnets)
        uow.commit()
    return engine


def claim(
    engine: Engine, owner: str, *, host: str = HOST, physnet: str = "physnet1"
) -> ClaimedVF | None:
    with SqlUnitOfWork(engine) as uow:
        claimed = claim_free_vf(uow.session, host=host, physnet=physnet, owner=owner, now=NOW)
        uow.commit()
    return claimed


def release(engine: Engine, index: int, owner: str, pf: PciAddress = PF0) -> bool:
    with SqlUnitOfWork(engine) as uow:
        released = release_vf(uow.session, host=HOST, pf=pf, index=index, owner=owner)
        uow.commit()
    return released


def vfs(engine: Engine) -> list[tuple[int, VFState, str | None]]:
    """VF index, state and owner of PF0's VFs."""
    with SqlUnitOfWork(engine) as uow:
        rows = uow.session.execute(
            select(
                VirtualFunctionRow.vf_index, VirtualFunctionRow.state, VirtualFunctionRow.claimed_by
            )
            .where(VirtualFunctionRow.pf_id == 1)
            .order_by(VirtualFunctionRow.vf_index)
        )
        return [(index, state, owner) for index, state, owner in rows]


def claims(engine: Engine) -> list[tuple[int, str]]:
    with SqlUnitOfWork(engine) as uow:
        rows = uow.session.execute(
            select(ClaimRow.vf_index, ClaimRow.owner).order_by(ClaimRow.vf_index)
        )
        return [(index, owner) for index, owner in rows]


def test_a_claim_takes_the_lowest_available_vf_on_the_physnet(stocked: Engine) -> None:
    claimed = claim(stocked, "port-a")
    assert claimed == ClaimedVF(
        host=HOST,
        pf=PF0,
        pf_netdev="enp3s0f0",
        physnet="physnet1",
        index=0,
        address=PciAddress.parse("0000:03:10.0"),
        vendor_id=0x8086,
        device_id=0x1515,
        owner="port-a",
        created_at=NOW,
    )
    assert vfs(stocked)[0] == (0, VFState.CLAIMED, "port-a")
    assert claims(stocked) == [(0, "port-a")]
    second = claim(stocked, "port-b")
    assert second is not None
    assert second.index == 1


def test_a_claim_looks_only_at_the_physnet_asked_for(stocked: Engine) -> None:
    claimed = claim(stocked, "port-a", physnet="physnet2")
    assert claimed is not None
    assert (claimed.pf, claimed.index) == (PF1, 0)


@pytest.mark.parametrize(
    ("host", "physnet"), [("compute-2", "physnet1"), (HOST, "physnet9")], ids=["host", "physnet"]
)
def test_an_unknown_host_or_physnet_has_no_vf_to_claim(
    stocked: Engine, host: str, physnet: str
) -> None:
    assert claim(stocked, "port-a", host=host, physnet=physnet) is None


def test_a_disabled_host_offers_no_vf(stocked: Engine) -> None:
    with SqlUnitOfWork(stocked) as uow:
        uow.session.execute(update(HostRow).values(enabled=False))
        uow.commit()
    assert claim(stocked, "port-a") is None


def test_when_every_vf_is_held_a_claim_gets_none(stocked: Engine) -> None:
    owners = [f"port-{i}" for i in range(4)]
    assert [c.index for o in owners if (c := claim(stocked, o)) is not None] == [0, 1, 2, 3]
    assert claim(stocked, "port-late") is None


def test_a_claim_that_is_not_committed_leaves_the_vf_available(stocked: Engine) -> None:
    with SqlUnitOfWork(stocked) as uow:
        assert claim_free_vf(uow.session, host=HOST, physnet="physnet1", owner="p", now=NOW)
    assert vfs(stocked)[0] == (0, VFState.AVAILABLE, None)
    assert claims(stocked) == []


def test_release_makes_the_vf_available_again_and_forgets_the_claim(stocked: Engine) -> None:
    claim(stocked, "port-a")
    assert release(stocked, 0, "port-a")
    assert vfs(stocked)[0] == (0, VFState.AVAILABLE, None)
    assert claims(stocked) == []
    assert not release(stocked, 0, "port-a")  # a second release finds nothing to do
    claimed = claim(stocked, "port-b")
    assert claimed is not None
    assert claimed.index == 0


def test_only_the_owner_releases_a_vf(stocked: Engine) -> None:
    claim(stocked, "port-a")
    assert not release(stocked, 0, "port-b")
    assert vfs(stocked)[0] == (0, VFState.CLAIMED, "port-a")


def test_an_allocated_vf_is_released_like_a_claimed_one(stocked: Engine) -> None:
    claim(stocked, "port-a")
    with SqlUnitOfWork(stocked) as uow:
        uow.session.execute(
            update(VirtualFunctionRow)
            .where(VirtualFunctionRow.vf_index == 0, VirtualFunctionRow.pf_id == 1)
            .values(state=VFState.ALLOCATED)
        )
        uow.commit()
    assert release(stocked, 0, "port-a")
    assert vfs(stocked)[0] == (0, VFState.AVAILABLE, None)


def test_a_vf_taken_after_it_was_chosen_is_passed_over_for_the_next(stocked: Engine) -> None:
    with SqlUnitOfWork(stocked) as uow:
        connection = uow.session.connection()
        rivals: list[str] = []

        def rival_claims_vf0(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            # a rival's conditional update lands between this claim's choice and its own
            if statement.startswith("UPDATE virtual_functions") and not rivals:
                rivals.append(statement)
                cursor.execute(
                    "UPDATE virtual_functions SET state = 'claimed', claimed_by = 'rival'"
                    " WHERE pf_id = 1 AND vf_index = 0"
                )

        event.listen(connection, "before_cursor_execute", rival_claims_vf0)
        claimed = claim_free_vf(uow.session, host=HOST, physnet="physnet1", owner="me", now=NOW)
        event.remove(connection, "before_cursor_execute", rival_claims_vf0)
        uow.commit()
    assert claimed is not None
    assert claimed.index == 1
    assert vfs(stocked)[:2] == [(0, VFState.CLAIMED, "rival"), (1, VFState.CLAIMED, "me")]


def test_the_unique_key_refuses_a_second_claim_of_the_same_vf(stocked: Engine) -> None:
    claim(stocked, "port-a")
    with pytest.raises(ConcurrentUpdate) as refused, SqlUnitOfWork(stocked) as uow:
        uow.session.add(ClaimRow(pf_id=1, vf_index=0, owner="port-b", created_at=NOW))
        uow.commit()
    assert isinstance(refused.value, Conflict)
    assert claims(stocked) == [(0, "port-a")]


def test_the_database_refuses_a_claimed_vf_without_an_owner(stocked: Engine) -> None:
    with (
        pytest.raises(Conflict, match="database refused") as refused,
        SqlUnitOfWork(stocked) as uow,
    ):
        uow.session.execute(update(VirtualFunctionRow).values(state=VFState.CLAIMED))
    assert not isinstance(refused.value, ConcurrentUpdate)


@pytest.mark.parametrize("owner", ["", "x" * 65], ids=["empty", "65 characters"])
def test_an_owner_must_be_an_id_of_1_to_64_characters(stocked: Engine, owner: str) -> None:
    with pytest.raises(InvalidInput, match="owner"):
        claim(stocked, owner)
