"""Writing inventory reports into the store: idempotent, and Nova's states when VFs vanish."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from tests.factories import boot
from tests.integration.conftest import NOW
from tests.integration.store.inventories import PF0, PF1, host_inventory, pf_entry

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import ConcurrentUpdate
from sriovstack.domain.inventory import HostInventory
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count
from sriovstack.store.claims import claim_free_vf, release_vf
from sriovstack.store.inventory import InventoryChanges, upsert_inventory
from sriovstack.store.tables import HostRow, PhysicalFunctionRow, VFState, VirtualFunctionRow
from sriovstack.store.unit_of_work import SqlUnitOfWork

HOST = "compute-1"
PHYSNETS = {PF0: "physnet1", PF1: "physnet2"}


def upsert(
    engine: Engine, inventory: HostInventory, *, host: str = HOST, minutes: int = 0
) -> InventoryChanges:
    with SqlUnitOfWork(engine) as uow:
        changes = upsert_inventory(
            uow.session, host, inventory, now=NOW + timedelta(minutes=minutes), physnets=PHYSNETS
        )
        uow.commit()
    return changes


def vf_states(engine: Engine, pf: PciAddress = PF0) -> dict[int, tuple[VFState, str | None]]:
    with SqlUnitOfWork(engine) as uow:
        rows = uow.session.execute(
            select(
                VirtualFunctionRow.vf_index, VirtualFunctionRow.state, VirtualFunctionRow.claimed_by
            )
            .join(PhysicalFunctionRow)
            .where(PhysicalFunctionRow.address == str(pf))
        )
        return {index: (state, owner) for index, state, owner in rows}


def pf_versions(engine: Engine) -> dict[str, int]:
    with SqlUnitOfWork(engine) as uow:
        rows = uow.session.execute(select(PhysicalFunctionRow.address, PhysicalFunctionRow.version))
        return {address: version for address, version in rows}


def claim(engine: Engine, owner: str, physnet: str = "physnet1") -> int:
    with SqlUnitOfWork(engine) as uow:
        claimed = claim_free_vf(uow.session, host=HOST, physnet=physnet, owner=owner, now=NOW)
        uow.commit()
    assert claimed is not None
    return claimed.index


def release(engine: Engine, index: int, owner: str) -> bool:
    with SqlUnitOfWork(engine) as uow:
        released = release_vf(uow.session, host=HOST, pf=PF0, index=index, owner=owner)
        uow.commit()
    return released


def test_a_first_report_stores_the_host_its_pfs_and_available_vfs(engine: Engine) -> None:
    inventory = host_inventory(pf_entry(PF0, vfs=3), pf_entry(PF1, vfs=0))
    changes = upsert(engine, inventory)
    assert changes.added == (PF0, *(vf.address for vf in inventory.pfs[0].vfs), PF1)
    with SqlUnitOfWork(engine) as uow:
        host = uow.session.scalars(select(HostRow)).one()
        assert (host.name, host.enabled, host.availability_zone) == (HOST, True, "nova")
        assert host.last_heartbeat == NOW
        pf = next(pf for pf in host.pfs if pf.address == "0000:03:00.0")
        assert (pf.vendor_id, pf.device_id, pf.vf_device_id) == (0x8086, 0x1528, 0x1515)
        assert (pf.netdev, pf.physnet, pf.numa_node, pf.total_vfs) == (
            "enp3s0f0",
            "physnet1",
            0,
            63,
        )
        assert [(vf.vf_index, vf.address) for vf in pf.vfs] == [
            (0, "0000:03:10.0"),
            (1, "0000:03:10.2"),
            (2, "0000:03:10.4"),
        ]
    assert vf_states(engine) == {i: (VFState.AVAILABLE, None) for i in range(3)}


def test_reporting_the_same_inventory_again_changes_nothing_but_the_heartbeat(
    engine: Engine,
) -> None:
    inventory = host_inventory(pf_entry(PF0, vfs=4), pf_entry(PF1, vfs=2))
    upsert(engine, inventory)
    versions = pf_versions(engine)
    assert not upsert(engine, inventory, minutes=1)
    assert pf_versions(engine) == versions
    with SqlUnitOfWork(engine) as uow:
        host = uow.session.scalars(select(HostRow)).one()
        assert host.last_heartbeat == NOW + timedelta(minutes=1)


def test_changed_facts_of_a_pf_are_updated_and_its_version_moves_on(engine: Engine) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    before = pf_versions(engine)["0000:03:00.0"]
    changes = upsert(engine, host_inventory(pf_entry(PF0, vfs=2, netdev="eth4", numa_node=1)))
    assert changes == InventoryChanges(updated=(PF0,))
    assert pf_versions(engine)["0000:03:00.0"] == before + 1


def test_free_vfs_that_vanish_are_deleted_and_held_ones_become_removed(engine: Engine) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=4)))
    assert claim(engine, "port-a") == 0
    assert claim(engine, "port-b") == 1
    changes = upsert(engine, host_inventory(pf_entry(PF0, vfs=1)))  # VFs 1-3 vanish
    assert changes == InventoryChanges(
        deleted=(PciAddress.parse("0000:03:10.4"), PciAddress.parse("0000:03:10.6")),
        removed=(PciAddress.parse("0000:03:10.2"),),
    )
    assert vf_states(engine) == {0: (VFState.CLAIMED, "port-a"), 1: (VFState.REMOVED, "port-b")}
    assert not upsert(engine, host_inventory(pf_entry(PF0, vfs=1)))  # removed stays removed


def test_a_removed_vf_goes_when_released_and_comes_back_available_if_it_reappears(
    engine: Engine,
) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    claim(engine, "port-a")
    upsert(engine, host_inventory(pf_entry(PF0, vfs=0)))
    assert vf_states(engine) == {0: (VFState.REMOVED, "port-a")}
    assert release(engine, 0, "port-a")
    assert vf_states(engine) == {}
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    assert vf_states(engine) == {0: (VFState.AVAILABLE, None), 1: (VFState.AVAILABLE, None)}


def test_a_held_vf_that_vanishes_and_reappears_is_held_again_by_the_same_owner(
    engine: Engine,
) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    claim(engine, "port-a")
    upsert(engine, host_inventory(pf_entry(PF0, vfs=0)))
    assert vf_states(engine) == {0: (VFState.REMOVED, "port-a")}
    changes = upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    assert PciAddress.parse("0000:03:10.0") in changes.updated
    assert vf_states(engine) == {0: (VFState.CLAIMED, "port-a"), 1: (VFState.AVAILABLE, None)}


def test_a_vanished_pf_is_deleted_once_none_of_its_vfs_is_held(engine: Engine) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2), pf_entry(PF1, vfs=2)))
    claim(engine, "port-a")  # VF 0 of PF0, the only PF on physnet1
    changes = upsert(engine, host_inventory(pf_entry(PF1, vfs=2)))
    assert PF0 not in changes.deleted
    assert set(pf_versions(engine)) == {"0000:03:00.0", "0000:03:00.1"}
    release(engine, 0, "port-a")
    changes = upsert(engine, host_inventory(pf_entry(PF1, vfs=2)))
    assert changes == InventoryChanges(deleted=(PF0,))
    assert set(pf_versions(engine)) == {"0000:03:00.1"}


def test_the_simulated_talk_host_is_stored_at_the_talks_vf_addresses(engine: Engine) -> None:
    talk = boot("talk-after")
    set_vf_count(talk, "enp3s0f1", 7)
    with SqlUnitOfWork(engine) as uow:
        upsert_inventory(uow.session, "talk", read_inventory(talk), now=NOW)
        uow.commit()
    states = vf_states(engine, PF1)
    assert len(states) == 7
    with SqlUnitOfWork(engine) as uow:
        addresses = uow.session.scalars(
            select(VirtualFunctionRow.address)
            .join(PhysicalFunctionRow)
            .where(PhysicalFunctionRow.address == str(PF1))
            .order_by(VirtualFunctionRow.vf_index)
        ).all()
    # without ARI the X540's VFs of port 1 land on bus 04, as in the talk's lspci
    assert addresses[0] == "0000:04:10.1"
    assert addresses[-1] == "0000:04:11.5"


def test_a_report_that_lost_a_race_to_another_writer_is_refused(engine: Engine) -> None:
    upsert(engine, host_inventory(pf_entry(PF0, vfs=2)))
    refused = pytest.raises(ConcurrentUpdate, match="expected to update 1 row")
    with refused, SqlUnitOfWork(engine) as uow:
        pf = uow.session.scalars(select(PhysicalFunctionRow)).one()
        # another writer moves the PF on between this session's read and its write
        uow.session.connection().exec_driver_sql("UPDATE physical_functions SET version = 2")
        pf.netdev = "eth9"
        pf.version += 1
        uow.commit()
    # nothing was saved: neither this write nor, being in the same transaction, the rival's
    assert pf_versions(engine) == {"0000:03:00.0": 1}
