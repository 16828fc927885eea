"""What the steps of ``sriovstack demo`` share: the talk's host, then the cloud running on it."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sriovstack.cli.cloud import Cloud
from sriovstack.fabric.tracing import Fabric
from sriovstack.launch.demo import DemoCloud, DemoHost
from sriovstack.launch.demo_fabric import demo_fabric
from sriovstack.simulator.kernel import SimulatedKernel

T = TypeVar("T")


class NotReady(RuntimeError):
    """A step needs what an earlier step should have made, and it did not."""


@dataclass
class Stage:
    """The talk's world as the steps so far left it; each step goes on from there.

    ``kernel`` is sriov-1's machine once step 1 has rebooted it with the talk's parameters;
    ``admin`` is ``. openrc admin demo``, ``demo`` is ``. openrc demo demo``. A field ending in
    ``_`` is set by the step that makes it; its property refuses to go on without it, naming
    that step, so that a later step fails with the cause rather than with ``None``.
    """

    stack: ExitStack
    kernel_: SimulatedKernel | None = None
    cloud_: DemoCloud | None = None
    admin_: Cloud | None = None
    demo_: Cloud | None = None
    network_: dict[str, Any] | None = None
    ports: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name

    @property
    def kernel(self) -> SimulatedKernel:
        return _made(self.kernel_, "sriov-1's machine (step 1 boots it)")

    @property
    def cloud(self) -> DemoCloud:
        return _made(self.cloud_, "the cloud (step 3 starts it)")

    @property
    def admin(self) -> Cloud:
        return _made(self.admin_, "the admin's session (step 3 logs in)")

    @property
    def demo(self) -> Cloud:
        return _made(self.demo_, "the demo user's session (step 3 logs in)")

    @property
    def network(self) -> dict[str, Any]:
        return _made(self.network_, "the provider network physnet1 (step 3 creates it)")

    def host(self, name: str) -> DemoHost:
        host = self.cloud.hosts.get(name)
        return _made(host, f"host {name}")

    def server(self, name: str) -> dict[str, Any]:
        return _made(self.servers.get(name), f"server {name} (step 4 or 6 boots it)")

    def fabric(self) -> Fabric:
        """The fabric as it is now: every host's kernel and guests, every port's address."""
        return demo_fabric(self.cloud.hosts.values(), self.admin.client)


def _made(value: T | None, what: str) -> T:
    if value is None:
        raise NotReady(f"{what} is missing: an earlier step failed")
    return value
