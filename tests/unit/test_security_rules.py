"""Security group rules as Neutron accepts them; attribute values as clients send them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sriovstack.domain.attributes import (
    parse_flag,
    parse_text,
    parse_whole,
    refuse_unchangeable,
    refuse_unknown,
    require_empty,
    stamp,
)
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.security_rules import (
    Rule,
    default_group_rules,
    default_rules,
    normalized_cidr,
    parse_protocol,
    parse_rule,
    protocol_number,
)


def rule(**body: Any) -> Rule:
    return parse_rule({"direction": "ingress", **body})


def test_the_talks_ssh_rule() -> None:
    parsed = rule(
        protocol="tcp", port_range_min="22", port_range_max="22", remote_ip_prefix="0.0.0.0/0"
    )
    assert parsed == Rule("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", None)


def test_rules_default_to_ipv4_and_any_protocol() -> None:
    assert rule() == Rule("ingress", "IPv4")
    assert rule(ethertype="ipv6", protocol="ANY") == Rule("ingress", "IPv6")


def test_every_new_group_lets_everything_out() -> None:
    assert default_rules() == [Rule("egress", "IPv4"), Rule("egress", "IPv6")]
    assert default_group_rules("g1") == [
        Rule("egress", "IPv4"),
        Rule("egress", "IPv6"),
        Rule("ingress", "IPv4", remote_group_id="g1"),
        Rule("ingress", "IPv6", remote_group_id="g1"),
    ]


@pytest.mark.parametrize(
    ("value", "shown", "number"),
    [
        ("TCP", "tcp", 6),
        ("udp", "udp", 17),
        ("icmpv6", "icmpv6", 58),
        ("ipv6-icmp", "ipv6-icmp", 58),
        (6, "6", 6),
        ("132", "132", 132),
        (0, "0", 0),
        (None, None, None),
        ("any", None, None),
    ],
)
def test_protocols_by_name_or_number(value: Any, shown: str | None, number: int | None) -> None:
    assert parse_protocol(value) == shown
    assert protocol_number(shown) == number


@pytest.mark.parametrize("value", ["tcpp", 256, -1, "6.0", True, ""])
def test_bad_protocols(value: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_protocol(value)
    assert error.value.field == "protocol"


def test_the_same_rule_however_it_is_written() -> None:
    by_name = rule(protocol="tcp", port_range_min=22, port_range_max=22)
    by_number = rule(
        protocol="6", port_range_min="22", port_range_max="22", remote_ip_prefix="0.0.0.0/0"
    )
    assert by_name.key() == by_number.key()
    assert (
        rule(protocol="icmpv6", ethertype="IPv6").key()
        == rule(protocol="58", ethertype="IPv6").key()
    )
    assert rule(remote_ip_prefix="10.0.0.1/24").key() == rule(remote_ip_prefix="10.0.0.0/24").key()
    assert rule(protocol="tcp").key() != rule(protocol="udp").key()
    assert rule().key() != parse_rule({"direction": "egress"}).key()


def test_icmp_ports_are_type_and_code() -> None:
    assert rule(protocol="icmp", port_range_min=8, port_range_max=0).port_range_max == 0
    assert rule(protocol="icmp", port_range_min="3").port_range_max is None
    assert rule(protocol="ipv6-icmp", ethertype="IPv6", port_range_min=135).port_range_min == 135


@pytest.mark.parametrize(
    ("body", "field", "rule_text"),
    [
        ({"direction": None}, "direction", "ingress or egress"),
        ({"ethertype": "ip"}, "ethertype", "IPv4 or IPv6"),
        ({"ethertype": 4}, "ethertype", "IPv4 or IPv6"),
        ({"protocol": "icmpv6"}, "protocol", "needs ethertype IPv6"),
        (
            {"protocol": "tcp", "port_range_min": 0, "port_range_max": 1},
            "port_range_min",
            "1 to 65535",
        ),
        (
            {"protocol": "tcp", "port_range_min": 1, "port_range_max": 65536},
            "port_range_max",
            "1 to 65535",
        ),
        (
            {"protocol": "tcp", "port_range_min": 9, "port_range_max": 8},
            "port_range_min",
            "greater",
        ),
        ({"protocol": "tcp", "port_range_max": 8}, "port_range_min", "is required"),
        (
            {"protocol": "tcp", "port_range_min": 2.5, "port_range_max": 8},
            "port_range_min",
            "whole",
        ),
        (
            {"protocol": "tcp", "port_range_min": True, "port_range_max": 8},
            "port_range_min",
            "whole",
        ),
        ({"port_range_min": 1, "port_range_max": 2}, "port_range_min", "needs a protocol"),
        ({"protocol": "esp", "port_range_max": 2}, "port_range_max", "ports apply only to"),
        (
            {"protocol": "icmp", "port_range_min": 1, "port_range_max": 256},
            "port_range_max",
            "0 to 255",
        ),
        ({"protocol": "icmp", "port_range_max": 1}, "port_range_max", "ICMP type"),
        ({"remote_ip_prefix": "::/0"}, "remote_ip_prefix", "IPv4 prefix"),
        ({"remote_ip_prefix": "ten"}, "remote_ip_prefix", "CIDR"),
        ({"remote_ip_prefix": True}, "remote_ip_prefix", "CIDR"),
        ({"remote_group_id": 5}, "remote_group_id", "security group ID"),
        ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "g"}, "remote_ip_prefix", "both"),
    ],
)
def test_bad_rules_name_the_field_and_rule(
    body: dict[str, Any], field: str, rule_text: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_rule({"direction": "ingress", **body})
    assert error.value.field == field
    assert rule_text in error.value.rule


def test_normalized_cidr() -> None:
    assert normalized_cidr("10.0.0.7/24") == "10.0.0.0/24"
    assert normalized_cidr("10.0.0.7") == "10.0.0.7/32"
    assert normalized_cidr(None) is None


@pytest.mark.parametrize(("value", "flag"), [(True, True), ("false", False), ("True", True)])
def test_flags(value: Any, flag: bool) -> None:
    assert parse_flag("admin_state_up", value) is flag


@pytest.mark.parametrize("value", ["yes", 1, None, "t"])
def test_bad_flags(value: Any) -> None:
    with pytest.raises(InvalidInput, match="admin_state_up: must be true or false"):
        parse_flag("admin_state_up", value)


def test_whole_numbers_texts_and_attribute_sets() -> None:
    assert parse_whole("n", "7", 1, 9) == 7
    assert parse_whole("n", 7.0, 1, 9) == 7
    for bad in ("x", 10, 0, None, 7.5, False):
        with pytest.raises(InvalidInput, match="n: must be a whole number from 1 to 9"):
            parse_whole("n", bad, 1, 9)
    assert parse_text("name", "x") == "x"
    with pytest.raises(InvalidInput, match="at most 255"):
        parse_text("name", "x" * 256)
    with pytest.raises(InvalidInput, match="must be a string"):
        parse_text("name", 5)
    refuse_unknown({"name": 1}, {"name"})
    with pytest.raises(InvalidInput, match="colour: is not a recognised attribute"):
        refuse_unknown({"name": 1, "colour": 2}, {"name"})
    with pytest.raises(InvalidInput, match="cidr: cannot be changed after the subnet is created"):
        refuse_unchangeable({"cidr": 1}, {"name"}, "subnet")
    require_empty("tags", [], "no tags")
    with pytest.raises(InvalidInput, match="tags: no tags"):
        require_empty("tags", ["a"], "no tags")
    assert stamp(datetime(2026, 11, 25, 12, 0, 1, 500, tzinfo=UTC)) == "2026-11-25T12:00:01Z"
