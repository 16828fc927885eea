"""LinuxKernel's rtnetlink conversions, checked through pyroute2's own encoder and decoder."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pyroute2.iproute.linux import get_arguments_processor
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import IFF_BROADCAST, IFF_LOWER_UP, IFF_UP, ifinfmsg

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.observed import ObservedLink, ObservedVF
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanProto, VlanTag
from sriovstack.host.linux import ARPHRD_ETHER, observed_link, vf_request

NOT_REPORTED = 0xFFFFFFFF  # the kernel's -1 in a u32
MAC_A = MacAddress.parse("02:00:00:00:00:0a")
DOT1AD = VlanTag(vlan=300, qos=5, proto=VlanProto.DOT1AD)

# ------------------------------------------------------------------------------------------
# building the set request


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"mac": MAC_A}, {"mac": "02:00:00:00:00:0a"}),
        ({"mac": MacAddress.zero()}, {"mac": "00:00:00:00:00:00"}),
        ({"vlan": VlanTag(vlan=100, qos=3)}, {"vlan": {"vlan": 100, "qos": 3}}),
        ({"vlan": VlanTag()}, {"vlan": {"vlan": 0, "qos": 0}}),
        ({"vlan": DOT1AD}, {"vlan": [{"vlan": 300, "qos": 5, "proto": 0x88A8}]}),
        ({"spoofchk": True}, {"spoofchk": 1}),
        ({"spoofchk": False}, {"spoofchk": 0}),
        ({"trust": True}, {"trust": 1}),
        ({"trust": False}, {"trust": 0}),
        ({"link_state": LinkState.AUTO}, {"link_state": 0}),
        ({"link_state": LinkState.ENABLE}, {"link_state": 1}),
        ({"link_state": LinkState.DISABLE}, {"link_state": 2}),
        (
            {"rate": TxRate(min_mbps=40, max_mbps=100)},
            {"rate": {"min_tx_rate": 40, "max_tx_rate": 100}},
        ),
        ({"rate": TxRate()}, {"rate": {"min_tx_rate": 0, "max_tx_rate": 0}}),
    ],
)
def test_vf_request_carries_exactly_the_given_setting(
    settings: dict[str, Any], expected: dict[str, object]
) -> None:
    assert vf_request(3, **settings) == {"vf": 3, **expected}


def test_vf_request_values_are_plain_ints_not_enums_or_bools() -> None:
    request = vf_request(0, spoofchk=True, trust=False, link_state=LinkState.DISABLE)
    assert [type(request[key]) for key in ("spoofchk", "trust", "link_state")] == [int, int, int]


def test_vf_request_with_nothing_names_only_the_vf() -> None:
    assert vf_request(7) == {"vf": 7}


def test_vf_request_with_everything() -> None:
    request = vf_request(
        1,
        mac=MAC_A,
        vlan=DOT1AD,
        spoofchk=False,
        trust=True,
        link_state=LinkState.ENABLE,
        rate=TxRate(max_mbps=1000),
    )
    assert request == {
        "vf": 1,
        "mac": "02:00:00:00:00:0a",
        "vlan": [{"vlan": 300, "qos": 5, "proto": 0x88A8}],
        "spoofchk": 0,
        "trust": 1,
        "link_state": 1,
        "rate": {"min_tx_rate": 0, "max_tx_rate": 1000},
    }


def test_vf_request_is_fresh_on_every_call_so_pyroute2_may_consume_it() -> None:
    first = vf_request(2, mac=MAC_A, vlan=VlanTag(vlan=10), rate=TxRate(max_mbps=5))
    encode_set_request(9, first)  # pyroute2 pops keys out of what it is given
    assert vf_request(2, mac=MAC_A, vlan=VlanTag(vlan=10), rate=TxRate(max_mbps=5)) == {
        "vf": 2,
        "mac": "02:00:00:00:00:0a",
        "vlan": {"vlan": 10, "qos": 0},
        "rate": {"min_tx_rate": 0, "max_tx_rate": 5},
    }


def test_vf_request_refuses_a_negative_index() -> None:
    with pytest.raises(InvalidInput):
        vf_request(-1, trust=True)


# ------------------------------------------------------------------------------------------
# the set request on the wire


def encode_set_request(pf_index: int, vf: dict[str, object]) -> bytes:
    """Encode ``link('set', index=pf_index, vf=vf)`` the way IPRoute does, without a socket."""
    arguments = get_arguments_processor("link", "set", {"index": pf_index, "vf": vf})
    msg = ifinfmsg()
    msg["header"]["type"] = RTM_NEWLINK
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    for name, _ in msg.fields:
        msg[name] = arguments.get_value(name, default=0, mode="field")
    for key, value in arguments.items():
        nla = ifinfmsg.name2nla(key)
        if msg.valid_nla(nla) and value is not None:
            msg["attrs"].append([nla, value])
    msg.encode()
    return bytes(msg.data)


def decode(data: bytes) -> Any:
    msg = ifinfmsg(data)
    msg.decode()
    return msg


def vf_attrs(data: bytes) -> Any:
    """The one IFLA_VF_INFO nest of an encoded set request."""
    msg = decode(data)
    (info,) = msg.get("IFLA_VFINFO_LIST").get_attrs("IFLA_VF_INFO")
    return info


def attr_names(info: Any) -> set[str]:
    return {name for name, _ in info["attrs"]}


def test_set_request_is_an_rtm_newlink_for_the_pf_with_only_the_vf_list() -> None:
    msg = decode(encode_set_request(12, vf_request(0, trust=True)))
    assert msg["header"]["type"] == RTM_NEWLINK
    assert msg["header"]["flags"] == NLM_F_REQUEST | NLM_F_ACK
    assert msg["index"] == 12
    assert (msg["flags"], msg["change"]) == (0, 0)
    assert [name for name, _ in msg["attrs"]] == ["IFLA_VFINFO_LIST"]


def test_set_request_with_every_setting_decodes_to_the_same_values() -> None:
    request = vf_request(
        4,
        mac=MAC_A,
        vlan=VlanTag(vlan=100, qos=3),
        spoofchk=False,
        trust=True,
        link_state=LinkState.DISABLE,
        rate=TxRate(min_mbps=10, max_mbps=200),
    )
    info = vf_attrs(encode_set_request(12, request))
    assert attr_names(info) == {
        "IFLA_VF_MAC",
        "IFLA_VF_VLAN",
        "IFLA_VF_SPOOFCHK",
        "IFLA_VF_TRUST",
        "IFLA_VF_LINK_STATE",
        "IFLA_VF_RATE",
    }
    assert info.get("IFLA_VF_MAC")["mac"] == "02:00:00:00:00:0a"
    assert _fields(info.get("IFLA_VF_VLAN"), "vf", "vlan", "qos") == (4, 100, 3)
    assert _fields(info.get("IFLA_VF_SPOOFCHK"), "vf", "spoofchk") == (4, 0)
    assert _fields(info.get("IFLA_VF_TRUST"), "vf", "trust") == (4, 1)
    assert _fields(info.get("IFLA_VF_LINK_STATE"), "vf", "link_state") == (4, 2)
    assert _fields(info.get("IFLA_VF_RATE"), "vf", "min_tx_rate", "max_tx_rate") == (4, 10, 200)


def test_set_request_sends_only_the_given_setting() -> None:
    info = vf_attrs(encode_set_request(3, vf_request(1, spoofchk=True)))
    assert attr_names(info) == {"IFLA_VF_SPOOFCHK"}
    assert _fields(info.get("IFLA_VF_SPOOFCHK"), "vf", "spoofchk") == (1, 1)


def test_dot1q_vlan_goes_as_legacy_ifla_vf_vlan() -> None:
    info = vf_attrs(encode_set_request(3, vf_request(0, vlan=VlanTag(vlan=42, qos=1))))
    assert attr_names(info) == {"IFLA_VF_VLAN"}
    assert _fields(info.get("IFLA_VF_VLAN"), "vf", "vlan", "qos") == (0, 42, 1)


def test_dot1ad_vlan_goes_as_a_one_entry_ifla_vf_vlan_list() -> None:
    info = vf_attrs(encode_set_request(3, vf_request(5, vlan=DOT1AD)))
    assert attr_names(info) == {"IFLA_VF_VLAN_LIST"}
    (entry,) = info.get("IFLA_VF_VLAN_LIST").get_attrs("IFLA_VF_VLAN_INFO")
    assert _fields(entry, "vf", "vlan", "qos", "proto") == (5, 300, 5, 0x88A8)


def test_dot1ad_vlan_entry_has_the_kernel_struct_size() -> None:
    # do_setvfinfo() refuses an IFLA_VF_VLAN_INFO shorter than struct ifla_vf_vlan_info (16)
    data = encode_set_request(3, vf_request(5, vlan=DOT1AD))
    payload = struct.pack("=III", 5, 300, 5) + struct.pack(">H", 0x88A8)
    at = data.index(payload)
    nla_len, nla_type = struct.unpack_from("=HH", data, at - 4)
    assert nla_type & 0x3FFF == 1  # IFLA_VF_VLAN_INFO
    assert nla_len - 4 == 16


def _fields(attr: Any, *names: str) -> tuple[int, ...]:
    return tuple(attr[name] for name in names)


# ------------------------------------------------------------------------------------------
# parsing what the kernel reports: encode a message with pyroute2, decode it from the bytes


def vf_info(
    index: int, vlan_list: tuple[int, int, int] | None = None, **attrs: dict[str, object]
) -> tuple[str, dict[str, object]]:
    """An IFLA_VF_INFO nest; keyword names are IFLA_VF_* without the prefix.

    ``vlan_list`` (vlan, qos, proto) adds IFLA_VF_VLAN_LIST last, where the kernel puts it.
    """
    nested: list[tuple[str, object]] = [
        (f"IFLA_VF_{name.upper()}", {"vf": index, **value}) for name, value in attrs.items()
    ]
    if vlan_list is not None:
        vlan, qos, proto = vlan_list
        entry = {"vf": index, "vlan": vlan, "qos": qos, "proto": proto}
        nested.append(("IFLA_VF_VLAN_LIST", {"attrs": [("IFLA_VF_VLAN_INFO", entry)]}))
    return ("IFLA_VF_INFO", {"attrs": nested})


def link_message(
    *,
    index: int,
    ifname: str,
    flags: int,
    extra: list[tuple[str, object]],
    link_type: int = ARPHRD_ETHER,
) -> bytes:
    msg = ifinfmsg()
    msg["header"]["type"] = RTM_NEWLINK
    msg["ifi_type"] = link_type
    msg["index"] = index
    msg["flags"] = flags
    msg["attrs"] = [("IFLA_IFNAME", ifname), ("IFLA_MTU", 9000), *extra]
    msg.encode()
    return bytes(msg.data)


def pf_message() -> bytes:
    vfs = [
        # what ixgbe reports: MAC, VLAN, VLAN_LIST, rates, spoof check on, trust off
        vf_info(
            0,
            vlan_list=(100, 3, 0x8100),
            mac={"mac": "02:00:00:00:00:01"},
            vlan={"vlan": 100, "qos": 3},
            rate={"min_tx_rate": 0, "max_tx_rate": 1000},
            tx_rate={"tx_rate": 1000},
            spoofchk={"spoofchk": 1},
            link_state={"link_state": 0},
            rss_query_en={"rss_query_en": 0},
            trust={"trust": 0},
        ),
        # 802.1ad with the protocol only in the list; spoof check and trust not reported
        vf_info(
            1,
            vlan_list=(200, 0, 0x88A8),
            mac={"mac": "02:00:00:00:00:02"},
            vlan={"vlan": 200, "qos": 0},
            rate={"min_tx_rate": 10, "max_tx_rate": 100},
            tx_rate={"tx_rate": 100},
            spoofchk={"spoofchk": NOT_REPORTED},
            link_state={"link_state": 2},
            rss_query_en={"rss_query_en": NOT_REPORTED},
            trust={"trust": NOT_REPORTED},
        ),
        # an older kernel: no VLAN_LIST, no IFLA_VF_RATE, only the legacy attributes
        vf_info(
            2,
            mac={"mac": "00:00:00:00:00:00"},
            vlan={"vlan": 5, "qos": 1},
            tx_rate={"tx_rate": 500},
            spoofchk={"spoofchk": 0},
            link_state={"link_state": 1},
            trust={"trust": 1},
        ),
    ]
    return link_message(
        index=5,
        ifname="enp3s0f0",
        flags=IFF_UP | IFF_BROADCAST | IFF_LOWER_UP,
        extra=[
            ("IFLA_ADDRESS", "a0:36:9f:00:00:10"),
            ("IFLA_NUM_VF", 3),
            ("IFLA_VFINFO_LIST", {"attrs": vfs}),
        ],
    )


def test_pf_with_vfs_round_trips_to_an_observed_link() -> None:
    assert observed_link(decode(pf_message())) == ObservedLink(
        index=5,
        ifname="enp3s0f0",
        mac=MacAddress.parse("a0:36:9f:00:00:10"),
        admin_up=True,
        carrier=True,
        mtu=9000,
        num_vfs=3,
        vfs=(
            ObservedVF(
                index=0,
                mac=MacAddress.parse("02:00:00:00:00:01"),
                vlan=VlanTag(vlan=100, qos=3, proto=VlanProto.DOT1Q),
                spoofchk=True,
                trust=False,
                link_state=LinkState.AUTO,
                rate=TxRate(min_mbps=0, max_mbps=1000),
            ),
            ObservedVF(
                index=1,
                mac=MacAddress.parse("02:00:00:00:00:02"),
                vlan=VlanTag(vlan=200, qos=0, proto=VlanProto.DOT1AD),
                spoofchk=None,
                trust=None,
                link_state=LinkState.DISABLE,
                rate=TxRate(min_mbps=10, max_mbps=100),
            ),
            ObservedVF(
                index=2,
                mac=MacAddress.zero(),
                vlan=VlanTag(vlan=5, qos=1, proto=VlanProto.DOT1Q),
                spoofchk=False,
                trust=True,
                link_state=LinkState.ENABLE,
                rate=TxRate(min_mbps=0, max_mbps=500),
            ),
        ),
    )


def test_pf_without_vfs_reports_zero_vfs() -> None:
    data = link_message(
        index=6,
        ifname="enp3s0f1",
        flags=IFF_UP,
        extra=[("IFLA_ADDRESS", "a0:36:9f:00:00:11"), ("IFLA_NUM_VF", 0)],
    )
    link = observed_link(decode(data))
    assert (link.num_vfs, link.vfs) == (0, ())
    assert (link.admin_up, link.carrier, link.oper_up) == (True, False, False)


def test_device_without_parent_has_no_vf_count() -> None:
    data = link_message(
        index=9, ifname="veth0", flags=0, extra=[("IFLA_ADDRESS", "02:11:22:33:44:55")]
    )
    assert observed_link(decode(data)) == ObservedLink(
        index=9,
        ifname="veth0",
        mac=MacAddress.parse("02:11:22:33:44:55"),
        admin_up=False,
        carrier=False,
        mtu=9000,
        num_vfs=None,
        vfs=(),
    )


def with_raw_attr(data: bytes, nla_type: int, payload: bytes) -> bytes:
    """Append one top-level attribute pyroute2 cannot encode, fixing nlmsg_len."""
    padding = b"\0" * (-len(payload) % 4)
    attr = struct.pack("=HH", 4 + len(payload), nla_type) + payload + padding
    out = data + attr
    return struct.pack("=I", len(out)) + out[4:]


def test_tunnel_address_is_not_taken_for_a_mac() -> None:
    # an ipip device: ARPHRD_TUNNEL with a 4-byte IFLA_ADDRESS (its local IPv4 address)
    data = link_message(index=10, ifname="tun0", flags=IFF_UP, extra=[], link_type=768)
    data = with_raw_attr(data, 1, bytes([192, 168, 0, 1]))
    data = with_raw_attr(data, 13, struct.pack("=I", 1000))  # IFLA_TXQLEN after it
    msg = decode(data)
    # pyroute2 reads six octets whatever the length, running into the next attribute
    assert msg.get("IFLA_ADDRESS") == "c0:a8:00:01:08:00"
    assert observed_link(msg).mac == MacAddress.zero()


def test_device_without_an_address_reads_as_zero_mac() -> None:
    data = link_message(index=11, ifname="wg0", flags=IFF_UP, extra=[], link_type=0xFFFE)
    assert observed_link(decode(data)).mac == MacAddress.zero()
