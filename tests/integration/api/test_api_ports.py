"""Neutron ports over HTTP: binding attributes, MACs, IPAM, security groups, refusals, races."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

NETWORKS = "/networking/v2.0/networks"
SUBNETS = "/networking/v2.0/subnets"
PORTS = "/networking/v2.0/ports"
GROUPS = "/networking/v2.0/security-groups"
ENFORCED = "sriovstack:security_groups_enforced"

# Every field of a port in reference 4.1 (and its "Also" list, but dns_assignment).
PORT_FIELDS = {
    "id",
    "name",
    "network_id",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "binding:vnic_type",
    "binding:host_id",
    "binding:profile",
    "binding:vif_type",
    "binding:vif_details",
    "status",
    "admin_state_up",
    "port_security_enabled",
    "security_groups",
    "project_id",
    "tenant_id",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "dns_name",
    "ip_allocation",
    "propagate_uplink_status",
    "qos_policy_id",
    "resource_request",
    "description",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
    "numa_affinity_policy",
    ENFORCED,
}


def refused(client: Client, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body)
    return error.value


def make_network(client: Client, name: str = "net", **extra: Any) -> dict[str, Any]:
    network: dict[str, Any] = client.post(NETWORKS, {"network": {"name": name, **extra}})["network"]
    return network


def make_subnet(
    client: Client, network_id: str, cidr: str = "10.0.0.0/24", **extra: Any
) -> dict[str, Any]:
    version = 6 if ":" in cidr else 4
    body = {"subnet": {"network_id": network_id, "ip_version": version, "cidr": cidr, **extra}}
    subnet: dict[str, Any] = client.post(SUBNETS, body)["subnet"]
    return subnet


def make_port(client: Client, network_id: str, **extra: Any) -> dict[str, Any]:
    port: dict[str, Any] = client.post(PORTS, {"port": {"network_id": network_id, **extra}})["port"]
    return port


def addresses(port: dict[str, Any]) -> list[str]:
    return [entry["ip_address"] for entry in port["fixed_ips"]]


def shared_provider_network(cloud: Cloud) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shared": True,
        "provider:network_type": "vlan",
        "provider:physical_network": "physnet1",
        "provider:segmentation_id": 2010,
    }
    return make_network(cloud.client("admin"), "physnet1", **body)


def test_the_talks_direct_port(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = shared_provider_network(cloud)
    subnet = make_subnet(admin, network["id"])
    body = {"binding:vnic_type": "direct", "name": "physnet1-vf1", "admin_state_up": True}
    port = make_port(admin, network["id"], **body)
    assert set(port) == PORT_FIELDS
    assert port["status"] == "DOWN"
    assert port["binding:vnic_type"] == "direct"
    assert port["binding:vif_type"] == "unbound"
    assert port["binding:vif_details"] == {}
    assert port["binding:host_id"] == "" and port["binding:profile"] == {}
    assert port["device_id"] == "" and port["device_owner"] == ""
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.2"}]
    assert port["project_id"] == port["tenant_id"] == admin.session.project_id  # type: ignore[union-attr]
    assert port["port_security_enabled"] is True
    assert port["propagate_uplink_status"] is True
    assert port["qos_policy_id"] is None and port["numa_affinity_policy"] is None
    assert port["allowed_address_pairs"] == [] and port["extra_dhcp_opts"] == []
    assert port["dns_name"] == "" and port["tags"] == []
    assert port["revision_number"] == 1
    default = admin.get(GROUPS, name="default")["security_groups"]
    assert port["security_groups"] == [default[0]["id"]]
    # Security groups are kept on a VF port but nothing enforces them; the view says so.
    assert port[ENFORCED] is False
    assert admin.get(f"{PORTS}/{port['id']}")["port"] == port


def test_a_normal_port_has_its_security_groups_enforced(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    assert make_port(demo, network["id"])[ENFORCED] is True
    for vnic in ("direct-physical", "macvtap", "virtio-forwarder", "remote-managed"):
        assert make_port(demo, network["id"], **{"binding:vnic_type": vnic})[ENFORCED] is False


def test_addresses_are_handed_out_lowest_first_and_reused_after_release(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    ports = [make_port(demo, network["id"]) for _ in range(3)]
    assert [addresses(p) for p in ports] == [["10.0.0.2"], ["10.0.0.3"], ["10.0.0.4"]]
    demo.delete(f"{PORTS}/{ports[1]['id']}")
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.3"]
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.5"]


def test_one_address_per_ip_version_from_the_first_subnet_with_room(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    small = make_subnet(demo, network["id"], "10.0.0.0/30")  # one address: .2
    cloud.clock.advance(1)
    big = make_subnet(demo, network["id"], "10.0.1.0/24")
    cloud.clock.advance(1)
    v6 = make_subnet(demo, network["id"], "2001:db8::/64")
    first = make_port(demo, network["id"])
    assert first["fixed_ips"] == [
        {"subnet_id": small["id"], "ip_address": "10.0.0.2"},
        {"subnet_id": v6["id"], "ip_address": "2001:db8::2"},
    ]
    second = make_port(demo, network["id"])
    assert [f["subnet_id"] for f in second["fixed_ips"]] == [big["id"], v6["id"]]
    assert addresses(second) == ["10.0.1.2", "2001:db8::3"]


def test_a_network_without_subnets_gives_a_port_without_addresses_or_groups(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    port = make_port(demo, make_network(demo)["id"])
    assert port["fixed_ips"] == []
    assert port["security_groups"] == []


def test_requested_addresses_and_subnets(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    first = make_subnet(demo, network["id"], "10.0.0.0/24")
    second = make_subnet(demo, network["id"], "10.0.1.0/24")
    by_address = make_port(demo, network["id"], fixed_ips=[{"ip_address": "10.0.1.50"}])
    assert by_address["fixed_ips"] == [{"subnet_id": second["id"], "ip_address": "10.0.1.50"}]
    by_subnet = make_port(demo, network["id"], fixed_ips=[{"subnet_id": second["id"]}])
    assert by_subnet["fixed_ips"] == [{"subnet_id": second["id"], "ip_address": "10.0.1.2"}]
    both = [{"subnet_id": first["id"], "ip_address": "10.0.0.9"}, {"subnet_id": first["id"]}]
    port = make_port(demo, network["id"], fixed_ips=both)
    assert addresses(port) == ["10.0.0.2", "10.0.0.9"]
    none = make_port(demo, network["id"], fixed_ips=[])
    assert none["fixed_ips"] == []
    assert none["security_groups"] == []  # nothing to filter on, as in Neutron


def test_a_requested_address_may_lie_outside_the_pools(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    pools = [{"start": "10.0.0.50", "end": "10.0.0.51"}]
    make_subnet(demo, network["id"], allocation_pools=pools)
    assert addresses(make_port(demo, network["id"], fixed_ips=[{"ip_address": "10.0.0.5"}])) == [
        "10.0.0.5"
    ]
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.50"]


def test_a_taken_address_is_refused_and_nothing_is_left_behind(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"])
    holder = make_port(demo, network["id"], fixed_ips=[{"ip_address": "10.0.0.7"}])
    wanted = [{"subnet_id": subnet["id"]}, {"ip_address": "10.0.0.7"}]
    error = refused(
        demo, "POST", PORTS, {"port": {"network_id": network["id"], "fixed_ips": wanted}}
    )
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    assert "10.0.0.7" in error.message
    assert [p["id"] for p in demo.get(PORTS)["ports"]] == [holder["id"]]
    # The automatic address tried first was not kept either: the next port gets it.
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.2"]
    assert addresses(demo.get(f"{PORTS}/{holder['id']}")["port"]) == ["10.0.0.7"]


BAD_FIXED_IPS = [
    pytest.param([{"ip_address": "10.9.0.5"}], 400, "not inside any subnet", id="outside"),
    pytest.param([{"ip_address": "10.0.0.255"}], 400, "broadcast", id="broadcast"),
    pytest.param([{"ip_address": "10.0.0.0"}], 400, "network address", id="network-address"),
    pytest.param([{"ip_address": "10.0.0.1"}], 400, "gateway", id="gateway"),
    pytest.param([{"ip_address": "nope"}], 400, "IP address", id="garbage"),
    pytest.param([{"subnet_id": "nope"}], 404, "subnet nope", id="unknown-subnet"),
    pytest.param([{"colour": "red"}], 400, "fixed_ips", id="shape"),
    pytest.param("10.0.0.5", 400, "must be a list", id="not-a-list"),
    pytest.param(
        [{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}], 400, "twice", id="twice"
    ),
]


@pytest.mark.parametrize(("fixed_ips", "status", "rule"), BAD_FIXED_IPS)
def test_bad_fixed_ips_are_refused(cloud: Cloud, fixed_ips: Any, status: int, rule: str) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    body = {"port": {"network_id": network["id"], "fixed_ips": fixed_ips}}
    error = refused(demo, "POST", PORTS, body)
    assert error.status == status
    assert rule in error.message
    assert demo.get(PORTS)["ports"] == []


def test_a_subnet_of_another_network_is_refused(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    other = make_subnet(demo, make_network(demo, "other")["id"], "10.5.0.0/24")
    body = {"port": {"network_id": network["id"], "fixed_ips": [{"subnet_id": other["id"]}]}}
    error = refused(demo, "POST", PORTS, body)
    assert error.status == 400
    assert "fixed_ips.subnet_id" in error.message and "is not on network" in error.message
    body["port"]["fixed_ips"] = [{"subnet_id": other["id"], "ip_address": "10.0.0.5"}]
    assert refused(demo, "POST", PORTS, body).status == 400


def test_macs_are_generated_unique_or_given_and_checked(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    macs = [make_port(demo, network["id"])["mac_address"] for _ in range(20)]
    assert len(set(macs)) == 20
    assert all(mac.startswith("fa:16:3e:") and len(mac) == 17 for mac in macs)
    given = make_port(demo, network["id"], mac_address="FA:16:3E:00:00:01")
    assert given["mac_address"] == "fa:16:3e:00:00:01"
    error = refused(
        demo,
        "POST",
        PORTS,
        {"port": {"network_id": network["id"], "mac_address": "fa:16:3e:00:00:01"}},
    )
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "MacAddressInUse"
    other = make_network(demo, "other")
    assert (
        make_port(demo, other["id"], mac_address="fa:16:3e:00:00:01")["network_id"] == other["id"]
    )
    for bad in ("01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "fa:16:3e", 5):
        body = {"port": {"network_id": network["id"], "mac_address": bad}}
        error = refused(demo, "POST", PORTS, body)
        assert error.status == 400
        assert "mac_address" in error.message
    assert len(demo.get(PORTS, network_id=network["id"])["ports"]) == 21


BAD_PORTS = [
    pytest.param(
        {"binding:vnic_type": "smart-nic"}, 400, "binding:vnic_type", "must be one of", id="vnic"
    ),
    pytest.param({"binding:profile": "trusted=true"}, 400, "binding:profile", "JSON", id="prof"),
    pytest.param(
        {"binding:profile": {"trusted": "yes"}},
        400,
        "binding:profile.trusted",
        "true or false",
        id="trusted",
    ),
    pytest.param(
        {"binding:profile": {"pci_slot": "05:10"}},
        400,
        "binding:profile.pci_slot",
        "DDDD:BB:DD.F",
        id="pci-slot",
    ),
    pytest.param({"admin_state_up": "up"}, 400, "admin_state_up", "true or false", id="admin"),
    pytest.param(
        {"numa_affinity_policy": "strict"}, 400, "numa_affinity_policy", "one of", id="numa"
    ),
    pytest.param(
        {"allowed_address_pairs": [{"ip_address": "10.0.0.9"}]},
        400,
        "allowed_address_pairs",
        "spoof check",
        id="pairs",
    ),
    pytest.param({"qos_policy_id": "q"}, 400, "qos_policy_id", "not supported", id="qos"),
    pytest.param({"status": "ACTIVE"}, 400, "status", "not a recognised", id="status"),
    pytest.param({"security_groups": "default"}, 400, "security_groups", "list", id="groups"),
    pytest.param(
        {"security_groups": ["nope"]}, 404, "security group nope", "not found", id="no-group"
    ),
    pytest.param(
        {"port_security_enabled": False, "security_groups": ["x"]},
        400,
        "security_groups",
        "port_security_enabled",
        id="groups-without-port-security",
    ),
]


@pytest.mark.parametrize(("extra", "status", "field", "rule"), BAD_PORTS)
def test_bad_ports_are_refused_naming_the_field(
    cloud: Cloud, extra: dict[str, Any], status: int, field: str, rule: str
) -> None:
    admin = cloud.client("admin", "demo")
    network = shared_provider_network(cloud)
    make_subnet(admin, network["id"])
    error = refused(admin, "POST", PORTS, {"port": {"network_id": network["id"], **extra}})
    assert error.status == status
    assert field in error.message
    assert rule in error.message
    assert admin.get(PORTS)["ports"] == []


def test_binding_profile_trusted_is_normalised_and_binding_is_for_admins(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = shared_provider_network(cloud)
    profile = {"trusted": "true", "pci_slot": "0000:05:10.1", "physical_network": "physnet1"}
    port = make_port(admin, network["id"], **{"binding:profile": profile, "binding:host_id": "c1"})
    assert port["binding:profile"] == {**profile, "trusted": True}
    assert port["binding:host_id"] == "c1"
    demo = cloud.client("demo")
    for extra in ({"binding:host_id": "compute1"}, {"binding:profile": {"trusted": True}}):
        error = refused(demo, "POST", PORTS, {"port": {"network_id": network["id"], **extra}})
        assert error.status == 403
        assert next(iter(extra)) in error.message
    assert make_port(demo, network["id"], **{"binding:profile": {}})["binding:profile"] == {}
    # Unbinding is binding too: a member may not clear what Nova (an admin) set.
    clearings: list[dict[str, Any]] = [{"binding:host_id": ""}, {"binding:profile": {}}]
    for clearing in clearings:
        error = refused(demo, "PUT", f"{PORTS}/{port['id']}", {"port": clearing})
        assert error.status == 403
    assert demo.get(f"{PORTS}/{port['id']}")["port"]["binding:host_id"] == "c1"


def test_members_use_shared_networks_but_not_other_projects_private_ones(cloud: Cloud) -> None:
    shared = shared_provider_network(cloud)
    demo = cloud.client("demo")
    private = make_network(demo, "private")
    other = cloud.add_member("alice", "alpha")
    assert make_port(other, shared["id"])["project_id"] == other.session.project_id  # type: ignore[union-attr]
    error = refused(other, "POST", PORTS, {"port": {"network_id": private["id"]}})
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "NetworkNotFound"
    error = refused(demo, "POST", PORTS, {"port": {"name": "x"}})
    assert error.status == 400 and "network_id" in error.message


def test_another_projects_port_is_not_found(cloud: Cloud) -> None:
    shared = shared_provider_network(cloud)
    demo = cloud.client("demo")
    mine = make_port(demo, shared["id"], name="mine")
    other = cloud.add_member("bob", "beta")
    assert other.get(PORTS)["ports"] == []
    assert other.get(PORTS, name="mine")["ports"] == []
    for method, body in (("GET", None), ("PUT", {"port": {"name": "x"}}), ("DELETE", None)):
        error = refused(other, method, f"{PORTS}/{mine['id']}", body)
        assert error.status == 404
        assert error.body["NeutronError"]["type"] == "PortNotFound"
    assert demo.get(f"{PORTS}/{mine['id']}")["port"]["name"] == "mine"


def test_a_port_attached_to_a_server_cannot_be_deleted(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    server = "3f6b3c52-55b8-4a4e-9d0c-3f0c9d3c2a11"
    port = make_port(demo, network["id"], device_id=server, device_owner="compute:nova")
    error = refused(demo, "DELETE", f"{PORTS}/{port['id']}")
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "PortInUse"
    assert server in error.message
    assert addresses(demo.get(f"{PORTS}/{port['id']}")["port"]) == ["10.0.0.2"]
    demo.put(f"{PORTS}/{port['id']}", {"port": {"device_id": "", "device_owner": ""}})
    demo.delete(f"{PORTS}/{port['id']}")
    assert demo.get(PORTS)["ports"] == []
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.2"]


def test_a_bound_port_keeps_its_vnic_type_and_mac(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = shared_provider_network(cloud)
    port = make_port(admin, network["id"], **{"binding:vnic_type": "direct"})
    path = f"{PORTS}/{port['id']}"
    changed = admin.put(path, {"port": {"binding:vnic_type": "macvtap", "mac_address": None}})
    assert changed["port"]["binding:vnic_type"] == "macvtap"
    assert changed["port"]["mac_address"] != port["mac_address"]
    admin.put(path, {"port": {"binding:host_id": "compute1"}})
    for change in ({"binding:vnic_type": "direct"}, {"mac_address": "fa:16:3e:aa:bb:cc"}):
        error = refused(admin, "PUT", path, {"port": change})
        assert error.status == 409
        assert error.body["NeutronError"]["type"] == "PortBound"
        assert next(iter(change)) in error.message
    same = admin.put(path, {"port": {"binding:vnic_type": "macvtap", "name": "same"}})["port"]
    assert same["name"] == "same"
    admin.put(path, {"port": {"binding:host_id": ""}})
    assert (
        admin.put(path, {"port": {"binding:vnic_type": "direct"}})["port"]["revision_number"] == 6
    )


def test_updates_and_what_may_not_change(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    subnet = make_subnet(demo, network["id"])
    port = make_port(demo, network["id"])
    path = f"{PORTS}/{port['id']}"
    body = {
        "name": "renamed",
        "description": "d",
        "admin_state_up": False,
        "propagate_uplink_status": False,
        "numa_affinity_policy": "preferred",
    }
    updated = demo.put(path, {"port": body})["port"]
    assert {key: updated[key] for key in body} == body
    assert updated["revision_number"] == 2
    for field in ("network_id", "binding:vif_type", "status", "project_id"):
        error = refused(demo, "PUT", path, {"port": {field: "x"}})
        assert error.status == 400
        assert field in error.message
    moved = demo.put(
        path, {"port": {"fixed_ips": [{"subnet_id": subnet["id"]}, {"ip_address": "10.0.0.40"}]}}
    )
    assert addresses(moved["port"]) == ["10.0.0.2", "10.0.0.40"]
    moved = demo.put(path, {"port": {"fixed_ips": [{"ip_address": "10.0.0.40"}]}})
    assert addresses(moved["port"]) == ["10.0.0.40"]
    assert addresses(make_port(demo, network["id"])) == ["10.0.0.2"]


def test_port_security_off_needs_the_groups_removed(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    port = make_port(demo, network["id"])
    path = f"{PORTS}/{port['id']}"
    error = refused(demo, "PUT", path, {"port": {"port_security_enabled": False}})
    assert error.status == 409
    assert "security_groups" in error.message
    assert demo.get(path)["port"]["port_security_enabled"] is True
    off = demo.put(path, {"port": {"port_security_enabled": False, "security_groups": []}})
    assert off["port"]["port_security_enabled"] is False
    assert off["port"]["security_groups"] == []
    unsecured = make_network(demo, "unsecured", port_security_enabled=False)
    make_subnet(demo, unsecured["id"], "10.1.0.0/24")
    port = make_port(demo, unsecured["id"])
    assert port["port_security_enabled"] is False and port["security_groups"] == []


def test_named_security_groups_must_be_the_ports_projects(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"])
    web = demo.post(GROUPS, {"security_group": {"name": "web"}})["security_group"]
    port = make_port(demo, network["id"], security_groups=[web["id"]])
    assert port["security_groups"] == [web["id"]]
    other = cloud.add_member("carol", "gamma")
    theirs = other.post(GROUPS, {"security_group": {"name": "theirs"}})["security_group"]
    error = refused(
        demo, "PUT", f"{PORTS}/{port['id']}", {"port": {"security_groups": [theirs["id"]]}}
    )
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "SecurityGroupNotFound"


def test_exact_filters(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = shared_provider_network(cloud)
    make_subnet(admin, network["id"])
    other_network = make_network(
        admin, "other", **{"provider:network_type": "flat", "provider:physical_network": "physnet2"}
    )
    alpha = make_port(admin, network["id"], name="alpha", **{"binding:vnic_type": "direct"})
    alphabet = make_port(
        admin,
        network["id"],
        name="alphabet",
        device_id="srv-1",
        device_owner="compute:nova",
        **{"binding:host_id": "compute1"},
    )
    on_other = make_port(admin, other_network["id"], name="alpha")

    def ids(**query: str) -> list[str]:
        return sorted(p["id"] for p in admin.get(PORTS, **query)["ports"])

    assert ids(name="alpha") == sorted([alpha["id"], on_other["id"]])
    assert ids(name="alp") == []
    assert ids(name="alpha", network_id=network["id"]) == [alpha["id"]]
    assert ids(id=alphabet["id"]) == [alphabet["id"]]
    assert ids(device_id="srv-1") == [alphabet["id"]]
    assert ids(device_owner="compute:nova") == [alphabet["id"]]
    assert ids(**{"binding:host_id": "compute1"}) == [alphabet["id"]]
    assert ids(**{"binding:vnic_type": "direct"}) == [alpha["id"]]
    assert ids(mac_address=alpha["mac_address"].upper()) == [alpha["id"]]
    assert ids(fixed_ips="ip_address=10.0.0.3") == [alphabet["id"]]
    assert len(ids(status="DOWN")) == 3
    assert ids(project_id="nope") == []
    assert ids(tenant_id=alpha["project_id"]) == sorted(
        [alpha["id"], alphabet["id"], on_other["id"]]
    )


def test_unknown_port_is_a_404(cloud: Cloud) -> None:
    error = refused(cloud.client("admin"), "GET", f"{PORTS}/nope")
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "PortNotFound"


def test_concurrent_ports_never_share_an_address_and_run_out_cleanly(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = make_network(demo)
    make_subnet(demo, network["id"], "10.0.0.0/28")  # .2 - .14: 13 addresses
    clients = [cloud.client("demo") for _ in range(16)]

    def create(client: Client) -> dict[str, Any] | ApiError:
        try:
            return make_port(client, network["id"])
        except ApiError as error:
            return error

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, clients))
    made = [r for r in results if isinstance(r, dict)]
    failed = [r for r in results if isinstance(r, ApiError)]
    assert len(made) == 13
    got = sorted(ipaddress.ip_address(addresses(p)[0]) for p in made)
    assert got == [ipaddress.ip_address(f"10.0.0.{host}") for host in range(2, 15)]
    assert len({p["mac_address"] for p in made}) == 13
    assert len(failed) == 3
    assert all(e.status == 409 for e in failed)
    assert all(e.body["NeutronError"]["type"] == "IpAddressGenerationFailure" for e in failed)
    assert len(demo.get(PORTS)["ports"]) == 13
    assert len(demo.get(GROUPS, name="default")["security_groups"]) == 1
