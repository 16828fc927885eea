"""Configuring several VFs of one PF as a batch: one PF read, the writes that differ, one
read-back for all; each VF's failure is its own."""

from __future__ import annotations

import errno
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from tests.factories import boot, with_model

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import (
    FilterTableFull,
    InvalidInput,
    KernelError,
    NotFound,
    VerificationFailed,
)
from sriovstack.domain.vfconfig import CLEAN, TxRate, VFConfig, VFConfigChange, VlanTag
from sriovstack.host.configuring import VfConfigResult, VfOutcome, set_vf_configs
from sriovstack.host.counting import WRITES
from sriovstack.host.fdb import add_fdb
from sriovstack.host.locating import find_pf
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF1 = "enp3s0f1"  # the talk's X540 port: ixgbe, 10 Gbit/s, 128 shared MAC filters, 8 VFs here
X540_MAC_FILTERS = 128
T = TypeVar("T")


def mac(n: int) -> MacAddress:
    """A distinct locally administered unicast MAC."""
    return MacAddress(0x02_00_00_00_00_00 + n)


def with_vfs(kernel: SimulatedKernel, count: int = 8) -> SimulatedKernel:
    set_vf_count(kernel, PF1, count)
    return kernel


def bound(index: int) -> VFConfigChange:
    """What the agent gives a VF bound to a port: its MAC and the segment's VLAN."""
    return VFConfigChange(mac=mac(index), vlan=VlanTag(2010))


def changes() -> dict[int, VFConfigChange]:
    """VFs 0 to 7 bound to ports."""
    return {index: bound(index) for index in range(8)}


def calls_during(kernel: SimulatedKernel, call: Callable[[], T]) -> tuple[T, Counter[str]]:
    """What ``call`` returned and the kernel calls it made, by kind."""
    before = Counter(kernel.calls)
    result = call()
    return result, Counter(kernel.calls) - before


def batch(
    kernel: SimulatedKernel, asked: dict[int, VFConfigChange]
) -> tuple[dict[int, VfOutcome], Counter[str]]:
    return calls_during(kernel, lambda: set_vf_configs(kernel, PF1, asked))


def reads(calls: Counter[str]) -> Counter[str]:
    return Counter({name: n for name, n in calls.items() if name not in WRITES})


def configs(kernel: SimulatedKernel) -> list[VFConfig]:
    return [vf.config() for vf in kernel.link(PF1).vfs]


def test_eight_vfs_cost_one_pf_read_eight_writes_and_one_read_back(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk)
    _, one_pf_read = calls_during(talk, lambda: find_pf(talk, PF1))
    assert one_pf_read["link"] == 1  # the PF read: sysfs plus one rtnetlink dump
    outcomes, calls = batch(talk, changes())
    assert calls["set_vf"] == 8
    assert calls["link"] == 2  # the observation and the read-back, not one of each per VF
    # Besides the PF read: the read-back, and one FDB dump for the shared MAC table's check.
    assert reads(calls) == one_pf_read + Counter(link=1, fdb_list=1)
    assert all(isinstance(o, VfConfigResult) for o in outcomes.values())
    assert configs(talk) == [VFConfig(mac=mac(i), vlan=VlanTag(2010)) for i in range(8)]


def test_a_batch_that_finds_every_vf_right_writes_nothing_and_still_reads_back(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk)
    set_vf_configs(talk, PF1, changes())
    outcomes, calls = batch(talk, changes())
    assert (calls["set_vf"], calls["link"]) == (0, 2)
    assert all(isinstance(o, VfConfigResult) and o.changed == () for o in outcomes.values())


def test_outcomes_come_in_the_order_given_with_what_each_vf_had_to_change(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk)
    set_vf_configs(talk, PF1, {2: VFConfigChange(mac=mac(2))})
    outcomes = set_vf_configs(talk, PF1, {5: bound(5), 2: bound(2)})
    assert list(outcomes) == [5, 2]
    assert [o.changed for o in outcomes.values() if isinstance(o, VfConfigResult)] == [
        ("mac", "vlan"),
        ("vlan",),
    ]


