"""The simulated rtnetlink side: links, VF settings with the drivers' checks, filters and FDB."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from tests.factories import boot, unchecked, with_model

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import KernelError
from sriovstack.domain.observed import ObservedVF
from sriovstack.domain.vfconfig import CLEAN, LinkState, TxRate, VlanProto, VlanTag
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF0, PF1 = "enp3s0f0", "enp3s0f1"  # the talk's X540 ports (ixgbe, 10 Gbps)
E810, CX6 = "ens785f0", "ens801f0np0"  # the dual-socket host's ice and mlx5 ports
DEFAULT_MULTICAST = {MacAddress.parse("33:33:00:00:00:01"), MacAddress.parse("01:00:5e:00:00:01")}


def mac(n: int) -> MacAddress:
    """A distinct locally administered unicast MAC."""
    return MacAddress(0x02_00_00_00_00_00 + n)


def with_vfs(kernel: SimulatedKernel, ifname: str, count: int) -> SimulatedKernel:
    kernel.write(f"class/net/{ifname}/device/sriov_numvfs", str(count))
    return kernel


def host_with_vf_netdevs(**changes: object) -> SimulatedKernel:
    """The talk's host with ixgbevf allowed, so new VFs get netdevs on the host."""
    return boot("talk-after", blacklist=frozenset(), **changes)


def errno_of(call: Callable[[], object]) -> int:
    with pytest.raises(KernelError) as exc:
        call()
    return exc.value.errno


def vf(kernel: SimulatedKernel, ifname: str, index: int) -> ObservedVF:
    return kernel.link(ifname).vfs[index]


def new_log(kernel: SimulatedKernel, since: int) -> str:
    return "\n".join(kernel.log()[since:])


# ------------------------------------------------------------------------------- links()


def test_links_list_lo_and_every_pf_netdev_in_ifindex_order(talk: SimulatedKernel) -> None:
    links = talk.links()
    assert [link.ifname for link in links] == ["lo", PF0, PF1]
    assert [link.index for link in links] == sorted(link.index for link in links)
    lo = links[0]
    assert lo.admin_up and lo.carrier and lo.mac.is_zero


def test_links_carry_no_vf_info_even_for_a_pf_with_vfs(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 3)
    for link in talk.links():
        assert link.num_vfs is None
        assert link.vfs == ()


def test_links_show_pf_addresses_and_admin_state() -> None:
    before = {link.ifname: link for link in boot("talk-before").links()}
    after = {link.ifname: link for link in boot("talk-after").links()}
    assert before[PF0].mac == MacAddress.parse("a0:36:9f:3e:5a:10")
    assert not before[PF0].admin_up and not before[PF0].oper_up
    assert after[PF0].admin_up and after[PF0].oper_up


def test_links_include_vf_netdevs_once_a_host_vf_driver_binds() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 2)
    names = [link.ifname for link in host.links()]
    assert names == ["lo", PF0, PF1, "enp3s0f1v0", "enp3s0f1v1"]


def test_links_have_no_vf_netdevs_while_the_vf_driver_is_blacklisted(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk, PF1, 2)
    assert [link.ifname for link in talk.links()] == ["lo", PF0, PF1]


# -------------------------------------------------------------------------------- link()


def test_link_of_a_pf_reports_num_vfs_and_one_clean_vf_each(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 3)
    link = talk.link(PF1)
    assert link.num_vfs == 3
    assert [v.index for v in link.vfs] == [0, 1, 2]
    first = link.vfs[0]
    assert first.mac.is_zero
    assert first.vlan == VlanTag()
    assert first.spoofchk is True  # ixgbe: "spoof checking on"
    assert first.trust is False
    assert first.link_state is LinkState.AUTO
    assert first.rate == TxRate()


def test_link_of_a_pf_without_vfs_reports_zero_vfs(talk: SimulatedKernel) -> None:
    link = talk.link(PF0)
    assert link.num_vfs == 0
    assert link.vfs == ()


def test_link_of_lo_reports_no_vf_count_at_all(talk: SimulatedKernel) -> None:
    # No parent device, so the kernel sends no IFLA_NUM_VF.
    assert talk.link("lo").num_vfs is None


def test_link_of_a_vf_netdev_reports_it_has_no_vfs_of_its_own() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    link = host.link("enp3s0f1v0")
    assert link.num_vfs == 0
    assert link.vfs == ()


