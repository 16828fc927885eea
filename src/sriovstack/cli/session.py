"""Which host a command works on: the real one, a sysfs tree on disk, or a simulated one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sriovstack.domain.errors import InvalidInput
from sriovstack.host.kernel import Kernel
from sriovstack.host.wanted import DEFAULT_PATH
from sriovstack.simulator import state
from sriovstack.simulator.kernel import SimulatedKernel


@dataclass(frozen=True, slots=True)
class HostChoice:
    """The command line's ``--sysfs-root`` / ``--simulate`` / ``--state`` options."""

    sysfs_root: Path | None = None
    simulate: str | None = None
    state_file: Path | None = None

    def state_path(self) -> Path:
        assert self.simulate is not None
        if self.state_file is not None:
            return self.state_file
        base = os.environ.get("SRIOVSTACK_STATE_DIR") or os.path.join(
            os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "sriovstack"
        )
        name = Path(self.simulate).stem if self.simulate.endswith(".toml") else self.simulate
        return Path(base) / f"sim-{name}.json"

    def wanted_path(self) -> Path:
        """Where the saved VF layout lives: beside the simulated state, or in /etc."""
        if self.simulate is not None:
            path = self.state_path()
            return path.with_name(path.stem + ".vfs.json")
        if self.sysfs_root is not None:
            return self.sysfs_root.parent / "etc" / "sriovstack" / "vfs.json"
        return DEFAULT_PATH


@contextmanager
def open_host(choice: HostChoice, *, save: bool = True) -> Iterator[Kernel]:
    """Yield the chosen host's kernel; a simulated host's state is saved when the command ends.

    The state is saved even after a refused call, because a refusal may still have changed what
    the kernel logged (as a real kernel's log keeps growing).
    """
    if choice.sysfs_root is not None and choice.simulate is not None:
        raise InvalidInput("--sysfs-root", "cannot be combined with --simulate")
    if choice.simulate is not None:
        path = choice.state_path()
        kernel: SimulatedKernel = state.load(path, profile_ref=choice.simulate)
        try:
            yield kernel
        finally:
            if save:
                state.save(kernel, path, profile_ref=choice.simulate)
        return
    from sriovstack.host.linux import LinuxKernel  # imports pyroute2: only when a real host is used

    root = choice.sysfs_root or Path("/sys")
    if choice.sysfs_root is not None:
        if not root.is_dir():
            raise InvalidInput("--sysfs-root", "must be a directory", str(root))
        if not (root / "bus").is_dir() and (root / "sys" / "bus").is_dir():
            root = root / "sys"  # a host root as `sim export` writes it
    linux = LinuxKernel(root)
    try:
        yield linux
    finally:
        linux.close()
