"""Booting servers with SR-IOV ports: schedule, claim, bind, ACTIVE from the agent, delete;
"No valid host" reasons; all-or-nothing claims; PF/VF exclusion."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.cloud import Cloud
from tests.integration.api.seeding import (
    add_flavor,
    add_host,
    add_image,
    add_port,
    delete_server,
    provider_network,
)

from sriovstack.client import ApiError, Client
from sriovstack.domain.reporting import report_to_wire
from sriovstack.simulator.fleet import synthetic_report

SERVERS = "/compute/v2.1/servers"


def boot(client: Client, name: str, flavor: str, image: str, *ports: str) -> dict[str, Any]:
    body = {
        "server": {
            "name": name,
            "flavorRef": flavor,
            "imageRef": image,
            "networks": [{"port": port} for port in ports],
        }
    }
    server: dict[str, Any] = client.post(SERVERS, body)["server"]
    return server


def port(client: Client, port_id: str) -> dict[str, Any]:
    """The port row's binding as the agent sees it, through the host's desired state."""
    return client.get(f"/networking/v2.0/ports/{port_id}")["port"]  # type: ignore[no-any-return]


def devices(cloud: Cloud, state: str | None = None) -> list[dict[str, Any]]:
    found = cloud.client("admin").get("/v1/pci-devices")["pci_devices"]
    return [
        d for d in found if d["dev_type"] == "type-VF" and (state is None or d["state"] == state)
    ]


@pytest.fixture
def talk(cloud: Cloud) -> dict[str, Any]:
    """The talk's host (seven VFs of enp3s0f1 on physnet1), its provider network, a flavor."""
    agent = add_host(cloud, synthetic_report("sriov-1", pfs=1, vfs_per_pf=7))
    admin = cloud.client("admin", "demo")
    return {
        "agent": agent,
        "admin": admin,
        "network": provider_network(admin),
        "flavor": add_flavor(cloud),
        "image": add_image(cloud),
    }


