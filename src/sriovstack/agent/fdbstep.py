"""The agent's FDB step: put the MACs that VFs must reach through their PF into the PF's FDB,
take out the cloud's MACs that are gone, and refuse (with an event) what the NIC's MAC filter
table has no room for, so that it never overflows into unicast promiscuous mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import SriovstackError
from sriovstack.domain.fdbplan import PfTable, WantedMac, plan_fdb
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.domain.inventory import HostInventory
from sriovstack.host.filters import mac_table
from sriovstack.host.kernel import Kernel


@dataclass(frozen=True, slots=True)
class FdbOutcome:
    """What the FDB step did, and the events it has for the API."""

    added: tuple[tuple[str, str], ...] = ()  # (PF netdev, MAC)
    removed: tuple[tuple[str, str], ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    events: tuple[dict[str, Any], ...] = ()


def reconcile_fdb(
    kernel: Kernel,
    inventory: HostInventory,
    config: HostConfig,
    entries: Sequence[Mapping[str, Any]],
    desired: Mapping[str, Any],
) -> FdbOutcome:
    """Bring the FDB of every PF in ``[FDB] shared_physical_device_mappings`` to ``entries``."""
    devices = dict(config.fdb_mappings.entries)
    if not devices:
        return FdbOutcome()
    by_netdev = {pf.netdev: pf for pf in inventory.pfs if pf.netdev}
    wanted: dict[str, list[WantedMac]] = {dev: [] for devs in devices.values() for dev in devs}
    for entry in entries:
        physnet = str(entry.get("physical_network") or "")
        for dev in devices.get(physnet, ()):
            mac = MacAddress.parse(entry["mac"])
            if mac.is_unicast:  # Neutron's MACs always are; anything else has no FDB entry
                wanted[dev].append(WantedMac(mac, str(entry["port_id"])))
    tables: dict[str, PfTable] = {}
    for dev in wanted:
        pf = by_netdev.get(dev)
        if pf is None:
            continue
        fdb = kernel.fdb_list(dev)
        use = mac_table(pf, fdb)
        unicast = tuple(e.mac for e in fdb if e.mac.is_unicast)
        tables[dev] = PfTable(dev, unicast, use.used, use.capacity)
    prefix = str(desired.get("mac_prefix") or "fa:16:3e").lower()
    plan = plan_fdb(wanted, tables, managed=lambda mac: str(mac).lower().startswith(prefix))
    removed, added, refused, events = [], [], [], []
    for remove in plan.removes:
        kernel.fdb_del(remove.netdev, remove.mac)
        removed.append((remove.netdev, str(remove.mac)))
    for add in plan.adds:
        try:
            kernel.fdb_add(add.netdev, add.mac)
        except SriovstackError as exc:  # the NIC refused after all: say so, go on
            refused.append((add.netdev, str(add.mac)))
            events.append(_event("fdb_refused", "error", str(exc), add.port_id))
            continue
        added.append((add.netdev, str(add.mac)))
    for refusal in plan.refused:
        refused.append((refusal.netdev, str(refusal.mac)))
        events.append(_event("fdb_refused", "error", refusal.reason, refusal.port_id))
    for warning in plan.warnings:
        events.append(
            _event(
                "fdb_capacity",
                "warning",
                f"{warning.netdev}'s unicast MAC filter table is {warning.used} of "
                f"{warning.capacity} entries full; past it the NIC falls back to unicast "
                "promiscuous mode, so further FDB entries will be refused",
                None,
            )
        )
    return FdbOutcome(tuple(added), tuple(removed), tuple(refused), tuple(events))


def _event(kind: str, severity: str, message: str, port_id: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"kind": kind, "severity": severity, "message": message}
    if port_id:
        event["port_id"] = port_id
    return event
