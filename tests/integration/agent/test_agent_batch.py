"""The agent configures the VFs of one PF as a batch: binding eight ports reads the host no more
than binding one, and one VF the kernel refuses fails only its own server."""

from __future__ import annotations

import errno
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from tests.factories import boot
from tests.integration.api.cloud import Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.client import Client
from sriovstack.domain.errors import KernelError
from sriovstack.domain.hostconfig import parse_local_conf
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.host.counting import WRITES, CountingKernel
from sriovstack.host.kernel import Kernel
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.simulated import SimulatedHypervisor

SERVERS = "/compute/v2.1/servers"
PF = "enp3s0f1"
VFS = 8
FACTS = HostFacts(cpus=16, memory_mib=65536, numa_cells=(CellFacts(0, 0),))


class RefusingKernel(SimulatedKernel):
    """A PF driver that refuses the ``refuse``-th VF setting asked of it (counting from 1)."""

    refuse = 0

    def set_vf(self, ifname: str, index: int, **settings: Any) -> None:
        if self.calls.get("set_vf", 0) + 1 == self.refuse:
            self._count("set_vf")
            raise KernelError(errno.EIO, "setlink", ifname, "firmware did not answer")
        super().set_vf(ifname, index, **settings)


@dataclass
class Host:
    cloud: Cloud
    agent: Agent
    kernel: RefusingKernel
    counting: CountingKernel
    demo: Client
    network: str
    flavor: str
    image: str
    names: Iterator[int] = field(default_factory=itertools.count)

    def boot(self, count: int) -> list[str]:
        """Boot ``count`` servers with one direct port each (guest names must be unique)."""
        return [self._boot(f"vm{next(self.names)}") for _ in range(count)]

    def _boot(self, name: str) -> str:
        port = add_port(self.cloud, self.demo, self.network)
        body = {
            "server": {
                "name": name,
                "flavorRef": self.flavor,
                "imageRef": self.image,
                "networks": [{"port": port}],
            }
        }
        return str(self.demo.post(SERVERS, body)["server"]["id"])

    def cycle(self) -> tuple[CycleResult, Counter[str]]:
        """One agent cycle and the kernel calls it made, by kind."""
        self.counting.reset()
        result = self.agent.cycle()
        return result, Counter(self.counting.calls)

    def status(self, server: str) -> str:
        return str(self.demo.get(f"{SERVERS}/{server}")["server"]["status"])


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        admin = cloud.client("admin", "demo")
        credentials = admin.post("/v1/hosts", {"name": "sriov-1"})["host"]["agent_credentials"]
        client = Client(cloud.url)
        cloud.clients.append(client)
        client.login(credentials["user"], credentials["password"], credentials["project"])
        kernel = RefusingKernel(boot("talk-after").profile)
        set_vf_count(kernel, PF, VFS)
        counting = CountingKernel(kernel)
        config = parse_local_conf(TALK_LOCAL_CONF)
        hypervisor = SimulatedHypervisor(kernel)
        agent = Agent("sriov-1", client, cast(Kernel, counting), hypervisor, config, FACTS)
        agent.cycle()
        yield Host(
            cloud,
            agent,
            kernel,
            counting,
            cloud.client("demo"),
            provider_network(admin),
            add_flavor(cloud),
            add_image(cloud),
        )


def reads(calls: Counter[str]) -> Counter[str]:
    return Counter({name: n for name, n in calls.items() if name not in WRITES})


def test_binding_seven_ports_reads_the_host_no_more_than_binding_one(host: Host) -> None:
    first = host.boot(1)
    one, one_calls = host.cycle()
    rest = host.boot(VFS - 1)
    seven, seven_calls = host.cycle()
    assert (len(one.activated), len(seven.activated)) == (1, VFS - 1)
    assert all(host.status(s) == "ACTIVE" for s in first + rest)
    assert (one_calls["set_vf"], seven_calls["set_vf"]) == (1, VFS - 1)
    assert reads(seven_calls) == reads(one_calls)


def test_one_vf_the_kernel_refuses_fails_its_server_alone(host: Host) -> None:
    host.kernel.refuse = 3
    servers = host.boot(VFS)
    result, calls = host.cycle()
    assert calls["set_vf"] == VFS
    (failed,) = [s for s in servers if host.status(s) == "ERROR"]
    assert "firmware did not answer" in result.failed[failed.lower()]
    assert sorted(result.activated) == sorted(s.lower() for s in servers if s != failed)
    again, _ = host.cycle()
    assert (again.actions, again.activated) == ((), [])  # the refused VF is left clean
