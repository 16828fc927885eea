"""The talk's demo on the fabric: OVS and VF guests on VLAN 2010 all reach each other and DHCP."""

from __future__ import annotations

import ipaddress

import pytest

from sriovstack.fabric.frames import Hop
from sriovstack.fabric.scenes import (
    DHCP,
    INSTANCE_0,
    INSTANCE_1,
    INSTANCE_2,
    SceneGuest,
    TalkScene,
    talk_scene,
)


@pytest.fixture
def scene() -> TalkScene:
    return talk_scene()


def places(hops: tuple[Hop, ...]) -> list[str]:
    return [hop.place for hop in hops]


def test_every_guest_and_the_dhcp_namespace_reach_each_other(scene: TalkScene) -> None:
    matrix = scene.fabric.matrix()

    assert matrix.names == ("Instance-0", "Instance-1", "Instance-2", DHCP.label)
    assert matrix.failures == ()
    assert len(matrix.results) == 12


@pytest.mark.parametrize("guest", [INSTANCE_0, INSTANCE_1, INSTANCE_2])
def test_every_guest_gets_its_ports_address_over_dhcp(scene: TalkScene, guest: SceneGuest) -> None:
    lease = scene.fabric.lease(guest.name)

    assert lease.leased, lease.reason
    assert lease.ip == ipaddress.ip_address(guest.ip)
    assert [leg.what for leg in lease.legs] == [
        f"DHCP DISCOVER from {guest.mac}",
        f"DHCP OFFER {guest.ip} to {guest.mac}",
    ]


def test_a_vf_guest_reaches_an_ovs_guest_on_the_other_pf_through_the_tor(
    scene: TalkScene,
) -> None:
    result = scene.fabric.trace("Instance-1", "Instance-0")

    assert result.reachable
    assert [leg.what for leg in result.legs] == [
        "ARP who-has 10.0.0.4 tell 10.0.0.3",
        "ARP reply 10.0.0.4 is-at fa:16:3e:3c:9b:20",
        "ICMP echo request 10.0.0.3 > 10.0.0.4",
    ]
    assert places(result.legs[2].hops) == [
        "Instance-1 via VF 0 of enp3s0f1 (sriov-1)",
        "enp3s0f1 embedded switch (sriov-1)",
        "wire",
        "tor port sriov-1/enp3s0f1",
        "tor port sriov-1/enp3s0f0",
        "wire",
        "enp3s0f0 (sriov-1)",
        "PF enp3s0f0 (sriov-1)",
        "br-enp3s0f0 (sriov-1)",
        "Instance-0",
    ]


def test_two_vf_guests_of_one_pf_talk_inside_the_nic(scene: TalkScene) -> None:
    result = scene.fabric.ping("Instance-1", "Instance-2")

    assert result.reachable
    assert len(result.legs) == 4  # ARP both ways, echo request and reply
    assert "wire" not in places(result.hops)
    assert places(result.legs[2].hops) == [
        "Instance-1 via VF 0 of enp3s0f1 (sriov-1)",
        "enp3s0f1 embedded switch (sriov-1)",
        "VF 1 of enp3s0f1 (sriov-1)",
        "Instance-2",
    ]


def test_hops_say_what_each_place_decided(scene: TalkScene) -> None:
    hops = [str(h) for h in scene.fabric.trace("Instance-1", "Instance-0").legs[2].hops]

    assert hops[1] == (
        "enp3s0f1 embedded switch (sriov-1) [tagged VLAN 2010 (VF 0's port VLAN); "
        "fa:16:3e:3c:9b:20 on VLAN 2010 matches no filter: sent to the wire]"
    )
    assert hops[6] == (
        "enp3s0f0 (sriov-1) [fa:16:3e:3c:9b:20 on VLAN 2010 matches no filter; taken up: "
        "enp3s0f0 is promiscuous (an Open vSwitch port of br-enp3s0f0)]"
    )


@pytest.mark.parametrize(
    "ref", ["Instance-2", "physnet1-vf2", "10.0.0.5", "fa:16:3e:3c:9b:22", "FA:16:3E:3C:9B:22"]
)
def test_endpoints_are_named_by_server_name_port_id_ip_or_mac(scene: TalkScene, ref: str) -> None:
    assert scene.fabric.endpoint(ref).port_id == "physnet1-vf2"
    assert scene.fabric.trace("Instance-1", ref).reachable


def test_the_nics_show_their_filter_tables(scene: TalkScene) -> None:
    vf_pf = next(n for n in scene.fabric.nics() if n.pf == "enp3s0f1")

    assert vf_pf.describe().splitlines()[:4] == [
        "enp3s0f1 (sriov-1): Intel X540, up, 7 VFs, 3 of 128 unicast MAC filters",
        "  filter a0:36:9f:3e:5a:12 -> PF enp3s0f1",
        "  filter fa:16:3e:3c:9b:21 on VLAN 2010 -> VF 0",
        "  filter fa:16:3e:3c:9b:22 on VLAN 2010 -> VF 1",
    ]


def test_a_result_reads_as_text(scene: TalkScene) -> None:
    text = scene.fabric.ping("Instance-0", "Instance-2").describe()

    assert text.splitlines()[0] == "Instance-0 -> Instance-2: ok"
    assert "ICMP echo reply 10.0.0.5 > 10.0.0.4 (Instance-2 -> Instance-0): delivered" in text
