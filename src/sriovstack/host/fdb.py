"""PF FDB entries: MACs the NIC's embedded switch must send up to the host, within its table."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import Conflict, FilterTableFull, NotFound
from sriovstack.domain.inventory import PFEntry
from sriovstack.domain.observed import FdbEntry
from sriovstack.host.filters import TableUse, mac_table
from sriovstack.host.kernel import Kernel
from sriovstack.host.locating import find_pf


@dataclass(frozen=True, slots=True)
class FdbListing:
    pf: str
    entries: tuple[FdbEntry, ...]
    table: TableUse


def list_fdb(kernel: Kernel, ref: str) -> FdbListing:
    pf = find_pf(kernel, ref)
    entries = kernel.fdb_list(_netdev(pf))
    return FdbListing(pf=pf.name, entries=tuple(entries), table=mac_table(pf, entries))


def add_fdb(kernel: Kernel, ref: str, mac: MacAddress) -> bool:
    """Add ``mac`` to PF ``ref``'s FDB; False if it was already there. Refuses a full table."""
    mac.require_unicast("mac")
    pf = find_pf(kernel, ref)
    ifname = _netdev(pf)
    entries = kernel.fdb_list(ifname)
    if any(e.mac == mac for e in entries):
        return False
    table = mac_table(pf, entries)
    if table.full and table.capacity is not None:
        raise FilterTableFull(pf.name, "unicast MAC", table.capacity)
    kernel.fdb_add(ifname, mac)
    return True


def del_fdb(kernel: Kernel, ref: str, mac: MacAddress) -> None:
    pf = find_pf(kernel, ref)
    ifname = _netdev(pf)
    if not any(e.mac == mac for e in kernel.fdb_list(ifname)):
        raise NotFound("FDB entry", mac, f"on {pf.name}")
    kernel.fdb_del(ifname, mac)


def _netdev(pf: PFEntry) -> str:
    if pf.netdev is None:
        raise Conflict(f"{pf.name}: the PF has no netdev (no driver bound), so it has no FDB")
    return pf.netdev
