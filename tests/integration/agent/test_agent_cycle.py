"""The agent's cycle against a real API server on loopback and the talk's simulated host:
report, configure the VF for a bound port, verify, start the guest, ACTIVE; drift corrected;
port admin down; delete stops the guest and resets the VF."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.factories import boot
from tests.integration.api.cloud import Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.cycle import Agent
from sriovstack.client import Client
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.hostconfig import parse_local_conf
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.domain.vfconfig import CLEAN, LinkState, VFConfigChange, VlanTag
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.simulated import SimulatedHypervisor

SERVERS = "/compute/v2.1/servers"
FACTS = HostFacts(cpus=8, memory_mib=16384, numa_cells=(CellFacts(0, 0),))


@dataclass
class Talk:
    cloud: Cloud
    agent: Agent
    kernel: SimulatedKernel
    hypervisor: SimulatedHypervisor
    demo: Client
    network: str
    flavor: str
    image: str

    def boot(self, name: str = "Instance-1") -> tuple[dict[str, Any], str]:
        port = add_port(self.cloud, self.demo, self.network)
        body = {
            "server": {
                "name": name,
                "flavorRef": self.flavor,
                "imageRef": self.image,
                "networks": [{"port": port}],
            }
        }
        server: dict[str, Any] = self.demo.post(SERVERS, body)["server"]
        return server, port

    def vf(self, index: int) -> Any:
        inventory = read_inventory(self.kernel)
        pf = next(pf for pf in inventory.pfs if pf.netdev == "enp3s0f1")
        vf = pf.vf(index)
        assert vf is not None and vf.config is not None
        return vf


@pytest.fixture
def talk(tmp_path: Path) -> Iterator[Talk]:
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        admin = cloud.client("admin", "demo")
        credentials = admin.post("/v1/hosts", {"name": "sriov-1"})["host"]["agent_credentials"]
        client = Client(cloud.url)
        cloud.clients.append(client)
        client.login(credentials["user"], credentials["password"], credentials["project"])
        kernel = boot("talk-after")
        set_vf_count(kernel, "enp3s0f1", 7)
        hypervisor = SimulatedHypervisor(kernel)
        agent = Agent(
            "sriov-1", client, kernel, hypervisor, parse_local_conf(TALK_LOCAL_CONF), FACTS
        )
        first = agent.cycle()
        assert first.reported
        yield Talk(
            cloud,
            agent,
            kernel,
            hypervisor,
            cloud.client("demo"),
            provider_network(admin),
            add_flavor(cloud),
            add_image(cloud),
        )


def vf_index(server: dict[str, Any], talk: Talk) -> int:
    (port,) = talk.agent.client.get("/v1/hosts/sriov-1/servers")["servers"][0]["ports"]
    return int(port["profile"]["vf_num"])


def test_the_talks_seven_vfs_are_reported_on_physnet1(talk: Talk) -> None:
    host = talk.cloud.client("admin").get("/v1/hosts/sriov-1")["host"]
    # The talk's spec names the PF by devname, which in Nova offers the PF itself too; a PF
    # with VFs enabled cannot be passed through whole, so sriovstack offers only its VFs.
    assert (host["vfs"], host["free_devices"], host["state"]) == (7, 7, "up")
    assert not talk.agent.cycle().reported  # the same inventory: a heartbeat only


def test_a_boot_goes_active_once_the_vf_is_configured_and_verified(talk: Talk) -> None:
    server, port_id = talk.boot()
    result = talk.agent.cycle()
    assert result.activated == [server["id"]]
    assert talk.demo.get(f"{SERVERS}/{server['id']}")["server"]["status"] == "ACTIVE"
    port = talk.demo.get(f"/networking/v2.0/ports/{port_id}")["port"]
    vf = talk.vf(vf_index(server, talk))
    config = vf.config.config()
    assert config.mac == MacAddress.parse(port["mac_address"])
    assert config.vlan == VlanTag(2010)
    assert (config.spoofchk, config.link_state) == (True, LinkState.ENABLE)
    assert vf.driver == "vfio-pci"  # passed through to the running guest
    (guest,) = talk.hypervisor.guests()
    assert guest.spec.uuid == server["id"]
    again = talk.agent.cycle()
    assert (again.actions, again.started, again.activated) == ((), [], [])


def test_a_vf_changed_by_hand_is_put_back_and_reported_as_drift(talk: Talk) -> None:
    server, port_id = talk.boot()
    talk.agent.cycle()
    index = vf_index(server, talk)
    set_vf_config(talk.kernel, "enp3s0f1", index, VFConfigChange(vlan=VlanTag(5)))
    result = talk.agent.cycle()
    assert result.drift == (port_id,)
    assert talk.vf(index).config.config().vlan == VlanTag(2010)


def test_a_port_set_admin_down_disables_its_vf(talk: Talk) -> None:
    server, port_id = talk.boot()
    talk.agent.cycle()
    talk.cloud.client("admin", "demo").put(
        f"/networking/v2.0/ports/{port_id}", {"port": {"admin_state_up": False}}
    )
    talk.agent.cycle()
    assert talk.vf(vf_index(server, talk)).config.config().link_state is LinkState.DISABLE


def test_deleting_the_server_stops_the_guest_and_resets_the_vf(talk: Talk) -> None:
    drivers_before = {talk.vf(i).driver for i in range(7)}
    server, _ = talk.boot()
    talk.agent.cycle()
    index = vf_index(server, talk)
    talk.demo.delete(f"{SERVERS}/{server['id']}")
    result = talk.agent.cycle()
    assert result.stopped == [server["id"]]
    assert talk.hypervisor.guests() == []
    vf = talk.vf(index)
    assert vf.config.config() == CLEAN
    # Back from vfio-pci to no driver at all: the talk blacklists ixgbevf on the host.
    assert drivers_before == {None}
    assert vf.driver is None