# ------------------------------------------------------------------ failures per VF


def test_a_kernel_refusal_on_one_vf_is_rolled_back_and_leaves_the_others_configured() -> None:
    # This X540 links at 1 Gbit/s while the catalogue says 10: VF 3's rate passes the host's
    # checks, the kernel applies its MAC and VLAN, then refuses the rate. VF 3 is put back;
    # the VFs before and after it are configured as asked.
    host = with_vfs(SimulatedKernel(with_model(load_profile("talk-after"), link_speed_mbps=1000)))
    asked = changes()
    asked[3] = VFConfigChange(mac=mac(3), vlan=VlanTag(2010), rate=TxRate(0, 5000))
    outcomes = set_vf_configs(host, PF1, asked)
    failed = {i: o for i, o in outcomes.items() if not isinstance(o, VfConfigResult)}
    assert list(failed) == [3]
    assert isinstance(failed[3], KernelError) and failed[3].errno == errno.EINVAL
    expected = [VFConfig(mac=mac(i), vlan=VlanTag(2010)) for i in range(8)]
    expected[3] = CLEAN
    assert configs(host) == expected


def test_a_vf_refused_by_a_check_writes_nothing_and_the_others_go_on(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk)
    asked = changes()
    asked[1] = VFConfigChange(mac=mac(1), rate=TxRate(0, 10001))  # above the link speed
    asked[9] = bound(9)  # no such VF
    outcomes = set_vf_configs(talk, PF1, asked)
    assert isinstance(outcomes[1], InvalidInput) and outcomes[1].field == "max-rate"
    assert isinstance(outcomes[9], InvalidInput) and outcomes[9].field == "index"
    assert talk.calls["set_vf"] == 7
    assert configs(talk)[1] == CLEAN
    assert configs(talk)[7] == VFConfig(mac=mac(7), vlan=VlanTag(2010))


def test_a_vf_that_does_not_read_back_fails_verification_alone() -> None:
    host = with_vfs(TrustIgnoringKernel(boot().profile))
    outcomes = set_vf_configs(host, PF1, {0: bound(0), 1: VFConfigChange(trust=True)})
    assert isinstance(outcomes[0], VfConfigResult)
    assert isinstance(outcomes[1], VerificationFailed)
    assert str(outcomes[1]).endswith("reads back other values for trust")


class TrustIgnoringKernel(SimulatedKernel):
    """A PF driver that answers success to a VF trust setting but never applies it."""

    def set_vf(self, ifname: str, index: int, **settings: object) -> None:
        settings.pop("trust", None)
        super().set_vf(ifname, index, **settings)  # type: ignore[arg-type]


def test_an_unknown_pf_fails_every_vf_of_the_batch(talk: SimulatedKernel) -> None:
    outcomes = set_vf_configs(talk, "enp9s0f9", {0: bound(0), 1: bound(1)})
    assert list(outcomes) == [0, 1]
    assert all(isinstance(o, NotFound) for o in outcomes.values())


# ------------------------------------------------------------ filter tables in a batch


def test_a_later_vf_sees_the_mac_filters_the_earlier_ones_took(talk: SimulatedKernel) -> None:
    # The PF's MAC and 125 FDB entries leave two free entries: VFs 0 and 1 take them, and VF 2
    # is refused by the host's own check, before any write, from the batch's one FDB dump.
    with_vfs(talk)
    for n in range(X540_MAC_FILTERS - 3):
        add_fdb(talk, PF1, mac(1000 + n))
    outcomes, calls = batch(talk, {i: VFConfigChange(mac=mac(i)) for i in range(3)})
    assert (calls["set_vf"], calls["fdb_list"]) == (2, 1)
    assert isinstance(outcomes[2], FilterTableFull)
    assert (outcomes[2].table, outcomes[2].capacity) == ("unicast MAC", X540_MAC_FILTERS)
    assert [c.mac for c in configs(talk)[:3]] == [mac(0), mac(1), MacAddress.zero()]
