"""An agent cycle that starts N guests costs the simulated hypervisor the same kernel calls per
guest and no read of a PF's inventory for each: seven guests cost seven times what one does,
counted as benchmarks/agent.py counts kernel calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from tests.factories import boot
from tests.integration.api.cloud import Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.client import Client
from sriovstack.domain.hostconfig import parse_local_conf
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.host.counting import CountingKernel
from sriovstack.host.provisioning import set_vf_count
from sriovstack.virt.simulated import GuestKernel, SimulatedHypervisor

SERVERS = "/compute/v2.1/servers"
VFS = 8
FACTS = HostFacts(cpus=16, memory_mib=65536, numa_cells=(CellFacts(0, 0),))


@dataclass
class Host:
    cloud: Cloud
    agent: Agent
    hypervisor_kernel: CountingKernel  # the hypervisor's calls only, not the agent's
    demo: Client
    network: str
    flavor: str
    image: str
    booted: int = 0

    def boot(self, count: int) -> None:
        """Boot ``count`` servers with one direct port each."""
        for _ in range(count):
            port = add_port(self.cloud, self.demo, self.network)
            body = {
                "server": {
                    "name": f"vm{self.booted}",
                    "flavorRef": self.flavor,
                    "imageRef": self.image,
                    "networks": [{"port": port}],
                }
            }
            self.demo.post(SERVERS, body)
            self.booted += 1

    def cycle(self) -> tuple[CycleResult, Counter[str]]:
        """One agent cycle and the hypervisor's kernel calls in it, by kind."""
        self.hypervisor_kernel.reset()
        result = self.agent.cycle()
        return result, Counter(self.hypervisor_kernel.calls)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        admin = cloud.client("admin", "demo")
        credentials = admin.post("/v1/hosts", {"name": "sriov-1"})["host"]["agent_credentials"]
        client = Client(cloud.url)
        cloud.clients.append(client)
        client.login(credentials["user"], credentials["password"], credentials["project"])
        kernel = boot("talk-after")
        set_vf_count(kernel, "enp3s0f1", VFS)
        counting = CountingKernel(kernel)
        hypervisor = SimulatedHypervisor(cast(GuestKernel, counting))
        config = parse_local_conf(TALK_LOCAL_CONF)
        agent = Agent("sriov-1", client, kernel, hypervisor, config, FACTS)
        agent.cycle()
        yield Host(
            cloud,
            agent,
            counting,
            cloud.client("demo"),
            provider_network(admin),
            add_flavor(cloud),
            add_image(cloud),
        )


def test_starting_seven_guests_costs_seven_times_one_and_no_pf_inventory(host: Host) -> None:
    host.boot(1)
    one, one_calls = host.cycle()
    host.boot(VFS - 1)
    seven, seven_calls = host.cycle()
    assert (len(one.started), len(seven.started)) == (1, VFS - 1)
    assert (len(one.activated), len(seven.activated)) == (1, VFS - 1)
    assert seven_calls == Counter({kind: (VFS - 1) * n for kind, n in one_calls.items()})
    # Per guest: its VF's sysfs and one RTM_GETLINK of the PF for the VF's MAC and VLAN, as
    # libvirt; the agent set those already, so nothing is written but the bind to vfio-pci.
    # Reading the PF's inventory would cost more than a read per VF of it.
    assert (one_calls["link"], one_calls["set_vf"]) == (1, 0)
    assert sum(one_calls.values()) < 40, one_calls
