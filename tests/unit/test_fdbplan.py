"""Planning PF FDB entries: wanted MACs in, hand-added ones kept, the MAC table never overflowed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.fdbplan import (
    NO_SUCH_PF,
    FdbAdd,
    FdbPlan,
    FdbRefused,
    FdbRemove,
    FdbWarning,
    PfTable,
    WantedMac,
    plan_fdb,
)

PF = "enp3s0f1"  # the talk's X540 port: 128 unicast MAC filters
X540 = 128
OWN = 1  # the PF's own MAC takes one entry of its table


def mac(n: int) -> MacAddress:
    """A distinct locally administered unicast MAC; sriovstack manages these in the tests."""
    return MacAddress(0x02_00_00_00_00_00 + n)


def hand(n: int) -> MacAddress:
    """A universally administered unicast MAC, as an operator's ``bridge fdb add`` would use."""
    return MacAddress(0x00_1B_21_00_00_00 + n)


def managed(address: MacAddress) -> bool:
    return address.value >> 40 == 0x02


IPV6_ALL_NODES = MacAddress.parse("33:33:00:00:00:01")


def table(*entries: MacAddress, capacity: int | None = X540, extra: int = 0) -> PfTable:
    """A PF's table as ``mac_table`` counts it: own MAC, unicast entries, ``extra`` VF MACs."""
    used = OWN + extra + sum(1 for e in entries if e.is_unicast)
    return PfTable(PF, entries, used, capacity)


def wants(*macs: MacAddress) -> dict[str, list[WantedMac]]:
    return {PF: [WantedMac(m, f"port-{m.value & 0xFFFF:04d}") for m in macs]}


def plan(
    wanted: Mapping[str, Sequence[WantedMac]], *tables: PfTable, warn_at: float = 0.9
) -> FdbPlan:
    return plan_fdb(wanted, {t.netdev: t for t in tables}, managed=managed, warn_at=warn_at)


def applied(tables: Sequence[PfTable], done: FdbPlan) -> list[PfTable]:
    """The tables after the plan's removals and additions, as the kernel would show them."""
    out = []
    for t in tables:
        gone = {r.mac for r in done.removes if r.netdev == t.netdev}
        new = tuple(a.mac for a in done.adds if a.netdev == t.netdev)
        entries = tuple(e for e in t.entries if e not in gone) + new
        out.append(PfTable(t.netdev, entries, t.used - len(gone) + len(new), t.capacity))
    return out


def added(done: FdbPlan) -> list[MacAddress]:
    return [a.mac for a in done.adds]


# ---------------------------------------------------------------- adding and removing


def test_wanted_macs_are_added_in_mac_order() -> None:
    done = plan(wants(mac(3), mac(1), mac(2)), table())
    assert done.adds == tuple(FdbAdd(PF, mac(n), f"port-{n:04d}") for n in (1, 2, 3))
    assert (done.removes, done.refused, done.warnings) == ((), (), ())


def test_macs_already_there_are_not_added_again() -> None:
    assert added(plan(wants(mac(1), mac(2)), table(mac(1)))) == [mac(2)]


def test_unwanted_managed_entries_are_removed() -> None:
    done = plan(wants(mac(2)), table(mac(2), mac(5), mac(4)))
    assert done.removes == (FdbRemove(PF, mac(4)), FdbRemove(PF, mac(5)))
    assert done.adds == ()


def test_hand_added_and_multicast_entries_stay() -> None:
    done = plan(wants(), table(hand(1), IPV6_ALL_NODES, mac(1)))
    assert done.removes == (FdbRemove(PF, mac(1)),)


def test_multicast_entries_stay_even_if_the_caller_calls_them_managed() -> None:
    done = plan_fdb(wants(), {PF: table(IPV6_ALL_NODES)}, managed=lambda _: True)
    assert done == FdbPlan()


def test_a_pf_nothing_is_wanted_on_loses_its_managed_entries() -> None:
    done = plan({}, table(mac(1), hand(1)))
    assert done.removes == (FdbRemove(PF, mac(1)),)


