"""Neutron's query semantics on every v2.0 collection: fields=, repeated filters, 404 bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

BASE = "/networking/v2.0"


@dataclass(frozen=True)
class Collection:
    """One Neutron collection: its path, its wrappers and a field to pick besides ``id``."""

    path: str
    plural: str
    singular: str
    not_found: str
    other_field: str = "name"


NETWORKS = Collection(f"{BASE}/networks", "networks", "network", "NetworkNotFound")
SUBNETS = Collection(f"{BASE}/subnets", "subnets", "subnet", "SubnetNotFound")
PORTS = Collection(f"{BASE}/ports", "ports", "port", "PortNotFound")
GROUPS = Collection(
    f"{BASE}/security-groups", "security_groups", "security_group", "SecurityGroupNotFound"
)
RULES = Collection(
    f"{BASE}/security-group-rules",
    "security_group_rules",
    "security_group_rule",
    "SecurityGroupRuleNotFound",
    other_field="protocol",
)
COLLECTIONS = [NETWORKS, SUBNETS, PORTS, GROUPS, RULES]
NAMED = [NETWORKS, SUBNETS, PORTS, GROUPS]  # rules have no name
IDS = [c.plural for c in COLLECTIONS]
NAMED_IDS = [c.plural for c in NAMED]
NETWORKS_SEGMENT = "provider:segmentation_id"


def query(path: str, *pairs: tuple[str, str]) -> str:
    """``path`` with a query string that may repeat keys, as the legacy clients send it."""
    return f"{path}?{urlencode(pairs)}"


def listed(client: Client, coll: Collection, *pairs: tuple[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(query(coll.path, *pairs))[coll.plural]
    return found


def ids_of(client: Client, coll: Collection, *pairs: tuple[str, str]) -> list[str]:
    return sorted(item["id"] for item in listed(client, coll, *pairs))


def shown(client: Client, coll: Collection, key: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = client.get(query(f"{coll.path}/{key}", *pairs))[coll.singular]
    return found


def refused(client: Client, path: str) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.get(path)
    return error.value


def create(client: Client, coll: Collection, **body: Any) -> dict[str, Any]:
    made: dict[str, Any] = client.post(coll.path, {coll.singular: body})[coll.singular]
    return made


Pair = tuple[dict[str, Any], dict[str, Any]]


def two(make: Callable[[str, int], dict[str, Any]]) -> Pair:
    return make("alpha", 0), make("beta", 1)


@dataclass
class Made:
    """Two of each resource in the demo project: ``alpha`` and ``beta`` (tcp and udp rules)."""

    client: Client
    items: dict[str, Pair]

    def pair(self, coll: Collection) -> Pair:
        return self.items[coll.plural]


@pytest.fixture
def made(cloud: Cloud) -> Made:
    demo = cloud.client("demo")
    networks = two(lambda name, _: create(demo, NETWORKS, name=name))
    subnets = two(
        lambda name, index: create(
            demo,
            SUBNETS,
            name=name,
            network_id=networks[index]["id"],
            ip_version=4,
            cidr=f"10.0.{index}.0/24",
        )
    )
    ports = two(
        lambda name, index: create(demo, PORTS, name=name, network_id=networks[index]["id"])
    )
    groups = two(lambda name, _: create(demo, GROUPS, name=name))
    rules = two(
        lambda _, index: create(
            demo,
            RULES,
            security_group_id=groups[0]["id"],
            direction="ingress",
            protocol=("tcp", "udp")[index],
        )
    )
    items = {
        NETWORKS.plural: networks,
        SUBNETS.plural: subnets,
        PORTS.plural: ports,
        GROUPS.plural: groups,
        RULES.plural: rules,
    }
    return Made(demo, items)


@pytest.mark.parametrize("coll", COLLECTIONS, ids=IDS)
def test_show_answers_only_the_asked_fields(made: Made, coll: Collection) -> None:
    alpha, _ = made.pair(coll)
    key = alpha["id"]
    assert shown(made.client, coll, key, ("fields", "id")) == {"id": key}
    picked = shown(
        made.client, coll, key, ("fields", coll.other_field), ("fields", "id"), ("fields", "nosuch")
    )
    assert picked == {"id": key, coll.other_field: alpha[coll.other_field]}
    full = shown(made.client, coll, key)
    assert full == shown(made.client, coll, key, ("fields", ""))  # an empty fields= is no choice
    assert {"id", "project_id", "tenant_id", coll.other_field} <= set(full)


@pytest.mark.parametrize("coll", COLLECTIONS, ids=IDS)
def test_list_answers_only_the_asked_fields(made: Made, coll: Collection) -> None:
    alpha, beta = made.pair(coll)
    found = listed(
        made.client,
        coll,
        ("id", alpha["id"]),
        ("id", beta["id"]),
        ("fields", "id"),
        ("fields", coll.other_field),
        ("fields", "nosuch"),
    )
    assert sorted(found, key=lambda item: item["id"]) == sorted(
        ({"id": item["id"], coll.other_field: item[coll.other_field]} for item in (alpha, beta)),
        key=lambda item: item["id"],
    )
    everything = listed(made.client, coll)
    assert all(len(item) > 2 for item in everything)


@pytest.mark.parametrize("coll", COLLECTIONS, ids=IDS)
def test_fields_never_filters(made: Made, coll: Collection) -> None:
    everything = ids_of(made.client, coll)
    assert len(everything) >= 2
    assert ids_of(made.client, coll, ("fields", "id")) == everything
    assert ids_of(made.client, coll, ("fields", "id"), ("fields", "nosuch")) == everything
    # A field named like a value is still no filter: "alpha" is a name, not a field.
    assert listed(made.client, coll, ("fields", "alpha")) == [{} for _ in everything]


@pytest.mark.parametrize("coll", COLLECTIONS, ids=IDS)
def test_repeated_ids_match_any_of_them(made: Made, coll: Collection) -> None:
    alpha, beta = made.pair(coll)
    both = sorted([alpha["id"], beta["id"]])
    assert ids_of(made.client, coll, ("id", alpha["id"]), ("id", beta["id"])) == both
    assert ids_of(made.client, coll, ("id", alpha["id"]), ("id", "nosuch")) == [alpha["id"]]
    assert ids_of(made.client, coll, ("id", "nosuch"), ("id", "other")) == []
    # Different keys still all have to match.
    both_keys = (("id", alpha["id"]), ("id", beta["id"]))
    assert ids_of(made.client, coll, *both_keys, (coll.other_field, beta[coll.other_field])) == [
        beta["id"]
    ]


@pytest.mark.parametrize("coll", NAMED, ids=NAMED_IDS)
def test_repeated_names_match_any_of_them_exactly(made: Made, coll: Collection) -> None:
    alpha, beta = made.pair(coll)
    both = sorted([alpha["id"], beta["id"]])
    assert ids_of(made.client, coll, ("name", "alpha"), ("name", "beta")) == both
    assert ids_of(made.client, coll, ("name", "beta"), ("name", "nosuch")) == [beta["id"]]
    assert ids_of(made.client, coll, ("name", "alph"), ("name", "bet")) == []
    assert ids_of(made.client, coll, ("name", "alpha")) == [alpha["id"]]


def test_repeated_protocols_of_rules_match_any_of_them(made: Made) -> None:
    tcp, udp = made.pair(RULES)
    found = ids_of(made.client, RULES, ("protocol", "tcp"), ("protocol", "udp"))
    assert found == sorted([tcp["id"], udp["id"]])


def test_repeated_filters_of_other_attributes(made: Made) -> None:
    net_a, net_b = made.pair(NETWORKS)
    sub_a, sub_b = made.pair(SUBNETS)
    port_a, port_b = made.pair(PORTS)
    nets = (("network_id", net_a["id"]), ("network_id", net_b["id"]))
    assert ids_of(made.client, SUBNETS, *nets) == sorted([sub_a["id"], sub_b["id"]])
    named = ids_of(made.client, PORTS, *nets, ("name", "alpha"), ("name", "beta"))
    assert named == sorted([port_a["id"], port_b["id"]])
    vlans = [(NETWORKS_SEGMENT, str(n[NETWORKS_SEGMENT])) for n in (net_a, net_b)]
    assert ids_of(made.client, NETWORKS, *vlans) == sorted([net_a["id"], net_b["id"]])
    macs = [("mac_address", p["mac_address"].upper()) for p in (port_a, port_b)]
    assert ids_of(made.client, PORTS, *macs) == sorted([port_a["id"], port_b["id"]])


def test_repeated_fixed_ips_parts_must_all_match_one_address(made: Made) -> None:
    port_a, port_b = made.pair(PORTS)
    sub_a, sub_b = made.pair(SUBNETS)
    address_a = port_a["fixed_ips"][0]["ip_address"]
    address_b = port_b["fixed_ips"][0]["ip_address"]
    # OSC's `port list --fixed-ip subnet=X,ip-address=Y` sends the parts as separate values.
    found = ids_of(
        made.client,
        PORTS,
        ("fixed_ips", f"subnet_id={sub_a['id']}"),
        ("fixed_ips", f"ip_address={address_a}"),
    )
    assert found == [port_a["id"]]
    crossed = ids_of(
        made.client,
        PORTS,
        ("fixed_ips", f"subnet_id={sub_b['id']}"),
        ("fixed_ips", f"ip_address={address_a}"),
    )
    assert crossed == []
    either = ids_of(
        made.client,
        PORTS,
        ("fixed_ips", f"ip_address={address_a}"),
        ("fixed_ips", f"ip_address={address_b}"),
    )
    assert either == sorted([port_a["id"], port_b["id"]])


def test_a_demo_user_filters_own_and_shared_networks_subnets_together(
    cloud: Cloud, made: Made
) -> None:
    admin = cloud.client("admin")
    shared = create(
        admin,
        NETWORKS,
        name="shared",
        shared=True,
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet2",
            NETWORKS_SEGMENT: 2010,
        },
    )
    on_shared = create(
        admin, SUBNETS, name="shared", network_id=shared["id"], ip_version=4, cidr="10.9.0.0/24"
    )
    own, _ = made.pair(SUBNETS)
    nets = (("network_id", shared["id"]), ("network_id", own["network_id"]))
    assert ids_of(made.client, SUBNETS, *nets) == sorted([on_shared["id"], own["id"]])
    assert ids_of(made.client, NETWORKS, ("name", "shared"), ("name", "alpha")) == sorted(
        [shared["id"], made.pair(NETWORKS)[0]["id"]]
    )


def test_the_legacy_clients_lookup_and_show_with_fields(made: Made) -> None:
    """``neutron net-show alpha -F id -f value`` and ``neutron port-show <id> -F id``."""
    network, _ = made.pair(NETWORKS)
    port, _ = made.pair(PORTS)
    assert listed(made.client, NETWORKS, ("name", "alpha"), ("fields", "id")) == [
        {"id": network["id"]}
    ]
    assert shown(made.client, NETWORKS, network["id"], ("fields", "id")) == {"id": network["id"]}
    assert listed(made.client, PORTS, ("id", port["id"]), ("fields", "id")) == [{"id": port["id"]}]
    assert shown(made.client, PORTS, port["id"], ("fields", "id")) == {"id": port["id"]}


@pytest.mark.parametrize("coll", COLLECTIONS, ids=IDS)
@pytest.mark.parametrize("key", ["alpha", "0b1e9a3c-6a3f-4d0e-9d5e-1f2a3b4c5d6e", "nope"])
def test_unknown_ids_and_names_are_neutron_404s(made: Made, coll: Collection, key: str) -> None:
    for path in (f"{coll.path}/{key}", query(f"{coll.path}/{key}", ("fields", "id"))):
        error = refused(made.client, path)
        assert error.status == 404
        assert set(error.body) == {"NeutronError"}
        body = error.body["NeutronError"]
        assert body["type"] == coll.not_found
        assert key in body["message"]
        assert body["detail"] == ""
