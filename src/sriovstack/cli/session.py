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
    """The command line's ``--sysfs-root`` / ``--simulate`` / ``--state-file`` options."""

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
            return self.sysfs_dir().parent / "etc" / "sriovstack" / "vfs.json"
        return DEFAULT_PATH

    def sysfs_dir(self) -> Path:
        """The sysfs tree to read: /sys, or --sysfs-root (its sys/ when it is a host root)."""
        root = self.sysfs_root or Path("/sys")
        if not (root / "bus").is_dir() and (root / "sys" / "bus").is_dir():
            return root / "sys"  # a host root as `sim export` writes it
        return root


@contextmanager
def open_host(choice: HostChoice, *, save: bool = True) -> Iterator[Kernel]:
    """Yield the chosen host's kernel; a simulated host's state is saved when the command ends."""
    if choice.sysfs_root is not None and choice.simulate is not None:
        raise InvalidInput("--sysfs-root", "cannot be combined with --simulate")
    if choice.simulate is not None:
        with _simulated(choice.state_path(), choice.simulate, save=save) as kernel:
            yield kernel
        return
    from sriovstack.host.linux import LinuxKernel  # imports pyroute2: only when a real host is used

    if choice.sysfs_root is not None and not choice.sysfs_root.is_dir():
        raise InvalidInput("--sysfs-root", "must be a directory", str(choice.sysfs_root))
    if choice.sysfs_root is not None and save and not _is_mounted_sysfs(choice.sysfs_dir()):
        # Writing a recorded tree would only edit files: no kernel would check or act on it.
        raise InvalidInput(
            "--sysfs-root",
            "is a tree on disk, not a mounted sysfs: it can be read but not changed",
            str(choice.sysfs_root),
        )
    # A tree on disk has no live netdevs: this machine's rtnetlink knows nothing of them.
    live = choice.sysfs_root is None or _is_mounted_sysfs(choice.sysfs_dir())
    linux = LinuxKernel(choice.sysfs_dir(), rtnetlink=live)
    try:
        yield linux
    finally:
        linux.close()


def _is_mounted_sysfs(path: Path) -> bool:
    """Whether a sysfs is mounted at ``path`` (per /proc/self/mounts)."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8")
    except OSError:
        return False
    where = os.path.realpath(path)
    return any(
        len(fields) > 2 and fields[1] == where and fields[2] == "sysfs"
        for fields in (line.split() for line in mounts.splitlines())
    )


@contextmanager
def _simulated(path: Path, profile_ref: str, *, save: bool) -> Iterator[SimulatedKernel]:
    """The simulated host kept at ``path``, written back only if the command changed it.

    It is written back after a failed command too: a simulated host must keep what its kernel
    did, as a real one does (its log grows on a refusal, and a change the host logic could not
    roll back stays). Keeping the VF, FDB and PF state unchanged on a refusal is the host
    logic's promise (it checks before writing and rolls back); hiding a broken promise here
    would make the simulator lie. A command that changed nothing leaves the file untouched,
    so a refused call cannot even rewrite it.
    """
    kernel = state.load(path, profile_ref=profile_ref)
    loaded = state.snapshot(kernel, profile_ref=profile_ref)
    try:
        yield kernel
    finally:
        if save and state.snapshot(kernel, profile_ref=profile_ref) != loaded:
            state.save(kernel, path, profile_ref=profile_ref)
