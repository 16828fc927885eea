"""Wrong bindings show as lost traffic, with the place and the reason in words."""

from __future__ import annotations

from dataclasses import replace

from tests.factories import with_model

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.vfconfig import LinkState, VFConfigChange, VlanTag
from sriovstack.fabric.scenes import DHCP, INSTANCE_1, INSTANCE_2, INSTANCE_3, talk_scene
from sriovstack.host.configuring import set_vf_config
from sriovstack.simulator.profiles import load_profile

PF = "enp3s0f1"
PF_DOWN = "PF enp3s0f1 (sriov-1) is down, so its VFs pass no traffic"


# --------------------------------------------------- OVS and a VF on the same PF: the FDB


def test_a_vf_guest_cannot_reach_an_ovs_guest_on_its_own_pf_without_an_fdb_entry() -> None:
    scene = talk_scene(ovs_on_sriov_pf=True)

    result = scene.fabric.trace("Instance-1", "Instance-3")

    assert not result.reachable
    # The ARP broadcast is replicated up to the PF; the unicast echo is not.
    assert [leg.delivered for leg in result.legs] == [True, True, False]
    assert result.reason == (
        "dropped at tor: would have to go back out the port it came in on (enp3s0f1 of "
        "sriov-1); enp3s0f1 embedded switch (sriov-1) sent it to the wire: fa:16:3e:3c:9b:23 "
        "on VLAN 2010 is not in its MAC filter table (an FDB entry is needed: bridge fdb add "
        "fa:16:3e:3c:9b:23 dev enp3s0f1 on sriov-1)"
    )
    assert [h.place for h in result.legs[2].hops][-3:] == [
        "enp3s0f1 embedded switch (sriov-1)",
        "wire",
        "tor port sriov-1/enp3s0f1",
    ]


def test_an_fdb_entry_on_the_pf_lets_the_vf_guest_reach_the_ovs_guest_inside_the_nic() -> None:
    scene = talk_scene(ovs_on_sriov_pf=True)
    scene.kernel.fdb_add(PF, INSTANCE_3.mac)

    result = scene.fabric.ping("Instance-1", "Instance-3")

    assert result.reachable, result.reason
    assert "wire" not in [h.place for h in result.hops]
    assert str(result.legs[2].hops[1]).endswith("fa:16:3e:3c:9b:23 is in its FDB]")


def test_the_ovs_guest_on_the_vf_pf_still_reaches_everyone_on_other_ports() -> None:
    matrix = talk_scene(ovs_on_sriov_pf=True).fabric.matrix(
        ["Instance-3", "Instance-0", DHCP.label]
    )

    assert matrix.failures == ()


def test_an_fdb_entry_without_a_filter_slot_does_not_help() -> None:
    # ixgbevf registers a MAC for each VF left on the host: 1 + 7 VF MACs fill 8 entries.
    profile = replace(load_profile("talk-after"), blacklist=frozenset())
    scene = talk_scene(with_model(profile, mac_filters=8), ovs_on_sriov_pf=True)
    scene.kernel.fdb_add(PF, INSTANCE_3.mac)

    result = scene.fabric.trace("Instance-1", "Instance-3")

    assert not result.reachable
    assert result.reason.endswith(
        "fa:16:3e:3c:9b:23 on VLAN 2010 is not in its MAC filter table (it has an FDB entry, "
        "but no filter because the table is full: 9 addresses for 8 filters on Intel X540)"
    )
    nic = next(n for n in scene.fabric.nics() if n.pf == PF)
    assert "unicast promiscuous (filter table overflow: 9 addresses for 8 entries)" in (
        nic.promiscuous
    )


# ----------------------------------------------------------------------- PF and VF state


def test_a_pf_that_is_down_stops_its_vfs_both_ways() -> None:
    scene = talk_scene()
    scene.kernel.set_link(PF, up=False)
    fabric = scene.fabric

    assert (
        fabric.ping("Instance-1", "Instance-0").reason
        == f"dropped at VF 0 of {PF} (sriov-1): {PF_DOWN}"
    )
    assert fabric.ping("Instance-0", "Instance-2").reason == (
        f"dropped at tor port sriov-1/{PF}: the link is down: {PF_DOWN}"
    )
    assert (
        fabric.ping("Instance-1", "Instance-2").reason
        == f"dropped at VF 0 of {PF} (sriov-1): {PF_DOWN}"
    )
    assert fabric.lease("Instance-2").reason == f"dropped at VF 1 of {PF} (sriov-1): {PF_DOWN}"
    assert fabric.ping("Instance-0", DHCP.label).reachable


def test_bringing_the_pf_up_again_restores_traffic() -> None:
    scene = talk_scene()
    scene.kernel.set_link(PF, up=False)
    scene.kernel.set_link(PF, up=True)

    assert scene.fabric.matrix().failures == ()


