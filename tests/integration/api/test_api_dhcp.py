"""A network's DHCP port: made on its first DHCP subnet when a DHCP host is configured, bound
there like a normal port, first in the pool, and listed for FDB entries on its host."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.integration.api.cloud import TEST_SETTINGS, Cloud, running_cloud
from tests.integration.api.seeding import add_host, provider_network

from sriovstack.client import Client
from sriovstack.simulator.fleet import synthetic_report

PORTS = "/networking/v2.0/ports"
SUBNETS = "/networking/v2.0/subnets"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    settings = replace(TEST_SETTINGS, dhcp_host="sriov-1")
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}", settings) as made:
        yield made


def subnet(client: Client, network: str, cidr: str = "10.0.0.0/24", **extra: Any) -> Any:
    body = {"subnet": {"network_id": network, "ip_version": 4, "cidr": cidr, **extra}}
    return client.post(SUBNETS, body)["subnet"]


def test_the_first_dhcp_subnet_gets_a_dhcp_port_on_the_dhcp_host(cloud: Cloud) -> None:
    agent = add_host(cloud, synthetic_report("sriov-1", pfs=1, vfs_per_pf=4))
    admin = cloud.client("admin", "demo")
    network = provider_network(admin)
    made = subnet(admin, network)
    (dhcp,) = admin.get(PORTS, network_id=network, device_owner="network:dhcp")["ports"]
    assert dhcp["fixed_ips"] == [{"subnet_id": made["id"], "ip_address": "10.0.0.2"}]
    assert (dhcp["binding:host_id"], dhcp["binding:vif_type"], dhcp["status"]) == (
        "sriov-1",
        "ovs",
        "ACTIVE",
    )
    # The next port takes the next address, as the talk's Instance-1 got 10.0.0.3.
    port = admin.post(PORTS, {"port": {"network_id": network}})["port"]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.3"
    desired = agent.get("/v1/hosts/sriov-1/desired")
    assert [entry["mac"] for entry in desired["fdb"]] == [dhcp["mac_address"]]
    assert desired["fdb"][0]["vlan"] == 2010
    # A second subnet of the network keeps the one DHCP port.
    subnet(admin, network, "10.0.1.0/24")
    assert len(admin.get(PORTS, device_owner="network:dhcp")["ports"]) == 1


def test_a_subnet_without_dhcp_gets_no_dhcp_port(cloud: Cloud) -> None:
    admin = cloud.client("admin", "demo")
    network = provider_network(admin)
    subnet(admin, network, enable_dhcp=False)
    assert admin.get(PORTS, device_owner="network:dhcp")["ports"] == []
