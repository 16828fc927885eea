"""The cloud ``sriovstack demo`` replays the talk on: API, database, and hosts with their agents.

Like ``sriovstack up`` but kept in a temporary directory and driven by hand: each host's agent
runs one cycle when the demo says so (no loop, no long-poll), so that every step sees the
cloud exactly where the previous one left it, and nothing waits on a timer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sriovstack.agent.config import Credentials, FactsSettings
from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.agent.facts import host_facts, profile_facts
from sriovstack.api.app import create_app
from sriovstack.api.serving import start_in_thread
from sriovstack.client import Client
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.launch.controlplane import bootstrap_cloud, choose_passwords
from sriovstack.launch.fleet import Fleet
from sriovstack.launch.login import register_host
from sriovstack.launch.running import cloud_settings
from sriovstack.services.environment import Environment
from sriovstack.services.settings import Settings
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.store.database import Database
from sriovstack.virt.simulated import SimulatedHypervisor

SETTLE_LIMIT = 8
"""Cycles a converging agent may take before it must be quiet: a boot takes two or three."""


class NotSettled(RuntimeError):
    """An agent still changed its host after SETTLE_LIMIT cycles."""


@dataclass
class DemoHost:
    """One simulated host: its kernel and guests, its configuration, and its agent.

    ``uplink`` is the PF netdev its Open vSwitch bridge sits on (OVS_PHYSICAL_BRIDGE's port).
    """

    name: str
    kernel: SimulatedKernel
    hypervisor: SimulatedHypervisor
    config: HostConfig
    uplink: str
    zone: str
    agent: Agent

    def settle(self) -> list[CycleResult]:
        """Cycle the agent until a cycle changes and reports nothing; the cycles run."""
        results = []
        for _ in range(SETTLE_LIMIT):
            result = self.agent.cycle()
            results.append(result)
            if not result.changed and not result.reported:
                return results
        raise NotSettled(f"the agent of {self.name} still changed its host after {SETTLE_LIMIT}")


@dataclass
class DemoCloud:
    """The running API (``url``), who may log in, and the hosts that joined it."""

    url: str
    passwords: dict[str, str]
    hosts: dict[str, DemoHost] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    def login(self, user: str, project: str) -> Client:
        """A client logged in as ``user`` in ``project`` (DevStack's ``. openrc USER PROJECT``),
        closed with the cloud."""
        client = self.stack.enter_context(Client(self.url))
        client.login(user, self.passwords[user], project)
        return client

    def join(
        self,
        name: str,
        kernel: SimulatedKernel,
        config: HostConfig,
        *,
        uplink: str,
        zone: str = "nova",
    ) -> DemoHost:
        """Register ``name`` (as the admin, as its agent does the first time), start its agent
        with its own credentials, and let it report its host."""
        admin = Credentials("admin", self.passwords["admin"], "admin")
        credentials = register_host(self.url, admin, name)
        client = self.stack.enter_context(Client(self.url))
        client.login(credentials.user, credentials.password, credentials.project)
        facts = host_facts(profile_facts(kernel.profile), FactsSettings(), zone=zone)
        hypervisor = SimulatedHypervisor(kernel)
        agent = Agent(name, client, kernel, hypervisor, config, facts)
        host = DemoHost(name, kernel, hypervisor, config, uplink, zone, agent)
        self.hosts[name] = host
        host.settle()
        return host

    def restart_agent(self, name: str, config: HostConfig) -> DemoHost:
        """The host's agent restarted with a new configuration: nothing remembered, the same
        credentials (as an agent that saved them)."""
        host = self.hosts[name]
        host.config = config
        host.agent = Agent(
            name, host.agent.client, host.kernel, host.hypervisor, config, host.agent.facts
        )
        return host


@contextmanager
def demo_cloud(fleet: Fleet) -> Iterator[DemoCloud]:
    """The API on loopback over an embedded SQLite database in a temporary directory, set up
    for ``fleet`` as ``sriovstack up`` would (DHCP ports on its controller, its VLAN ranges and
    aliases), with DevStack's users, flavors and images; no host has joined yet.

    The environment's ``SRIOVSTACK_*`` settings are ignored: the demo shows the talk's cloud.
    """
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sriovstack-demo-")))
        url = f"sqlite:///{folder / 'cloud.db'}"
        database = Database.open(url, pool_size=10)
        stack.callback(database.close)
        env = Environment(database, cloud_settings(Settings(), fleet, url, {}))
        passwords, _ = choose_passwords({})
        bootstrap_cloud(env, passwords)
        server = start_in_thread(create_app(env))
        stack.callback(server.stop)
        cloud = DemoCloud(server.url, passwords)
        stack.enter_context(cloud.stack)  # clients close before the server stops
        yield cloud