def test_a_vf_with_link_state_disable_is_cut_off() -> None:
    scene = talk_scene()
    set_vf_config(scene.kernel, PF, 1, VFConfigChange(link_state=LinkState.DISABLE))
    disabled = f"dropped: VF 1 of {PF} (sriov-1) is administratively disabled (link-state disable)"

    assert scene.fabric.ping("Instance-1", "Instance-2").reason == disabled
    assert scene.fabric.ping("Instance-2", "Instance-0").reason == disabled
    assert scene.fabric.lease("Instance-2").reason == disabled
    assert scene.fabric.ping("Instance-1", "Instance-0").reachable


def test_a_vf_whose_mac_was_changed_under_its_guest_fails_the_spoof_check() -> None:
    scene = talk_scene()
    other = MacAddress.parse("fa:16:3e:00:00:99")
    set_vf_config(scene.kernel, PF, 1, VFConfigChange(mac=other))

    result = scene.fabric.ping("Instance-2", "Instance-1")

    assert result.reason == (
        f"dropped: VF 1 of {PF} (sriov-1) has spoof checking on and the frame's source "
        f"{INSTANCE_2.mac} is not its MAC ({other})"
    )


def test_without_spoof_checking_the_guests_frames_leave_but_nothing_comes_back() -> None:
    scene = talk_scene()
    other = MacAddress.parse("fa:16:3e:00:00:99")
    set_vf_config(scene.kernel, PF, 1, VFConfigChange(mac=other, spoofchk=False))

    from_inside = scene.fabric.ping("Instance-1", "Instance-2")
    from_outside = scene.fabric.ping("Instance-0", "Instance-2")

    problem = f"Instance-2 uses it on VF 1 of {PF} (sriov-1), but that VF's MAC is {other}"
    assert problem in from_inside.reason
    assert from_outside.reason == (
        f"dropped at {PF} embedded switch (sriov-1): {INSTANCE_2.mac} on VLAN 2010 is not in its "
        f"MAC filter table: {problem}"
    )


def test_a_vf_bound_to_the_wrong_vlan_reaches_no_one_on_its_network() -> None:
    scene = talk_scene()
    set_vf_config(scene.kernel, PF, 1, VFConfigChange(vlan=VlanTag(2011)))

    assert scene.fabric.ping("Instance-1", "Instance-2").reason == (
        f"dropped at {PF} embedded switch (sriov-1): VLAN mismatch: VF 1 of {PF} (sriov-1) has "
        f"port VLAN 2011 but the frame is on VLAN 2010, set by the port VLAN of VF 0 of {PF} "
        "(sriov-1)"
    )
    assert scene.fabric.lease("Instance-2").reason == (
        f"dropped at br-enp3s0f0 (sriov-1): VLAN mismatch: {DHCP.label}'s port (network "
        f"physnet1) is on VLAN 2010 but the frame is on VLAN 2011, set by the port VLAN of VF 1 "
        f"of {PF} (sriov-1)"
    )


def test_a_vf_without_a_port_vlan_sends_untagged_frames_no_vlan_port_takes() -> None:
    scene = talk_scene()
    set_vf_config(scene.kernel, PF, 0, VFConfigChange(vlan=VlanTag(0)))

    reason = scene.fabric.ping("Instance-1", "Instance-0").reason

    assert reason == (
        "dropped at br-enp3s0f0 (sriov-1): VLAN mismatch: Instance-0's port (network physnet1) "
        "is on VLAN 2010 but the frame is untagged"
    )


# ------------------------------------------------------------- endpoints that cannot talk


def test_a_guest_that_is_shut_off_is_unreachable() -> None:
    scene = talk_scene()
    scene.hypervisor.power_off(INSTANCE_2.uuid)

    result = scene.fabric.ping("Instance-1", "Instance-2")

    assert (result.reachable, result.legs) == (False, ())
    assert result.reason == "Instance-2 is not running (shutdown)"


def test_a_port_without_an_address_cannot_be_pinged_or_leased() -> None:
    scene = talk_scene()
    fabric = replace(
        scene.fabric, ports=tuple(p for p in scene.fabric.ports if p.port_id != INSTANCE_1.port_id)
    )

    assert fabric.ping("Instance-2", "Instance-1").reason == (
        "Instance-1 has no IP address the control plane knows (no fixed IP for port "
        "physnet1-vf1), so nothing can ARP for it"
    )
    assert fabric.lease("Instance-1").reason == (
        "the control plane has no address for Instance-1's port physnet1-vf1, so no DHCP "
        "server would answer it"
    )


def test_the_dhcp_server_offers_nothing_to_a_mac_it_does_not_know() -> None:
    scene = talk_scene()
    stranger = MacAddress.parse("fa:16:3e:00:00:77")
    ports = tuple(
        replace(p, mac=stranger) if p.port_id == INSTANCE_1.port_id else p
        for p in scene.fabric.ports
    )

    lease = replace(scene.fabric, ports=ports).lease("Instance-1")

    assert not lease.leased
    assert [leg.delivered for leg in lease.legs] == [True]
    assert lease.reason == (
        f"{DHCP.label} has no port with MAC {INSTANCE_1.mac} on network physnet1, so it offers "
        "nothing"
    )
