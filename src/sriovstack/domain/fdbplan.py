"""Which MACs to add to and remove from each PF's FDB, never past its unicast MAC filter table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput

NO_SUCH_PF = "no such PF netdev on this host"


@dataclass(frozen=True, slots=True)
class WantedMac:
    """A MAC that must be in a PF's FDB so the NIC's switch hands its frames up to the host."""

    mac: MacAddress
    port_id: str


@dataclass(frozen=True, slots=True)
class PfTable:
    """A PF's FDB now, and how full its unicast MAC filter table is (``host.filters.mac_table``).

    ``entries`` are the PF's FDB entries; only unicast ones count and only they are ever
    removed. ``used`` counts every entry of the table, also the PF's own MAC and, on NICs that
    share it with their VFs, the VF MACs. ``capacity`` is None for a NIC whose table size is
    not known: it is then not limited.
    """

    netdev: str
    entries: tuple[MacAddress, ...]
    used: int
    capacity: int | None

    def __post_init__(self) -> None:
        if self.used < 0:
            raise InvalidInput(f"{self.netdev} used", "must not be negative", self.used)
        if self.capacity is not None and self.capacity < 0:
            raise InvalidInput(f"{self.netdev} capacity", "must not be negative", self.capacity)


@dataclass(frozen=True, slots=True)
class FdbAdd:
    """``bridge fdb add MAC dev NETDEV``, for a port that needs it."""

    netdev: str
    mac: MacAddress
    port_id: str


@dataclass(frozen=True, slots=True)
class FdbRemove:
    """``bridge fdb del MAC dev NETDEV``: an entry sriovstack manages that nothing wants."""

    netdev: str
    mac: MacAddress


@dataclass(frozen=True, slots=True)
class FdbRefused:
    """A wanted MAC left out: the PF's table has no room for it, or the PF is not on the host.

    ``used`` and ``capacity`` are the table's when the refusal was decided; both are None
    when the PF netdev is not on this host (a table refusal always has a capacity, since a
    table of unknown size refuses nothing).
    """

    netdev: str
    mac: MacAddress
    port_id: str
    used: int | None
    capacity: int | None

    @property
    def no_such_pf(self) -> bool:
        return self.used is None

    @property
    def reason(self) -> str:
        head = f"{self.netdev}: {self.mac} (port {self.port_id}) was not added to the FDB"
        if self.no_such_pf:
            return f"{head}: {NO_SUCH_PF}"
        return (
            f"{head}: the NIC's unicast MAC filter table has {self.used} of its "
            f"{self.capacity} entries in use, and one more would overflow it into unicast "
            "promiscuous mode"
        )


@dataclass(frozen=True, slots=True)
class FdbWarning:
    """A PF's unicast MAC filter table at or above the warning threshold after the plan."""

    netdev: str
    used: int
    capacity: int

    @property
    def reason(self) -> str:
        head = f"{self.netdev}: the NIC's unicast MAC filter table has {self.used} of its "
        if self.used > self.capacity:
            # Entries this plan did not add (VF MACs, hand-added ones) can take it past its size.
            return f"{head}{self.capacity} entries in use: it is in unicast promiscuous mode"
        return f"{head}{self.capacity} entries in use; past that it goes unicast promiscuous"


@dataclass(frozen=True, slots=True)
class FdbPlan:
    """What to do, in order: every removal first (they free room), then the additions."""

    adds: tuple[FdbAdd, ...] = ()
    removes: tuple[FdbRemove, ...] = ()
    refused: tuple[FdbRefused, ...] = ()
    warnings: tuple[FdbWarning, ...] = ()


def plan_fdb(
    wanted: Mapping[str, Sequence[WantedMac]],
    tables: Mapping[str, PfTable],
    *,
    managed: Callable[[MacAddress], bool],
    warn_at: float = 0.9,
) -> FdbPlan:
    """Bring each PF's FDB to the MACs ``wanted`` on it (by PF netdev), within its table.

    - An entry nothing wants is removed only if ``managed(mac)``: entries an operator added
      by hand stay, and so do non-unicast ones (the PF's multicast list).
    - An addition is made only while ``used + 1 <= capacity``: the NIC must never overflow
      into unicast promiscuous mode. The rest are refused.
    - Additions go in MAC order, so which ones a short table refuses is the same on every
      run; MACs already in the FDB keep their entries and are never displaced by newcomers.
    - One MAC wanted by several ports on a PF is added once, for the lowest port ID.
    - A PF in ``wanted`` but not in ``tables`` has all its additions refused (``NO_SUCH_PF``).
    - A PF in ``tables`` but not in ``wanted`` wants nothing: its managed entries go.
    - A warning for each table with ``used / capacity >= warn_at`` after the plan.

    Refuses (InvalidInput) a wanted MAC that is not unicast: a port's MAC is checked when it
    is set, so one here is a caller's bug, and a multicast FDB entry would not reach the
    unicast table anyway.
    """
    if not 0 < warn_at <= 1:
        raise InvalidInput(
            "warn_at", "must be a fraction of the table, above 0 and at most 1", warn_at
        )
    wants = {netdev: _collapse(netdev, macs) for netdev, macs in wanted.items()}
    adds: list[FdbAdd] = []
    removes: list[FdbRemove] = []
    refused: list[FdbRefused] = []
    warnings: list[FdbWarning] = []
    for netdev in sorted(wants.keys() | tables.keys()):
        want = wants.get(netdev, {})
        table = tables.get(netdev)
        if table is None:
            refused.extend(FdbRefused(netdev, m, want[m], None, None) for m in sorted(want))
            continue
        present = {mac for mac in table.entries if mac.is_unicast}
        gone = sorted(mac for mac in present if mac not in want and managed(mac))
        removes.extend(FdbRemove(netdev, mac) for mac in gone)
        used = table.used - len(gone)
        for mac in sorted(want.keys() - present):
            if table.capacity is not None and used + 1 > table.capacity:
                refused.append(FdbRefused(netdev, mac, want[mac], used, table.capacity))
                continue
            adds.append(FdbAdd(netdev, mac, want[mac]))
            used += 1
        if table.capacity is not None and _at_or_above(used, table.capacity, warn_at):
            warnings.append(FdbWarning(netdev, used, table.capacity))
    return FdbPlan(tuple(adds), tuple(removes), tuple(refused), tuple(warnings))


def _collapse(netdev: str, macs: Sequence[WantedMac]) -> dict[MacAddress, str]:
    """Each wanted MAC once, with the lowest port ID that wants it (stable whatever the order)."""
    ports: dict[MacAddress, str] = {}
    for want in macs:
        want.mac.require_unicast(f"{netdev} FDB: port {want.port_id} mac")
        if want.mac not in ports or want.port_id < ports[want.mac]:
            ports[want.mac] = want.port_id
    return ports


def _at_or_above(used: int, capacity: int, warn_at: float) -> bool:
    # A table with no entries at all is always full.
    return capacity == 0 or used / capacity >= warn_at
