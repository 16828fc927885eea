"""A PF's embedded switch, rule by rule, on the talk's X540 with VFs bound as the agent would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
from tests.factories import boot, with_model

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.vfconfig import LinkState, VFConfigChange, VlanTag
from sriovstack.fabric.embedded import HOST, WIRE, EmbeddedSwitch, vf_port
from sriovstack.fabric.frames import BROADCAST, Frame
from sriovstack.fabric.model import FabricHost
from sriovstack.fabric.nics import NicView
from sriovstack.fabric.nodes import Drop, Outcome, Send
from sriovstack.fabric.observing import observe_nics
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile
from sriovstack.virt.simulated import SimulatedHypervisor

PF = "enp3s0f1"
PF_MAC = MacAddress.parse("a0:36:9f:3e:5a:12")  # enp3s0f1 in the talk profiles
MAC_0 = MacAddress.parse("fa:16:3e:00:00:a0")
MAC_1 = MacAddress.parse("fa:16:3e:00:00:a1")
MAC_2 = MacAddress.parse("fa:16:3e:00:00:a2")
OUTSIDE = MacAddress.parse("fa:16:3e:00:00:ee")  # a MAC elsewhere on the network
OVS_GUEST = MacAddress.parse("fa:16:3e:00:00:0b")  # a guest on an OVS bridge above the PF


@pytest.fixture
def kernel() -> SimulatedKernel:
    """7 VFs on enp3s0f1; VFs 0 and 1 on VLAN 2010, VF 2 on VLAN 2011, as the agent binds them."""
    host = boot("talk-after")
    set_vf_count(host, PF, 7)
    for index, mac, vlan in ((0, MAC_0, 2010), (1, MAC_1, 2010), (2, MAC_2, 2011)):
        set_vf_config(host, PF, index, VFConfigChange(mac=mac, vlan=VlanTag(vlan)))
    return host


def nic_of(kernel: SimulatedKernel, bridges: Mapping[str, str] | None = None) -> NicView:
    host = FabricHost("sriov-1", kernel, SimulatedHypervisor(kernel), bridges or {})
    return next(n for n in observe_nics(host) if n.pf == PF)


def veb(kernel: SimulatedKernel, bridges: Mapping[str, str] | None = None) -> EmbeddedSwitch:
    """The embedded switch with a guest on each VF that has a MAC, and one OVS guest above."""
    nic = nic_of(kernel, bridges)
    users = {vf.index: (f"vm-{vf.index}", vf.mac) for vf in nic.vfs if not vf.mac.is_zero}
    return EmbeddedSwitch(nic, users, {OVS_GUEST: "vm-ovs"})


def sends(outcomes: list[Outcome]) -> dict[str, Send]:
    return {o.port: o for o in outcomes if isinstance(o, Send)}


def drops(outcomes: list[Outcome]) -> list[Drop]:
    return [o for o in outcomes if isinstance(o, Drop)]


def from_vf(switch: EmbeddedSwitch, index: int, src: MacAddress, dst: MacAddress) -> list[Outcome]:
    return switch.receive(Frame(src, dst, "test"), vf_port(index), {})


# ------------------------------------------------------------------------- VF to VF, VLANs


def test_two_vfs_of_the_pf_with_matching_mac_and_vlan_are_switched_inside_the_nic(
    kernel: SimulatedKernel,
) -> None:
    out = from_vf(veb(kernel), 0, MAC_0, MAC_1)

    assert list(sends(out)) == [vf_port(1)]
    assert sends(out)[vf_port(1)].frame.vlan is None  # the VF gets it untagged


def test_a_vf_sends_untagged_and_the_nic_tags_it_with_the_vfs_port_vlan(
    kernel: SimulatedKernel,
) -> None:
    wire = sends(from_vf(veb(kernel), 0, MAC_0, OUTSIDE))[WIRE]

    assert wire.frame.vlan == 2010
    assert wire.frame.tagged_by == "the port VLAN of VF 0 of enp3s0f1 (sriov-1)"


def test_a_broadcast_reaches_every_vf_of_its_vlan_the_pf_and_the_wire_but_not_its_sender(
    kernel: SimulatedKernel,
) -> None:
    out = from_vf(veb(kernel), 0, MAC_0, BROADCAST)

    assert set(sends(out)) == {vf_port(1), HOST, WIRE}
    assert [d.port for d in drops(out)] == [vf_port(2)]
    assert drops(out)[0].reason == (
        "dropped at enp3s0f1 embedded switch (sriov-1): VLAN mismatch: VF 2 of enp3s0f1 "
        "(sriov-1) has port VLAN 2011 but the frame is on VLAN 2010, set by the port VLAN of "
        "VF 0 of enp3s0f1 (sriov-1)"
    )


def test_a_broadcast_from_the_wire_is_never_sent_back_to_it(kernel: SimulatedKernel) -> None:
    out = veb(kernel).receive(Frame(OUTSIDE, BROADCAST, "test", vlan=2011), WIRE, {})

    assert set(sends(out)) == {vf_port(2), HOST}


def test_the_wire_reaches_a_vf_only_with_its_mac_on_its_vlan(kernel: SimulatedKernel) -> None:
    switch = veb(kernel)
    right = switch.receive(Frame(OUTSIDE, MAC_0, "test", vlan=2010), WIRE, {})
    wrong = switch.receive(Frame(OUTSIDE, MAC_0, "test", vlan=2011), WIRE, {})

    assert list(sends(right)) == [vf_port(0)]
    assert sends(wrong) == {}
    assert drops(wrong)[0].port == vf_port(0)
    assert "VLAN mismatch: fa:16:3e:00:00:a0 on VLAN 2011 is the MAC of VF 0 of enp3s0f1" in (
        drops(wrong)[0].reason
    )


# ------------------------------------------------------------------ no learning: filters


def test_unicast_from_a_vf_to_a_mac_not_in_the_table_goes_up_the_wire(
    kernel: SimulatedKernel,
) -> None:
    out = from_vf(veb(kernel), 0, MAC_0, OUTSIDE)

    assert list(sends(out)) == [WIRE]
    assert sends(out)[WIRE].cause == ""  # the usual way to other hosts


def test_unicast_from_the_host_side_to_a_mac_not_in_the_table_goes_up_the_wire(
    kernel: SimulatedKernel,
) -> None:
    out = veb(kernel).receive(Frame(OVS_GUEST, OUTSIDE, "test", vlan=2010), HOST, {})

    assert list(sends(out)) == [WIRE]


def test_the_host_side_reaches_a_vf_through_its_filter(kernel: SimulatedKernel) -> None:
    out = veb(kernel).receive(Frame(OVS_GUEST, MAC_1, "test", vlan=2010), HOST, {})

    assert list(sends(out)) == [vf_port(1)]


def test_no_vf_is_promiscuous_unknown_unicast_from_the_wire_is_dropped(
    kernel: SimulatedKernel,
) -> None:
    out = veb(kernel).receive(Frame(MAC_0, OUTSIDE, "test", vlan=2010), WIRE, {})

    assert sends(out) == {}
    assert [d.reason for d in drops(out)] == [
        "dropped at enp3s0f1 embedded switch (sriov-1): fa:16:3e:00:00:ee on VLAN 2010 is "
        "not in its MAC filter table (not the PF's MAC, not a VF's, not in its FDB)"
    ]


def test_the_pfs_own_mac_and_its_fdb_entries_take_frames_from_the_wire_up(
    kernel: SimulatedKernel,
) -> None:
    kernel.fdb_add(PF, OVS_GUEST)
    switch = veb(kernel)

    to_pf = switch.receive(Frame(OUTSIDE, PF_MAC, "test", vlan=2010), WIRE, {})
    to_fdb = switch.receive(Frame(OUTSIDE, OVS_GUEST, "test", vlan=2010), WIRE, {})

    assert sends(to_pf)[HOST].note == "a0:36:9f:3e:5a:12 is the PF's own MAC"
    assert sends(to_fdb)[HOST].note == "fa:16:3e:00:00:0b is in its FDB"


def test_a_vf_reaches_the_pfs_host_side_only_through_an_fdb_entry(
    kernel: SimulatedKernel,
) -> None:
    before = sends(from_vf(veb(kernel), 0, MAC_0, OVS_GUEST))
    kernel.fdb_add(PF, OVS_GUEST)
    after = sends(from_vf(veb(kernel), 0, MAC_0, OVS_GUEST))

    assert list(before) == [WIRE]
    assert before[WIRE].cause == (
        "enp3s0f1 embedded switch (sriov-1) sent it to the wire: fa:16:3e:00:00:0b on VLAN "
        "2010 is not in its MAC filter table (an FDB entry is needed: bridge fdb add "
        "fa:16:3e:00:00:0b dev enp3s0f1 on sriov-1)"
    )
    assert list(after) == [HOST]


def test_an_ovs_uplink_takes_unknown_unicast_from_the_wire_as_ovs_makes_it_promiscuous(
    kernel: SimulatedKernel,
) -> None:
    switch = veb(kernel, {"br-enp3s0f1": PF})
    out = switch.receive(Frame(OUTSIDE, OVS_GUEST, "test", vlan=2010), WIRE, {})

    assert "promiscuous (an Open vSwitch port of br-enp3s0f1)" in sends(out)[HOST].note


def test_promiscuity_never_reaches_the_vebs_own_switching(kernel: SimulatedKernel) -> None:
    # The talk: "PF cannot support full promiscuous mode"; a VF still needs the FDB entry.
    out = from_vf(veb(kernel, {"br-enp3s0f1": PF}), 0, MAC_0, OVS_GUEST)

    assert list(sends(out)) == [WIRE]


# ------------------------------------------------------------ spoof check, link, PF down


def test_spoof_checking_drops_frames_from_another_source_mac(kernel: SimulatedKernel) -> None:
    out = from_vf(veb(kernel), 1, OUTSIDE, MAC_0)

    assert [d.reason for d in drops(out)] == [
        "dropped: VF 1 of enp3s0f1 (sriov-1) has spoof checking on and the frame's source "
        "fa:16:3e:00:00:ee is not its MAC (fa:16:3e:00:00:a1)"
    ]


def test_without_spoof_checking_another_source_mac_goes_through(kernel: SimulatedKernel) -> None:
    set_vf_config(kernel, PF, 1, VFConfigChange(spoofchk=False))

    assert list(sends(from_vf(veb(kernel), 1, OUTSIDE, MAC_0))) == [vf_port(0)]


def test_link_state_disable_cuts_a_vf_both_ways(kernel: SimulatedKernel) -> None:
    set_vf_config(kernel, PF, 1, VFConfigChange(link_state=LinkState.DISABLE))
    switch = veb(kernel)
    disabled = (
        "dropped: VF 1 of enp3s0f1 (sriov-1) is administratively disabled (link-state disable)"
    )

    assert [d.reason for d in drops(from_vf(switch, 1, MAC_1, MAC_0))] == [disabled]
    unicast = from_vf(switch, 0, MAC_0, MAC_1)
    assert [(d.port, d.reason) for d in drops(unicast)] == [(vf_port(1), disabled)]
    broadcast = from_vf(switch, 0, MAC_0, BROADCAST)
    assert (vf_port(1), disabled) in [(d.port, d.reason) for d in drops(broadcast)]


@pytest.mark.parametrize("state", [LinkState.AUTO, LinkState.ENABLE])
def test_a_pf_that_is_down_passes_nothing_for_its_vfs_whatever_their_link_state(
    kernel: SimulatedKernel, state: LinkState
) -> None:
    set_vf_config(kernel, PF, 0, VFConfigChange(link_state=state))
    kernel.set_link(PF, up=False)
    switch = veb(kernel)

    assert [d.reason for d in drops(from_vf(switch, 0, MAC_0, MAC_1))] == [
        "dropped at VF 0 of enp3s0f1 (sriov-1): PF enp3s0f1 (sriov-1) is down, so its VFs "
        "pass no traffic"
    ]
    from_host = switch.receive(Frame(OVS_GUEST, MAC_0, "test", vlan=2010), HOST, {})
    assert [d.reason for d in drops(from_host)] == ["dropped at PF enp3s0f1 (sriov-1): it is down"]


# --------------------------------------------------------------------- the filter table


def test_the_filter_table_holds_the_pf_mac_the_vf_macs_with_their_vlans_then_the_fdb(
    kernel: SimulatedKernel,
) -> None:
    kernel.fdb_add(PF, OVS_GUEST)
    nic = nic_of(kernel)

    assert [(str(e.mac), e.vlan, e.owner) for e in nic.filters] == [
        ("a0:36:9f:3e:5a:12", None, "PF enp3s0f1"),
        ("fa:16:3e:00:00:a0", 2010, "VF 0"),
        ("fa:16:3e:00:00:a1", 2010, "VF 1"),
        ("fa:16:3e:00:00:a2", 2011, "VF 2"),
        ("fa:16:3e:00:00:0b", None, "FDB"),
    ]
    assert (nic.used, nic.capacity, nic.promiscuous) == (5, 128, ())


def test_vfs_with_their_own_allowance_do_not_fill_the_pfs_table() -> None:
    host = SimulatedKernel(with_model(load_profile("talk-after"), mac_filters_shared=False))
    set_vf_count(host, PF, 7)
    set_vf_config(host, PF, 0, VFConfigChange(mac=MAC_0))
    host.fdb_add(PF, OVS_GUEST)

    assert nic_of(host).used == 2  # the PF's MAC and the FDB entry


@pytest.fixture
def crowded() -> SimulatedKernel:
    """ixgbevf loaded: every VF registers a MAC of its own, in a table of 6 entries."""
    profile = replace(load_profile("talk-after"), blacklist=frozenset())
    host = SimulatedKernel(with_model(profile, mac_filters=6))
    set_vf_count(host, PF, 7)
    return host


def test_a_vf_without_an_admin_mac_filters_on_the_mac_its_driver_registered(
    crowded: SimulatedKernel,
) -> None:
    vf = nic_of(crowded).vf(3)

    assert vf is not None
    assert vf.mac == crowded.netdevs["enp3s0f1v3"].mac
    assert vf.netdev == "enp3s0f1v3"


def test_an_overflowing_table_leaves_the_last_addresses_without_filters(
    crowded: SimulatedKernel,
) -> None:
    nic = nic_of(crowded)

    assert (nic.used, nic.capacity, nic.overflowed) == (8, 6, True)
    assert [e.owner for e in nic.filters if not e.slot] == ["VF 5", "VF 6"]
    assert nic.promiscuous == (
        "unicast promiscuous (filter table overflow: 8 addresses for 6 entries)",
    )


def test_an_overflowed_pf_falls_back_to_unicast_promiscuous_for_frames_from_the_wire(
    crowded: SimulatedKernel,
) -> None:
    out = veb(crowded).receive(Frame(OUTSIDE, OVS_GUEST, "test"), WIRE, {})

    assert "unicast promiscuous (filter table overflow: 8 addresses for 6 entries)" in (
        sends(out)[HOST].note
    )


def test_a_vf_whose_mac_got_no_filter_receives_no_unicast(crowded: SimulatedKernel) -> None:
    switch = veb(crowded)
    vf = switch.nic.vf(6)
    assert vf is not None

    out = switch.receive(Frame(OUTSIDE, vf.mac, "test"), WIRE, {})

    assert vf_port(6) not in sends(out)
    assert drops(out)[0].port == vf_port(6)
    assert "which got no filter because the table is full: 8 addresses for 6 filters" in (
        drops(out)[0].reason
    )