def test_link_of_an_unknown_ifname_is_enodev(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.link("eth9")) == errno.ENODEV


def test_settings_the_driver_does_not_report_read_as_none() -> None:
    profile = with_model(load_profile("talk-after"), reports_spoofchk=False, reports_trust=False)
    host = with_vfs(SimulatedKernel(profile), PF1, 1)
    host.set_vf(PF1, 0, spoofchk=False, trust=True)
    observed = vf(host, PF1, 0)
    assert observed.spoofchk is None
    assert observed.trust is None


@pytest.mark.parametrize(("ifname", "spoofchk"), [(E810, True), (CX6, False)])
def test_new_vfs_start_with_the_nics_spoof_check_default(ifname: str, spoofchk: bool) -> None:
    host = with_vfs(boot("dual-socket"), ifname, 2)
    assert {v.spoofchk for v in host.link(ifname).vfs} == {spoofchk}


# ------------------------------------------------------------------------------ set_vf()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("mac", mac(1)),
        ("vlan", VlanTag(100, 3)),
        ("spoofchk", False),
        ("trust", True),
        ("link_state", LinkState.DISABLE),
        ("rate", TxRate(0, 1000)),
    ],
)
def test_each_vf_setting_reads_back_through_link(
    talk: SimulatedKernel, setting: str, value: object
) -> None:
    with_vfs(talk, PF1, 2)
    talk.set_vf(PF1, 1, **{setting: value})  # type: ignore[arg-type]
    assert getattr(vf(talk, PF1, 1), setting) == value
    assert getattr(vf(talk, PF1, 0), setting) != value  # the other VF is left alone


