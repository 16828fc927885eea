"""IPAM rules: subnet CIDRs, gateways, allocation pools and the lowest free address."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.ipam import (
    GatewayInPool,
    OverlappingPools,
    Pool,
    check_gateway_outside,
    default_gateway,
    default_pools,
    first_free,
    parse_cidr,
    parse_gateway,
    parse_host_routes,
    parse_ip_version,
    parse_nameservers,
    parse_pools,
    pools_from_wire,
)

ip = ipaddress.ip_address
net = ipaddress.ip_network


def pool(start: str, end: str) -> Pool:
    return Pool(ip(start), ip(end))


@pytest.mark.parametrize(("value", "version"), [(4, 4), ("6", 6), (" 4 ", 4)])
def test_ip_versions(value: Any, version: int) -> None:
    assert parse_ip_version(value) == version


@pytest.mark.parametrize("value", [5, "four", True, None, 4.5])
def test_bad_ip_versions(value: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_ip_version(value)
    assert error.value.field == "ip_version"


def test_a_cidr_is_a_network_of_its_version() -> None:
    assert parse_cidr("10.0.0.0/24", 4) == net("10.0.0.0/24")
    assert parse_cidr(" 2001:db8::/64 ", 6) == net("2001:db8::/64")
    assert parse_cidr("10.0.0.0/30", 4) == net("10.0.0.0/30")
    assert parse_cidr("2001:db8::/127", 6) == net("2001:db8::/127")


@pytest.mark.parametrize(
    ("value", "version", "rule"),
    [
        ("10.0.0.1/24", 4, "has host bits set (the network is 10.0.0.0/24)"),
        ("10.0.0.0/24", 6, "is an IPv4 network but ip_version is 6"),
        ("10.0.0.0/31", 4, "leaves no usable address (IPv4 needs /30 or shorter)"),
        ("10.0.0.0/32", 4, "leaves no usable address"),
        ("2001:db8::/128", 6, "leaves no usable address (IPv6 needs /127 or shorter)"),
        ("0.0.0.0/0", 4, "must not be a /0 network"),
        ("10.0.0.0", 4, "must be a network"),
        ("10.0.0.0/", 4, "must be a network"),
        ("10.0.0.256/24", 4, "must be a network"),
        (24, 4, "must be a network"),
        (None, 4, "is required"),
    ],
)
def test_bad_cidrs_name_the_rule(value: Any, version: int, rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_cidr(value, version)
    assert error.value.field == "cidr"
    assert rule in error.value.rule


def test_the_default_gateway_is_the_first_host_and_the_pools_are_the_rest() -> None:
    v4 = net("10.0.0.0/24")
    assert default_gateway(v4) == ip("10.0.0.1")
    assert default_pools(v4, ip("10.0.0.1")) == [pool("10.0.0.2", "10.0.0.254")]
    assert default_pools(v4, None) == [pool("10.0.0.1", "10.0.0.254")]
    assert default_pools(v4, ip("10.0.0.254")) == [pool("10.0.0.1", "10.0.0.253")]
    assert default_pools(v4, ip("10.0.0.9")) == [
        pool("10.0.0.1", "10.0.0.8"),
        pool("10.0.0.10", "10.0.0.254"),
    ]
    v6 = net("2001:db8::/64")
    assert default_gateway(v6) == ip("2001:db8::1")
    # No broadcast in IPv6: the last address is usable; the subnet-router anycast one is not.
    assert default_pools(v6, ip("2001:db8::1")) == [
        pool("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")
    ]
    assert default_pools(net("10.0.0.0/30"), ip("10.0.0.1")) == [pool("10.0.0.2", "10.0.0.2")]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("10.0.1.1", "must be inside the subnet 10.0.0.0/24"),
        ("10.0.0.0", "must not be the network address"),
        ("10.0.0.255", "must not be the broadcast address"),
        ("2001:db8::1", "must be an IPv4 address"),
        ("gateway", "must be an IP address"),
        (1, "must be an IP address"),
    ],
)
def test_bad_gateways(value: Any, rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_gateway(value, net("10.0.0.0/24"))
    assert error.value.field == "gateway_ip"
    assert rule in error.value.rule


def test_no_gateway() -> None:
    assert parse_gateway(None, net("10.0.0.0/24")) is None


def test_given_pools_are_sorted_and_checked() -> None:
    cidr = net("10.0.0.0/24")
    given = [{"start": "10.0.0.100", "end": "10.0.0.200"}, {"start": "10.0.0.2", "end": "10.0.0.9"}]
    pools = parse_pools(given, cidr)
    assert pools == [pool("10.0.0.2", "10.0.0.9"), pool("10.0.0.100", "10.0.0.200")]
    assert [p.wire() for p in pools] == sorted(given, key=lambda p: ip(p["start"]))
    assert pools_from_wire([p.wire() for p in pools]) == pools
    assert parse_pools([], cidr) == []


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ([{"start": "10.0.0.9", "end": "10.0.0.2"}], "starts after it ends"),
        ([{"start": "10.0.0.2", "end": "10.0.0.255"}], "must lie within 10.0.0.1-10.0.0.254"),
        ([{"start": "10.0.0.0", "end": "10.0.0.5"}], "must lie within"),
        ([{"start": "10.0.0.2"}], "each pool must be"),
        ([{"start": "10.0.0.2", "end": "10.0.0.5", "x": 1}], "each pool must be"),
        ("10.0.0.2-10.0.0.5", "must be a list"),
    ],
)
def test_bad_pools(given: Any, rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_pools(given, net("10.0.0.0/24"))
    assert error.value.field == "allocation_pools"
    assert rule in error.value.rule


def test_a_pool_bound_of_the_wrong_version_names_its_end() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_pools([{"start": "10.0.0.2", "end": "2001:db8::5"}], net("10.0.0.0/24"))
    assert error.value.field == "allocation_pools.end"


def test_overlapping_pools_and_a_gateway_inside_a_pool_are_conflicts() -> None:
    given = [{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.20"}]
    with pytest.raises(
        OverlappingPools, match=re.escape("10.0.0.2-10.0.0.9 overlaps pool 10.0.0.9-10.0.0.20")
    ):
        parse_pools(given, net("10.0.0.0/24"))
    with pytest.raises(GatewayInPool, match=re.escape("gateway_ip: 10.0.0.5 is inside")):
        check_gateway_outside(ip("10.0.0.5"), [pool("10.0.0.2", "10.0.0.9")])
    check_gateway_outside(ip("10.0.0.1"), [pool("10.0.0.2", "10.0.0.9")])
    check_gateway_outside(None, [pool("10.0.0.2", "10.0.0.9")])


def test_a_pool_holds_only_addresses_of_its_version() -> None:
    assert ip("10.0.0.5") in pool("10.0.0.2", "10.0.0.9")
    assert ip("::5") not in pool("10.0.0.2", "10.0.0.9")
    assert "10.0.0.5" not in pool("10.0.0.2", "10.0.0.9")


def test_the_lowest_free_address_comes_first() -> None:
    pools = [pool("10.0.0.20", "10.0.0.21"), pool("10.0.0.2", "10.0.0.4")]
    assert first_free(pools, set()) == ip("10.0.0.2")
    assert first_free(pools, {ip("10.0.0.2"), ip("10.0.0.3")}) == ip("10.0.0.4")
    taken = {ip(f"10.0.0.{n}") for n in (2, 3, 4, 20)}
    assert first_free(pools, taken) == ip("10.0.0.21")
    assert first_free(pools, taken | {ip("10.0.0.21")}) is None
    assert first_free([], set()) is None


def test_the_lowest_free_address_of_a_huge_pool_is_found_quickly() -> None:
    whole = [pool("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]
    taken = {ip("2001:db8::2") + n for n in range(1000)}
    assert first_free(whole, taken) == ip("2001:db8::2") + 1000
    last = [pool("255.255.255.254", "255.255.255.254")]
    assert first_free(last, {ip("255.255.255.254")}) is None


def test_nameservers() -> None:
    assert parse_nameservers(["8.8.8.8", " 2001:4860:4860::8888"]) == [
        "8.8.8.8",
        "2001:4860:4860::8888",
    ]
    for bad, rule in (
        (["8.8.8.8", "8.8.8.8"], "lists 8.8.8.8 twice"),
        (["dns.example.com"], "must be an IP address"),
        ([f"10.0.0.{n}" for n in range(6)], "at most 5"),
        ("8.8.8.8", "must be a list"),
    ):
        with pytest.raises(InvalidInput) as error:
            parse_nameservers(bad)
        assert error.value.field == "dns_nameservers"
        assert rule in error.value.rule


def test_host_routes() -> None:
    route = {"destination": "0.0.0.0/0", "nexthop": "10.0.0.254"}
    assert parse_host_routes([route], 4) == [route]
    for bad, field in (
        ([route, route], "host_routes"),
        ([{"destination": "10.0.0.0/8"}], "host_routes"),
        ([{"destination": "10.0.0.1/8", "nexthop": "10.0.0.1"}], "host_routes.destination"),
        ([{"destination": "::/0", "nexthop": "10.0.0.1"}], "host_routes.destination"),
        ([{"destination": "10.0.0.0/8", "nexthop": "::1"}], "host_routes.nexthop"),
        ({"destination": "10.0.0.0/8"}, "host_routes"),
    ):
        with pytest.raises(InvalidInput) as error:
            parse_host_routes(bad, 4)
        assert error.value.field == field
