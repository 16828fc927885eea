"""Neutron subnets over HTTP: defaults, IPAM checks, overlaps, ownership and deletion rules."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

NETWORKS = "/networking/v2.0/networks"
SUBNETS = "/networking/v2.0/subnets"
PORTS = "/networking/v2.0/ports"


def refused(client: Client, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body)
    return error.value


def make_network(client: Client, name: str = "net", **extra: Any) -> dict[str, Any]:
    network: dict[str, Any] = client.post(NETWORKS, {"network": {"name": name, **extra}})["network"]
    return network


def subnet_body(network_id: str, cidr: str = "10.0.0.0/24", **extra: Any) -> dict[str, Any]:
    version = 6 if ":" in cidr else 4
    return {"subnet": {"network_id": network_id, "ip_version": version, "cidr": cidr, **extra}}


def make_subnet(
    client: Client, network_id: str, cidr: str = "10.0.0.0/24", **extra: Any
) -> dict[str, Any]:
    subnet: dict[str, Any] = client.post(SUBNETS, subnet_body(network_id, cidr, **extra))["subnet"]
    return subnet


def test_the_talks_subnet_gets_neutrons_defaults(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo, "physnet1")
    body = {"subnet": {"ip_version": 4, "cidr": "10.0.0.0/24", "network_id": network["id"]}}
    body["subnet"]["name"] = "provider_net"
    subnet = demo.post(SUBNETS, body)["subnet"]
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert subnet["enable_dhcp"] is True
    assert subnet["dns_nameservers"] == [] and subnet["host_routes"] == []
    assert subnet["project_id"] == subnet["tenant_id"] == network["project_id"]
    for field in ("ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "segment_id"):
        assert subnet[field] is None
    assert subnet["revision_number"] == 1
    assert demo.get(f"{NETWORKS}/{network['id']}")["network"]["subnets"] == [subnet["id"]]
    assert demo.get(f"{SUBNETS}/{subnet['id']}")["subnet"] == subnet


def test_a_gateway_inside_the_range_splits_the_default_pool(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"], "10.0.0.0/24", gateway_ip="10.0.0.100")
    assert subnet["allocation_pools"] == [
        {"start": "10.0.0.1", "end": "10.0.0.99"},
        {"start": "10.0.0.101", "end": "10.0.0.254"},
    ]


def test_a_null_gateway_leaves_every_host_address_in_the_pool(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    subnet = make_subnet(demo, make_network(demo)["id"], "10.0.1.0/28", gateway_ip=None)
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": "10.0.1.1", "end": "10.0.1.14"}]


def test_an_ipv6_subnet(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    subnet = make_subnet(demo, make_network(demo)["id"], "2001:db8::/64")
    assert subnet["ip_version"] == 6
    assert subnet["gateway_ip"] == "2001:db8::1"
    assert subnet["allocation_pools"] == [
        {"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}
    ]


def test_given_pools_dns_and_routes_are_kept(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    subnet = make_subnet(
        demo,
        make_network(demo)["id"],
        allocation_pools=[
            {"start": "10.0.0.100", "end": "10.0.0.120"},
            {"start": "10.0.0.10", "end": "10.0.0.20"},
        ],
        dns_nameservers=["8.8.8.8", "2001:4860:4860::8888"],
        host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}],
        enable_dhcp="false",
    )
    assert subnet["allocation_pools"] == [
        {"start": "10.0.0.10", "end": "10.0.0.20"},
        {"start": "10.0.0.100", "end": "10.0.0.120"},
    ]
    assert subnet["dns_nameservers"] == ["8.8.8.8", "2001:4860:4860::8888"]
    assert subnet["host_routes"] == [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}]
    assert subnet["enable_dhcp"] is False


BAD_SUBNETS = [
    pytest.param({"cidr": "10.0.0.1/24"}, 400, "cidr", "host bits set", id="host-bits"),
    pytest.param({"cidr": "10.0.0.0/33"}, 400, "cidr", "must be a network", id="bad-prefix"),
    pytest.param({"cidr": "banana"}, 400, "cidr", "must be a network", id="not-a-cidr"),
    pytest.param({"cidr": "10.0.0.0"}, 400, "cidr", "must be a network", id="no-prefix"),
    pytest.param({"cidr": "10.0.0.0/31"}, 400, "cidr", "no usable address", id="too-small"),
    pytest.param({"cidr": "0.0.0.0/0"}, 400, "cidr", "/0", id="everything"),
    pytest.param({"cidr": None}, 400, "cidr", "is required", id="no-cidr"),
    pytest.param(
        {"cidr": "2001:db8::/64"}, 400, "cidr", "IPv6 network but ip_version is 4", id="version"
    ),
    pytest.param({"ip_version": 5}, 400, "ip_version", "must be 4 or 6", id="ip-version"),
    pytest.param({"ip_version": None}, 400, "ip_version", "is required", id="no-ip-version"),
    pytest.param(
        {"gateway_ip": "10.0.1.1"}, 400, "gateway_ip", "inside the subnet", id="gw-outside"
    ),
    pytest.param(
        {"gateway_ip": "10.0.0.255"}, 400, "gateway_ip", "broadcast address", id="gw-broadcast"
    ),
    pytest.param({"gateway_ip": "nope"}, 400, "gateway_ip", "IP address", id="gw-garbage"),
    pytest.param(
        {"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.1.9"}]},
        400,
        "allocation_pools",
        "must lie within 10.0.0.1-10.0.0.254",
        id="pool-outside",
    ),
    pytest.param(
        {"allocation_pools": [{"start": "10.0.0.0", "end": "10.0.0.9"}]},
        400,
        "allocation_pools",
        "must lie within",
        id="pool-network-address",
    ),
    pytest.param(
        {"allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.10"}]},
        400,
        "allocation_pools",
        "starts after it ends",
        id="pool-backwards",
    ),
    pytest.param(
        {
            "allocation_pools": [
                {"start": "10.0.0.10", "end": "10.0.0.30"},
                {"start": "10.0.0.20", "end": "10.0.0.40"},
            ]
        },
        409,
        "allocation_pools",
        "overlaps",
        id="pools-overlap",
    ),
    pytest.param(
        {"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
        409,
        "gateway_ip",
        "inside allocation pool",
        id="pool-holds-default-gateway",
    ),
    pytest.param(
        {"gateway_ip": "10.0.0.5", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"}]},
        409,
        "gateway_ip",
        "inside allocation pool",
        id="pool-holds-gateway",
    ),
    pytest.param(
        {"allocation_pools": [{"start": "10.0.0.2"}]},
        400,
        "allocation_pools",
        "start",
        id="pool-shape",
    ),
    pytest.param(
        {"dns_nameservers": ["8.8.8.8", "8.8.8.8"]},
        400,
        "dns_nameservers",
        "twice",
        id="dns-duplicate",
    ),
    pytest.param(
        {"dns_nameservers": ["dns.example.com"]},
        400,
        "dns_nameservers",
        "IP address",
        id="dns-name",
    ),
    pytest.param(
        {"host_routes": [{"destination": "192.168.0.0/16", "nexthop": "2001:db8::1"}]},
        400,
        "host_routes.nexthop",
        "IPv4",
        id="route-version",
    ),
    pytest.param(
        {"host_routes": [{"destination": "192.168.0.1/16", "nexthop": "10.0.0.1"}]},
        400,
        "host_routes.destination",
        "host bits",
        id="route-host-bits",
    ),
    pytest.param({"enable_dhcp": "maybe"}, 400, "enable_dhcp", "true or false", id="dhcp"),
    pytest.param(
        {"ipv6_address_mode": "slaac"}, 400, "ipv6_address_mode", "not supported", id="slaac"
    ),
    pytest.param({"subnetpool_id": "x"}, 400, "subnetpool_id", "subnet pools", id="pools"),
    pytest.param({"colour": "red"}, 400, "colour", "not a recognised attribute", id="unknown"),
]


@pytest.mark.parametrize(("extra", "status", "field", "rule"), BAD_SUBNETS)
def test_bad_subnets_are_refused_naming_the_field_and_rule(
    cloud: Cloud, extra: dict[str, Any], status: int, field: str, rule: str
) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    body = subnet_body(network["id"])
    body["subnet"].update(extra)
    error = refused(demo, "POST", SUBNETS, body)
    assert error.status == status
    assert field in error.message
    assert rule in error.message
    assert demo.get(SUBNETS)["subnets"] == []
    assert demo.get(f"{NETWORKS}/{network['id']}")["network"]["subnets"] == []


def test_overlapping_subnets_of_one_network_are_refused(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    first = make_subnet(demo, network["id"], "10.0.0.0/24")
    error = refused(demo, "POST", SUBNETS, subnet_body(network["id"], "10.0.0.128/25"))
    assert error.status == 400
    assert error.body["NeutronError"]["type"] == "InvalidInput"
    assert "cidr" in error.message and "overlaps" in error.message
    assert first["id"] in error.message
    assert [s["id"] for s in demo.get(SUBNETS)["subnets"]] == [first["id"]]
    make_subnet(demo, network["id"], "10.0.1.0/24")
    make_subnet(demo, make_network(demo, "other")["id"], "10.0.0.0/24")  # another network


def test_only_the_networks_owner_adds_subnets(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    shared = make_network(
        admin,
        "shared",
        shared=True,
        **{"provider:network_type": "vlan", "provider:physical_network": "physnet1"},
    )
    demo = cloud.client("demo")
    error = refused(demo, "POST", SUBNETS, subnet_body(shared["id"]))
    assert error.status == 403
    private = make_network(demo, "private")
    other = cloud.add_member("alice", "alpha")
    error = refused(other, "POST", SUBNETS, subnet_body(private["id"]))
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "NetworkNotFound"
    assert admin.get(SUBNETS)["subnets"] == []


def test_another_projects_subnets_are_not_found_but_shared_ones_are_seen(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    shared = make_network(
        admin,
        "shared",
        shared=True,
        **{"provider:network_type": "vlan", "provider:physical_network": "physnet1"},
    )
    shared_subnet = make_subnet(admin, shared["id"], "192.168.0.0/24")
    demo = cloud.client("demo")
    mine = make_subnet(demo, make_network(demo)["id"])
    other = cloud.add_member("bob", "beta")
    assert [s["id"] for s in other.get(SUBNETS)["subnets"]] == [shared_subnet["id"]]
    assert other.get(f"{SUBNETS}/{shared_subnet['id']}")["subnet"]["cidr"] == "192.168.0.0/24"
    for method, body in (("GET", None), ("PUT", {"subnet": {"name": "x"}}), ("DELETE", None)):
        error = refused(other, method, f"{SUBNETS}/{mine['id']}", body)
        assert error.status == 404
        assert error.body["NeutronError"]["type"] == "SubnetNotFound"
    assert refused(other, "PUT", f"{SUBNETS}/{shared_subnet['id']}", {"subnet": {}}).status == 403
    assert refused(other, "DELETE", f"{SUBNETS}/{shared_subnet['id']}").status == 403


def test_the_talks_dns_update_and_what_may_not_change(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    subnet = make_subnet(demo, make_network(demo)["id"], name="provider_net")
    path = f"{SUBNETS}/{subnet['id']}"
    updated = demo.put(path, {"subnet": {"dns_nameservers": ["8.8.4.4"]}})["subnet"]
    assert updated["dns_nameservers"] == ["8.8.4.4"]
    assert updated["revision_number"] == 2
    pools = {"allocation_pools": [{"start": "10.0.0.50", "end": "10.0.0.60"}]}
    assert demo.put(path, {"subnet": pools})["subnet"]["allocation_pools"] == [
        {"start": "10.0.0.50", "end": "10.0.0.60"}
    ]
    error = refused(demo, "PUT", path, {"subnet": {"gateway_ip": "10.0.0.55"}})
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "GatewayConflictWithAllocationPools"
    error = refused(demo, "PUT", path, {"subnet": {"cidr": "10.1.0.0/24"}})
    assert error.status == 400
    assert "cidr" in error.message and "cannot be changed" in error.message
    assert demo.get(path)["subnet"]["gateway_ip"] == "10.0.0.1"


def test_the_gateway_cannot_move_onto_a_ports_address(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"], gateway_ip=None)
    port = demo.post(PORTS, {"port": {"network_id": network["id"]}})["port"]
    taken = port["fixed_ips"][0]["ip_address"]
    pools = [{"start": "10.0.0.100", "end": "10.0.0.200"}]
    body = {"subnet": {"gateway_ip": taken, "allocation_pools": pools}}
    error = refused(demo, "PUT", f"{SUBNETS}/{subnet['id']}", body)
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "GatewayIpInUse"
    assert port["id"] in error.message


def test_a_subnet_with_addresses_in_use_cannot_be_deleted(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"])
    port = demo.post(PORTS, {"port": {"network_id": network["id"]}})["port"]
    error = refused(demo, "DELETE", f"{SUBNETS}/{subnet['id']}")
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SubnetInUse"
    assert port["id"] in error.message
    demo.delete(f"{PORTS}/{port['id']}")
    demo.delete(f"{SUBNETS}/{subnet['id']}")
    assert demo.get(SUBNETS)["subnets"] == []
    assert demo.get(f"{NETWORKS}/{network['id']}")["network"]["subnets"] == []


def test_a_dhcp_port_does_not_hold_its_subnet(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"])
    dhcp = {"port": {"network_id": network["id"], "device_owner": "network:dhcp"}}
    port = demo.post(PORTS, dhcp)["port"]
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    demo.delete(f"{SUBNETS}/{subnet['id']}")
    assert demo.get(f"{PORTS}/{port['id']}")["port"]["fixed_ips"] == []


def test_exact_filters(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    alpha = make_subnet(demo, network["id"], "10.0.0.0/24", name="alpha")
    make_subnet(demo, network["id"], "10.0.1.0/24", name="alphabet")
    assert [s["id"] for s in demo.get(SUBNETS, name="alpha")["subnets"]] == [alpha["id"]]
    assert demo.get(SUBNETS, name="alp")["subnets"] == []
    assert [s["name"] for s in demo.get(SUBNETS, cidr="10.0.1.0/24")["subnets"]] == ["alphabet"]
    assert len(demo.get(SUBNETS, network_id=network["id"], ip_version="4")["subnets"]) == 2
    assert demo.get(SUBNETS, ip_version="6")["subnets"] == []


def test_unknown_subnet_is_a_404(cloud: Cloud) -> None:
    error = refused(cloud.client("admin"), "GET", f"{SUBNETS}/nope")
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "SubnetNotFound"
