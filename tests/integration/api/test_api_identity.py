"""Keystone v3 login, token expiry and the catalog, over HTTP."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.api.cloud import ADMIN_PASSWORD, Cloud

from sriovstack.client import ApiError, Client
from sriovstack.services.identity import hash_password, verify_password
from sriovstack.store.identity_tables import TokenRow, UserRow
from sriovstack.store.querying import find_rows


def test_version_documents_point_at_v3(cloud: Cloud) -> None:
    listing = httpx.get(f"{cloud.url}/identity")
    assert listing.status_code == 300
    (v3,) = listing.json()["versions"]["values"]
    assert v3["id"].startswith("v3.")
    assert v3["links"][0]["href"] == f"{cloud.url}/identity/v3/"
    assert httpx.get(f"{cloud.url}/identity/v3").json()["version"]["id"] == v3["id"]


def test_password_login_returns_a_token_scoped_to_the_project_with_a_catalog(cloud: Cloud) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "password": ADMIN_PASSWORD,
                        "domain": {"id": "default"},
                    }
                },
            },
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    response = httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json=body)
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["project"]["name"] == "demo"
    assert {"name": "admin", "id": "admin"} in token["roles"]
    assert token["expires_at"] > token["issued_at"]
    catalog = {entry["type"]: entry for entry in token["catalog"]}
    assert catalog["compute"]["endpoints"][0]["url"] == f"{cloud.url}/compute/v2.1"
    assert catalog["network"]["endpoints"][0]["url"] == f"{cloud.url}/networking"
    assert all(e["region_id"] == "RegionOne" for c in catalog.values() for e in c["endpoints"])


@pytest.mark.parametrize(
    ("user", "password", "project"),
    [
        ("admin", "wrong-password", "admin"),
        ("nobody", "whatever-pass", "admin"),
        ("demo", "demo-secret", "admin"),  # demo has no role in admin
        ("admin", ADMIN_PASSWORD, "no-such-project"),
    ],
)
def test_bad_logins_get_401_in_keystones_shape(
    cloud: Cloud, user: str, password: str, project: str
) -> None:
    with pytest.raises(ApiError) as refused, Client(cloud.url) as client:
        client.login(user, password, project)
    assert refused.value.status == 401
    assert refused.value.body["error"]["code"] == 401


def test_requests_without_or_with_a_bad_token_get_401(cloud: Cloud) -> None:
    assert httpx.get(f"{cloud.url}/networking/v2.0/networks").status_code == 401
    headers = {"X-Auth-Token": "not-a-token"}
    response = httpx.get(f"{cloud.url}/networking/v2.0/networks", headers=headers)
    assert response.status_code == 401
    assert response.json()["NeutronError"]["type"] == "NotAuthorized"


def test_a_token_expires_after_its_lifetime(cloud: Cloud) -> None:
    client = cloud.client("demo")
    client.get("/networking/v2.0/networks")
    cloud.clock.advance(cloud.env.settings.token_ttl.total_seconds() + 1)
    with pytest.raises(ApiError) as refused:
        client.get("/networking/v2.0/networks")
    assert refused.value.status == 401


def test_the_store_keeps_only_password_hashes_and_token_digests(cloud: Cloud) -> None:
    client = cloud.client("admin")
    with cloud.env.unit_of_work() as uow:
        users = find_rows(uow.session, UserRow, where={"name": "admin"})
        tokens = find_rows(uow.session, TokenRow)
        assert ADMIN_PASSWORD not in users[0].password_hash
        assert users[0].password_hash.startswith("scrypt$")
        assert client.token not in {t.digest for t in tokens}


def test_password_hashes_are_salted_and_verify() -> None:
    first, second = hash_password("secret-one"), hash_password("secret-one")
    assert first != second
    assert verify_password("secret-one", first)
    assert not verify_password("secret-two", first)
    assert not verify_password("secret-one", "md5$garbage")


def test_a_member_sees_only_its_project(cloud: Cloud) -> None:
    demo = cloud.client("demo")
    projects = demo.get("/identity/v3/projects")["projects"]
    assert [p["name"] for p in projects] == ["demo"]
    admin = cloud.client("admin")
    names = {p["name"] for p in admin.get("/identity/v3/projects")["projects"]}
    assert {"admin", "demo", "service"} <= names
