"""Neutron networks over HTTP: provider VLANs, tenant VLANs, refusals and project isolation."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

NETWORKS = "/networking/v2.0/networks"


def provider(vlan: Any = 2010, physnet: str = "physnet1", **extra: Any) -> dict[str, Any]:
    network = {
        "name": "physnet1",
        "provider:network_type": "vlan",
        "provider:physical_network": physnet,
        "provider:segmentation_id": vlan,
        **extra,
    }
    return {"network": network}


def refused(client: Client, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body)
    return error.value


def test_the_talks_provider_network(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = admin.post(NETWORKS, provider(shared=True))["network"]
    assert network["provider:network_type"] == "vlan"
    assert network["provider:physical_network"] == "physnet1"
    assert network["provider:segmentation_id"] == 2010
    assert network["status"] == "ACTIVE"
    assert network["project_id"] == network["tenant_id"] == admin.session.project_id  # type: ignore[union-attr]
    shown = admin.get(f"{NETWORKS}/{network['id']}")["network"]
    assert shown == network


def test_a_numeric_string_vlan_is_accepted(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    network = admin.post(NETWORKS, provider("2011"))["network"]
    assert network["provider:segmentation_id"] == 2011


@pytest.mark.parametrize(
    ("vlan", "rule"),
    [(0, "from 1 to 4094"), (4095, "from 1 to 4094"), (5000, "from 1 to 4094"), ("x", "whole")],
)
def test_vlans_outside_802_1q_are_refused_naming_the_field(
    cloud: Cloud, vlan: Any, rule: str
) -> None:
    error = refused(cloud.client("admin"), "POST", NETWORKS, provider(vlan))
    assert error.status == 400
    assert "provider:segmentation_id" in error.message
    assert rule in error.message
    assert error.body["NeutronError"]["type"] == "InvalidInput"
    assert cloud.client("admin").get(NETWORKS)["networks"] == []


def test_an_unknown_physnet_is_refused(cloud: Cloud) -> None:
    error = refused(cloud.client("admin"), "POST", NETWORKS, provider(physnet="physnet9"))
    assert error.status == 400
    assert "physnet9 is not in network_vlan_ranges" in error.message


def test_a_vlan_in_use_on_the_physnet_is_a_conflict(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(NETWORKS, provider(2010))
    error = refused(admin, "POST", NETWORKS, provider(2010))
    assert error.status == 409
    assert error.body["NeutronError"]["type"] == "VlanIdInUse"
    assert "VLAN 2010" in error.message


@pytest.mark.parametrize("kind", ["vxlan", "geneve", "gre"])
def test_tunnel_networks_are_refused_with_the_reason(cloud: Cloud, kind: str) -> None:
    body = {"network": {"name": "t", "provider:network_type": kind}}
    error = refused(cloud.client("admin"), "POST", NETWORKS, body)
    assert error.status == 400
    assert "SR-IOV ports bind only to vlan and flat" in error.message


def test_flat_networks_one_per_physnet_without_a_segment(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    flat = {"network": {"provider:network_type": "flat", "provider:physical_network": "physnet1"}}
    network = admin.post(NETWORKS, flat)["network"]
    assert network["provider:segmentation_id"] is None
    assert refused(admin, "POST", NETWORKS, flat).status == 409
    with_vlan = {"network": {**flat["network"], "provider:segmentation_id": 5}}
    assert refused(admin, "POST", NETWORKS, with_vlan).status == 400


def test_members_get_tenant_vlans_from_the_ranges_in_order(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    first = demo.post(NETWORKS, {"network": {"name": "a"}})["network"]
    second = demo.post(NETWORKS, {"network": {"name": "b"}})["network"]
    assert (first["provider:segmentation_id"], second["provider:segmentation_id"]) == (3001, 3002)
    demo.delete(f"{NETWORKS}/{first['id']}")
    third = demo.post(NETWORKS, {"network": {"name": "c"}})["network"]
    assert third["provider:segmentation_id"] == 3001


def test_members_may_not_set_provider_attributes(cloud: Cloud) -> None:
    error = refused(cloud.client("demo"), "POST", NETWORKS, provider(2010))
    assert error.status == 403


def test_a_member_never_sees_or_changes_another_projects_network(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    mine = demo.post(NETWORKS, {"network": {"name": "private"}})["network"]
    other = cloud.add_member("alice", "alpha")
    assert other.get(NETWORKS)["networks"] == []
    for method, body in (("GET", None), ("PUT", {"network": {"name": "x"}}), ("DELETE", None)):
        error = refused(other, method, f"{NETWORKS}/{mine['id']}", body)
        assert error.status == 404
        assert error.body["NeutronError"]["type"] == "NetworkNotFound"
    assert demo.get(f"{NETWORKS}/{mine['id']}")["network"]["name"] == "private"


def test_a_shared_network_is_visible_to_every_project_but_changed_only_by_its_owner(
    cloud: Cloud,
) -> None:
    admin = cloud.client("admin")
    shared = admin.post(NETWORKS, provider(2010, shared=True))["network"]
    other = cloud.add_member("bob", "beta")
    assert [n["id"] for n in other.get(NETWORKS)["networks"]] == [shared["id"]]
    assert (
        refused(other, "PUT", f"{NETWORKS}/{shared['id']}", {"network": {"name": "x"}}).status
        == 403
    )


def test_exact_name_and_id_filters(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    a = admin.post(NETWORKS, provider(2010, name="alpha"))["network"]
    admin.post(NETWORKS, provider(2011, name="alphabet"))
    assert [n["id"] for n in admin.get(NETWORKS, name="alpha")["networks"]] == [a["id"]]
    assert [n["name"] for n in admin.get(NETWORKS, id=a["id"])["networks"]] == ["alpha"]
    assert admin.get(NETWORKS, name="alp")["networks"] == []


def test_update_and_unknown_attributes(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    network = admin.post(NETWORKS, provider(2010))["network"]
    renamed = admin.put(f"{NETWORKS}/{network['id']}", {"network": {"name": "renamed"}})
    assert renamed["network"]["name"] == "renamed"
    assert renamed["network"]["revision_number"] == 2
    error = refused(
        admin, "PUT", f"{NETWORKS}/{network['id']}", {"network": {"provider:segmentation_id": 9}}
    )
    assert error.status == 400
    assert "provider:segmentation_id" in error.message


def test_a_malformed_body_is_a_400_naming_the_envelope(cloud: Cloud) -> None:
    error = refused(cloud.client("admin"), "POST", NETWORKS, {"net": {}})
    assert error.status == 400
    assert "network" in error.message


def test_unknown_network_is_a_404(cloud: Cloud) -> None:
    error = refused(cloud.client("admin"), "GET", f"{NETWORKS}/nope")
    assert error.status == 404
    assert error.body["NeutronError"]["type"] == "NetworkNotFound"


def test_boolean_attributes_accept_neutrons_strings_and_refuse_others(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    network = demo.post(NETWORKS, {"network": {"name": "s", "shared": "false"}})["network"]
    assert network["shared"] is False
    down = demo.put(f"{NETWORKS}/{network['id']}", {"network": {"admin_state_up": "False"}})
    assert down["network"]["admin_state_up"] is False
    admin = cloud.client("admin")
    error = refused(admin, "PUT", f"{NETWORKS}/{network['id']}", {"network": {"shared": "maybe"}})
    assert error.status == 400
    assert "shared" in error.message