def test_one_mac_wanted_by_two_ports_is_added_once_for_the_lowest_port_id() -> None:
    for ports in (["port-b", "port-a"], ["port-a", "port-b"]):
        done = plan({PF: [WantedMac(mac(1), port) for port in ports]}, table())
        assert done.adds == (FdbAdd(PF, mac(1), "port-a"),)


def test_pfs_are_planned_each_on_its_own_table_in_name_order() -> None:
    other = PfTable("ens2", (mac(9),), OWN + 1, 32)
    done = plan({PF: [WantedMac(mac(1), "p1")], "ens2": [WantedMac(mac(1), "p2")]}, table(), other)
    # "enp3s0f1" sorts before "ens2".
    assert done.adds == (FdbAdd(PF, mac(1), "p1"), FdbAdd("ens2", mac(1), "p2"))
    assert done.removes == (FdbRemove("ens2", mac(9)),)


# ---------------------------------------------------------------- the table's capacity


def test_the_last_free_entry_is_used_and_the_next_one_refused() -> None:
    # 4 entries: the PF's own MAC, one VF MAC, so room for exactly two FDB entries.
    done = plan(wants(mac(1), mac(2), mac(3)), table(capacity=4, extra=1))
    assert added(done) == [mac(1), mac(2)]
    (refusal,) = done.refused
    assert refusal == FdbRefused(PF, mac(3), "port-0003", used=4, capacity=4)
    assert refusal.reason == (
        f"{PF}: 02:00:00:00:00:03 (port port-0003) was not added to the FDB: the NIC's unicast "
        "MAC filter table has 4 of its 4 entries in use, and one more would overflow it into "
        "unicast promiscuous mode"
    )
    assert not refusal.no_such_pf


def test_a_full_table_refuses_every_addition() -> None:
    # A table of one is full with the PF's own MAC alone.
    done = plan(wants(mac(1), mac(2)), table(capacity=1))
    assert done.adds == ()
    assert [(r.mac, r.used, r.capacity) for r in done.refused] == [(mac(1), 1, 1), (mac(2), 1, 1)]


def test_an_overflowed_table_is_not_made_worse() -> None:
    # VF MACs alone already took it past its size: nothing more goes in.
    done = plan(wants(mac(1)), table(capacity=4, extra=5))
    assert done.adds == ()
    assert done.refused[0].used == 6


def test_removals_free_room_for_additions() -> None:
    done = plan(wants(mac(1)), table(mac(7), capacity=2))
    assert done.removes == (FdbRemove(PF, mac(7)),)
    assert added(done) == [mac(1)]
    assert done.refused == ()


def test_hand_added_entries_keep_their_room() -> None:
    done = plan(wants(mac(1)), table(hand(1), capacity=2))
    assert done.removes == ()
    assert [r.mac for r in done.refused] == [mac(1)]


def test_entries_already_there_are_never_displaced_by_newcomers() -> None:
    # mac(1) sorts first but arrives when mac(5) already holds the last entry.
    done = plan(wants(mac(1), mac(5)), table(mac(5), capacity=2))
    assert done.adds == ()
    assert [r.mac for r in done.refused] == [mac(1)]


def test_a_nic_of_unknown_size_is_not_limited() -> None:
    done = plan(wants(*(mac(n) for n in range(200))), table(capacity=None))
    assert len(done.adds) == 200
    assert (done.refused, done.warnings) == ((), ())


# ---------------------------------------------------------------- a PF that is not there


def test_additions_to_a_pf_not_on_this_host_are_refused() -> None:
    done = plan({"ens9": [WantedMac(mac(2), "p2"), WantedMac(mac(1), "p1")]}, table(mac(1)))
    assert done.refused == (
        FdbRefused("ens9", mac(1), "p1", None, None),
        FdbRefused("ens9", mac(2), "p2", None, None),
    )
    assert done.refused[0].no_such_pf
    assert done.refused[0].reason == (
        f"ens9: 02:00:00:00:00:01 (port p1) was not added to the FDB: {NO_SUCH_PF}"
    )
    assert NO_SUCH_PF == "no such PF netdev on this host"
    # The PF that is there wants nothing, so its managed entry goes.
    assert done.removes == (FdbRemove(PF, mac(1)),)


