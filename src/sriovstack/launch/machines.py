"""The host an agent runs on: a real or simulated kernel, a hypervisor, facts, kept state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sriovstack.agent.config import AgentConfig, write_atomically
from sriovstack.agent.facts import host_facts, profile_facts, read_linux_facts
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.reporting import HostFacts
from sriovstack.host.kernel import Kernel
from sriovstack.simulator import state as sim_state
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.hypervisor import Hypervisor
from sriovstack.virt.libvirt import LibvirtHypervisor
from sriovstack.virt.simulated import SimulatedHypervisor


@dataclass
class Machine:
    """The host the agent runs on: its kernel, hypervisor and facts, and how its state is kept."""

    kernel: Kernel
    hypervisor: Hypervisor
    facts: HostFacts
    describe: str
    save: Callable[[], None] = lambda: None


@contextmanager
def open_machine(settings: AgentConfig) -> Iterator[Machine]:
    """The configured kernel and hypervisor; closed (real ones) when the agent ends."""
    with ExitStack() as stack:
        kernel_settings = settings.kernel
        if kernel_settings.mode == "simulated":
            assert kernel_settings.profile is not None and kernel_settings.state_file is not None
            kernel: Kernel = sim_state.load(
                kernel_settings.state_file, profile_ref=kernel_settings.profile
            )
            assert isinstance(kernel, SimulatedKernel)
            observed = profile_facts(kernel.profile)
            describe = f"simulated {kernel_settings.profile}"
        else:
            from sriovstack.host.linux import LinuxKernel  # imports pyroute2: real hosts only

            linux = LinuxKernel()
            stack.callback(linux.close)
            kernel, describe = linux, "linux"
            observed = read_linux_facts(Path("/"), settings.host.facts)
        facts = host_facts(observed, settings.host.facts, zone=settings.host.availability_zone)
        machine = Machine(kernel, _hypervisor(settings, kernel, stack), facts, describe)
        machine.describe += f", {settings.hypervisor.kind} hypervisor"
        if isinstance(kernel, SimulatedKernel):
            machine.save = SimulatedState(settings, kernel, machine.hypervisor).save
        yield machine


def _hypervisor(settings: AgentConfig, kernel: Kernel, stack: ExitStack) -> Hypervisor:
    chosen = settings.hypervisor
    if chosen.kind == "libvirt":
        libvirt = LibvirtHypervisor(chosen.uri)
        stack.callback(libvirt.close)
        return libvirt
    assert chosen.state_file is not None and isinstance(kernel, SimulatedKernel)
    path = chosen.state_file
    if not path.exists():
        return SimulatedHypervisor(kernel)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable guests file ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "is not a sriovstack simulated guests file")
    try:
        return SimulatedHypervisor.load(data, kernel)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.field}", exc.rule, exc.value) from None


@dataclass
class SimulatedState:
    """Saves a simulated host's kernel and guests after a cycle that changed them, so that
    they survive an agent restart as a real host's would."""

    settings: AgentConfig
    kernel: SimulatedKernel
    hypervisor: Hypervisor
    saved: tuple[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.saved = self._snapshot()

    def save(self) -> None:
        kernel_data, guests = self._snapshot()
        if kernel_data != self.saved[0]:
            assert self.settings.kernel.state_file is not None
            profile = self.settings.kernel.profile or ""
            sim_state.save(self.kernel, self.settings.kernel.state_file, profile_ref=profile)
        if guests != self.saved[1] and self.settings.hypervisor.state_file is not None:
            text = json.dumps(guests, indent=1) + "\n"
            write_atomically(self.settings.hypervisor.state_file, text)
        self.saved = (kernel_data, guests)

    def _snapshot(self) -> tuple[Any, Any]:
        profile = self.settings.kernel.profile or ""
        guests = (
            self.hypervisor.save() if isinstance(self.hypervisor, SimulatedHypervisor) else None
        )
        return sim_state.snapshot(self.kernel, profile_ref=profile), guests
