"""The agent's VF plan: wanted configs from ports, only differences written, resets, drift."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.reconciling import (
    BoundPort,
    Configure,
    Reset,
    difference,
    plan_vfs,
    wanted_config,
)
from sriovstack.domain.vfconfig import CLEAN, LinkState, TxRate, VFConfig, VlanTag

PF = PciAddress.parse("0000:03:00.1")
MAC = MacAddress.parse("fa:16:3e:11:22:33")


def port(index: int = 0, **changes: object) -> BoundPort:
    values: dict[str, object] = {
        "port_id": f"port-{index}",
        "pf": PF,
        "vf_index": index,
        "mac": MAC,
        "vlan": 2010,
    }
    values.update(changes)
    return BoundPort(**values)  # type: ignore[arg-type]


def test_a_direct_port_wants_its_mac_its_vlan_spoof_check_and_an_enabled_link() -> None:
    assert wanted_config(port()) == VFConfig(
        mac=MAC, vlan=VlanTag(2010), spoofchk=True, trust=False, link_state=LinkState.ENABLE
    )


@pytest.mark.parametrize(
    ("admin_up", "propagate", "link"),
    [
        (True, False, LinkState.ENABLE),
        (True, True, LinkState.AUTO),
        (False, False, LinkState.DISABLE),
        (False, True, LinkState.DISABLE),  # down wins over propagating the uplink
    ],
)
def test_link_state_follows_admin_state_and_uplink_propagation(
    admin_up: bool, propagate: bool, link: LinkState
) -> None:
    wanted = wanted_config(port(admin_state_up=admin_up, propagate_uplink_status=propagate))
    assert wanted.link_state is link


def test_port_security_off_turns_spoof_check_off_and_trust_follows_the_profile() -> None:
    wanted = wanted_config(port(port_security_enabled=False, trusted=True))
    assert (wanted.spoofchk, wanted.trust) == (False, True)


def test_qos_rates_are_rounded_up_to_whole_mbits() -> None:
    wanted = wanted_config(port(max_kbps=10_500, min_kbps=1))
    assert wanted.rate == TxRate(min_mbps=1, max_mbps=11)
    with pytest.raises(InvalidInput, match="qos"):
        wanted_config(port(max_kbps=-1))


def test_a_flat_network_leaves_the_vf_untagged() -> None:
    assert wanted_config(port(vlan=0)).vlan == VlanTag(0)


def test_only_differing_settings_are_planned() -> None:
    current = VFConfig(mac=MAC, vlan=VlanTag(100), link_state=LinkState.ENABLE)
    (action,) = plan_vfs([port()], {(PF, 0): current}, managed=[(PF, 0)])
    assert isinstance(action, Configure)
    assert action.change.vlan == VlanTag(2010)
    assert (action.change.mac, action.change.spoofchk, action.change.link_state) == (
        None,
        None,
        None,
    )
    assert not action.drift


def test_a_vf_already_right_gets_no_action() -> None:
    assert plan_vfs([port()], {(PF, 0): wanted_config(port())}, managed=[(PF, 0)]) == ()


def test_managed_vfs_no_port_holds_are_reset_and_clean_ones_left_alone() -> None:
    dirty = VFConfig(mac=MAC, vlan=VlanTag(5), trust=True)
    actions = plan_vfs([], {(PF, 0): dirty, (PF, 1): CLEAN}, managed=[(PF, 0), (PF, 1)])
    assert actions == (Reset(PF, 0, difference(dirty, CLEAN)),)
    assert actions[0].change.trust is False


def test_vfs_the_agent_does_not_manage_are_never_touched() -> None:
    dirty = VFConfig(mac=MAC)
    assert plan_vfs([], {(PF, 3): dirty}, managed=[]) == ()


def test_a_vf_changed_by_hand_after_being_verified_is_drift() -> None:
    wanted = wanted_config(port())
    by_hand = VFConfig(mac=MAC, vlan=VlanTag(7), link_state=LinkState.ENABLE)
    (action,) = plan_vfs(
        [port()], {(PF, 0): by_hand}, managed=[(PF, 0)], verified={(PF, 0): wanted}
    )
    assert isinstance(action, Configure)
    assert action.drift


def test_a_bound_vf_missing_from_the_host_gets_no_action() -> None:
    assert plan_vfs([port(5)], {}, managed=[(PF, 5)]) == ()


def test_two_ports_on_one_vf_are_refused() -> None:
    with pytest.raises(InvalidInput, match="same VF"):
        plan_vfs([port(0), port(0, port_id="other")], {}, managed=[])


def test_actions_come_in_pf_and_vf_order() -> None:
    other = PciAddress.parse("0000:03:00.0")
    observed = {(PF, 2): CLEAN, (PF, 1): CLEAN, (other, 9): CLEAN}
    bound = [port(2), port(1), port(9, pf=other)]
    actions = plan_vfs(bound, observed, managed=list(observed))
    assert [(str(a.pf), a.vf_index) for a in actions] == [
        ("0000:03:00.0", 9),
        ("0000:03:00.1", 1),
        ("0000:03:00.1", 2),
    ]
