"""A fleet for agent tests: a real API server on loopback and, per simulated host, a kernel, a
hypervisor and an agent speaking HTTP with its own credentials, like separate machines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.factories import boot
from tests.integration.api.cloud import Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.client import ApiError, Client
from sriovstack.domain.hostconfig import HostConfig, parse_local_conf
from sriovstack.domain.inventory import VFEntry
from sriovstack.domain.mappings import parse_device_mappings
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.domain.vfconfig import VFConfig
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.simulated import SimulatedHypervisor

SERVERS = "/compute/v2.1/servers"
PORTS = "/networking/v2.0/ports"
FACTS = HostFacts(cpus=8, memory_mib=16384, numa_cells=(CellFacts(0, 0),))
# The talk's host, with Neutron's FDB extension on the PF whose VFs it offers: OVS guests and
# the DHCP port on physnet1 share enp3s0f1 with the VF guests.
TALK_CONFIG = replace(
    parse_local_conf(TALK_LOCAL_CONF),
    fdb_mappings=parse_device_mappings("physnet1:enp3s0f1"),
)
SETTLE_LIMIT = 6  # cycles a converging agent may need before it must be quiet


@dataclass
class Host:
    """One simulated machine: what survives an agent's death (kernel, guests) and its agent."""

    name: str
    cloud: Cloud
    kernel: SimulatedKernel
    hypervisor: SimulatedHypervisor
    credentials: dict[str, str]
    config: HostConfig
    agent: Agent = field(init=False)

    def __post_init__(self) -> None:
        self.agent = self.start_agent()

    def login(self, client: Client | None = None) -> Client:
        client = client or Client(self.cloud.url)
        self.cloud.clients.append(client)
        creds = self.credentials
        client.login(creds["user"], creds["password"], creds["project"])
        return client

    def start_agent(
        self, *, client: Client | None = None, kernel: Any = None, hypervisor: Any = None
    ) -> Agent:
        """A new agent process for this host: nothing remembered, a fresh login."""
        self.agent = Agent(
            self.name,
            self.login(client),
            kernel if kernel is not None else self.kernel,
            hypervisor if hypervisor is not None else self.hypervisor,
            self.config,
            FACTS,
        )
        return self.agent

    def settle(self) -> list[CycleResult]:
        """Cycle until a cycle does nothing; the agent must get there within SETTLE_LIMIT."""
        results = []
        for _ in range(SETTLE_LIMIT):
            result = self.agent.cycle()
            results.append(result)
            if not result.changed and not result.reported:
                return results
        raise AssertionError(f"{self.name}'s agent did not settle: {results[-1]}")

    def vf(self, index: int, netdev: str = "enp3s0f1") -> VFEntry:
        pf = next(pf for pf in read_inventory(self.kernel).pfs if pf.netdev == netdev)
        vf = pf.vf(index)
        assert vf is not None and vf.config is not None
        return vf

    def vf_config(self, index: int, netdev: str = "enp3s0f1") -> VFConfig:
        observed = self.vf(index, netdev).config
        assert observed is not None
        return observed.config()

    def fdb(self, netdev: str = "enp3s0f1") -> set[str]:
        return {str(e.mac) for e in self.kernel.fdb_list(netdev) if e.mac.is_unicast}


@dataclass
class Fleet:
    """The cloud, its hosts, and the talk's network, flavor and image."""

    cloud: Cloud
    hosts: dict[str, Host]
    admin: Client
    demo: Client
    network: str
    flavor: str
    image: str

    def host(self, name: str = "sriov-1") -> Host:
        return self.hosts[name]

    def port(self, *, vnic_type: str = "direct", client: Client | None = None) -> str:
        return add_port(self.cloud, client or self.demo, self.network, vnic_type=vnic_type)

    def boot(self, name: str, *ports: str, client: Client | None = None) -> dict[str, Any]:
        body = {
            "server": {
                "name": name,
                "flavorRef": self.flavor,
                "imageRef": self.image,
                "networks": [{"port": port} for port in ports],
            }
        }
        server: dict[str, Any] = (client or self.demo).post(SERVERS, body)["server"]
        return server

    def server(self, server_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.admin.get(f"{SERVERS}/{server_id}")["server"]
        except ApiError as exc:
            assert exc.status == 404
            return None
        return found

    def show_port(self, port_id: str) -> dict[str, Any]:
        port: dict[str, Any] = self.admin.get(f"{PORTS}/{port_id}")["port"]
        return port

    def devices(self, state: str | None = None) -> list[dict[str, Any]]:
        found = self.admin.get("/v1/pci-devices")["pci_devices"]
        return [d for d in found if d["dev_type"] == "type-VF" and state in (None, d["state"])]

    def settle(self) -> None:
        for host in self.hosts.values():
            host.settle()

    def events(self, client: Client | None = None, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (client or self.admin).get("/v1/events", **filters)["events"]
        return found


def talk_kernel(**changes: Any) -> SimulatedKernel:
    """The talk's host after its kernel parameters, with seven VFs on enp3s0f1."""
    kernel = boot("talk-after", **changes)
    set_vf_count(kernel, "enp3s0f1", 7)
    return kernel


@contextmanager
def fleet(
    tmp_path: Path,
    names: tuple[str, ...] = ("sriov-1",),
    *,
    kernels: dict[str, SimulatedKernel] | None = None,
) -> Iterator[Fleet]:
    """The API and one agent per host name, every host reported once."""
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        admin = cloud.client("admin", "demo")
        hosts = {}
        for name in names:
            credentials = admin.post("/v1/hosts", {"name": name})["host"]["agent_credentials"]
            kernel = (kernels or {}).get(name) or talk_kernel()
            host = Host(name, cloud, kernel, SimulatedHypervisor(kernel), credentials, TALK_CONFIG)
            host.settle()
            hosts[name] = host
        yield Fleet(
            cloud,
            hosts,
            cloud.client("admin"),
            cloud.client("demo"),
            provider_network(admin),
            add_flavor(cloud),
            add_image(cloud),
        )
