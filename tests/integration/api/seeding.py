"""Rows the boot tests need that other parts of the API make (flavors, images, ports), written
straight into the store, and hosts registered and reported through the native API."""

from __future__ import annotations

import secrets
from typing import Any

from tests.integration.api.cloud import Cloud

from sriovstack.client import ApiError, Client
from sriovstack.domain.reporting import HostReport, report_to_wire
from sriovstack.store.compute_tables import FlavorRow, ImageRow
from sriovstack.store.network_tables import PortRow
from sriovstack.store.querying import add_rows


def add_flavor(
    cloud: Cloud, flavor_id: str = "2", *, ram: int = 2048, vcpus: int = 1, **specs: str
) -> str:
    with cloud.env.unit_of_work() as uow:
        add_rows(
            uow.session,
            [
                FlavorRow(
                    id=flavor_id,
                    name=f"m1.test-{flavor_id}",
                    ram=ram,
                    vcpus=vcpus,
                    disk=20,
                    extra_specs=dict(specs),
                )
            ],
        )
        uow.commit()
    return flavor_id


def add_image(cloud: Cloud, **properties: Any) -> str:
    image_id = cloud.env.new_id()
    now = cloud.clock()
    with cloud.env.unit_of_work() as uow:
        add_rows(
            uow.session,
            [
                ImageRow(
                    id=image_id,
                    name="fedora",
                    properties=properties,
                    created_at=now,
                    updated_at=now,
                )
            ],
        )
        uow.commit()
    return image_id


def add_port(
    cloud: Cloud,
    client: Client,
    network_id: str,
    *,
    vnic_type: str = "direct",
    profile: dict[str, Any] | None = None,
) -> str:
    """A port of the client's project on the network, as Neutron would have made it."""
    assert client.session is not None
    port_id = cloud.env.new_id()
    now = cloud.clock()
    mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
    with cloud.env.unit_of_work() as uow:
        add_rows(
            uow.session,
            [
                PortRow(
                    id=port_id,
                    project_id=client.session.project_id,
                    network_id=network_id,
                    mac_address=mac,
                    vnic_type=vnic_type,
                    profile=profile or {},
                    created_at=now,
                    updated_at=now,
                )
            ],
        )
        uow.commit()
    return port_id


def add_host(cloud: Cloud, report: HostReport) -> Client:
    """Register the host (admin) and report its inventory as its agent; the agent's client."""
    admin = cloud.client("admin")
    host = admin.post("/v1/hosts", {"name": report.host})["host"]
    credentials = host["agent_credentials"]
    agent = Client(cloud.url)
    cloud.clients.append(agent)
    agent.login(credentials["user"], credentials["password"], credentials["project"])
    agent.put(f"/v1/hosts/{report.host}/inventory", report_to_wire(report))
    return agent


def provider_network(client: Client, vlan: int = 2010, physnet: str = "physnet1") -> str:
    body = {
        "network": {
            "name": physnet,
            "shared": True,
            "provider:network_type": "vlan",
            "provider:physical_network": physnet,
            "provider:segmentation_id": vlan,
        }
    }
    network: dict[str, Any] = client.post("/networking/v2.0/networks", body)["network"]
    return str(network["id"])


def delete_server(cloud: Cloud, client: Client, server_id: str) -> None:
    """Delete a server as a user does, then confirm it as its host's agent would once the guest
    is stopped and its VFs reset (a server on no host is gone at once)."""
    client.delete(f"/compute/v2.1/servers/{server_id}")
    admin = cloud.client("admin")
    try:
        server = admin.get(f"/compute/v2.1/servers/{server_id}")["server"]
    except ApiError as exc:
        assert exc.status == 404
        return
    assert server["OS-EXT-STS:task_state"] == "deleting"
    host = server["OS-EXT-SRV-ATTR:host"]
    admin.post(f"/v1/hosts/{host}/servers/{server_id}/deleted", {})
