"""Nova key pairs over HTTP: checked public keys, MD5 fingerprints, per-user names, versions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client

KEYPAIRS = "/compute/v2.1/os-keypairs"
# Keys made with ssh-keygen; the fingerprints are what `ssh-keygen -l -E md5` printed for them.
ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICY9277S5nASfourP7u4SBQVjhjfaQqxSJsH9SLjH+S8 "
    "stack@devstack"
)
ED25519_MD5 = "c1:72:48:38:2b:99:51:28:88:d9:5c:98:17:50:44:d5"
RSA = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDMEmGnbB8Agm41Gbn081XE4+F+lREJM2WGdnSk2o1GAodxd9eaF+J"
    "VxQXaPoS55N7ALqFIZT6Yxbd/Nqok08Klvrhsh1wiBCURtW8QRe3+IIKe3kwZDdITJluVjHkMCoKKt1SMHpYBYj/AT8"
    "NLeZo27gSQMDjAnQACoYyjwngk7B23M2cq7gKsbjQaZVGsorLYyfYW34AzU2FDBMfT7AuCGnAE6kTAOHkiBeRpyvMsB"
    "PLUFnbJp0hsd2M790hs3KiyuUg/180KhH3JkieEgzN+uICbGp22a2O/cbmCdOatlNbkC5+AQGvrcDJKA4sMU3D9qk/ff"
    "LSPOYttthmzEdCf demo"
)
RSA_MD5 = "ca:94:00:00:5d:82:d0:b7:80:a6:21:e7:96:be:45:02"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEzMOdf7OLTm56EhM6yB"
    "Gb0BujmWdJF0fpst2KwkrFIbJ5DSWzEAR50XdnFtUUA6f48UVHGxGVKl+pc0aWelom0="
)
ECDSA_MD5 = "7c:35:17:2a:b7:2b:c9:d7:28:26:42:6c:9c:0d:c7:f7"


def at(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}", "X-OpenStack-Nova-API-Version": version}


def keypair(name: str = "stack-ssh", public_key: str | None = ED25519, **extra: Any) -> Any:
    body: dict[str, Any] = {"name": name, **extra}
    if public_key is not None:
        body["public_key"] = public_key
    return {"keypair": body}


def raw(cloud: Cloud, method: str, path: str, version: str, body: Any = None) -> httpx.Response:
    token = cloud.client("demo").token or ""
    headers = {"X-Auth-Token": token, **at(version)}
    return httpx.request(method, f"{cloud.url}{path}", json=body, headers=headers)


def refused(client: Client, method: str, path: str, body: Any = None, version: str = "2.10") -> Any:
    with pytest.raises(ApiError) as error:
        client.request(method, path, json=body, headers=at(version))
    return error.value


@pytest.mark.parametrize(
    ("public_key", "fingerprint"), [(ED25519, ED25519_MD5), (RSA, RSA_MD5), (ECDSA, ECDSA_MD5)]
)
def test_imported_keys_get_novas_md5_fingerprint(
    cloud: Cloud, public_key: str, fingerprint: str
) -> None:
    demo = cloud.client("demo")
    created = demo.request(
        "POST", KEYPAIRS, json=keypair(public_key=public_key), headers=at("2.10")
    )
    view = created["keypair"]
    assert view["fingerprint"] == fingerprint
    assert view["public_key"] == public_key
    assert view["type"] == "ssh"
    assert view["user_id"] == demo.session.user_id  # type: ignore[union-attr]
    assert "private_key" not in view


def test_create_and_delete_statuses_follow_2_2(cloud: Cloud) -> None:
    assert raw(cloud, "POST", KEYPAIRS, "2.1", keypair("old")).status_code == 200
    assert raw(cloud, "POST", KEYPAIRS, "2.2", keypair("new")).status_code == 201
    assert raw(cloud, "DELETE", f"{KEYPAIRS}/old", "2.1").status_code == 202
    deleted = raw(cloud, "DELETE", f"{KEYPAIRS}/new", "2.2")
    assert deleted.status_code == 204
    assert deleted.headers["X-OpenStack-Nova-API-Version"] == "2.2"


def test_type_is_shown_from_2_2(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    demo.post(KEYPAIRS, keypair())
    old = demo.request("GET", f"{KEYPAIRS}/stack-ssh", headers=at("2.1"))["keypair"]
    new = demo.request("GET", f"{KEYPAIRS}/stack-ssh", headers=at("2.2"))["keypair"]
    assert "type" not in old
    assert new["type"] == "ssh"
    assert new["fingerprint"] == ED25519_MD5
    assert new["created_at"].startswith("2026-11-25T12:00:00")
    error = refused(demo, "POST", KEYPAIRS, keypair("typed", type="ssh"), version="2.1")
    assert error.status == 400
    assert error.message.startswith("type:")


def test_the_list_nests_each_key_pair_as_nova_does(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    demo.post(KEYPAIRS, keypair("a", ED25519))
    demo.post(KEYPAIRS, keypair("b", RSA))
    listed = demo.request("GET", KEYPAIRS, headers=at("2.10"))["keypairs"]
    assert [item["keypair"]["name"] for item in listed] == ["a", "b"]
    assert set(listed[0]["keypair"]) == {"name", "public_key", "fingerprint", "type"}
    page = demo.request("GET", f"{KEYPAIRS}?limit=1", headers=at("2.35"))
    assert [item["keypair"]["name"] for item in page["keypairs"]] == ["a"]
    assert "marker=a" in page["keypairs_links"][0]["href"]


@pytest.mark.parametrize(
    ("public_key", "rule"),
    [
        ("ssh-rsa not-base64!", "not valid base64"),
        (ED25519.replace("ssh-ed25519", "ssh-rsa", 1), "not a ssh-rsa key"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICY9", "not a ssh-ed25519 key"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "not supported"),
        (ECDSA.replace("nistp256", "nistp384", 1), "not a ecdsa-sha2-nistp384 key"),
        ("", "must be an OpenSSH public key"),
    ],
)
def test_bad_public_keys_are_refused_naming_the_field(
    cloud: Cloud, public_key: str, rule: str
) -> None:
    demo = cloud.client("demo")
    error = refused(demo, "POST", KEYPAIRS, keypair(public_key=public_key))
    assert error.status == 400
    assert error.body["badRequest"]["code"] == 400
    assert error.message.startswith("public_key:")
    assert rule in error.message
    assert demo.get(KEYPAIRS)["keypairs"] == []


@pytest.mark.parametrize("version", ["2.1", "2.91", "2.92"])
def test_a_key_pair_without_a_public_key_is_refused_at_every_version(
    cloud: Cloud, version: str
) -> None:
    error = refused(cloud.client("demo"), "POST", KEYPAIRS, keypair(public_key=None), version)
    assert error.status == 400
    assert "public_key is required: sriovstack does not generate private keys" in error.message


@pytest.mark.parametrize(
    ("name", "version", "accepted"),
    [
        ("stack-ssh key_1", "2.1", True),
        ("me@host.example", "2.91", False),
        ("me@host.example", "2.92", True),
        ("semi;colon", "2.92", False),
        ("", "2.10", False),
        ("x" * 256, "2.10", False),
    ],
)
def test_names_follow_novas_characters(
    cloud: Cloud, name: str, version: str, accepted: bool
) -> None:
    demo = cloud.client("demo")
    if accepted:
        created = demo.request("POST", KEYPAIRS, json=keypair(name), headers=at(version))
        assert created["keypair"]["name"] == name
    else:
        error = refused(demo, "POST", KEYPAIRS, keypair(name), version)
        assert (error.status, error.message[:5]) == (400, "name:")


def test_names_are_unique_per_user_and_others_keys_are_not_found(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    demo.post(KEYPAIRS, keypair())
    error = refused(demo, "POST", KEYPAIRS, keypair())
    assert error.status == 409
    assert error.body["conflictingRequest"]["message"] == "Key pair 'stack-ssh' already exists."
    alice = cloud.add_member("alice", "alpha")
    alice.post(KEYPAIRS, keypair(public_key=RSA))  # the same name, another user
    assert alice.get(f"{KEYPAIRS}/stack-ssh")["keypair"]["fingerprint"] == RSA_MD5
    assert demo.get(f"{KEYPAIRS}/stack-ssh")["keypair"]["fingerprint"] == ED25519_MD5
    alice.delete(f"{KEYPAIRS}/stack-ssh")
    for method in ("GET", "DELETE"):
        missing = refused(alice, method, f"{KEYPAIRS}/stack-ssh")
        assert missing.status == 404
        assert missing.body["itemNotFound"]["code"] == 404
    assert demo.get(f"{KEYPAIRS}/stack-ssh")["keypair"]["name"] == "stack-ssh"


def test_only_admins_name_another_users_key_pairs_from_2_10(cloud: Cloud) -> None:
    demo, admin = cloud.client("demo"), cloud.client("admin")
    demo_id = demo.session.user_id  # type: ignore[union-attr]
    admin_id = admin.session.user_id  # type: ignore[union-attr]
    body = keypair("for-demo", user_id=demo_id)
    created = admin.request("POST", KEYPAIRS, json=body, headers=at("2.10"))["keypair"]
    assert created["user_id"] == demo_id
    assert [k["keypair"]["name"] for k in demo.get(KEYPAIRS)["keypairs"]] == ["for-demo"]
    listed = admin.request("GET", f"{KEYPAIRS}?user_id={demo_id}", headers=at("2.10"))
    assert [k["keypair"]["name"] for k in listed["keypairs"]] == ["for-demo"]
    error = refused(demo, "POST", KEYPAIRS, keypair("x", user_id=admin_id))
    assert error.status == 403
    assert refused(demo, "GET", f"{KEYPAIRS}?user_id={admin_id}").status == 403
    assert refused(admin, "POST", KEYPAIRS, body, version="2.9").status == 400
