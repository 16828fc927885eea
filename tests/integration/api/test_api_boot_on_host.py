"""Booting on a named host, as an admin does with ``--availability-zone ZONE:HOST`` or, from
microversion 2.74, ``--host``: only that host is considered, every filter still runs, and a
refusal (400/403) leaves no server and no port changed."""

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


@pytest.fixture
def fleet(cloud: Cloud) -> dict[str, Any]:
    """Four hosts with VFs on physnet1: sriov-1 would win an unrestricted boot (ties go by
    name), sriov-3 is in zone "edge", "tiny" has a single VF."""
    for name in ("sriov-1", "sriov-2"):
        add_host(cloud, synthetic_report(name, pfs=1, vfs_per_pf=4))
    add_host(cloud, synthetic_report("sriov-3", pfs=1, vfs_per_pf=4, availability_zone="edge"))
    add_host(cloud, synthetic_report("tiny", pfs=1, vfs_per_pf=1))
    admin = cloud.client("admin", "demo")
    return {
        "admin": admin,
        "network": provider_network(admin),
        "flavor": add_flavor(cloud),
        "image": add_image(cloud),
    }


def boot(
    cloud: Cloud,
    fleet: dict[str, Any],
    client: Client,
    version: str = "2.1",
    **placement: str,
) -> tuple[dict[str, Any], str]:
    """Boot with a new direct port and ``placement`` keys; the server as the boot answers it
    (no agent finishes it, so it stays BUILD once placed) and the port."""
    port_id = add_port(cloud, client, fleet["network"])
    body = {
        "server": {
            "name": "pinned",
            "flavorRef": fleet["flavor"],
            "imageRef": fleet["image"],
            "networks": [{"port": port_id}],
            **placement,
        }
    }
    headers = {"OpenStack-API-Version": f"compute {version}"}
    answer = client.request("POST", SERVERS, json=body, headers=headers)
    return answer["server"], port_id


def refused(
    cloud: Cloud, fleet: dict[str, Any], client: Client, version: str = "2.1", **placement: str
) -> tuple[ApiError, str]:
    with pytest.raises(ApiError) as caught:
        boot(cloud, fleet, client, version, **placement)
    (port_id,) = [p["id"] for p in fleet["admin"].get("/networking/v2.0/ports")["ports"]]
    return caught.value, port_id


def shown(fleet: dict[str, Any], server_id: str) -> dict[str, Any]:
    server: dict[str, Any] = fleet["admin"].get(f"{SERVERS}/{server_id}")["server"]
    return server


def claimed_on(cloud: Cloud) -> list[str]:
    """The host of each claimed VF."""
    devices = cloud.client("admin").get("/v1/pci-devices")["pci_devices"]
    return [d["host"] for d in devices if d["state"] == "claimed"]


def assert_untouched(cloud: Cloud, fleet: dict[str, Any], port_id: str) -> None:
    """No server, the port neither owned nor bound, no VF claimed."""
    assert fleet["admin"].get(SERVERS, all_tenants="1")["servers"] == []
    port = fleet["admin"].get(f"/networking/v2.0/ports/{port_id}")["port"]
    assert (port["device_id"], port["device_owner"], port["binding:host_id"]) == ("", "", "")
    assert claimed_on(cloud) == []


@pytest.mark.parametrize(
    ("zone", "host", "shown_zone"),
    [
        ("nova:sriov-2", "sriov-2", "nova"),
        ("nova:sriov-2:sriov-2", "sriov-2", "nova"),
        ("nova::sriov-2", "sriov-2", "nova"),
        (":sriov-3", "sriov-3", "edge"),  # any zone: the host's is shown
        ("edge:sriov-3", "sriov-3", "edge"),
    ],
)
def test_an_admins_zone_and_host_lands_on_that_host(
    cloud: Cloud, fleet: dict[str, Any], zone: str, host: str, shown_zone: str
) -> None:
    server, port_id = boot(cloud, fleet, fleet["admin"], availability_zone=zone)
    assert server["status"] == "BUILD"
    assert server["OS-EXT-SRV-ATTR:host"] == host
    assert server["OS-EXT-AZ:availability_zone"] == shown_zone
    assert claimed_on(cloud) == [host]
    port = fleet["admin"].get(f"/networking/v2.0/ports/{port_id}")["port"]
    assert (port["binding:host_id"], port["device_owner"]) == (host, f"compute:{shown_zone}")


@pytest.mark.parametrize("key", ["host", "hypervisor_hostname"])
def test_host_at_2_74_lands_on_that_host_and_shows_its_zone(
    cloud: Cloud, fleet: dict[str, Any], key: str
) -> None:
    server, _ = boot(cloud, fleet, fleet["admin"], "2.74", **{key: "sriov-3"})
    assert server["status"] == "BUILD"
    assert server["OS-EXT-SRV-ATTR:host"] == "sriov-3"
    assert server["OS-EXT-AZ:availability_zone"] == "edge"
    assert claimed_on(cloud) == ["sriov-3"]


def test_host_with_its_own_zone_at_2_96_is_pinned_to_that_zone(
    cloud: Cloud, fleet: dict[str, Any]
) -> None:
    server, _ = boot(cloud, fleet, fleet["admin"], "2.96", host="sriov-2", availability_zone="nova")
    assert (server["OS-EXT-SRV-ATTR:host"], server["pinned_availability_zone"]) == (
        "sriov-2",
        "nova",
    )


