"""The hypervisor seam: what the agent may ask of the thing that runs its host's guests."""

from __future__ import annotations

from typing import Protocol

from sriovstack.domain.errors import SriovstackError
from sriovstack.virt.guests import Guest, GuestNic, GuestSpec


class HypervisorError(SriovstackError):
    """The hypervisor failed an operation for a reason of its own."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"{operation}: {reason}")


class Hypervisor(Protocol):
    """What the agent may ask of a hypervisor. Every call is idempotent.

    ``LibvirtHypervisor`` (virt/libvirt.py) answers from libvirt and ``SimulatedHypervisor``
    (virt/simulated.py) from memory and a simulated kernel; both fit structurally. Failures are
    ``NotFound`` (no such guest), ``Conflict`` (the state refuses it: a VF held by another
    guest, another spec under the same UUID), ``InvalidInput`` or ``HypervisorError``; never a
    driver's own exception.
    """

    def guests(self) -> list[Guest]:
        """Every guest sriovstack defined on this host, sorted by UUID."""
        ...

    def guest(self, uuid: str) -> Guest | None:
        """One guest, or None when there is none with this UUID."""
        ...

    def start(self, spec: GuestSpec) -> Guest:
        """Define the guest and start it; a guest already there with this spec is only started.

        A guest with this UUID but another spec is a ``Conflict``: NICs change through
        ``attach_nic`` and ``detach_nic``, anything else by ``destroy`` and ``start``.
        """
        ...

    def destroy(self, uuid: str) -> None:
        """Stop the guest and forget it, giving its devices back to the host; none is fine."""
        ...

    def attach_nic(self, uuid: str, nic: GuestNic) -> None:
        """Plug a NIC, live if the guest runs; the same NIC already plugged changes nothing."""
        ...

    def detach_nic(self, uuid: str, port_id: str) -> None:
        """Unplug a port's NIC, live if the guest runs; a port not plugged changes nothing."""
        ...

    def power_off(self, uuid: str) -> None:
        """Stop the guest, keeping its definition; its devices go back to the host."""
        ...

    def power_on(self, uuid: str) -> None:
        """Start a defined guest that is off (or resume a paused one)."""
        ...