# ---------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    ("capacity", "wanted", "warned_used"),
    [
        pytest.param(10, 7, None, id="80%-below"),
        pytest.param(10, 8, 9, id="90%-at-the-threshold"),
        pytest.param(10, 9, 10, id="full"),
        pytest.param(10, 12, 10, id="full-with-refusals"),
        pytest.param(X540, 114, None, id="x540-115-of-128"),
        pytest.param(X540, 115, 116, id="x540-116-of-128"),
    ],
)
def test_a_warning_when_the_table_ends_at_or_above_the_threshold(
    capacity: int, wanted: int, warned_used: int | None
) -> None:
    done = plan(wants(*(mac(n) for n in range(wanted))), table(capacity=capacity))
    expected = () if warned_used is None else (FdbWarning(PF, warned_used, capacity),)
    assert done.warnings == expected


def test_the_warning_is_about_the_table_after_the_plan() -> None:
    # 9 of 10 before, 1 of 10 after the removals: no warning.
    done = plan({}, table(*(mac(n) for n in range(8)), capacity=10))
    assert len(done.removes) == 8
    assert done.warnings == ()


def test_the_warning_threshold_is_the_callers() -> None:
    assert plan(wants(mac(1)), table(capacity=4), warn_at=0.5).warnings == (FdbWarning(PF, 2, 4),)
    assert plan(wants(mac(1)), table(capacity=5), warn_at=0.5).warnings == ()


def test_warning_reasons() -> None:
    assert FdbWarning(PF, 116, X540).reason == (
        f"{PF}: the NIC's unicast MAC filter table has 116 of its 128 entries in use; past "
        "that it goes unicast promiscuous"
    )
    assert FdbWarning(PF, 130, X540).reason.endswith("it is in unicast promiscuous mode")


@pytest.mark.parametrize("warn_at", [0, -0.5, 1.01])
def test_a_threshold_outside_the_table_is_refused(warn_at: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan(wants(), table(), warn_at=warn_at)
    assert caught.value.field == "warn_at"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(MacAddress.zero(), id="zero"),
        pytest.param(IPV6_ALL_NODES, id="multicast"),
        pytest.param(MacAddress.parse("ff:ff:ff:ff:ff:ff"), id="broadcast"),
    ],
)
def test_a_wanted_mac_that_is_not_unicast_is_refused(address: MacAddress) -> None:
    wanted = {PF: [WantedMac(mac(1), "good"), WantedMac(address, "bad")]}
    with pytest.raises(InvalidInput) as caught:
        plan(wanted, table())
    assert caught.value.field == f"{PF} FDB: port bad mac"
    assert caught.value.rule.startswith("must be a unicast address")
    assert caught.value.value == str(address)


def test_a_table_with_negative_counts_is_refused() -> None:
    with pytest.raises(InvalidInput, match=f"{PF} used: must not be negative"):
        PfTable(PF, (), -1, X540)
    with pytest.raises(InvalidInput, match=f"{PF} capacity: must not be negative"):
        PfTable(PF, (), 1, -1)


# ---------------------------------------------------------------- idempotence


def test_planning_again_after_applying_the_plan_changes_nothing() -> None:
    tables = [
        table(mac(1), mac(2), hand(1), IPV6_ALL_NODES, capacity=8, extra=1),
        PfTable("ens2", (mac(3),), OWN + 1, None),
    ]
    wanted = {
        PF: [WantedMac(mac(n), f"p{n}") for n in (2, 3, 4, 4)],
        "ens2": [WantedMac(mac(5), "p5")],
    }
    first = plan(wanted, *tables)
    assert first.adds and first.removes
    assert plan(wanted, *applied(tables, first)) == FdbPlan()


def test_refusals_and_warnings_stay_the_same_when_planned_again() -> None:
    tables = [table(mac(9), capacity=4)]
    wanted = wants(*(mac(n) for n in range(5)))
    first = plan(wanted, *tables)
    again = plan(wanted, *applied(tables, first))
    assert (again.adds, again.removes) == ((), ())
    assert [r.mac for r in again.refused] == [r.mac for r in first.refused]
    assert again.warnings == first.warnings == (FdbWarning(PF, 4, 4),)
