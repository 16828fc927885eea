"""Glance v2 images over HTTP: discovery, metadata-only creation, visibility, filters, deletion."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client
from sriovstack.services.images import ensure_default_images

IMAGES = "/image/v2/images"
FEDORA = "Fedora-Cloud-Base-23-20151030.x86_64"


def image(name: str = "fedora", **fields: Any) -> dict[str, Any]:
    return {"name": name, "container_format": "bare", "disk_format": "qcow2", **fields}


def refused(client: Client, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body)
    return error.value


@pytest.mark.parametrize("path", ["/image", "/image/"])
def test_discovery_is_300_with_v2_entries_pointing_at_v2(cloud: Cloud, path: str) -> None:
    response = httpx.get(f"{cloud.url}{path}")
    assert response.status_code == 300
    versions = response.json()["versions"]
    assert versions[0]["id"] == "v2.17"
    assert versions[0]["status"] == "CURRENT"
    assert all(v["id"].startswith("v2.") for v in versions)
    assert {v["links"][0]["href"] for v in versions} == {f"{cloud.url}/image/v2/"}


def test_an_image_is_active_at_once_with_glances_fields(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    body = image(
        visibility="private",
        min_disk=10,
        min_ram=1024,
        protected=False,
        tags=["sriov", "sriov"],
        hw_pci_numa_affinity_policy="preferred",
        os_distro="fedora",
    )
    created = demo.post(IMAGES, body)
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert created["status"] == "active"
    assert created["visibility"] == "private"
    assert (created["min_disk"], created["min_ram"]) == (10, 1024)
    assert created["tags"] == ["sriov"]
    assert created["owner"] == demo.session.project_id  # type: ignore[union-attr]
    # Extra properties sit at the top level, as Glance shows them.
    assert created["hw_pci_numa_affinity_policy"] == "preferred"
    assert created["os_distro"] == "fedora"
    assert created["self"] == f"/v2/images/{created['id']}"
    assert created["file"] == f"/v2/images/{created['id']}/file"
    assert created["schema"] == "/v2/schemas/image"
    assert created["os_hidden"] is False
    assert demo.get(f"{IMAGES}/{created['id']}") == created


def test_creation_answers_201_and_a_given_id_is_kept(cloud: Cloud) -> None:
    token = cloud.client("demo").token or ""
    wanted = str(uuid.uuid4())
    response = httpx.post(
        f"{cloud.url}{IMAGES}", json=image(id=wanted), headers={"X-Auth-Token": token}
    )
    assert response.status_code == 201
    assert response.json()["id"] == wanted
    assert refused(cloud.client("demo"), "POST", IMAGES, image(id=wanted)).status == 409


def test_the_default_visibility_is_shared_as_in_glance(cloud: Cloud) -> None:
    assert cloud.client("demo").post(IMAGES, image())["visibility"] == "shared"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"visibility": "everyone"}, "visibility"),
        ({"disk_format": "floppy"}, "disk_format"),
        ({"container_format": "zip"}, "container_format"),
        ({"min_disk": -1}, "min_disk"),
        ({"min_ram": "512"}, "min_ram"),
        ({"protected": "yes"}, "protected"),
        ({"tags": "sriov"}, "tags"),
        ({"id": "not-a-uuid"}, "id"),
        ({"hw_pci_numa_affinity_policy": "nearby"}, "hw_pci_numa_affinity_policy"),
        ({"hw_vif_model": 7}, "hw_vif_model"),
    ],
)
def test_bad_images_are_refused_naming_the_field(
    cloud: Cloud, fields: dict[str, Any], field: str
) -> None:
    demo = cloud.client("demo")
    error = refused(demo, "POST", IMAGES, image(**fields))
    assert error.status == 400
    assert error.body["error"]["code"] == 400
    assert error.message.startswith(f"{field}:")
    assert demo.get(IMAGES)["images"] == []


def test_read_only_attributes_and_public_visibility_are_forbidden(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    error = refused(demo, "POST", IMAGES, image(status="queued"))
    assert error.status == 403
    assert error.message == "Attribute 'status' is read-only."
    assert refused(demo, "POST", IMAGES, image(visibility="public")).status == 403
    public = cloud.client("admin").post(IMAGES, image(visibility="public"))
    assert public["visibility"] == "public"


def test_private_images_of_another_project_are_not_found(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    private = demo.post(IMAGES, image("mine", visibility="private"))
    community = demo.post(IMAGES, image("ours", visibility="community"))
    alice = cloud.add_member("alice", "alpha")
    error = refused(alice, "GET", f"{IMAGES}/{private['id']}")
    assert error.status == 404
    assert error.body["error"]["code"] == 404
    assert refused(alice, "DELETE", f"{IMAGES}/{private['id']}").status == 404
    assert alice.get(IMAGES)["images"] == []
    # Community images are shown by id and listed only on request, as Glance does.
    assert alice.get(f"{IMAGES}/{community['id']}")["name"] == "ours"
    assert [i["name"] for i in alice.get(IMAGES, visibility="community")["images"]] == ["ours"]
    assert refused(alice, "DELETE", f"{IMAGES}/{community['id']}").status == 403
    admin_view = cloud.client("admin").get(IMAGES)["images"]
    assert {i["name"] for i in admin_view} == {"mine", "ours"}


def test_unknown_images_are_404(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    for key in (str(uuid.uuid4()), "fedora"):
        assert refused(demo, "GET", f"{IMAGES}/{key}").status == 404


def test_name_and_id_in_filters_are_exact(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    first = demo.post(IMAGES, image("fedora"))
    second = demo.post(IMAGES, image("fedora-39"))
    demo.post(IMAGES, image("cirros"))
    assert [i["id"] for i in demo.get(IMAGES, name="fedora")["images"]] == [first["id"]]
    both = demo.get(IMAGES, id=f"in:{first['id']},{second['id']}")["images"]
    assert {i["name"] for i in both} == {"fedora", "fedora-39"}
    named = demo.get(IMAGES, name='in:"cirros",fedora-39')["images"]
    assert {i["name"] for i in named} == {"cirros", "fedora-39"}
    listing = demo.get(IMAGES, name="nosuch")
    assert listing == {"images": [], "first": "/v2/images", "schema": "/v2/schemas/images"}


def test_pages_link_to_the_next_one(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    for index in range(3):
        demo.post(IMAGES, image(f"image-{index}"))
    first = demo.get(IMAGES, limit="2")
    assert len(first["images"]) == 2
    assert first["next"].startswith("/v2/images?")
    marker = first["images"][-1]["id"]
    assert f"marker={marker}" in first["next"]
    rest = demo.get(IMAGES, limit="2", marker=marker)
    assert len(rest["images"]) == 1
    assert "next" not in rest
    names = {i["name"] for i in first["images"] + rest["images"]}
    assert names == {"image-0", "image-1", "image-2"}


def test_hidden_images_are_listed_only_when_asked_for(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    demo.post(IMAGES, image("shown"))
    demo.post(IMAGES, image("hidden", os_hidden=True))
    assert [i["name"] for i in demo.get(IMAGES)["images"]] == ["shown"]
    assert [i["name"] for i in demo.get(IMAGES, os_hidden="true")["images"]] == ["hidden"]


def test_deleting_answers_204_and_protected_images_stay(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    kept = demo.post(IMAGES, image("kept", protected=True))
    gone = demo.post(IMAGES, image("gone"))
    token = demo.token or ""
    response = httpx.delete(f"{cloud.url}{IMAGES}/{gone['id']}", headers={"X-Auth-Token": token})
    assert response.status_code == 204
    assert refused(demo, "GET", f"{IMAGES}/{gone['id']}").status == 404
    error = refused(demo, "DELETE", f"{IMAGES}/{kept['id']}")
    assert error.status == 403
    assert "protected" in error.message
    assert demo.get(f"{IMAGES}/{kept['id']}")["name"] == "kept"


def test_members_may_not_delete_public_images(cloud: Cloud) -> None:
    ensure_default_images(cloud.env)
    demo = cloud.client("demo")
    (fedora,) = demo.get(IMAGES, name=FEDORA)["images"]
    assert refused(demo, "DELETE", f"{IMAGES}/{fedora['id']}").status == 403


def test_default_images_are_the_talks_and_devstacks_made_once(cloud: Cloud) -> None:
    assert ensure_default_images(cloud.env) == [FEDORA, "cirros-0.6.2-x86_64-disk"]
    assert ensure_default_images(cloud.env) == []
    listed = cloud.client("demo").get(IMAGES)["images"]
    assert {i["name"] for i in listed} == {FEDORA, "cirros-0.6.2-x86_64-disk"}
    assert {(i["visibility"], i["status"], i["disk_format"]) for i in listed} == {
        ("public", "active", "qcow2")
    }
