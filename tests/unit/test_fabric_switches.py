"""Learning switches (ToR, OVS bridges): learning per VLAN, flooding, no hairpin, access ports."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.frames import BROADCAST, Frame
from sriovstack.fabric.nodes import Drop, Learned, Outcome, Send
from sriovstack.fabric.switches import LearningSwitch, SwitchPort

A = MacAddress.parse("fa:16:3e:00:00:0a")
B = MacAddress.parse("fa:16:3e:00:00:0b")


@pytest.fixture
def tor() -> LearningSwitch:
    return LearningSwitch(
        "tor",
        "tor",
        [
            SwitchPort("h1", "enp3s0f1 of sriov-1", "tor port h1"),
            SwitchPort("h2", "enp3s0f1 of sriov-2", "tor port h2"),
            SwitchPort("h3", "enp3s0f1 of sriov-3", "tor port h3", down="the link is down"),
            SwitchPort("ext", "router", "tor port ext", trunk=False, vlan=2010),
            SwitchPort("ext2", "printer", "tor port ext2", trunk=False, vlan=2011),
        ],
    )


def sent(outcomes: list[Outcome]) -> dict[str, Frame]:
    return {o.port: o.frame for o in outcomes if isinstance(o, Send)}


def dropped(outcomes: list[Outcome]) -> dict[str | None, Drop]:
    return {o.port: o for o in outcomes if isinstance(o, Drop)}


def test_a_broadcast_floods_every_other_port_of_its_vlan(tor: LearningSwitch) -> None:
    out = tor.receive(Frame(A, BROADCAST, "t", vlan=2010), "h1", {})

    assert set(sent(out)) == {"h2", "ext"}
    assert sent(out)["ext"].vlan is None  # an access port strips the tag
    assert sent(out)["h2"].vlan == 2010  # a trunk keeps it
    assert dropped(out)["h3"].reason == "dropped at tor port h3: the link is down"
    assert "VLAN mismatch: printer is on VLAN 2011" in dropped(out)["ext2"].reason
    assert dropped(out)["h1"].quiet  # a broadcast is never sent back: nothing unusual


def test_known_unicast_goes_out_of_the_learned_port_only(tor: LearningSwitch) -> None:
    learned: Learned = {}
    tor.receive(Frame(B, BROADCAST, "t", vlan=2010), "h2", learned)

    out = tor.receive(Frame(A, B, "t", vlan=2010), "h1", learned)

    assert list(sent(out)) == ["h2"]
    assert learned["tor"] == {(2010, B): "h2", (2010, A): "h1"}


def test_unknown_unicast_is_flooded_and_may_be_lost_behind_its_ingress(
    tor: LearningSwitch,
) -> None:
    out = tor.receive(Frame(A, B, "t", vlan=2010), "h1", {})

    assert set(sent(out)) == {"h2", "ext"}
    back = dropped(out)["h1"]
    assert not back.quiet
    assert back.reason == (
        "dropped at tor: would have to go back out the port it came in on (enp3s0f1 of sriov-1)"
    )


def test_a_frame_for_a_mac_learned_on_its_ingress_port_is_not_sent_back(
    tor: LearningSwitch,
) -> None:
    learned: Learned = {}
    tor.receive(Frame(B, BROADCAST, "t", vlan=2010), "h1", learned)

    out = tor.receive(Frame(A, B, "t", vlan=2010), "h1", learned)

    assert sent(out) == {}
    assert dropped(out)["h1"].reason == (
        "dropped at tor: would have to go back out the port it came in on (enp3s0f1 of sriov-1)"
    )


def test_the_same_mac_is_learned_per_vlan(tor: LearningSwitch) -> None:
    learned: Learned = {}
    tor.receive(Frame(B, BROADCAST, "t", vlan=2011), "h2", learned)

    out = tor.receive(Frame(A, B, "t", vlan=2010), "h1", learned)

    assert set(sent(out)) == {"h2", "ext"}  # unknown on VLAN 2010: flooded


def test_an_access_port_tags_what_comes_in_and_refuses_tagged_frames(tor: LearningSwitch) -> None:
    learned: Learned = {}
    out = tor.receive(Frame(A, BROADCAST, "t"), "ext", learned)
    tagged = tor.receive(Frame(A, BROADCAST, "t", vlan=2010), "ext", learned)

    assert sent(out)["h1"].vlan == 2010
    assert sent(out)["h1"].tagged_by == "the access VLAN of router"
    assert sent(tagged) == {}
    assert "an access port takes no tagged frames" in dropped(tagged)[None].reason


def test_a_port_without_link_drops_known_unicast_for_it(tor: LearningSwitch) -> None:
    learned: Learned = {"tor": {(2010, B): "h3"}}

    out = tor.receive(Frame(A, B, "t", vlan=2010), "h1", learned)

    assert dropped(out)["h3"].reason == "dropped at tor port h3: the link is down"