def test_boot_claims_a_vf_binds_the_port_and_goes_active_when_the_agent_says_so(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    port_id = add_port(cloud, demo, talk["network"])
    server = boot(demo, "Instance-1", talk["flavor"], talk["image"], port_id)
    assert server["status"] == "BUILD"
    assert server["OS-EXT-STS:task_state"] == "spawning"
    desired = talk["agent"].get("/v1/hosts/sriov-1/servers")["servers"]
    assert [s["id"] for s in desired] == [server["id"]]
    (binding,) = desired[0]["ports"]
    assert binding["vif_type"] == "hw_veb"
    assert binding["vif_details"]["vlan"] == "2010"
    assert binding["profile"]["pci_vendor_info"] == "8086:1515"
    assert binding["profile"]["physical_network"] == "physnet1"
    claimed = devices(cloud, "claimed")
    assert [d["address"] for d in claimed] == [binding["profile"]["pci_slot"]]
    assert claimed[0]["owner"] == port_id

    active = talk["agent"].put(
        f"/v1/hosts/sriov-1/servers/{server['id']}/status", {"status": "ACTIVE"}
    )["server"]
    assert active["status"] == "ACTIVE"
    assert [d["owner"] for d in devices(cloud, "allocated")] == [port_id]
    assert demo.get(f"{SERVERS}/{server['id']}")["server"]["status"] == "ACTIVE"

    demo.delete(f"{SERVERS}/{server['id']}")
    # The VF stays held until the agent says it stopped the guest and reset the VF.
    deleting = demo.get(f"{SERVERS}/{server['id']}")["server"]
    assert (deleting["status"], deleting["OS-EXT-STS:task_state"]) == ("ACTIVE", "deleting")
    assert [d["owner"] for d in devices(cloud, "allocated")] == [port_id]
    talk["agent"].post(f"/v1/hosts/sriov-1/servers/{server['id']}/deleted", {})
    assert len(devices(cloud, "available")) == 7
    host = cloud.client("admin").get("/v1/hosts/sriov-1")["host"]
    assert (host["vcpus_used"], host["memory_mib_used"], host["free_devices"]) == (0, 0, 7)
    with pytest.raises(ApiError) as gone:
        demo.get(f"{SERVERS}/{server['id']}")
    assert gone.value.status == 404


def test_no_valid_host_says_why_per_host_and_claims_nothing(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    other = provider_network(talk["admin"], vlan=100, physnet="physnet2")
    port_id = add_port(cloud, demo, other)
    server = boot(demo, "lost", talk["flavor"], talk["image"], port_id)
    assert server["status"] == "ERROR"
    message = server["fault"]["message"]
    assert message.startswith("No valid host was found.")
    assert "sriov-1" in message
    assert "physnet2" in message
    assert len(devices(cloud, "available")) == 7


def test_a_boot_with_two_ports_claims_both_or_none(cloud: Cloud) -> None:
    add_host(cloud, synthetic_report("small", pfs=1, vfs_per_pf=1))
    admin = cloud.client("admin", "demo")
    network = provider_network(admin)
    demo = cloud.client("demo")
    ports = [add_port(cloud, demo, network) for _ in range(2)]
    server = boot(demo, "two", add_flavor(cloud), add_image(cloud), *ports)
    assert server["status"] == "ERROR"
    assert "needs 1 VF" in server["fault"]["message"]
    assert devices(cloud, "claimed") == []
    host = cloud.client("admin").get("/v1/hosts/small")["host"]
    assert (host["vcpus_used"], host["free_devices"]) == (0, 1)


def test_a_dead_agents_host_is_skipped_with_that_reason(cloud: Cloud, talk: dict[str, Any]) -> None:
    cloud.clock.advance(cloud.env.settings.agent_down_time.total_seconds() + 5)
    demo = cloud.client("demo")
    server = boot(
        demo, "late", talk["flavor"], talk["image"], add_port(cloud, demo, talk["network"])
    )
    assert server["status"] == "ERROR"
    assert "agent" in server["fault"]["message"]


def test_a_disabled_host_is_skipped_with_its_reason(cloud: Cloud, talk: dict[str, Any]) -> None:
    cloud.client("admin").request(
        "PATCH", "/v1/hosts/sriov-1", json={"enabled": False, "disabled_reason": "firmware update"}
    )
    demo = cloud.client("demo")
    server = boot(demo, "x", talk["flavor"], talk["image"], add_port(cloud, demo, talk["network"]))
    assert "firmware update" in server["fault"]["message"]


def test_a_port_in_use_is_refused_and_nothing_is_created(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    port_id = add_port(cloud, demo, talk["network"])
    boot(demo, "first", talk["flavor"], talk["image"], port_id)
    with pytest.raises(ApiError) as refused:
        boot(demo, "second", talk["flavor"], talk["image"], port_id)
    assert refused.value.status == 409
    assert "in use" in refused.value.message
    names = [s["name"] for s in demo.get(SERVERS)["servers"]]
    assert names == ["first"]


def test_another_projects_port_is_refused(cloud: Cloud, talk: dict[str, Any]) -> None:
    demo = cloud.client("demo")
    port_id = add_port(cloud, demo, talk["network"])
    alice = cloud.add_member("alice", "alpha")
    with pytest.raises(ApiError) as refused:
        boot(alice, "thief", talk["flavor"], talk["image"], port_id)
    assert refused.value.status == 400
    assert "does not exist" in refused.value.message
    assert alice.get(SERVERS)["servers"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "flavorRef": "2", "imageRef": "x"}, "name"),
        ({"name": "a", "flavorRef": "nope", "imageRef": "x"}, "flavorRef"),
        ({"name": "a", "flavorRef": "2", "imageRef": "nope"}, "imageRef"),
        ({"name": "a", "flavorRef": "2", "networks": [{"fixed": 1}]}, "networks[0]"),
    ],
)
def test_bad_boot_input_is_a_400_naming_the_field(
    cloud: Cloud, talk: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    demo = cloud.client("demo")
    body = {**body}
    if body.get("imageRef") != "nope":
        body.setdefault("imageRef", talk["image"])
        if body["imageRef"] == "x":
            body["imageRef"] = talk["image"]
    with pytest.raises(ApiError) as refused:
        demo.post(SERVERS, {"server": body})
    assert refused.value.status == 400
    assert field in refused.value.message
    assert demo.get(SERVERS)["servers"] == []


def test_active_is_refused_when_a_vf_vanished_from_the_host(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    server = boot(demo, "i", talk["flavor"], talk["image"], add_port(cloud, demo, talk["network"]))
    talk["agent"].put(
        "/v1/hosts/sriov-1/inventory",
        report_to_wire(synthetic_report("sriov-1", pfs=1, vfs_per_pf=0)),
    )
    assert [d["state"] for d in devices(cloud)] == ["removed"]
    with pytest.raises(ApiError) as refused:
        talk["agent"].put(f"/v1/hosts/sriov-1/servers/{server['id']}/status", {"status": "ACTIVE"})
    assert refused.value.status == 409
    assert "removed" in refused.value.message
    delete_server(cloud, demo, server["id"])
    assert devices(cloud) == []  # the removed VF's row goes once released


def test_a_vf_claim_makes_its_pf_unavailable_whole_and_a_pf_claim_blocks_its_vfs(
    cloud: Cloud,
) -> None:
    add_host(cloud, synthetic_report("c1", pfs=1, vfs_per_pf=2, offered_whole=True))
    admin = cloud.client("admin", "demo")
    network = provider_network(admin)
    demo = cloud.client("demo")
    flavor, image = add_flavor(cloud), add_image(cloud)
    vf_port = add_port(cloud, demo, network)
    pf_port = add_port(cloud, demo, network, vnic_type="direct-physical")
    with_vf = boot(demo, "vf", flavor, image, vf_port)
    assert with_vf["status"] == "BUILD"
    refused = boot(demo, "pf", flavor, image, pf_port)
    assert refused["status"] == "ERROR"
    assert "PF" in refused["fault"]["message"]
    delete_server(cloud, demo, with_vf["id"])
    delete_server(cloud, demo, refused["id"])
    whole = boot(demo, "pf2", flavor, image, pf_port)
    assert whole["status"] == "BUILD"
    pf = next(
        d
        for d in cloud.client("admin").get("/v1/pci-devices")["pci_devices"]
        if d["dev_type"] == "type-PF"
    )
    assert (pf["state"], pf["owner"]) == ("claimed", pf_port)
    assert {d["state"] for d in devices(cloud)} == {"unclaimable"}
    blocked = boot(demo, "vf2", flavor, image, add_port(cloud, demo, network))
    assert blocked["status"] == "ERROR"


def test_server_shapes_follow_the_microversion_and_echo_it(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    server = boot(demo, "v", talk["flavor"], talk["image"], add_port(cloud, demo, talk["network"]))
    old = demo.get(f"{SERVERS}/{server['id']}")["server"]
    assert old["flavor"] == {"id": talk["flavor"], "links": []}
    assert "locked" not in old
    headers = {"OpenStack-API-Version": "compute 2.47"}
    new = demo.request("GET", f"{SERVERS}/{server['id']}", headers=headers)["server"]
    assert new["flavor"]["original_name"] == f"m1.test-{talk['flavor']}"
    assert (new["flavor"]["ram"], new["flavor"]["vcpus"]) == (2048, 1)
    assert new["locked"] is False
    assert new["description"] is None


def test_a_nic_on_a_network_gets_a_normal_port_that_goes_with_the_server(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    talk["admin"].post(
        "/networking/v2.0/subnets",
        {
            "subnet": {
                "network_id": talk["network"],
                "cidr": "10.0.0.0/24",
                "ip_version": 4,
                "name": "physnet1-subnet",
            }
        },
    )
    body = {
        "server": {
            "name": "Instance-0",
            "flavorRef": talk["flavor"],
            "imageRef": talk["image"],
            "networks": [{"uuid": talk["network"]}],
        }
    }
    server = demo.post(SERVERS, body)["server"]
    assert server["status"] == "BUILD"
    assert server["addresses"] == {
        "physnet1": [
            {
                "version": 4,
                "addr": "10.0.0.2",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": server["addresses"]["physnet1"][0][
                    "OS-EXT-IPS-MAC:mac_addr"
                ],
            }
        ]
    }
    (made,) = demo.get("/networking/v2.0/ports", device_id=server["id"])["ports"]
    assert (made["binding:vnic_type"], made["device_owner"]) == ("normal", "compute:nova")
    assert made["binding:vif_type"] == "ovs"
    assert devices(cloud, "claimed") == []  # a normal port takes no VF
    delete_server(cloud, demo, server["id"])
    assert demo.get("/networking/v2.0/ports", device_id=server["id"])["ports"] == []


def test_an_unknown_network_nic_is_a_400_and_leaves_nothing(
    cloud: Cloud, talk: dict[str, Any]
) -> None:
    demo = cloud.client("demo")
    body = {
        "server": {
            "name": "x",
            "flavorRef": talk["flavor"],
            "imageRef": talk["image"],
            "networks": [{"uuid": talk["network"]}, {"uuid": "no-such-network"}],
        }
    }
    with pytest.raises(ApiError) as refused:
        demo.post(SERVERS, body)
    assert refused.value.status == 400
    assert "networks[1].uuid" in refused.value.message
    assert demo.get("/networking/v2.0/ports")["ports"] == []
    assert demo.get(SERVERS)["servers"] == []
