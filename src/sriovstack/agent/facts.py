"""A host's facts (CPUs, memory, NUMA nodes, its IP address) read from Linux, or from a simulated
host's profile, with what the configuration file says taking precedence."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from sriovstack.agent.config import FactsSettings
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.simulator.profiles import HostProfile

_NODE = re.compile(r"node([0-9]+)")
_MEMTOTAL = re.compile(r"^MemTotal:\s+([0-9]+)\s*kB", re.MULTILINE)


def host_facts(observed: HostFacts, settings: FactsSettings, *, zone: str) -> HostFacts:
    """``observed`` with each fact the configuration file gives replaced, in ``zone``."""
    return replace(
        observed,
        cpus=settings.cpus if settings.cpus is not None else observed.cpus,
        memory_mib=settings.memory_mib if settings.memory_mib is not None else observed.memory_mib,
        numa_cells=settings.numa_cells if settings.numa_cells is not None else observed.numa_cells,
        availability_zone=zone,
        host_ip=settings.host_ip if settings.host_ip is not None else observed.host_ip,
    )


def local_address(url: str) -> str | None:
    """This host's own address on its way to ``url``'s host (127.0.0.1 for a loopback API);
    None when it cannot be told (an unresolvable name, no route).

    A UDP socket's connect() only picks the route and the source address: nothing is sent.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        family, kind, proto, _, address = socket.getaddrinfo(
            parts.hostname, port, type=socket.SOCK_DGRAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.connect(address)
            own: str = probe.getsockname()[0]
    except (OSError, ValueError):  # ValueError: a port out of range in the URL
        return None
    return own.split("%", 1)[0]  # an IPv6 link-local address carries its zone


def profile_facts(profile: HostProfile) -> HostFacts:
    """A simulated host's facts: its NUMA nodes spread evenly over its sockets."""
    nodes = max(profile.numa_nodes, 1)
    cells = tuple(CellFacts(i, i * profile.sockets // nodes) for i in range(nodes))
    return HostFacts(cpus=profile.cpus, memory_mib=profile.memory_mib, numa_cells=cells)


def read_linux_facts(root: Path = Path("/"), settings: FactsSettings | None = None) -> HostFacts:
    """This machine's facts from /proc and /sys under ``root``; facts given in ``settings``
    are not read at all, so a host whose files say nothing useful can still be described."""
    given = settings or FactsSettings()
    return HostFacts(
        cpus=given.cpus if given.cpus is not None else _cpus(root),
        memory_mib=given.memory_mib if given.memory_mib is not None else _memory_mib(root),
        numa_cells=given.numa_cells if given.numa_cells is not None else _cells(root),
    )


def _cpus(root: Path) -> int:
    try:
        text = (root / "proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    count = sum(1 for line in text.splitlines() if line.split(":")[0].strip() == "processor")
    if count:
        return count
    # Some architectures list no "processor" lines; the CPUs this process may see will do.
    fallback = os.cpu_count() if root == Path("/") else None
    if not fallback:
        raise InvalidInput("[host.facts] cpus", f"cannot be read from {root / 'proc/cpuinfo'}")
    return fallback


def _memory_mib(root: Path) -> int:
    path = root / "proc/meminfo"
    try:
        found = _MEMTOTAL.search(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        found = None
    if found is None or int(found.group(1)) < 1024:
        raise InvalidInput("[host.facts] memory_mib", f"cannot be read from {path} (MemTotal)")
    return int(found.group(1)) // 1024


def _cells(root: Path) -> tuple[CellFacts, ...]:
    """The NUMA nodes with memory or CPUs, each with the socket of its first CPU."""
    nodes = root / "sys/devices/system/node"
    try:
        names = [entry.name for entry in nodes.iterdir()]
    except OSError:
        return ()  # a kernel without NUMA support: the scheduler treats the host as one node
    cells = []
    for name in names:
        match = _NODE.fullmatch(name)
        if match is not None:
            cells.append(CellFacts(int(match.group(1)), _socket(root, nodes / name)))
    return tuple(sorted(cells, key=lambda cell: cell.id))


def _socket(root: Path, node: Path) -> int | None:
    try:
        cpulist = (node / "cpulist").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    first = re.match(r"[0-9]+", cpulist)
    if first is None:
        return None  # a memory-only node (CXL, HBM): no CPU tells its socket
    package = root / f"sys/devices/system/cpu/cpu{first.group(0)}/topology/physical_package_id"
    try:
        return int(package.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