@pytest.mark.parametrize("key", ["host", "hypervisor_hostname"])
def test_host_before_2_74_is_a_400_and_changes_nothing(
    cloud: Cloud, fleet: dict[str, Any], key: str
) -> None:
    error, port_id = refused(cloud, fleet, fleet["admin"], "2.73", **{key: "sriov-2"})
    assert error.status == 400
    assert key in error.message
    assert "2.74" in error.message
    assert_untouched(cloud, fleet, port_id)


@pytest.mark.parametrize(
    ("version", "placement", "policy"),
    [
        ("2.1", {"availability_zone": "nova:sriov-2"}, "os_compute_api:servers:create:forced_host"),
        ("2.74", {"host": "sriov-2"}, "compute:servers:create:requested_destination"),
    ],
)
def test_a_member_naming_a_host_is_a_403_and_changes_nothing(
    cloud: Cloud, fleet: dict[str, Any], version: str, placement: dict[str, str], policy: str
) -> None:
    error, port_id = refused(cloud, fleet, cloud.client("demo"), version, **placement)
    assert error.status == 403
    assert f"Policy doesn't allow {policy} to be performed" in error.message
    assert "admin" in error.message
    assert_untouched(cloud, fleet, port_id)


@pytest.mark.parametrize(
    ("version", "placement"),
    [("2.1", {"availability_zone": "nova:nosuch"}), ("2.74", {"host": "nosuch"})],
)
def test_an_unknown_host_is_a_400_naming_it_and_changes_nothing(
    cloud: Cloud, fleet: dict[str, Any], version: str, placement: dict[str, str]
) -> None:
    error, port_id = refused(cloud, fleet, fleet["admin"], version, **placement)
    assert (error.status, error.message) == (400, "Compute host nosuch could not be found.")
    assert_untouched(cloud, fleet, port_id)


@pytest.mark.parametrize(
    ("version", "placement", "words"),
    [
        ("2.1", {"availability_zone": "nova:a:b:c"}, "Unable to parse availability_zone"),
        ("2.1", {"availability_zone": "nova:sriov-2:sriov-3"}, "a host is its own node"),
        ("2.74", {"host": "sriov-2", "hypervisor_hostname": "sriov-3"}, "its own node"),
        ("2.74", {"host": "bad host!"}, "must be a host name"),
        (
            "2.74",
            {"host": "sriov-2", "availability_zone": "nova:sriov-2"},
            "are mutually exclusive",
        ),
    ],
)
def test_a_malformed_placement_is_a_400_and_changes_nothing(
    cloud: Cloud, fleet: dict[str, Any], version: str, placement: dict[str, str], words: str
) -> None:
    error, port_id = refused(cloud, fleet, fleet["admin"], version, **placement)
    assert error.status == 400
    assert words in error.message
    assert_untouched(cloud, fleet, port_id)


def test_a_full_named_host_makes_the_server_error_with_that_hosts_reason(
    cloud: Cloud, fleet: dict[str, Any]
) -> None:
    first, _ = boot(cloud, fleet, fleet["admin"], availability_zone="nova:tiny")
    assert first["OS-EXT-SRV-ATTR:host"] == "tiny"
    second, port_id = boot(cloud, fleet, fleet["admin"], "2.74", host="tiny")
    assert second["status"] == "ERROR"
    message = second["fault"]["message"]
    assert message.startswith("No valid host was found. tiny: ")
    assert "needs 1 VF" in message
    # Other hosts had room, but were not asked for: they are not judged.
    assert "sriov-1" not in message
    assert second["OS-EXT-SRV-ATTR:host"] is None
    assert claimed_on(cloud) == ["tiny"]  # the first boot's only
    port = fleet["admin"].get(f"/networking/v2.0/ports/{port_id}")["port"]
    assert port["binding:host_id"] == ""


def test_a_named_host_outside_the_named_zone_makes_the_server_error(
    cloud: Cloud, fleet: dict[str, Any]
) -> None:
    server, _ = boot(cloud, fleet, fleet["admin"], availability_zone="nova:sriov-3")
    assert server["status"] == "ERROR"
    assert server["fault"]["message"] == (
        "No valid host was found. sriov-3: in availability zone edge, the boot asks for nova"
    )
    assert server["OS-EXT-AZ:availability_zone"] == "nova"
    assert claimed_on(cloud) == []


def test_a_disabled_named_host_is_not_forced(cloud: Cloud, fleet: dict[str, Any]) -> None:
    cloud.client("admin").request(
        "PATCH", "/v1/hosts/sriov-2", json={"enabled": False, "disabled_reason": "maintenance"}
    )
    server, _ = boot(cloud, fleet, fleet["admin"], "2.74", host="sriov-2")
    assert server["status"] == "ERROR"
    assert "sriov-2: disabled: maintenance" in server["fault"]["message"]
    assert claimed_on(cloud) == []


def test_a_zone_alone_is_still_a_zone(cloud: Cloud, fleet: dict[str, Any]) -> None:
    server, _ = boot(cloud, fleet, cloud.client("demo"), availability_zone="edge")
    assert shown(fleet, server["id"])["OS-EXT-SRV-ATTR:host"] == "sriov-3"
