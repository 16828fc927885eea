"""A simulated host's first start: its machine booted and its VFs made, as the talk does by hand."""

from __future__ import annotations

from pathlib import Path

from sriovstack.domain.errors import Conflict, InvalidInput, KernelError, NotFound
from sriovstack.host.provisioning import set_vf_count
from sriovstack.launch.fleet import FleetHost
from sriovstack.simulator import state as sim_state
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile


def prepare_host(host: FleetHost, kernel_file: Path, *, where: str) -> dict[str, int]:
    """Boot ``host`` and give its PFs their VFs, saved in ``kernel_file``; the VFs made.

    A host whose file exists was prepared before: it is left as its agent last saved it, so
    nothing is made. ``where`` names the host in errors (``FILE: host[0]``).
    """
    if kernel_file.exists():
        return {}
    kernel = SimulatedKernel(load_profile(host.profile))
    for netdev, count in host.vfs.items():
        try:
            set_vf_count(kernel, netdev, count)
        except (InvalidInput, Conflict, KernelError, NotFound) as exc:
            # e.g. more than sriov_totalvfs, or a machine whose firmware left no room for VFs:
            # the fleet asks what its profile cannot give
            rule = exc.rule if isinstance(exc, InvalidInput) else str(exc)
            raise InvalidInput(f"{where}.vfs.{netdev}", rule, count) from None
    sim_state.save(kernel, kernel_file, profile_ref=host.profile)
    return dict(host.vfs)
