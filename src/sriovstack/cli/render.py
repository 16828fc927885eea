"""How results look: Rich trees and tables for people, plain JSON for scripts."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.inventory import HostInventory, PFEntry, VFEntry
from sriovstack.host.doctor import DoctorReport, Severity


def plain(value: Any) -> Any:
    """Domain values as JSON-ready data: addresses as text, enums by name."""
    # Addresses are dataclasses too: test them first, or they become {"value": ...} objects.
    if isinstance(value, PciAddress | MacAddress | enum.Enum):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(plain(value)))


def inventory_tree(inv: HostInventory, title: str) -> Tree:
    """PFs under their bridges, VFs under their PF, like ``lspci -vt -nn``."""
    tree = Tree(Text(title, style="bold"))
    by_bridge: dict[PciAddress | None, list[PFEntry]] = {}
    for pf in inv.pfs:
        by_bridge.setdefault(pf.bridge, []).append(pf)
    for bridge_addr, pfs in by_bridge.items():
        bridge = inv.bridge(bridge_addr)
        if bridge is None:
            node = tree
        else:
            span = (
                f"{bridge.secondary_bus:02x}"
                if bridge.secondary_bus == bridge.subordinate_bus
                else f"{bridge.secondary_bus or 0:02x}-{bridge.subordinate_bus or 0:02x}"
            )
            node = tree.add(Text(f"{bridge.address.slot}-[{span}]  bridge {bridge.address}"))
        for pf in pfs:
            pf_node = node.add(_pf_label(pf))
            for vf in pf.vfs:
                pf_node.add(_vf_label(pf, vf))
    for nic in inv.other_nics:
        tree.add(
            Text(
                f"{nic.address}  {nic.vendor_id:04x}:{nic.device_id:04x}  "
                f"{nic.netdev or '-'}  no SR-IOV capability",
                style="dim",
            )
        )
    return tree


def _pf_label(pf: PFEntry) -> Text:
    link = "up" if pf.admin_up else "down" if pf.admin_up is not None else "?"
    text = Text(f"{pf.address}  [{pf.vendor_id:04x}:{pf.device_id:04x}]  ", style="bold")
    text.append(f"{pf.device_name}  ")
    text.append(f"{pf.netdev or '-'}", style="cyan")
    text.append(f"  {pf.driver or 'no driver'}  {link}  VFs {pf.num_vfs}/{pf.total_vfs}")
    if pf.numa_node is not None:
        text.append(f"  NUMA {pf.numa_node}")
    return text


def _vf_label(pf: PFEntry, vf: VFEntry) -> Text:
    ids = f"{vf.vendor_id:04x}:{vf.device_id:04x}"
    text = Text(f"{vf.address.bus:02x}:{vf.address.slot}  [{ids}]  VF {vf.index}  ")
    text.append(vf.driver or "no driver", style="green" if vf.driver == "vfio-pci" else "")
    if vf.netdev:
        text.append(f"  {vf.netdev}", style="cyan")
    return text


def vf_table(pf: PFEntry) -> Table:
    """One row per VF with its config, as ``ip link show`` reports it."""
    table = Table(title=f"{pf.name} ({pf.address}) VFs", title_justify="left", expand=False)
    for column in (
        "VF",
        "PCI",
        "driver",
        "netdev",
        "MAC",
        "VLAN",
        "QoS",
        "proto",
        "spoofchk",
        "trust",
        "link",
        "min",
        "max",
        "IOMMU",
    ):
        table.add_column(column, no_wrap=True)
    for vf in pf.vfs:
        c = vf.config
        cells = [str(vf.index), str(vf.address), vf.driver or "-", vf.netdev or "-"]
        if c is None:
            cells += ["?"] * 9
        else:
            cells += [
                str(c.mac),
                str(c.vlan.vlan) if c.vlan.vlan else "-",
                str(c.vlan.qos) if c.vlan.qos else "-",
                str(c.vlan.proto),
                _onoff(c.spoofchk),
                _onoff(c.trust),
                str(c.link_state),
                f"{c.rate.min_mbps}" if c.rate.min_mbps else "-",
                f"{c.rate.max_mbps}" if c.rate.max_mbps else "-",
            ]
        cells.append(str(vf.iommu_group) if vf.iommu_group is not None else "-")
        table.add_row(*cells)
    if pf.vf_config_note:
        table.caption = pf.vf_config_note
    return table


def _onoff(value: bool | None) -> str:
    return "?" if value is None else "on" if value else "off"


_STYLE = {
    Severity.OK: "green",
    Severity.INFO: "blue",
    Severity.WARNING: "yellow",
    Severity.ERROR: "bold red",
}


def doctor_view(report: DoctorReport, *, verbose: bool) -> Group:
    """Findings worst first; OK checks only with ``verbose``."""
    parts: list[Any] = []
    shown = [f for f in report.findings if verbose or f.severity > Severity.OK]
    for f in sorted(shown, key=lambda f: -f.severity):
        head = Text(f"{str(f.severity).upper():8}", style=_STYLE[f.severity])
        head.append(f" {f.subject}: ", style="bold")
        head.append(f.summary)
        parts.append(head)
        for line in f.evidence:
            parts.append(Text(f"           seen: {line}", style="dim"))
        if f.fix:
            parts.append(Text(f"           fix:  {f.fix}", style="cyan"))
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in Severity}
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), reverse=True) if n)
    verdict = "clean" if report.clean else "needs attention"
    parts.append(Text(f"{verdict}: {summary}", style="bold green" if report.clean else "bold red"))
    return Group(*parts)
