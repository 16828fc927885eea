"""Nova's server actions: bodies checked per microversion as Nova checks them, then migrations
refused as not supported yet (409), unknown actions and servers refused, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.cloud import Cloud
from tests.integration.api.seeding import (
    add_flavor,
    add_host,
    add_image,
    add_port,
    provider_network,
)

from sriovstack.client import ApiError, Client
from sriovstack.simulator.fleet import synthetic_report

SERVERS = "/compute/v2.1/servers"
UNKNOWN = "7b0c4c3e-4a8e-4c1c-9a55-0d5c1f7a9b10"
OSC_LIVE = {"os-migrateLive": {"host": None, "block_migration": "auto"}}  # mv 2.30, no --host


def at(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}", "X-OpenStack-Nova-API-Version": version}


def act(client: Client, server_id: str, body: Any, version: str = "2.96") -> ApiError:
    """POST the action, which must be refused; the refusal."""
    with pytest.raises(ApiError) as refused:
        client.request("POST", f"{SERVERS}/{server_id}/action", json=body, headers=at(version))
    return refused.value


@pytest.fixture
def active(cloud: Cloud) -> str:
    """An ACTIVE server of the demo project holding a VF of sriov-1, as a user booted it."""
    agent = add_host(cloud, synthetic_report("sriov-1", pfs=1, vfs_per_pf=7))
    network = provider_network(cloud.client("admin", "demo"))
    demo = cloud.client("demo")
    body = {
        "server": {
            "name": "Instance-1",
            "flavorRef": add_flavor(cloud),
            "imageRef": add_image(cloud),
            "networks": [{"port": add_port(cloud, demo, network)}],
        }
    }
    server_id = str(demo.post(SERVERS, body)["server"]["id"])
    agent.put(f"/v1/hosts/sriov-1/servers/{server_id}/status", {"status": "ACTIVE"})
    return server_id


def state(cloud: Cloud, server_id: str) -> Any:
    """Everything a migration would have changed: the server, the devices, the host."""
    admin = cloud.client("admin")
    return (
        admin.get(f"{SERVERS}/{server_id}"),
        admin.get("/v1/pci-devices"),
        admin.get("/v1/hosts/sriov-1"),
        admin.get("/v1/hosts/sriov-1/desired"),
    )


ACCEPTED_BODIES = [
    pytest.param("2.30", OSC_LIVE, id="osc"),
    pytest.param(
        "2.30",
        {"os-migrateLive": {"host": "sriov-2", "block_migration": "auto", "force": False}},
        id="osc-with-host",
    ),
    pytest.param(
        "2.96", {"os-migrateLive": {"host": "sriov-2", "block_migration": False}}, id="novaclient"
    ),
    pytest.param("2.25", {"os-migrateLive": {"host": None, "block_migration": True}}, id="2.25"),
    pytest.param(
        "2.1",
        {"os-migrateLive": {"host": None, "block_migration": "False", "disk_over_commit": "no"}},
        id="2.1-string-booleans",
    ),
]


@pytest.mark.parametrize(("version", "body"), ACCEPTED_BODIES)
def test_a_valid_live_migration_is_refused_as_not_supported_and_changes_nothing(
    cloud: Cloud, active: str, version: str, body: dict[str, Any]
) -> None:
    before = state(cloud, active)
    refused = act(cloud.client("admin"), active, body, version)
    assert refused.status == 409
    message = refused.body["conflictingRequest"]["message"]
    assert refused.body == {"conflictingRequest": {"code": 409, "message": message}}
    assert message.startswith("Live migration is not supported by sriovstack yet")
    assert active in message
    assert state(cloud, active) == before


@pytest.mark.parametrize(
    ("version", "body"),
    [("2.1", {"migrate": None}), ("2.56", {"migrate": {"host": "sriov-2"}})],
)
def test_a_cold_migration_is_refused_as_not_supported_and_changes_nothing(
    cloud: Cloud, active: str, version: str, body: dict[str, Any]
) -> None:
    before = state(cloud, active)
    refused = act(cloud.client("admin"), active, body, version)
    assert refused.status == 409
    assert refused.message.startswith("Cold migration is not supported by sriovstack yet")
    assert state(cloud, active) == before


BAD_BODIES = [
    pytest.param("2.96", {}, "body", id="no-action"),
    pytest.param("2.96", {"migrate": None, "os-stop": None}, "body", id="two-actions"),
    pytest.param("2.96", [OSC_LIVE], "body", id="a-list"),
    pytest.param("2.96", {"os-migrateLive": "sriov-2"}, "os-migrateLive", id="not-an-object"),
    pytest.param(
        "2.96",
        {"os-migrateLive": {"host": None, "block_migration": "auto", "force": True}},
        "os-migrateLive.force",
        id="force-gone-in-2.68",
    ),
    pytest.param(
        "2.29",
        {"os-migrateLive": {"host": None, "block_migration": "auto", "force": True}},
        "os-migrateLive.force",
        id="force-not-yet",
    ),
    pytest.param(
        "2.30", {"os-migrateLive": {"host": None}}, "os-migrateLive.block_migration", id="no-block"
    ),
    pytest.param(
        "2.30",
        {"os-migrateLive": {"host": None, "block_migration": "maybe"}},
        "os-migrateLive.block_migration",
        id="block-not-a-boolean",
    ),
    pytest.param(
        "2.30",
        {"os-migrateLive": {"host": "sriov 2", "block_migration": "auto"}},
        "os-migrateLive.host",
        id="host-not-a-name",
    ),
    pytest.param(
        "2.30",
        {"os-migrateLive": {"block_migration": "auto"}},
        "os-migrateLive.host",
        id="no-host",
    ),
    pytest.param(
        "2.24",
        {"os-migrateLive": {"host": None, "block_migration": "auto", "disk_over_commit": False}},
        "os-migrateLive.block_migration",
        id="auto-before-2.25",
    ),
    pytest.param(
        "2.24",
        {"os-migrateLive": {"host": None, "block_migration": False}},
        "os-migrateLive.disk_over_commit",
        id="no-disk-over-commit-before-2.25",
    ),
    pytest.param(
        "2.25",
        {"os-migrateLive": {"host": None, "block_migration": False, "disk_over_commit": False}},
        "os-migrateLive.disk_over_commit",
        id="disk-over-commit-gone-in-2.25",
    ),
    pytest.param("2.56", {"migrate": {"hots": "sriov-2"}}, "migrate.hots", id="migrate-typo"),
    pytest.param("2.56", {"migrate": {"host": 2}}, "migrate.host", id="migrate-host-number"),
]


@pytest.mark.parametrize(("version", "body", "field"), BAD_BODIES)
def test_a_bad_body_is_a_400_naming_the_field_and_changes_nothing(
    cloud: Cloud, active: str, version: str, body: Any, field: str
) -> None:
    before = state(cloud, active)
    refused = act(cloud.client("admin"), active, body, version)
    assert refused.status == 400
    assert refused.body["badRequest"]["code"] == 400
    assert refused.message.startswith(f"{field}: "), refused.message
    assert state(cloud, active) == before


def test_an_unknown_action_is_refused_in_novas_words(cloud: Cloud, active: str) -> None:
    refused = act(cloud.client("admin"), active, {"os-frobnicate": {}})
    assert refused.status == 400
    message = "There is no such action: os-frobnicate"
    assert refused.body == {"badRequest": {"code": 400, "message": message}}


def test_an_unknown_server_is_a_404(cloud: Cloud, active: str) -> None:
    refused = act(cloud.client("admin"), UNKNOWN, OSC_LIVE, "2.30")
    assert refused.status == 404
    assert refused.body["itemNotFound"]["code"] == 404
    assert UNKNOWN in refused.message


def test_another_projects_server_is_a_404_and_a_members_own_a_403(
    cloud: Cloud, active: str
) -> None:
    stranger = cloud.add_member("eve", "elsewhere")
    assert act(stranger, active, OSC_LIVE, "2.30").status == 404
    # Both migrations are admin-only in Nova's policy: the owner is told so.
    refused = act(cloud.client("demo"), active, OSC_LIVE, "2.30")
    assert refused.status == 403
    assert "admin" in refused.body["forbidden"]["message"]
