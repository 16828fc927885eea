"""Neutron security groups and rules over HTTP: the default group, rule checks, isolation."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

NETWORKS = "/networking/v2.0/networks"
SUBNETS = "/networking/v2.0/subnets"
PORTS = "/networking/v2.0/ports"
GROUPS = "/networking/v2.0/security-groups"
RULES = "/networking/v2.0/security-group-rules"
EXTENSIONS = "/networking/v2.0/extensions"


def refused(client: Client, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body)
    return error.value


def make_group(client: Client, name: str = "web", **extra: Any) -> dict[str, Any]:
    group: dict[str, Any] = client.post(GROUPS, {"security_group": {"name": name, **extra}})[
        "security_group"
    ]
    return group


def rule_body(group_id: str, **extra: Any) -> dict[str, Any]:
    return {"security_group_rule": {"security_group_id": group_id, "direction": "ingress", **extra}}


def make_rule(client: Client, group_id: str, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = client.post(RULES, rule_body(group_id, **extra))["security_group_rule"]
    return rule


def default_of(client: Client) -> dict[str, Any]:
    (group,) = client.get(GROUPS, name="default")["security_groups"]
    assert isinstance(group, dict)
    return group


def egress_only(group: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return sorted(
        (r["direction"], r["ethertype"], r["protocol"]) for r in group["security_group_rules"]
    )


def test_each_project_gets_one_default_group_on_first_listing(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    first = demo.get(GROUPS)["security_groups"]
    assert [g["name"] for g in first] == ["default"]
    group = first[0]
    # Neutron's default group: everything out, and in from the group's own members.
    assert sorted(
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in group["security_group_rules"]
    ) == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", group["id"]),
        ("ingress", "IPv6", group["id"]),
    ]
    assert all(r["belongs_to_default_sg"] for r in group["security_group_rules"])
    assert group["stateful"] is True and group["shared"] is False
    assert group["project_id"] == group["tenant_id"] == demo.session.project_id  # type: ignore[union-attr]
    assert demo.get(GROUPS)["security_groups"] == first
    other = cloud.add_member("alice", "alpha")
    theirs = default_of(other)
    assert theirs["id"] != group["id"]
    assert [g["id"] for g in demo.get(GROUPS)["security_groups"]] == [group["id"]]


def test_an_admins_lookup_by_name_stays_in_its_project(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    theirs = default_of(demo)
    admin = cloud.client("admin")
    mine = default_of(admin)  # the OpenStack client's `... rule create default` lookup
    assert mine["id"] != theirs["id"]
    everyone = {g["id"] for g in admin.get(GROUPS)["security_groups"]}
    assert {mine["id"], theirs["id"]} <= everyone
    named = admin.get(GROUPS, name="default", project_id=theirs["project_id"])["security_groups"]
    assert [g["id"] for g in named] == [theirs["id"]]


def test_a_new_group_has_neutrons_egress_rules_and_default_is_reserved(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo, "web", description="web servers")
    assert egress_only(group) == [("egress", "IPv4", None), ("egress", "IPv6", None)]
    assert not any(r["belongs_to_default_sg"] for r in group["security_group_rules"])
    assert demo.get(f"{GROUPS}/{group['id']}")["security_group"] == group
    error = refused(demo, "POST", GROUPS, {"security_group": {"name": "default"}})
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SecurityGroupDefaultAlreadyExists"
    assert sorted(g["name"] for g in demo.get(GROUPS)["security_groups"]) == ["default", "web"]


def test_the_talks_ssh_rule_from_openstack_and_neutron_clients(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = default_of(demo)
    osc = {
        "port_range_max": 22,
        "ethertype": "IPv4",
        "protocol": "tcp",
        "remote_ip_prefix": "0.0.0.0/0",
        "port_range_min": 22,
    }
    rule = make_rule(demo, group["id"], **osc)
    assert {k: rule[k] for k in osc} == osc
    assert rule["normalized_cidr"] == "0.0.0.0/0"
    assert rule["belongs_to_default_sg"] is True
    assert rule["project_id"] == group["project_id"]
    shown = demo.get(f"{GROUPS}/{group['id']}")["security_group"]
    assert rule in shown["security_group_rules"]
    assert shown["revision_number"] == group["revision_number"] + 1
    # neutronclient sends the ports as strings, and the same rule again is a conflict.
    strings = {**osc, "port_range_min": "22", "port_range_max": "22"}
    error = refused(demo, "POST", RULES, rule_body(group["id"], **strings))
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SecurityGroupRuleExists"
    assert rule["id"] in error.message
    # The protocol by number is the same rule too, and no prefix equals 0.0.0.0/0.
    same = {**osc, "protocol": "6", "remote_ip_prefix": None}
    assert refused(demo, "POST", RULES, rule_body(group["id"], **same)).status == 409
    assert (
        make_rule(demo, group["id"], **{**strings, "port_range_max": "23"})["port_range_max"] == 23
    )


def test_icmp_types_and_codes_and_protocol_names(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    echo = make_rule(demo, group["id"], protocol="icmp", port_range_min=8, port_range_max=0)
    assert (echo["port_range_min"], echo["port_range_max"]) == (8, 0)
    any_type = make_rule(demo, group["id"], protocol="ICMP", remote_ip_prefix="10.0.0.1/24")
    assert any_type["protocol"] == "icmp"
    assert any_type["normalized_cidr"] == "10.0.0.0/24"
    v6 = make_rule(demo, group["id"], protocol="ipv6-icmp", ethertype="ipv6")
    assert v6["ethertype"] == "IPv6"
    assert make_rule(demo, group["id"], protocol="vrrp")["protocol"] == "vrrp"
    assert make_rule(demo, group["id"], protocol=112, direction="egress")["protocol"] == "112"
    everything = make_rule(demo, group["id"], protocol="any", remote_group_id=group["id"])
    assert everything["protocol"] is None and everything["remote_group_id"] == group["id"]


BAD_RULES = [
    pytest.param({"direction": "inbound"}, "direction", "ingress or egress", id="direction"),
    pytest.param({"ethertype": "IPv5"}, "ethertype", "IPv4 or IPv6", id="ethertype"),
    pytest.param({"protocol": "tcpp"}, "protocol", "one of", id="protocol-name"),
    pytest.param({"protocol": 256}, "protocol", "0 to 255", id="protocol-number"),
    pytest.param(
        {"protocol": "tcp", "port_range_min": 0, "port_range_max": 22},
        "port_range_min",
        "1 to 65535",
        id="port-zero",
    ),
    pytest.param(
        {"protocol": "udp", "port_range_min": 53, "port_range_max": 70000},
        "port_range_max",
        "1 to 65535",
        id="port-too-big",
    ),
    pytest.param(
        {"protocol": "tcp", "port_range_min": "x", "port_range_max": 22},
        "port_range_min",
        "whole number",
        id="port-garbage",
    ),
    pytest.param(
        {"protocol": "tcp", "port_range_min": 80, "port_range_max": 22},
        "port_range_min",
        "greater than port_range_max",
        id="min-above-max",
    ),
    pytest.param(
        {"protocol": "tcp", "port_range_min": 80},
        "port_range_max",
        "is required",
        id="half-a-range",
    ),
    pytest.param(
        {"port_range_min": 22, "port_range_max": 22},
        "port_range_min",
        "needs a protocol",
        id="ports-without-protocol",
    ),
    pytest.param(
        {"protocol": "gre", "port_range_min": 22, "port_range_max": 22},
        "port_range_min",
        "ports apply only to",
        id="ports-on-gre",
    ),
    pytest.param(
        {"protocol": "icmp", "port_range_min": 256},
        "port_range_min",
        "0 to 255",
        id="icmp-type",
    ),
    pytest.param(
        {"protocol": "icmp", "port_range_max": 0},
        "port_range_max",
        "ICMP type",
        id="icmp-code-without-type",
    ),
    pytest.param({"protocol": "icmpv6"}, "protocol", "needs ethertype IPv6", id="icmpv6-on-ipv4"),
    pytest.param(
        {"remote_ip_prefix": "2001:db8::/32"},
        "remote_ip_prefix",
        "IPv4 prefix",
        id="prefix-version",
    ),
    pytest.param({"remote_ip_prefix": "10.0.0.0/33"}, "remote_ip_prefix", "CIDR", id="prefix"),
    pytest.param(
        {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "SELF"},
        "remote_ip_prefix",
        "cannot both be given",
        id="two-remotes",
    ),
    pytest.param({"security_group_id": None}, "security_group_id", "is required", id="no-group"),
    pytest.param({"port": 22}, "port", "not a recognised attribute", id="unknown"),
]


@pytest.mark.parametrize(("extra", "field", "rule"), BAD_RULES)
def test_bad_rules_are_refused_naming_the_field_and_rule(
    cloud: Cloud, extra: dict[str, Any], field: str, rule: str
) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    if extra.get("remote_group_id") == "SELF":
        extra = {**extra, "remote_group_id": group["id"]}
    error = refused(demo, "POST", RULES, rule_body(group["id"], **extra))
    assert error.status == 400
    assert field in error.message
    assert rule in error.message
    shown = demo.get(f"{GROUPS}/{group['id']}")["security_group"]
    assert len(shown["security_group_rules"]) == 2


def test_an_unknown_remote_group_is_not_found(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    error = refused(demo, "POST", RULES, rule_body(group["id"], remote_group_id="nope"))
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "SecurityGroupNotFound"


def test_another_projects_groups_and_rules_are_not_found(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    rule = make_rule(demo, group["id"], protocol="tcp", port_range_min=80, port_range_max=80)
    other = cloud.add_member("bob", "beta")
    assert group["id"] not in {g["id"] for g in other.get(GROUPS)["security_groups"]}
    assert rule["id"] not in {r["id"] for r in other.get(RULES)["security_group_rules"]}
    path = f"{GROUPS}/{group['id']}"
    for method, body in (
        ("GET", None),
        ("PUT", {"security_group": {"name": "x"}}),
        ("DELETE", None),
    ):
        error = refused(other, method, path, body)
        assert error.status == 404
        assert error.body["NeutronError"]["type"] == "SecurityGroupNotFound"
    for method in ("GET", "DELETE"):
        error = refused(other, method, f"{RULES}/{rule['id']}")
        assert error.status == 404
        assert error.body["NeutronError"]["type"] == "SecurityGroupRuleNotFound"
    assert refused(other, "POST", RULES, rule_body(group["id"])).status == 404
    theirs = make_group(other, "theirs")
    error = refused(other, "POST", RULES, rule_body(theirs["id"], remote_group_id=group["id"]))
    assert error.status == 404
    assert demo.get(f"{RULES}/{rule['id']}")["security_group_rule"] == rule


def test_rules_are_listed_filtered_and_deleted(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    ssh = make_rule(demo, group["id"], protocol="tcp", port_range_min=22, port_range_max=22)
    listed = demo.get(RULES, security_group_id=group["id"])["security_group_rules"]
    assert len(listed) == 3 and ssh in listed
    assert [r["id"] for r in demo.get(RULES, protocol="tcp")["security_group_rules"]] == [ssh["id"]]
    assert (
        len(
            demo.get(RULES, direction="egress", security_group_id=group["id"])[
                "security_group_rules"
            ]
        )
        == 2
    )
    demo.delete(f"{RULES}/{ssh['id']}")
    assert refused(demo, "GET", f"{RULES}/{ssh['id']}").status == 404
    assert len(demo.get(f"{GROUPS}/{group['id']}")["security_group"]["security_group_rules"]) == 2


def test_updates_rename_but_never_to_or_from_default(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    group = make_group(demo)
    path = f"{GROUPS}/{group['id']}"
    updated = demo.put(path, {"security_group": {"name": "www", "description": "d"}})
    assert (updated["security_group"]["name"], updated["security_group"]["description"]) == (
        "www",
        "d",
    )
    assert updated["security_group"]["revision_number"] == 2
    error = refused(demo, "PUT", path, {"security_group": {"name": "default"}})
    assert error.status == 409
    default = default_of(demo)
    error = refused(demo, "PUT", f"{GROUPS}/{default['id']}", {"security_group": {"name": "x"}})
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SecurityGroupCannotUpdateDefault"
    error = refused(demo, "PUT", path, {"security_group": {"stateful": False}})
    assert error.status == 400
    assert "stateful" in error.message and "cannot be changed" in error.message


def test_a_group_in_use_and_the_default_group_are_not_deleted(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = demo.post(NETWORKS, {"network": {"name": "n"}})["network"]
    demo.post(
        SUBNETS, {"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}}
    )
    web = make_group(demo)
    port = demo.post(PORTS, {"port": {"network_id": network["id"], "security_groups": [web["id"]]}})
    error = refused(demo, "DELETE", f"{GROUPS}/{web['id']}")
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SecurityGroupInUse"
    assert port["port"]["id"] in error.message
    default = default_of(demo)
    error = refused(demo, "DELETE", f"{GROUPS}/{default['id']}")
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "SecurityGroupCannotRemoveDefault"
    demo.put(f"{PORTS}/{port['port']['id']}", {"port": {"security_groups": []}})
    demo.delete(f"{GROUPS}/{web['id']}")
    assert [g["name"] for g in demo.get(GROUPS)["security_groups"]] == ["default"]


def test_deleting_a_group_removes_rules_that_name_it_as_remote(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    web = make_group(demo, "web")
    db = make_group(demo, "db")
    make_rule(
        demo,
        db["id"],
        protocol="tcp",
        port_range_min=5432,
        port_range_max=5432,
        remote_group_id=web["id"],
    )
    demo.delete(f"{GROUPS}/{web['id']}")
    assert len(demo.get(f"{GROUPS}/{db['id']}")["security_group"]["security_group_rules"]) == 2


def test_extensions_say_security_groups_are_not_enforced_on_vf_ports(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    aliases = {e["alias"] for e in demo.get(EXTENSIONS)["extensions"]}
    required = {"binding", "provider", "security-group", "external-net", "port-security"}
    assert required | {"network-mtu", "standard-attr-revisions", "project-id"} <= aliases
    group = demo.get(f"{EXTENSIONS}/security-group")["extension"]
    assert "not enforced on direct" in group["description"]
    assert set(group) == {"alias", "name", "description", "links", "updated"}
    error = refused(demo, "GET", f"{EXTENSIONS}/tag-ports-during-bulk-creation")
    assert error.status == 404
    assert set(error.body["NeutronError"]) == {"type", "message", "detail"}


def test_version_documents(cloud: Cloud) -> None:
    anonymous = Client(cloud.url)
    cloud.clients.append(anonymous)
    for path in ("/networking", "/networking/"):
        (version,) = anonymous.get(path)["versions"]
        assert version["id"] == "v2.0" and version["status"] == "CURRENT"
        assert version["links"][0]["href"] == f"{cloud.url}/networking/v2.0/"
    resources = anonymous.get("/networking/v2.0/")["resources"]
    assert [r["collection"] for r in resources] == ["networks", "subnets", "ports"]
    assert resources[2]["links"][0]["href"] == f"{cloud.url}/networking/v2.0/ports"
    assert refused(anonymous, "GET", EXTENSIONS).status == 401
