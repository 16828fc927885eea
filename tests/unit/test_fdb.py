"""PF FDB entries: added, listed and removed within the NIC's unicast MAC filter table."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import FilterTableFull, InvalidInput, NotFound
from sriovstack.domain.vfconfig import VFConfigChange
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.fdb import add_fdb, del_fdb, list_fdb
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel

PF0, PF1 = "enp3s0f0", "enp3s0f1"  # the talk's X540 ports: 128 MAC filters each, shared
X540_MAC_FILTERS = 128


def mac(n: int) -> MacAddress:
    """A distinct locally administered unicast MAC."""
    return MacAddress(0x02_00_00_00_00_00 + n)


def unicast(kernel: SimulatedKernel, ifname: str = PF1) -> list[MacAddress]:
    return [e.mac for e in list_fdb(kernel, ifname).entries if e.mac.is_unicast]


def fdb_writes(kernel: SimulatedKernel) -> int:
    return kernel.calls.get("fdb_add", 0) + kernel.calls.get("fdb_del", 0)


def test_entries_are_added_listed_and_removed(talk: SimulatedKernel) -> None:
    assert add_fdb(talk, PF1, mac(1)) is True
    assert add_fdb(talk, "0000:03:00.1", mac(2)) is True
    assert unicast(talk) == [mac(1), mac(2)]
    assert unicast(talk, PF0) == []  # each port has its own list
    del_fdb(talk, PF1, mac(1))
    assert unicast(talk) == [mac(2)]


def test_the_listing_names_the_pf_and_shows_the_default_multicast_entries(
    talk: SimulatedKernel,
) -> None:
    listing = list_fdb(talk, "03:00.1")
    assert listing.pf == PF1
    assert {str(e.mac) for e in listing.entries} == {"33:33:00:00:00:01", "01:00:5e:00:00:01"}


def test_adding_an_entry_already_there_returns_false_and_writes_nothing(
    talk: SimulatedKernel,
) -> None:
    add_fdb(talk, PF1, mac(1))
    writes = fdb_writes(talk)
    assert add_fdb(talk, PF1, mac(1)) is False
    assert fdb_writes(talk) == writes
    assert unicast(talk) == [mac(1)]


@pytest.mark.parametrize(
    "address", ["01:00:5e:00:00:fb", "33:33:00:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"]
)
def test_a_mac_that_is_not_unicast_is_refused_naming_mac(
    talk: SimulatedKernel, address: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_fdb(talk, PF1, MacAddress.parse(address))
    assert exc.value.field == "mac"
    assert fdb_writes(talk) == 0


def test_a_full_table_is_refused_naming_its_capacity_and_nothing_is_written(
    talk: SimulatedKernel,
) -> None:
    for n in range(X540_MAC_FILTERS - 1):  # the PF's own MAC holds the last entry
        add_fdb(talk, PF1, mac(n))
    writes = fdb_writes(talk)
    with pytest.raises(FilterTableFull) as exc:
        add_fdb(talk, PF1, mac(5000))
    assert exc.value.capacity == X540_MAC_FILTERS
    assert "128 entries" in str(exc.value)
    assert fdb_writes(talk) == writes
    assert mac(5000) not in unicast(talk)
    assert add_fdb(talk, PF1, mac(0)) is False  # an entry already there needs no room


def test_removing_an_absent_entry_is_not_found(talk: SimulatedKernel) -> None:
    add_fdb(talk, PF1, mac(1))
    with pytest.raises(NotFound) as exc:
        del_fdb(talk, PF1, mac(2))
    assert PF1 in str(exc.value)
    assert fdb_writes(talk) == 1


def test_an_unknown_pf_is_not_found(talk: SimulatedKernel) -> None:
    with pytest.raises(NotFound):
        add_fdb(talk, "eth9", mac(1))


def test_table_use_counts_the_pf_mac_vf_macs_and_unicast_fdb_entries(
    talk: SimulatedKernel,
) -> None:
    set_vf_count(talk, PF1, 7)
    for index in (0, 3):
        set_vf_config(talk, PF1, index, VFConfigChange(mac=mac(100 + index)))
    for n in range(3):
        add_fdb(talk, PF1, mac(n))
    # A multicast entry another tool added (bridge fdb add ... self) takes no unicast filter.
    talk.fdb_add(PF1, MacAddress.parse("01:00:5e:00:00:fb"))
    table = list_fdb(talk, PF1).table
    assert (table.table, table.used, table.capacity) == ("unicast MAC", 1 + 2 + 3, 128)
    assert table.free == 122
    assert not table.full


def test_vf_macs_fill_the_shared_table_for_fdb_entries_too(talk: SimulatedKernel) -> None:
    set_vf_count(talk, PF1, 10)
    for index in range(10):
        set_vf_config(talk, PF1, index, VFConfigChange(mac=mac(100 + index)))
    for n in range(X540_MAC_FILTERS - 1 - 10):
        add_fdb(talk, PF1, mac(n))
    assert list_fdb(talk, PF1).table.full
    with pytest.raises(FilterTableFull):
        add_fdb(talk, PF1, mac(5000))
    set_vf_config(talk, PF1, 0, VFConfigChange(mac=MacAddress.zero()))  # frees one entry
    assert add_fdb(talk, PF1, mac(5000)) is True
