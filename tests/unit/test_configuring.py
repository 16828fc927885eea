"""Applying a VF config: checked against the NIC, only what differs, read back, undone on error."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from tests.factories import boot, with_model

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import (
    FilterTableFull,
    InvalidInput,
    KernelError,
    VerificationFailed,
)
from sriovstack.domain.observed import ObservedVF
from sriovstack.domain.vfconfig import (
    CLEAN,
    LinkState,
    TxRate,
    VFConfig,
    VFConfigChange,
    VlanProto,
    VlanTag,
)
from sriovstack.host.configuring import reset_vf, set_vf_config
from sriovstack.host.fdb import add_fdb
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF1 = "enp3s0f1"  # the talk's X540 port: ixgbe, 10 Gbit/s, 128 shared MAC filters
X540_MAC_FILTERS = 128


def mac(n: int) -> MacAddress:
    """A distinct locally administered unicast MAC."""
    return MacAddress(0x02_00_00_00_00_00 + n)


def with_vfs(kernel: SimulatedKernel, count: int = 4) -> SimulatedKernel:
    set_vf_count(kernel, PF1, count)
    return kernel


def vf(kernel: SimulatedKernel, index: int) -> ObservedVF:
    return kernel.link(PF1).vfs[index]


def set_vf_calls(kernel: SimulatedKernel) -> int:
    return kernel.calls.get("set_vf", 0)


def refused(kernel: SimulatedKernel, call: Callable[[], object]) -> BaseException:
    """The error ``call`` raises, having checked that the kernel was asked to change nothing."""
    before, calls = kernel.link(PF1).vfs, set_vf_calls(kernel)
    with pytest.raises((InvalidInput, FilterTableFull)) as exc:
        call()
    assert set_vf_calls(kernel) == calls
    assert kernel.link(PF1).vfs == before
    return exc.value


# ------------------------------------------------------------------------ applying


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("mac", mac(1)),
        ("vlan", VlanTag(100, 3)),
        ("spoofchk", False),
        ("trust", True),
        ("link_state", LinkState.ENABLE),
        ("link_state", LinkState.DISABLE),
        ("rate", TxRate(0, 2500)),
    ],
)
def test_each_setting_is_applied_and_read_back(
    talk: SimulatedKernel, setting: str, value: object
) -> None:
    with_vfs(talk)
    result = set_vf_config(talk, PF1, 2, VFConfigChange(**{setting: value}))  # type: ignore[arg-type]
    assert result.changed == (setting,)
    assert getattr(result.after, setting) == value
    assert getattr(vf(talk, 2), setting) == value
    assert vf(talk, 1).config() == CLEAN  # the other VFs are left alone


def test_only_what_differs_is_written(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(1), trust=True))
    result = set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(1), trust=True, spoofchk=False))
    assert result.changed == ("spoofchk",)


def test_a_second_identical_call_changes_nothing_and_calls_no_set_vf(
    talk: SimulatedKernel,
) -> None:
    with_vfs(talk)
    change = VFConfigChange(mac=mac(1), vlan=VlanTag(100), link_state=LinkState.ENABLE)
    first = set_vf_config(talk, PF1, 0, change)
    calls, lines = set_vf_calls(talk), len(talk.log())
    again = set_vf_config(talk, PF1, 0, change)
    assert again.changed == ()
    assert again.after == first.after
    assert set_vf_calls(talk) == calls
    assert len(talk.log()) == lines


def test_settings_not_given_stay_as_they_are(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(1), vlan=VlanTag(100, 2)))
    result = set_vf_config(talk, PF1, 0, VFConfigChange(trust=True))
    assert result.changed == ("trust",)
    assert result.after == VFConfig(mac=mac(1), vlan=VlanTag(100, 2), trust=True)


def test_reset_returns_a_vf_to_clean(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    set_vf_config(
        talk,
        PF1,
        1,
        VFConfigChange(
            mac=mac(1),
            vlan=VlanTag(100, 3),
            spoofchk=False,
            trust=True,
            link_state=LinkState.DISABLE,
            rate=TxRate(0, 1000),
        ),
    )
    result = reset_vf(talk, PF1, 1)
    assert set(result.changed) == {"mac", "vlan", "spoofchk", "trust", "link_state", "rate"}
    assert result.after == CLEAN
    assert vf(talk, 1).config() == CLEAN
    assert reset_vf(talk, PF1, 1).changed == ()


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("index", [4, 63, -1])
def test_an_index_out_of_range_is_refused_naming_the_range(
    talk: SimulatedKernel, index: int
) -> None:
    with_vfs(talk)
    error = refused(talk, lambda: set_vf_config(talk, PF1, index, VFConfigChange(trust=True)))
    assert isinstance(error, InvalidInput)
    assert error.field == "index"
    assert "0..3" in str(error)


def test_a_pf_without_vfs_says_so(talk: SimulatedKernel) -> None:
    with pytest.raises(InvalidInput) as exc:
        set_vf_config(talk, PF1, 0, VFConfigChange(trust=True))
    assert "has no VFs" in str(exc.value)


def test_802_1ad_on_an_x540_is_refused_naming_proto(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    change = VFConfigChange(mac=mac(1), vlan=VlanTag(100, 0, VlanProto.DOT1AD))
    error = refused(talk, lambda: set_vf_config(talk, PF1, 0, change))
    assert isinstance(error, InvalidInput)
    assert error.field == "proto"


def test_a_minimum_rate_on_ixgbe_is_refused(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    change = VFConfigChange(mac=mac(1), rate=TxRate(100, 1000))
    error = refused(talk, lambda: set_vf_config(talk, PF1, 0, change))
    assert isinstance(error, InvalidInput)
    assert error.field == "min-rate"
    assert "ixgbe" in str(error)


def test_a_maximum_rate_above_the_link_speed_is_refused(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    change = VFConfigChange(mac=mac(1), rate=TxRate(0, 10001))
    error = refused(talk, lambda: set_vf_config(talk, PF1, 0, change))
    assert isinstance(error, InvalidInput)
    assert error.field == "max-rate"
    assert "10000 Mbit/s" in str(error)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: VFConfigChange(mac=MacAddress.parse("01:00:5e:00:00:01")), "mac"),
        (lambda: VFConfigChange(mac=MacAddress.parse("ff:ff:ff:ff:ff:ff")), "mac"),
        (lambda: VFConfigChange(vlan=VlanTag(4096)), "vlan"),
        (lambda: VFConfigChange(vlan=VlanTag(100, 8)), "qos"),
        (lambda: VFConfigChange(rate=TxRate(2000, 1000)), "min-rate"),
    ],
)
def test_values_outside_their_rules_are_refused_before_any_host_is_asked(
    build: Callable[[], VFConfigChange], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        build()
    assert exc.value.field == field


# --------------------------------------------------------------------- filter tables


def test_a_full_shared_mac_table_is_refused_before_any_write(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    for n in range(X540_MAC_FILTERS - 1):  # the PF's own MAC takes the last entry
        add_fdb(talk, PF1, mac(1000 + n))
    error = refused(talk, lambda: set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(1))))
    assert isinstance(error, FilterTableFull)
    assert (error.table, error.capacity) == ("unicast MAC", X540_MAC_FILTERS)


def test_a_vf_that_has_a_mac_may_change_it_in_a_full_table(talk: SimulatedKernel) -> None:
    with_vfs(talk)
    set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(1)))
    for n in range(X540_MAC_FILTERS - 2):
        add_fdb(talk, PF1, mac(1000 + n))
    assert set_vf_config(talk, PF1, 0, VFConfigChange(mac=mac(2))).after.mac == mac(2)


def test_a_mac_table_smaller_than_the_catalogue_says_is_still_reported_full() -> None:
    # The catalogue promises 128 entries, so the host's check lets the MAC through; this
    # X540 has 4, and the PF's MAC plus three VF MACs fill them: the kernel says ENOMEM.
    host = with_vfs(SimulatedKernel(with_model(load_profile("talk-after"), mac_filters=4)))
    for index in range(3):
        set_vf_config(host, PF1, index, VFConfigChange(mac=mac(index)))
    with pytest.raises(FilterTableFull) as exc:
        set_vf_config(host, PF1, 3, VFConfigChange(mac=mac(3), trust=True))
    assert (exc.value.table, exc.value.capacity) == ("unicast MAC", 4)
    assert vf(host, 3).config() == CLEAN


def small_vlan_table() -> SimulatedKernel:
    """The talk's host whose X540 has only 2 VLAN filters, VFs 0 and 1 on VLANs 10 and 20.

    The host logic reads table sizes from the shipped catalogue (64 for the X540), so only the
    kernel knows this table is smaller: its refusal is what the host must translate.
    """
    kernel = with_vfs(SimulatedKernel(with_model(load_profile("talk-after"), vlan_filters=2)))
    set_vf_config(kernel, PF1, 0, VFConfigChange(vlan=VlanTag(10)))
    set_vf_config(kernel, PF1, 1, VFConfigChange(vlan=VlanTag(20)))
    return kernel


def test_a_full_shared_vlan_table_is_refused_as_full() -> None:
    host = small_vlan_table()
    with pytest.raises(FilterTableFull) as exc:
        set_vf_config(host, PF1, 2, VFConfigChange(vlan=VlanTag(30)))
    assert (exc.value.table, exc.value.capacity) == ("VLAN", 2)
    assert vf(host, 2).vlan == VlanTag()


def test_a_vlan_already_in_the_full_table_can_be_reused() -> None:
    host = small_vlan_table()
    assert set_vf_config(host, PF1, 2, VFConfigChange(vlan=VlanTag(10, 5))).changed == ("vlan",)
    assert [v.vlan.vlan for v in host.link(PF1).vfs] == [10, 20, 10, 0]


# ---------------------------------------------------------------- failures midway


def test_settings_applied_before_a_kernel_refusal_are_rolled_back() -> None:
    # The host reads the X540's 10 Gbit/s link speed from the catalogue, so a max rate of
    # 5000 passes its checks; this X540 model links at 1 Gbit/s, so the kernel applies the
    # MAC and the VLAN (they come first in its fixed order) and then refuses the rate.
    # Nothing is atomic in the kernel: the host must undo the MAC and the VLAN itself.
    host = with_vfs(SimulatedKernel(with_model(load_profile("talk-after"), link_speed_mbps=1000)))
    set_vf_config(host, PF1, 0, VFConfigChange(trust=True))
    before = vf(host, 0)
    change = VFConfigChange(mac=mac(1), vlan=VlanTag(100), rate=TxRate(0, 5000))
    with pytest.raises(KernelError) as exc:
        set_vf_config(host, PF1, 0, change)
    assert exc.value.errno == errno.EINVAL
    assert vf(host, 0) == before


def test_a_mac_applied_before_a_full_vlan_table_is_rolled_back() -> None:
    host = small_vlan_table()
    with pytest.raises(FilterTableFull):
        set_vf_config(host, PF1, 2, VFConfigChange(mac=mac(1), vlan=VlanTag(30)))
    assert vf(host, 2).config() == CLEAN


class TrustIgnoringKernel(SimulatedKernel):
    """A PF driver that answers success to a VF trust setting but never applies it.

    The kind of driver or firmware bug that reading back exists to catch; the other settings
    of the same call are applied as usual.
    """

    def set_vf(self, ifname: str, index: int, **settings: object) -> None:
        settings.pop("trust", None)
        super().set_vf(ifname, index, **settings)  # type: ignore[arg-type]


def test_a_value_that_does_not_read_back_fails_verification() -> None:
    host = with_vfs(TrustIgnoringKernel(boot().profile))
    with pytest.raises(VerificationFailed) as exc:
        set_vf_config(host, PF1, 0, VFConfigChange(mac=mac(1), trust=True))
    assert str(exc.value).endswith("reads back other values for trust")
    assert vf(host, 0).mac == mac(1)
