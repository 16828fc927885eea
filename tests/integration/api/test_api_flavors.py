"""Nova flavors over HTTP: admin-only changes, Nova's checks, versioned shapes, PCI extra specs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.integration.api.cloud import Cloud, running_cloud

from sriovstack.client import ApiError, Client
from sriovstack.domain.alias import parse_aliases
from sriovstack.services.flavors import ensure_default_flavors
from sriovstack.services.settings import Settings

FLAVORS = "/compute/v2.1/flavors"
X540_VF = '{"name": "x540vf", "vendor_id": "8086", "product_id": "1515", "device_type": "type-VF"}'


@pytest.fixture
def cloud(database_url: str) -> Iterator[Cloud]:
    """The API cloud with the talk's alias configured, as Nova's [pci] alias."""
    aliases = {alias.name: alias for alias in parse_aliases([X540_VF])}
    with running_cloud(database_url, Settings(aliases=aliases)) as running:
        yield running


def at(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}", "X-OpenStack-Nova-API-Version": version}


def flavor(name: str = "sriov.small", **fields: Any) -> dict[str, Any]:
    return {"flavor": {"name": name, "ram": 2048, "vcpus": 1, "disk": 20, **fields}}


def refused(
    client: Client, method: str, path: str, body: Any = None, version: str = "2.1"
) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body, headers=at(version))
    return error.value


def test_an_admin_creates_a_flavor_with_novas_fields(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    body = flavor(id="42", swap=512, rxtx_factor=2.0)
    body["flavor"]["OS-FLV-EXT-DATA:ephemeral"] = 5
    created = admin.request("POST", FLAVORS, json=body, headers=at("2.61"))["flavor"]
    assert created["id"] == "42"
    assert (created["ram"], created["vcpus"], created["disk"]) == (2048, 1, 20)
    assert created["OS-FLV-EXT-DATA:ephemeral"] == 5
    assert created["swap"] == 512
    assert created["rxtx_factor"] == 2.0
    assert created["os-flavor-access:is_public"] is True
    assert created["OS-FLV-DISABLED:disabled"] is False
    assert created["extra_specs"] == {}
    assert created["links"][0] == {"rel": "self", "href": f"{cloud.url}{FLAVORS}/42"}
    shown = cloud.client("demo").request("GET", f"{FLAVORS}/42", headers=at("2.61"))
    assert shown["flavor"] == created


def test_creating_answers_200_as_nova_does_and_deleting_202(cloud: Cloud) -> None:
    token = cloud.client("admin").token or ""
    response = httpx.post(f"{cloud.url}{FLAVORS}", json=flavor(), headers={"X-Auth-Token": token})
    assert response.status_code == 200
    flavor_id = response.json()["flavor"]["id"]
    deleted = httpx.delete(f"{cloud.url}{FLAVORS}/{flavor_id}", headers={"X-Auth-Token": token})
    assert deleted.status_code == 202
    assert deleted.headers["OpenStack-API-Version"] == "compute 2.1"
    assert refused(cloud.client("admin"), "GET", f"{FLAVORS}/{flavor_id}").status == 404


@pytest.mark.parametrize("given", [{}, {"id": "auto"}, {"id": None}])
def test_an_absent_null_or_auto_id_becomes_a_uuid(cloud: Cloud, given: dict[str, Any]) -> None:
    created = cloud.client("admin").post(FLAVORS, flavor(**given))["flavor"]
    assert str(uuid.UUID(created["id"])) == created["id"]


def test_members_may_read_flavors_but_not_change_them(cloud: Cloud) -> None:
    admin, demo = cloud.client("admin"), cloud.client("demo")
    created = admin.post(FLAVORS, flavor(id="7"))["flavor"]
    assert [f["id"] for f in demo.get(f"{FLAVORS}/detail")["flavors"]] == ["7"]
    specs = {"extra_specs": {"pci_passthrough:alias": "x540vf:1"}}
    attempts = [
        ("POST", FLAVORS, flavor("other")),
        ("DELETE", f"{FLAVORS}/7", None),
        ("POST", f"{FLAVORS}/7/os-extra_specs", specs),
        ("PUT", f"{FLAVORS}/7/os-extra_specs/k", {"k": "v"}),
        ("DELETE", f"{FLAVORS}/7/os-extra_specs/k", None),
    ]
    for method, path, body in attempts:
        error = refused(demo, method, path, body)
        assert error.status == 403
        assert error.body["forbidden"]["code"] == 403
    assert admin.get(f"{FLAVORS}/7")["flavor"]["name"] == created["name"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ram": -512}, "ram"),
        ({"ram": 0}, "ram"),
        ({"vcpus": 0}, "vcpus"),
        ({"disk": -1}, "disk"),
        ({"swap": "lots"}, "swap"),
        ({"OS-FLV-EXT-DATA:ephemeral": -1}, "OS-FLV-EXT-DATA:ephemeral"),
        ({"rxtx_factor": 0}, "rxtx_factor"),
        ({"os-flavor-access:is_public": "maybe"}, "os-flavor-access:is_public"),
        ({"id": "a/b"}, "id"),
        ({"name": " padded "}, "name"),
        ({"colour": "blue"}, "colour"),
        ({"description": "before 2.55"}, "description"),
    ],
)
def test_bad_flavors_are_refused_naming_the_field(
    cloud: Cloud, fields: dict[str, Any], field: str
) -> None:
    admin = cloud.client("admin")
    error = refused(admin, "POST", FLAVORS, flavor(**fields))
    assert error.status == 400
    assert error.body["badRequest"]["code"] == 400
    assert error.message.startswith(f"{field}:")
    assert admin.get(FLAVORS)["flavors"] == []


def test_numeric_strings_are_taken_as_nova_takes_them(cloud: Cloud) -> None:
    created = cloud.client("admin").post(FLAVORS, flavor(ram="1024", vcpus="2"))["flavor"]
    assert (created["ram"], created["vcpus"]) == (1024, 2)


def test_a_taken_name_or_id_is_a_conflict(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor("m1.sriov", id="9"))
    by_name = refused(admin, "POST", FLAVORS, flavor("m1.sriov"))
    assert by_name.status == 409
    assert by_name.body["conflictingRequest"]["message"] == (
        "Flavor with name m1.sriov already exists."
    )
    assert refused(admin, "POST", FLAVORS, flavor("other", id="9")).status == 409


def test_unknown_flavors_and_names_are_404_item_not_found(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor("m1.small", id="2"))
    # OSC looks up by id first and by listing second: the name itself is not an id.
    for path in (f"{FLAVORS}/m1.small", f"{FLAVORS}/nosuch", f"{FLAVORS}/nosuch/os-extra_specs"):
        error = refused(admin, "GET", path)
        assert error.status == 404
        assert error.body["itemNotFound"]["code"] == 404


def test_swap_is_an_empty_string_when_none_before_2_75(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor(id="1"))
    old = admin.request("GET", f"{FLAVORS}/1", headers=at("2.74"))["flavor"]
    new = admin.request("GET", f"{FLAVORS}/1", headers=at("2.75"))["flavor"]
    assert (old["swap"], new["swap"]) == ("", 0)


def test_description_is_shown_and_settable_from_2_55(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    body = flavor(id="3", description="for SR-IOV guests")
    created = admin.request("POST", FLAVORS, json=body, headers=at("2.55"))["flavor"]
    assert created["description"] == "for SR-IOV guests"
    assert "extra_specs" not in created  # from 2.61
    old = admin.request("GET", f"{FLAVORS}/3", headers=at("2.54"))["flavor"]
    assert "description" not in old
    listed = admin.request("GET", FLAVORS, headers=at("2.55"))["flavors"]
    assert listed[0]["description"] == "for SR-IOV guests"
    assert "ram" not in listed[0]
    change = {"flavor": {"description": "changed"}}
    changed = admin.request("PUT", f"{FLAVORS}/3", json=change, headers=at("2.55"))["flavor"]
    assert changed["description"] == "changed"
    assert refused(admin, "PUT", f"{FLAVORS}/3", change, version="2.54").status == 404


def test_pci_extra_specs_are_set_shown_and_deleted(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor(id="2"))
    specs = {"pci_passthrough:alias": "x540vf:1", "hw:pci_numa_affinity_policy": "preferred"}
    assert admin.post(f"{FLAVORS}/2/os-extra_specs", {"extra_specs": specs}) == {
        "extra_specs": specs
    }
    shown = admin.request("GET", f"{FLAVORS}/2", headers=at("2.61"))["flavor"]
    assert shown["extra_specs"] == specs
    demo = cloud.client("demo")
    assert demo.get(f"{FLAVORS}/2/os-extra_specs")["extra_specs"] == specs
    key = f"{FLAVORS}/2/os-extra_specs/pci_passthrough:alias"
    assert demo.get(key) == {"pci_passthrough:alias": "x540vf:1"}
    assert admin.put(key, {"pci_passthrough:alias": "x540vf:2"}) == {
        "pci_passthrough:alias": "x540vf:2"
    }
    admin.delete(key)
    assert refused(admin, "GET", key).status == 404
    left = admin.get(f"{FLAVORS}/2/os-extra_specs")["extra_specs"]
    assert left == {"hw:pci_numa_affinity_policy": "preferred"}


@pytest.mark.parametrize(
    ("specs", "field", "rule"),
    [
        ({"pci_passthrough:alias": "nosuch:1"}, "pci_passthrough:alias", "not defined"),
        ({"pci_passthrough:alias": "x540vf"}, "pci_passthrough:alias", "<alias>:<count>"),
        ({"hw:pci_numa_affinity_policy": "nearby"}, "hw:pci_numa_affinity_policy", "NUMA"),
        ({"bad/key": "1"}, "extra_specs", "keys are"),
        ({"quota:vif": None}, "quota:vif", "must be a string"),
    ],
)
def test_bad_extra_specs_are_refused_naming_the_key(
    cloud: Cloud, specs: dict[str, Any], field: str, rule: str
) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor(id="2"))
    error = refused(admin, "POST", f"{FLAVORS}/2/os-extra_specs", {"extra_specs": specs})
    assert error.status == 400
    assert error.message.startswith(f"{field}:")
    assert rule in error.message
    assert admin.get(f"{FLAVORS}/2/os-extra_specs")["extra_specs"] == {}


def test_a_put_must_name_the_urls_key_alone(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    admin.post(FLAVORS, flavor(id="2"))
    path = f"{FLAVORS}/2/os-extra_specs/hw:cpu_policy"
    assert refused(admin, "PUT", path, {"hw:mem_page_size": "large"}).status == 400
    two = {"hw:cpu_policy": "dedicated", "hw:mem_page_size": "large"}
    assert refused(admin, "PUT", path, two).status == 400


def test_private_flavors_are_for_admins_and_is_public_filters(cloud: Cloud) -> None:
    admin, demo = cloud.client("admin"), cloud.client("demo")
    admin.post(FLAVORS, flavor("public", id="1"))
    private = flavor("private", id="2")
    private["flavor"]["os-flavor-access:is_public"] = False
    admin.post(FLAVORS, private)

    def ids(client: Client, **query: str) -> list[str]:
        return [f["id"] for f in client.get(f"{FLAVORS}/detail", **query)["flavors"]]

    assert ids(admin) == ["1"]
    assert ids(admin, is_public="None") == ["1", "2"]
    assert ids(admin, is_public="false") == ["2"]
    assert ids(demo, is_public="None") == ["1"]  # members see public flavors only
    assert refused(demo, "GET", f"{FLAVORS}/2").status == 404
    assert refused(admin, "GET", FLAVORS + "?is_public=perhaps").status == 400


def test_min_ram_and_min_disk_filter_and_pages_link_onwards(cloud: Cloud) -> None:
    ensure_default_flavors(cloud.env)
    demo = cloud.client("demo")
    big = demo.get(f"{FLAVORS}/detail", minRam="4096", minDisk="80")["flavors"]
    assert [f["name"] for f in big] == ["m1.large", "m1.xlarge"]
    first = demo.get(FLAVORS, limit="2")
    assert [f["id"] for f in first["flavors"]] == ["1", "2"]
    assert first["flavors_links"][0]["rel"] == "next"
    assert "marker=2" in first["flavors_links"][0]["href"]
    rest = demo.get(FLAVORS, limit="2", marker="4")
    assert [f["id"] for f in rest["flavors"]] == ["5"]
    assert "flavors_links" not in rest
    assert refused(demo, "GET", f"{FLAVORS}?minRam=lots").status == 400


def test_default_flavors_are_devstacks_and_made_only_once(cloud: Cloud) -> None:
    assert ensure_default_flavors(cloud.env) == [
        "m1.tiny",
        "m1.small",
        "m1.medium",
        "m1.large",
        "m1.xlarge",
    ]
    assert ensure_default_flavors(cloud.env) == []
    small = cloud.client("demo").get(f"{FLAVORS}/2")["flavor"]
    assert (small["name"], small["ram"], small["vcpus"], small["disk"]) == ("m1.small", 2048, 1, 20)