def test_a_zero_mac_clears_the_vfs_mac(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    talk.set_vf(PF1, 0, mac=mac(1))
    talk.set_vf(PF1, 0, mac=MacAddress.zero())
    assert vf(talk, PF1, 0).mac.is_zero


def test_vlan_zero_removes_the_port_vlan(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    talk.set_vf(PF1, 0, vlan=VlanTag(100, 3))
    talk.set_vf(PF1, 0, vlan=VlanTag())
    assert vf(talk, PF1, 0).vlan == VlanTag()


def test_a_nic_with_qinq_takes_an_8021ad_port_vlan() -> None:
    host = with_vfs(boot("dual-socket"), E810, 1)
    host.set_vf(E810, 0, vlan=VlanTag(100, 0, VlanProto.DOT1AD))
    assert vf(host, E810, 0).vlan.proto is VlanProto.DOT1AD


def test_a_nic_with_min_rate_support_takes_a_min_rate() -> None:
    host = with_vfs(boot("dual-socket"), CX6, 1)
    host.set_vf(CX6, 0, rate=TxRate(1000, 5000))
    assert vf(host, CX6, 0).rate == TxRate(1000, 5000)


def test_max_rate_may_equal_the_link_speed(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    talk.set_vf(PF1, 0, rate=TxRate(0, 10_000))
    assert vf(talk, PF1, 0).rate.max_mbps == 10_000


@pytest.mark.parametrize(
    ("index", "changes", "expected"),
    [
        (2, {"trust": True}, errno.EINVAL),  # index == num_vfs
        (7, {"mac": mac(1)}, errno.EINVAL),
        (-1, {"spoofchk": False}, errno.EINVAL),
        (0, {"mac": MacAddress.parse("01:00:5e:00:00:07")}, errno.EINVAL),  # multicast
        (0, {"mac": MacAddress.parse("ff:ff:ff:ff:ff:ff")}, errno.EINVAL),  # broadcast
        (0, {"vlan": unchecked(VlanTag, vlan=5000, qos=0, proto=VlanProto.DOT1Q)}, errno.EINVAL),
        (0, {"vlan": unchecked(VlanTag, vlan=4096, qos=0, proto=VlanProto.DOT1Q)}, errno.EINVAL),
        (0, {"vlan": unchecked(VlanTag, vlan=10, qos=8, proto=VlanProto.DOT1Q)}, errno.EINVAL),
        (0, {"vlan": VlanTag(10, 0, VlanProto.DOT1AD)}, errno.EPROTONOSUPPORT),  # ixgbe: no QinQ
        (0, {"rate": TxRate(100, 1000)}, errno.EINVAL),  # ixgbe: no min_tx_rate
        (0, {"rate": unchecked(TxRate, min_mbps=500, max_mbps=100)}, errno.EINVAL),  # max < min
        (0, {"rate": TxRate(0, 10_001)}, errno.EINVAL),  # above the 10 Gbps link
    ],
)
def test_the_driver_refuses_bad_vf_settings_with_its_errno(
    talk: SimulatedKernel, index: int, changes: dict[str, object], expected: int
) -> None:
    with_vfs(talk, PF1, 2)
    before = talk.link(PF1)
    assert errno_of(lambda: talk.set_vf(PF1, index, **changes)) == expected  # type: ignore[arg-type]
    assert talk.link(PF1) == before


def test_max_below_min_is_einval_even_where_min_rate_is_supported() -> None:
    host = with_vfs(boot("dual-socket"), CX6, 1)
    bad = unchecked(TxRate, min_mbps=500, max_mbps=100)
    assert errno_of(lambda: host.set_vf(CX6, 0, rate=bad)) == errno.EINVAL
    assert vf(host, CX6, 0).rate == TxRate()


def test_max_rate_above_the_link_speed_is_einval_on_every_nic() -> None:
    host = with_vfs(boot("dual-socket"), CX6, 1)  # 100 Gbps
    assert errno_of(lambda: host.set_vf(CX6, 0, rate=TxRate(0, 100_001))) == errno.EINVAL


def test_vf_settings_on_a_device_that_is_not_a_pf_are_eopnotsupp() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    assert errno_of(lambda: host.set_vf("lo", 0, trust=True)) == errno.EOPNOTSUPP
    assert errno_of(lambda: host.set_vf("enp3s0f1v0", 0, trust=True)) == errno.EOPNOTSUPP


def test_vf_settings_on_an_unknown_ifname_are_enodev(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.set_vf("eth9", 0, trust=True)) == errno.ENODEV


# --------------------------------------------------------------- apply order, non-atomicity


def test_a_failing_vlan_leaves_the_mac_before_it_applied(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    bad = unchecked(VlanTag, vlan=5000, qos=0, proto=VlanProto.DOT1Q)
    assert errno_of(lambda: talk.set_vf(PF1, 0, mac=mac(1), vlan=bad)) == errno.EINVAL
    assert vf(talk, PF1, 0).mac == mac(1)
    assert vf(talk, PF1, 0).vlan == VlanTag()


def test_settings_apply_in_the_kernels_order_up_to_the_first_failure(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk, PF1, 1)
    with pytest.raises(KernelError) as exc:
        talk.set_vf(
            PF1,
            0,
            trust=True,
            link_state=LinkState.ENABLE,
            spoofchk=False,
            rate=TxRate(100, 1000),  # ixgbe refuses a min rate: everything after it is skipped
            vlan=VlanTag(100, 2),
            mac=mac(1),
        )
    assert exc.value.errno == errno.EINVAL
    got = vf(talk, PF1, 0)
    assert (got.mac, got.vlan) == (mac(1), VlanTag(100, 2))  # MAC and VLAN come first
    assert got.rate == TxRate()
    assert (got.spoofchk, got.link_state, got.trust) == (True, LinkState.AUTO, False)


def test_one_call_applies_all_settings_when_none_fails(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    talk.set_vf(
        PF1,
        0,
        mac=mac(1),
        vlan=VlanTag(100, 2),
        rate=TxRate(0, 500),
        spoofchk=False,
        link_state=LinkState.ENABLE,
        trust=True,
    )
    assert vf(talk, PF1, 0) == ObservedVF(
        index=0,
        mac=mac(1),
        vlan=VlanTag(100, 2),
        spoofchk=False,
        trust=True,
        link_state=LinkState.ENABLE,
        rate=TxRate(0, 500),
    )


# ------------------------------------------------------------------- unicast MAC filters

X540_MAC_FILTERS = 128


def fill_mac_table(kernel: SimulatedKernel, *, vf_macs: int) -> list[MacAddress]:
    """PF MAC + ``vf_macs`` VF MACs + FDB entries up to the X540's 128; returns the FDB MACs."""
    for index in range(vf_macs):
        kernel.set_vf(PF1, index, mac=mac(index))
    fdb = [mac(1000 + n) for n in range(X540_MAC_FILTERS - 1 - vf_macs)]
    for entry in fdb:
        kernel.fdb_add(PF1, entry)
    return fdb


def test_pf_mac_vf_macs_and_fdb_entries_share_the_x540s_128_filters(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk, PF1, 10)
    fdb = fill_mac_table(talk, vf_macs=9)
    assert errno_of(lambda: talk.fdb_add(PF1, mac(5000))) == errno.ENOMEM
    assert errno_of(lambda: talk.set_vf(PF1, 9, mac=mac(9))) == errno.ENOMEM
    assert vf(talk, PF1, 9).mac.is_zero
    assert mac(5000) not in {e.mac for e in talk.fdb_list(PF1)}

    talk.fdb_del(PF1, fdb[0])  # one free entry: the VF MAC fits, then the table is full again
    talk.set_vf(PF1, 9, mac=mac(9))
    assert vf(talk, PF1, 9).mac == mac(9)
    assert errno_of(lambda: talk.fdb_add(PF1, mac(5000))) == errno.ENOMEM

    talk.set_vf(PF1, 0, mac=MacAddress.zero())  # clearing a VF MAC frees its entry
    talk.fdb_add(PF1, mac(5000))
    assert mac(5000) in {e.mac for e in talk.fdb_list(PF1)}


def test_a_vf_that_has_a_mac_can_change_it_in_a_full_table(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 2)
    fill_mac_table(talk, vf_macs=2)
    talk.set_vf(PF1, 1, mac=mac(77))
    assert vf(talk, PF1, 1).mac == mac(77)


def test_multicast_fdb_entries_take_no_unicast_filter(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    fill_mac_table(talk, vf_macs=0)
    talk.fdb_add(PF1, MacAddress.parse("01:00:5e:00:00:fb"))
    assert MacAddress.parse("01:00:5e:00:00:fb") in {e.mac for e in talk.fdb_list(PF1)}


def test_each_port_has_its_own_mac_filter_table(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 1)
    fill_mac_table(talk, vf_macs=0)
    talk.fdb_add(PF0, mac(5000))
    with_vfs(talk, PF0, 1)
    talk.set_vf(PF0, 0, mac=mac(5001))
    assert vf(talk, PF0, 0).mac == mac(5001)


def test_removing_the_vfs_frees_their_filters_and_new_vfs_start_clean(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk, PF1, 10)
    fill_mac_table(talk, vf_macs=10)
    talk.set_vf(PF1, 0, vlan=VlanTag(10), trust=True)
    talk.write("class/net/enp3s0f1/device/sriov_numvfs", "0")
    talk.fdb_add(PF1, mac(5000))  # the ten VF MACs' entries are free again
    with_vfs(talk, PF1, 1)
    assert vf(talk, PF1, 0).config() == CLEAN


# -------------------------------------------------------------------------- VLAN filters


def small_vlan_table() -> SimulatedKernel:
    profile = with_model(load_profile("talk-after"), vlan_filters=2)
    return with_vfs(SimulatedKernel(profile), PF1, 4)


def test_a_third_distinct_vlan_finds_the_shared_table_full() -> None:
    host = small_vlan_table()
    host.set_vf(PF1, 0, vlan=VlanTag(10))
    host.set_vf(PF1, 1, vlan=VlanTag(20))
    assert errno_of(lambda: host.set_vf(PF1, 2, vlan=VlanTag(30))) == errno.ENOSPC
    assert vf(host, PF1, 2).vlan == VlanTag()


def test_a_vlan_already_in_the_table_can_be_reused() -> None:
    host = small_vlan_table()
    host.set_vf(PF1, 0, vlan=VlanTag(10))
    host.set_vf(PF1, 1, vlan=VlanTag(20))
    host.set_vf(PF1, 2, vlan=VlanTag(10, 5))
    host.set_vf(PF1, 3, vlan=VlanTag())  # no VLAN needs no entry
    assert [v.vlan.vlan for v in host.link(PF1).vfs] == [10, 20, 10, 0]


def test_moving_the_only_user_of_a_vlan_frees_its_entry() -> None:
    host = small_vlan_table()
    host.set_vf(PF1, 0, vlan=VlanTag(10))
    host.set_vf(PF1, 1, vlan=VlanTag(20))
    host.set_vf(PF1, 1, vlan=VlanTag(30))
    host.set_vf(PF1, 0, vlan=VlanTag())
    host.set_vf(PF1, 2, vlan=VlanTag(40))
    assert [v.vlan.vlan for v in host.link(PF1).vfs] == [0, 30, 40, 0]


# ---------------------------------------------------------------------------- set_link()


def test_a_pfs_carrier_follows_its_admin_state(talk: SimulatedKernel) -> None:
    talk.set_link(PF1, up=False)
    link = talk.link(PF1)
    assert not link.admin_up and not link.carrier
    assert talk.log()[-1].endswith(f"ixgbe 0000:03:00.1 {PF1}: NIC Link is Down")
    talk.set_link(PF1, up=True)
    link = talk.link(PF1)
    assert link.admin_up and link.carrier
    assert talk.log()[-1].endswith(f"ixgbe 0000:03:00.1 {PF1}: NIC Link is Up 10 Gbps")


def test_setting_the_admin_state_it_already_has_changes_nothing(talk: SimulatedKernel) -> None:
    lines = len(talk.log())
    talk.set_link(PF1, up=True)
    assert len(talk.log()) == lines


def test_set_link_on_an_unknown_ifname_is_enodev(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.set_link("eth9", up=True)) == errno.ENODEV


@pytest.mark.parametrize(
    ("state", "with_pf_up", "with_pf_down"),
    [
        (LinkState.AUTO, True, False),
        (LinkState.ENABLE, True, True),
        (LinkState.DISABLE, False, False),
    ],
)
def test_a_vfs_link_follows_its_link_state(
    state: LinkState, with_pf_up: bool, with_pf_down: bool
) -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    host.set_link("enp3s0f1v0", up=True)
    host.set_vf(PF1, 0, link_state=state)
    assert host.link("enp3s0f1v0").carrier is with_pf_up
    host.set_link(PF1, up=False)
    assert host.link("enp3s0f1v0").carrier is with_pf_down
    host.set_link(PF1, up=True)
    assert host.link("enp3s0f1v0").carrier is with_pf_up


def test_a_vf_netdev_that_is_down_has_no_carrier() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    link = host.link("enp3s0f1v0")
    assert not link.admin_up and not link.carrier


def test_a_vf_netdev_has_no_mac_until_its_pf_comes_up() -> None:
    host = host_with_vf_netdevs(pf_links_up=False)
    since = len(host.log())
    with_vfs(host, PF1, 1)
    assert host.link("enp3s0f1v0").mac.is_zero
    assert "ixgbevf 0000:04:10.1: PF still in reset state.  Is the PF interface up?" in new_log(
        host, since
    )
    host.set_link(PF1, up=True)
    learned = host.link("enp3s0f1v0").mac
    assert learned.is_unicast
    host.set_link(PF1, up=False)
    assert host.link("enp3s0f1v0").mac == learned  # once learned it stays


def test_a_vf_netdev_learns_the_admin_mac_set_while_its_pf_was_down() -> None:
    host = with_vfs(host_with_vf_netdevs(pf_links_up=False), PF1, 1)
    host.set_vf(PF1, 0, mac=mac(1))
    host.set_link(PF1, up=True)
    assert host.link("enp3s0f1v0").mac == mac(1)


def test_a_vf_netdev_bound_while_its_pf_is_up_has_its_mac_at_once() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    assert host.link("enp3s0f1v0").mac.is_unicast
    assert "PF still in reset state" not in "\n".join(host.log())


# --------------------------------------------------------------------------------- FDB


def test_a_pf_lists_the_default_multicast_entries_only_while_up(talk: SimulatedKernel) -> None:
    assert {e.mac for e in talk.fdb_list(PF1)} == DEFAULT_MULTICAST
    talk.set_link(PF1, up=False)
    assert talk.fdb_list(PF1) == []


def test_a_default_multicast_address_added_while_down_is_listed_once(
    talk: SimulatedKernel,
) -> None:
    talk.set_link(PF1, up=False)
    talk.fdb_add(PF1, MacAddress.parse("33:33:00:00:00:01"))
    assert [str(e.mac) for e in talk.fdb_list(PF1)] == ["33:33:00:00:00:01"]
    talk.set_link(PF1, up=True)
    assert sorted(e.mac for e in talk.fdb_list(PF1)) == sorted(DEFAULT_MULTICAST)


def test_fdb_entries_are_added_listed_and_deleted(talk: SimulatedKernel) -> None:
    talk.fdb_add(PF1, mac(1))
    entries = talk.fdb_list(PF1)
    added = [e for e in entries if e.mac == mac(1)]
    assert len(added) == 1
    assert added[0].ifname == PF1 and added[0].permanent and added[0].master is None
    assert mac(1) not in {e.mac for e in talk.fdb_list(PF0)}
    talk.fdb_del(PF1, mac(1))
    assert {e.mac for e in talk.fdb_list(PF1)} == DEFAULT_MULTICAST


def test_adding_an_fdb_entry_twice_is_eexist(talk: SimulatedKernel) -> None:
    talk.fdb_add(PF1, mac(1))
    assert errno_of(lambda: talk.fdb_add(PF1, mac(1))) == errno.EEXIST
    assert errno_of(lambda: talk.fdb_add(PF1, next(iter(DEFAULT_MULTICAST)))) == errno.EEXIST


def test_deleting_an_absent_fdb_entry_is_enoent(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.fdb_del(PF1, mac(1))) == errno.ENOENT
    talk.fdb_add(PF1, mac(1))
    talk.fdb_del(PF1, mac(1))
    assert errno_of(lambda: talk.fdb_del(PF1, mac(1))) == errno.ENOENT


def test_an_fdb_entry_for_the_zero_mac_is_einval(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.fdb_add(PF1, MacAddress.zero())) == errno.EINVAL


def test_fdb_calls_on_an_unknown_ifname_are_enodev(talk: SimulatedKernel) -> None:
    assert errno_of(lambda: talk.fdb_add("eth9", mac(1))) == errno.ENODEV
    assert errno_of(lambda: talk.fdb_del("eth9", mac(1))) == errno.ENODEV
    assert errno_of(lambda: talk.fdb_list("eth9")) == errno.ENODEV


def test_fdb_entries_go_with_the_pf_netdev_when_its_driver_unbinds(talk: SimulatedKernel) -> None:
    talk.fdb_add(PF1, mac(1))
    talk.write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    talk.write("bus/pci/drivers/ixgbe/bind", "0000:03:00.1")
    assert talk.fdb_list(PF1) == []  # a new netdev, still down: an empty unicast list
    talk.fdb_add(PF1, mac(1))
    assert mac(1) in {e.mac for e in talk.fdb_list(PF1)}


# ------------------------------------------------------------------------ ixgbe log lines


def test_ixgbe_logs_vf_mac_vlan_and_trust_changes(talk: SimulatedKernel) -> None:
    with_vfs(talk, PF1, 2)
    since = len(talk.log())
    talk.set_vf(PF1, 1, mac=mac(1), vlan=VlanTag(100, 3), trust=True)
    talk.set_vf(PF1, 1, trust=False)
    lines = talk.log()[since:]
    assert [line.split("] ", 1)[1] for line in lines] == [
        "ixgbe 0000:03:00.1: setting MAC 02:00:00:00:00:01 on VF 1",
        "ixgbe 0000:03:00.1: Setting VLAN 100, QOS 0x3 on VF 1",
        "ixgbe 0000:03:00.1: VF 1 is trusted",
        "ixgbe 0000:03:00.1: VF 1 is not trusted",
    ]
    assert all(line.startswith("[") for line in lines)


def test_ixgbe_warns_that_a_vf_mac_or_vlan_set_while_the_pf_is_down_waits_for_it() -> None:
    host = with_vfs(boot("talk-before", cmdline="ro pci=realloc"), PF0, 1)  # links down
    since = len(host.log())
    host.set_vf(PF0, 0, mac=mac(1), vlan=VlanTag(100))
    log = new_log(host, since)
    assert "The VF MAC address has been set, but the PF device is not up." in log
    assert "Bring the PF device up before attempting to use the VF device." in log
    assert "The VF VLAN has been set, but the PF device is not up." in log


def test_ixgbe_asks_for_a_vf_driver_reload_after_a_mac_change_under_it() -> None:
    host = with_vfs(host_with_vf_netdevs(), PF1, 1)
    before = host.link("enp3s0f1v0").mac
    host.set_vf(PF1, 0, mac=mac(1))
    assert host.log()[-1].endswith(
        "ixgbe 0000:03:00.1: Reload the VF driver to make this change effective."
    )
    assert host.link("enp3s0f1v0").mac == before  # the running VF driver keeps its address
