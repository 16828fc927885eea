"""Nova's security group proxy over HTTP, as novaclient 7.1.2 calls it at 2.35 for the talk's
``nova secgroup-add-rule default tcp 22 22 0.0.0.0/0``: the same groups and rules Neutron shows,
Nova's shapes and checks, nothing made by a refused rule, and no proxy from 2.36 on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.integration.api.cloud import Cloud

GROUPS = "/compute/v2.1/os-security-groups"
RULES = "/compute/v2.1/os-security-group-rules"
NEUTRON_RULES = "/networking/v2.0/security-group-rules"
AT_2_35 = {"X-OpenStack-Nova-API-Version": "2.35"}  # what novaclient 7.1.2 sends for these


def call(
    cloud: Cloud, method: str, path: str, body: Any = None, *, user: str = "demo", **headers: str
) -> httpx.Response:
    token = cloud.client(user).token or ""
    wanted = {"X-Auth-Token": token} | (headers or AT_2_35)
    return httpx.request(method, f"{cloud.url}{path}", json=body, headers=wanted)


def default_group(cloud: Cloud) -> dict[str, Any]:
    (group,) = [g for g in call(cloud, "GET", GROUPS).json()["security_groups"]]
    assert group["name"] == "default"
    return dict(group)


def add_rule(cloud: Cloud, **rule: Any) -> httpx.Response:
    return call(cloud, "POST", RULES, {"security_group_rule": rule})


def neutron_rules(cloud: Cloud, group_id: str) -> list[dict[str, Any]]:
    found = cloud.client("demo").get(NEUTRON_RULES, security_group_id=group_id)
    return list(found["security_group_rules"])


def test_the_projects_default_group_in_novas_shape(cloud: Cloud) -> None:
    group = default_group(cloud)
    assert set(group) == {"id", "name", "description", "tenant_id", "rules"}
    # Neutron's default group allows ingress from itself (IPv4 and IPv6): a rule from a group.
    assert len(group["rules"]) == 2
    for rule in group["rules"]:
        assert rule["parent_group_id"] == group["id"]
        assert rule["group"] == {"name": "default", "tenant_id": group["tenant_id"]}
        assert (rule["ip_protocol"], rule["ip_range"]) == (None, {})
    shown = call(cloud, "GET", f"{GROUPS}/{group['id']}").json()["security_group"]
    assert shown == group


def test_the_talks_rules_are_neutron_ingress_rules(cloud: Cloud) -> None:
    group = default_group(cloud)
    ssh = add_rule(
        cloud,
        ip_protocol="tcp",
        from_port=22,
        to_port=22,
        cidr="0.0.0.0/0",
        group_id=None,
        parent_group_id=group["id"],
    )
    assert ssh.status_code == 200
    assert ssh.headers["X-OpenStack-Nova-API-Version"] == "2.35"
    rule = ssh.json()["security_group_rule"]
    assert {k: rule[k] for k in ("parent_group_id", "ip_protocol", "from_port", "to_port")} == {
        "parent_group_id": group["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
    }
    assert (rule["ip_range"], rule["group"]) == ({"cidr": "0.0.0.0/0"}, {})
    icmp = add_rule(
        cloud,
        ip_protocol="icmp",
        from_port=-1,
        to_port=-1,
        cidr="0.0.0.0/0",
        parent_group_id=group["id"],
    ).json()["security_group_rule"]
    assert (icmp["ip_protocol"], icmp["from_port"], icmp["to_port"]) == ("icmp", -1, -1)

    neutron = {r["id"]: r for r in neutron_rules(cloud, group["id"])}
    made = neutron[rule["id"]]
    assert (made["direction"], made["ethertype"], made["protocol"]) == ("ingress", "IPv4", "tcp")
    assert (made["port_range_min"], made["port_range_max"]) == (22, 22)
    assert made["remote_ip_prefix"] == "0.0.0.0/0"
    any_icmp = neutron[icmp["id"]]
    assert (any_icmp["protocol"], any_icmp["port_range_min"], any_icmp["port_range_max"]) == (
        "icmp",
        None,
        None,
    )
    listed = default_group(cloud)["rules"]
    assert {r["id"] for r in listed} >= {rule["id"], icmp["id"]}

    gone = call(cloud, "DELETE", f"{RULES}/{rule['id']}")
    assert gone.status_code == 202
    assert rule["id"] not in {r["id"] for r in neutron_rules(cloud, group["id"])}


def test_an_ipv6_cidr_makes_an_ipv6_rule(cloud: Cloud) -> None:
    group = default_group(cloud)
    made = add_rule(
        cloud,
        ip_protocol="udp",
        from_port=53,
        to_port=53,
        cidr="2001:db8::/32",
        parent_group_id=group["id"],
    ).json()["security_group_rule"]
    (neutron,) = [r for r in neutron_rules(cloud, group["id"]) if r["id"] == made["id"]]
    assert (neutron["ethertype"], neutron["remote_ip_prefix"]) == ("IPv6", "2001:db8::/32")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"ip_protocol": "tcp", "from_port": 23, "to_port": 22}, "Former value cannot be greater"),
        ({"ip_protocol": "tcp", "from_port": 0, "to_port": 22}, "ports should be between 1-65535"),
        ({"ip_protocol": "udp", "from_port": 1, "to_port": 70000}, "between 1-65535"),
        ({"ip_protocol": "icmp", "from_port": 256, "to_port": -1}, "type:code must be valid"),
        ({"ip_protocol": "icmp", "from_port": "x", "to_port": -1}, "must be integers for ICMP"),
        ({"ip_protocol": "tcp", "from_port": "a", "to_port": 2}, "ports must be integers"),
        ({"ip_protocol": "gre", "from_port": 1, "to_port": 2}, "must be tcp, udp or icmp"),
        ({"ip_protocol": "tcp", "from_port": 22}, "Not enough parameters"),
        ({"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0/33"}, "cidr"),
    ],
)
def test_novas_checks_refuse_a_rule_and_nothing_is_made(
    cloud: Cloud, rule: dict[str, Any], words: str
) -> None:
    group = default_group(cloud)
    before = neutron_rules(cloud, group["id"])
    refused = add_rule(cloud, parent_group_id=group["id"], **rule)
    assert refused.status_code == 400
    assert words in refused.json()["badRequest"]["message"]
    assert neutron_rules(cloud, group["id"]) == before


def test_a_rule_in_another_projects_group_is_not_found(cloud: Cloud) -> None:
    theirs = call(cloud, "GET", GROUPS, user="admin").json()["security_groups"]
    (admins,) = [g for g in theirs if g["name"] == "default"]
    refused = add_rule(
        cloud, ip_protocol="tcp", from_port=22, to_port=22, parent_group_id=admins["id"]
    )
    assert refused.status_code == 404
    assert "itemNotFound" in refused.json()


def test_groups_are_made_and_deleted_through_the_proxy(cloud: Cloud) -> None:
    made = call(cloud, "POST", GROUPS, {"security_group": {"name": "web", "description": "w"}})
    assert made.status_code == 200
    group = made.json()["security_group"]
    assert (group["name"], group["description"]) == ("web", "w")
    names = {g["name"] for g in call(cloud, "GET", GROUPS).json()["security_groups"]}
    assert names == {"default", "web"}
    assert call(cloud, "DELETE", f"{GROUPS}/{group['id']}").status_code == 202
    assert call(cloud, "GET", f"{GROUPS}/{group['id']}").status_code == 404


@pytest.mark.parametrize("asked", ["2.36", "2.96"])
def test_from_2_36_the_proxy_is_gone_as_in_nova(cloud: Cloud, asked: str) -> None:
    for method, path in (("GET", GROUPS), ("POST", RULES)):
        gone = call(cloud, method, path, {}, **{"X-OpenStack-Nova-API-Version": asked})
        assert gone.status_code == 404
        assert gone.json()["itemNotFound"]["code"] == 404
