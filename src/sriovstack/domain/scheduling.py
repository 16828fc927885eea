"""Choosing a host for a boot: host filters, fitting PCI requests into free pools, weighing."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import NumaPolicy
from sriovstack.domain.devspec import DevType, read_bool
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.pools import PoolKey
from sriovstack.domain.requesting import (
    DeviceRequest,
    RequestSource,
    describe_request,
    pool_matches,
)


@dataclass(frozen=True, slots=True)
class FreePool:
    """A pool of one host and how many of its devices nobody holds."""

    key: PoolKey
    free: int


@dataclass(frozen=True, slots=True)
class NumaCell:
    """A host NUMA node and the socket it sits on (None when the host does not say)."""

    id: int
    socket: int | None


@dataclass(frozen=True, slots=True)
class HostState:
    """What the scheduler knows of one compute host."""

    name: str
    availability_zone: str
    enabled: bool
    alive: bool  # its agent reported in time
    free_ram_mib: int
    free_vcpus: int
    numa_cells: tuple[NumaCell, ...]
    pools: tuple[FreePool, ...]
    disabled_reason: str = ""


@dataclass(frozen=True, slots=True)
class BootRequest:
    """What one guest needs from a host."""

    ram_mib: int
    vcpus: int
    availability_zone: str | None
    devices: tuple[DeviceRequest, ...]
    # Host NUMA nodes the guest's cells sit on; empty means the guest has no NUMA topology
    # and, as in Nova, its devices may come from any node.
    guest_numa_cells: tuple[int, ...] = ()
    numa_policy: NumaPolicy | None = None  # the flavor's or image's (resolve_numa_policy)
    # The one host an admin named (``ZONE:HOST`` or, from 2.74, ``host``). Unlike Nova's old
    # forced host it still goes through every filter: a VF guest on a host without a free VF
    # would only fail later, on the host.
    host: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneAndHost:
    """Where a boot asks to go: a zone, a host, both or neither."""

    zone: str | None
    host: str | None


def parse_zone_and_host(value: str) -> ZoneAndHost:
    """Nova's ``availability_zone`` with its admin form ``ZONE:HOST[:NODE]`` (or ``ZONE::NODE``).

    An empty part means "not asked": ``:HOST`` is any zone, ``ZONE:`` no host. A host is its
    own (only) node here, so a NODE must be the HOST, or stands for it when HOST is empty.
    """
    parts = value.split(":")
    if len(parts) > 3:
        rule = "Unable to parse availability_zone: use ZONE, ZONE:HOST or ZONE:HOST:NODE"
        raise InvalidInput("availability_zone", rule, value)
    zone, host, node = [*parts, "", ""][:3]
    if host and node and node != host:
        rule = (
            f"names node {node} of host {host}, but a host is its own node: give {host} or no node"
        )
        raise InvalidInput("availability_zone", rule, value)
    return ZoneAndHost(zone or None, host or node or None)


@dataclass(frozen=True, slots=True)
class Take:
    """``count`` devices of ``pool`` given to ``request``."""

    request: DeviceRequest
    pool: PoolKey
    count: int


@dataclass(frozen=True, slots=True)
class Fit:
    """How a host serves every device request of a boot, in request order."""

    takes: tuple[Take, ...]


class Strategy(enum.StrEnum):
    """Spread guests over hosts (the default, like Nova's) or pack them onto few hosts."""

    SPREAD = "spread"
    PACK = "pack"


@dataclass(frozen=True, slots=True)
class Weighing:
    """How hosts that pass every filter are ordered."""

    strategy: Strategy = Strategy.SPREAD
    pci_weight_multiplier: float = 1.0  # Nova's [filter_scheduler] pci_weight_multiplier


DEFAULT_WEIGHING = Weighing()


@dataclass(frozen=True, slots=True)
class Ranking:
    """Hosts that can take a boot, best first, and why each of the others cannot."""

    chosen: tuple[tuple[HostState, Fit], ...]
    rejected: tuple[tuple[str, str], ...]  # (host name, reason)


# ---------------------------------------------------------------- NUMA policy and pool kinds


def effective_policy(request: DeviceRequest, boot: BootRequest) -> NumaPolicy:
    """The NUMA policy for one request: the port's own, else the boot's, else the alias's."""
    if request.source is RequestSource.PORT and request.numa_policy is not None:
        return request.numa_policy
    if boot.numa_policy is not None:
        return boot.numa_policy
    return request.numa_policy or NumaPolicy.LEGACY


def _allowed_kind(key: PoolKey, request: DeviceRequest) -> bool:
    return not _unasked_pf(key, request) and not _unasked_remote(key, request)


def _unasked_pf(key: PoolKey, request: DeviceRequest) -> bool:
    # Nova gives a whole PF only to a request that names type-PF; a port's spec and an alias
    # without a device type match PF pools too.
    return key.dev_type is DevType.PF and not any(
        str(spec.get("dev_type") or "").lower() == str(DevType.PF).lower() for spec in request.specs
    )


def _unasked_remote(key: PoolKey, request: DeviceRequest) -> bool:
    # A VF that a SmartNIC's own control plane manages goes only to a request asking for one.
    return read_bool(key.get("remote_managed")) and not any(
        read_bool(spec.get("remote_managed")) for spec in request.specs
    )


# ---------------------------------------------------------------- the free devices of one host


class _Stock:
    """A host's free devices while one boot takes some: PF/VF exclusion included."""

    __slots__ = ("free", "initial", "pfs_taken", "vf_parents_taken")

    def __init__(self, pools: Sequence[FreePool]) -> None:
        self.initial: dict[PoolKey, int] = {}
        for pool in pools:
            self.initial[pool.key] = self.initial.get(pool.key, 0) + max(pool.free, 0)
        self.free = dict(self.initial)
        self.pfs_taken: set[PciAddress] = set()
        self.vf_parents_taken: set[PciAddress] = set()

    def count(self, keys: Sequence[PoolKey]) -> int:
        return sum(self.free[k] for k in keys)

    def usable(self, key: PoolKey) -> int:
        """Free devices this boot may still take: not a PF whose VFs it takes, or vice versa."""
        if key.dev_type is DevType.PF and key.address in self.vf_parents_taken:
            return 0
        if key.dev_type is DevType.VF and key.address in self.pfs_taken:
            return 0
        return self.free[key]

    def spares_a_pf(self, key: PoolKey) -> bool:
        """Whether taking a VF of this pool leaves every whole PF that is free now."""
        return key.dev_type is not DevType.VF or not any(
            k.dev_type is DevType.PF and k.address == key.address and self.usable(k) > 0
            for k in self.free
        )

    def take(self, key: PoolKey, wanted: int) -> int:
        taken = min(self.usable(key), wanted)
        if taken > 0:
            self.free[key] -= taken
            if key.dev_type is DevType.PF:
                self.pfs_taken.add(key.address)
            elif key.dev_type is DevType.VF:
                self.vf_parents_taken.add(key.address)
        return taken


# ---------------------------------------------------------------- fitting requests into pools


def fit_devices(
    requests: Sequence[DeviceRequest],
    pools: Sequence[FreePool],
    *,
    boot: BootRequest,
    host_cells: Sequence[NumaCell],
) -> Fit | str:
    """Devices for every request, or the first request's reason why not (all or nothing).

    Requests are served one after the other from what the earlier ones left, so one device
    never serves two requests (Nova bug 1986838).
    """
    in_order = list(enumerate(requests))
    first = _fit_in_order(in_order, pools, boot, host_cells)
    if isinstance(first, Fit) or len(requests) < 2:
        return first
    # Serving in the given order can hand a broad request (say, an alias with two specs) the
    # device a narrower later one needed; serving the narrowest first fixes most such cases.
    supply = {i: _supply(request, pools) for i, request in in_order}
    narrow_first = sorted(in_order, key=lambda item: (supply[item[0]], item[0]))
    second = _fit_in_order(narrow_first, pools, boot, host_cells)
    return second if isinstance(second, Fit) else first


def _supply(request: DeviceRequest, pools: Sequence[FreePool]) -> int:
    return sum(
        p.free
        for p in pools
        if pool_matches(p.key, request.specs) and _allowed_kind(p.key, request)
    )


def _fit_in_order(
    requests: Sequence[tuple[int, DeviceRequest]],
    pools: Sequence[FreePool],
    boot: BootRequest,
    host_cells: Sequence[NumaCell],
) -> Fit | str:
    stock = _Stock(pools)
    takes: list[tuple[int, Take]] = []
    for index, request in requests:
        chosen = _filter_pools(request, stock, boot, host_cells)
        if isinstance(chosen, str):
            return chosen
        taken = _take(request, chosen, stock, set(boot.guest_numa_cells))
        if isinstance(taken, str):
            return taken
        takes.extend((index, take) for take in taken)
    return Fit(tuple(take for _, take in sorted(takes, key=lambda item: item[0])))


def _filter_pools(
    request: DeviceRequest, stock: _Stock, boot: BootRequest, host_cells: Sequence[NumaCell]
) -> list[PoolKey] | str:
    """Nova's ``_filter_pools`` stages; the first that leaves too few devices gives the reason.

    Unlike Nova, PFs and remote-managed devices the request may not have are dropped before
    the NUMA stage: Nova counts them when deciding whether the affine pools hold enough, so
    a ``preferred`` request could fail on a host with enough VFs on another node.
    """
    matched = [key for key in stock.free if pool_matches(key, request.specs)]
    have = stock.count(matched)
    if have < request.count:
        return _shortfall(request, have, _taken_note(request, matched, stock))
    kept = [key for key in matched if not _unasked_pf(key, request)]
    if stock.count(kept) < request.count:
        return _shortfall(request, have, _only(stock.count(kept), _WITHOUT_PFS))
    allowed = [key for key in kept if not _unasked_remote(key, request)]
    if stock.count(allowed) < request.count:
        return _shortfall(request, have, _only(stock.count(allowed), _WITHOUT_REMOTE))
    if boot.guest_numa_cells:
        policy = effective_policy(request, boot)
        near, where = _filter_numa(allowed, request.count, policy, boot, host_cells, stock)
        if stock.count(near) < request.count:
            detail = _only(stock.count(near), where)
            return _shortfall(request, stock.count(allowed), f"{detail} (NUMA policy {policy})")
        allowed = near
    usable = sum(stock.usable(k) for k in allowed)
    if usable < request.count:
        return _shortfall(request, stock.count(allowed), _only(usable, _exclusion(allowed, stock)))
    return allowed


_WITHOUT_PFS = (
    "once whole PFs are left out (a PF goes only to a direct-physical port or an alias "
    "with device_type type-PF: create VFs on it to serve VF requests)"
)
_WITHOUT_REMOTE = "once remote-managed VFs are left out (they go only to remote-managed ports)"


def _filter_numa(
    pools: list[PoolKey],
    count: int,
    policy: NumaPolicy,
    boot: BootRequest,
    host_cells: Sequence[NumaCell],
    stock: _Stock,
) -> tuple[list[PoolKey], str]:
    """Nova's ``_filter_pools_for_numa_cells``: the pools to use and, for reasons, where they are.

    Whatever the policy, pools on the guest's own nodes are used when they hold enough.
    """
    cells = set(boot.guest_numa_cells)
    nodes = f"on the guest's NUMA node{_plural(cells)} {_numbers(cells)}"
    affine = [k for k in pools if k.numa_node in cells]
    if policy is NumaPolicy.REQUIRED or stock.count(affine) >= count:
        return affine, nodes
    if policy is NumaPolicy.SOCKET:
        return _filter_socket(pools, cells, host_cells)
    # Hosts that do not report a device's NUMA node are trusted to be close enough.
    near = [k for k in pools if k.numa_node is None or k.numa_node in cells]
    if policy is NumaPolicy.LEGACY or stock.count(near) >= count:
        return near, f"{nodes} or without a NUMA node"
    return pools, ""  # preferred: any node will do, the nearest first (see _take)


def _filter_socket(
    pools: list[PoolKey], cells: set[int], host_cells: Sequence[NumaCell]
) -> tuple[list[PoolKey], str]:
    # Nova gives up on the whole host when any cell lacks socket info (bug 1995153 shows why
    # that matters); a device with no NUMA node is never known to share the guest's socket.
    if any(cell.socket is None for cell in host_cells):
        return [], "usable, as the host does not report which socket each NUMA node is on"
    sockets = {cell.socket for cell in host_cells if cell.id in cells}
    if not sockets:
        return [], "on this host, which has none of the guest's NUMA nodes"
    nodes = {cell.id for cell in host_cells if cell.socket in sockets}
    where = f"on the guest's socket{_plural(sockets)} {_numbers(sockets)}"
    return [k for k in pools if k.numa_node in nodes], where


def _distance(key: PoolKey, cells: set[int]) -> int:
    # Nova ranks a device without a NUMA node with the affine ones; it is ranked just after.
    if not cells or key.numa_node in cells:
        return 0
    return 1 if key.numa_node is None else 2


def _take(
    request: DeviceRequest, pools: list[PoolKey], stock: _Stock, cells: set[int]
) -> tuple[Take, ...] | str:
    wanted = request.count
    takes = []
    # Nearest NUMA node first; then VFs of PFs that are not free as a whole anyway, so that a
    # whole PF stays for a direct-physical port of this boot or of a later one.
    for key in sorted(pools, key=lambda k: (_distance(k, cells), not stock.spares_a_pf(k))):
        if wanted <= 0:
            break
        taken = stock.take(key, wanted)
        if taken > 0:
            takes.append(Take(request, key, taken))
            wanted -= taken
    if wanted <= 0:
        return tuple(takes)
    # Only a request that may have both a PF and that PF's own VFs gets here.
    got = request.count - wanted
    return _shortfall(request, stock.count(pools) + got, _only(got, _exclusion(pools, stock)))


def _exclusion(pools: Sequence[PoolKey], stock: _Stock) -> str:
    blocked = [k for k in pools if stock.usable(k) < stock.free[k]]
    lent = sorted({k.address for k in blocked if k.dev_type is DevType.PF})
    whole = sorted({k.address for k in blocked if k.dev_type is DevType.VF})
    held = [f"VFs of PF {a}" for a in lent] + [f"PF {a} itself" for a in whole]
    return (
        "usable, as a PF and its own VFs never go out together and this boot takes "
        f"{', '.join(held)}"
    )


# ---------------------------------------------------------------- reasons


def _shortfall(request: DeviceRequest, free: int, detail: str = "") -> str:
    return f"{request.label}: needs {describe_request(request)}, {free} free{detail}"


def _only(count: int, where: str) -> str:
    return f" but {'none' if count == 0 else f'only {count}'} {where}"


def _taken_note(request: DeviceRequest, matched: Sequence[PoolKey], stock: _Stock) -> str:
    taken = sum(stock.initial[k] - stock.free[k] for k in matched)
    return f" (this boot's other requests take {taken})" if taken else ""


def _plural(items: set[int] | set[int | None]) -> str:
    return "" if len(items) == 1 else "s"


def _numbers(items: set[int] | set[int | None]) -> str:
    return ", ".join(str(i) for i in sorted(i for i in items if i is not None))


# ---------------------------------------------------------------- host filters


def _check_named_host(boot: BootRequest, host: HostState) -> str:
    if boot.host is None or boot.host == host.name:
        return ""
    return f"not the host the boot asks for ({boot.host})"


def _check_enabled(boot: BootRequest, host: HostState) -> str:
    if host.enabled:
        return ""
    return f"disabled: {host.disabled_reason}" if host.disabled_reason else "disabled"


def _check_alive(boot: BootRequest, host: HostState) -> str:
    return "" if host.alive else "its agent has not reported in time"


def _check_zone(boot: BootRequest, host: HostState) -> str:
    asked = boot.availability_zone
    if asked is None or asked == host.availability_zone:
        return ""
    return f"in availability zone {host.availability_zone}, the boot asks for {asked}"


def _check_ram(boot: BootRequest, host: HostState) -> str:
    if boot.ram_mib <= host.free_ram_mib:
        return ""
    return f"needs {boot.ram_mib} MiB RAM, {host.free_ram_mib} free"


def _check_vcpus(boot: BootRequest, host: HostState) -> str:
    if boot.vcpus <= host.free_vcpus:
        return ""
    return f"needs {boot.vcpus} vCPUs, {host.free_vcpus} free"


_HOST_FILTERS: tuple[Callable[[BootRequest, HostState], str], ...] = (
    _check_named_host,
    _check_enabled,
    _check_alive,
    _check_zone,
    _check_ram,
    _check_vcpus,
)


def check_host(boot: BootRequest, host: HostState) -> Fit | str:
    """How ``host`` serves ``boot``'s devices, or the first filter's reason why it cannot."""
    for check in _HOST_FILTERS:
        reason = check(boot, host)
        if reason:
            return reason
    return fit_devices(boot.devices, host.pools, boot=boot, host_cells=host.numa_cells)


# ---------------------------------------------------------------- weighing and ranking


def rank_hosts(
    boot: BootRequest, hosts: Sequence[HostState], *, weighing: Weighing = DEFAULT_WEIGHING
) -> Ranking:
    """Hosts that pass every filter, best first (ties by name), and the others' reasons."""
    chosen: list[tuple[HostState, Fit]] = []
    rejected: list[tuple[str, str]] = []
    for host in sorted(hosts, key=lambda h: h.name):
        verdict = check_host(boot, host)
        if isinstance(verdict, str):
            rejected.append((host.name, verdict))
        else:
            chosen.append((host, verdict))
    weights = weigh_hosts(boot, [host for host, _ in chosen], weighing=weighing)
    order = sorted(range(len(chosen)), key=lambda i: (-weights[i], chosen[i][0].name))
    return Ranking(tuple(chosen[i] for i in order), tuple(rejected))


def weigh_hosts(
    boot: BootRequest, hosts: Sequence[HostState], *, weighing: Weighing = DEFAULT_WEIGHING
) -> list[float]:
    """Each host's weight (higher wins) among ``hosts``, which all pass the filters.

    As in Nova, each weigher's raw values are scaled to 0..1 across the hosts, so that a
    multiplier, not a unit (MiB against devices), says how much a weigher counts.
    - RAM and the free devices that could serve this boot: spreading prefers more of both,
      so one host's failure hurts fewer guests; packing prefers less, to keep hosts empty.
    - Nova's PCIWeigher (times ``pci_weight_multiplier``): a guest without devices prefers
      hosts with fewer free devices, keeping those hosts for guests that need them; a guest
      with devices prefers hosts where most free devices are of the kind it asks for, so it
      does not occupy a host whose other devices (GPUs, other physnets) others need.
    """
    sign = 1.0 if weighing.strategy is Strategy.SPREAD else -1.0
    ram = _scaled([h.free_ram_mib for h in hosts])
    total = [sum(max(p.free, 0) for p in h.pools) for h in hosts]
    if not boot.devices:
        pci = _scaled(total)
        return [
            sign * r - weighing.pci_weight_multiplier * p for r, p in zip(ram, pci, strict=True)
        ]
    serving = [_serving(boot.devices, h.pools) for h in hosts]
    share = _scaled([s / t if t else 0.0 for s, t in zip(serving, total, strict=True)])
    return [
        sign * (r + d) + weighing.pci_weight_multiplier * m
        for r, d, m in zip(ram, _scaled(serving), share, strict=True)
    ]


def _serving(requests: Sequence[DeviceRequest], pools: Sequence[FreePool]) -> int:
    return sum(
        max(p.free, 0)
        for p in pools
        if any(pool_matches(p.key, r.specs) and _allowed_kind(p.key, r) for r in requests)
    )


def _scaled(values: Sequence[float]) -> list[float]:
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


# ---------------------------------------------------------------- explaining


def explain_no_valid_host(rejected: Sequence[tuple[str, str]], *, limit: int = 10) -> str:
    """Nova's "No valid host was found." with each host's reason, grouped when there are many."""
    head = "No valid host was found. "
    if not rejected:
        return head + "There is no compute host registered: start an agent on a host first."
    if len(rejected) <= limit:
        return head + "; ".join(f"{name}: {reason}" for name, reason in rejected)
    by_reason: dict[str, list[str]] = {}
    for name, reason in rejected:
        by_reason.setdefault(reason, []).append(name)
    groups = sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))
    parts = [
        f"{_hosts(len(names))}: {reason} ({_first(names)})" for reason, names in groups[:limit]
    ]
    rest = groups[limit:]
    if rest:
        others = sum(len(names) for _, names in rest)
        parts.append(f"{_hosts(others)}: {len(rest)} other reason{'s' if len(rest) > 1 else ''}")
    return head + f"{len(rejected)} hosts were rejected. " + "; ".join(parts)


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def _first(names: Sequence[str], shown: int = 3) -> str:
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"
