"""``sriovstack demo``: the talk's host preparation replayed on a simulated host, step by step.

Each step runs the real host logic against a simulated X540 host, shows what the talk shows,
and checks the outcome; the demo exits 0 only when every step behaved as expected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from sriovstack.cli.render import inventory_tree, print_json
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import SriovstackError, VFsInUse
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.vfconfig import VFConfigChange, VlanTag
from sriovstack.host import configuring, doctor, fdb, provisioning
from sriovstack.host.inventory import read_inventory
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

TALK_ARGS = "intel_iommu=on iommu=pt pci=realloc pci=assign-busses"
TALK_VF_SLOTS = ["10.1", "10.3", "10.5", "10.7", "11.1", "11.3", "11.5"]


@dataclass
class Outcome:
    """What a step showed and whether it matched what the talk expects.

    ``facts`` are what the step found, as data for ``demo --json``; ``shown`` is for people.
    """

    ok: bool
    expected: str
    shown: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stage:
    """The simulated host the demo walks through; steps change it in order."""

    kernel: SimulatedKernel


Step = tuple[str, Callable[[Stage], Outcome]]


def _doctor_before(stage: Stage) -> Outcome:
    report = doctor.examine(stage.kernel)
    found = {(f.check, f.subject) for f in report.findings if f.severity >= doctor.Severity.INFO}
    want = {
        ("iommu", "host"),
        ("iommu-pt", "host"),
        ("vf-bars", "enp3s0f0"),
        ("vf-bars", "enp3s0f1"),
        ("vf-bus-range", "enp3s0f1"),
        ("ari", "enp3s0f1"),
        ("vf-driver", "enp3s0f1"),
        ("pf-link", "enp3s0f1"),
    }
    shown = ["# sriovstack host doctor"] + [
        f"  {str(f.severity).upper():8} {f.subject}: {f.summary}"
        + (f"  -> {f.fix}" if f.fix else "")
        for f in sorted(report.findings, key=lambda f: -f.severity)
        if f.severity > doctor.Severity.OK
    ]
    return Outcome(
        want <= found and not report.clean,
        "the talk's problems: IOMMU off, no iommu=pt, VF BARs unassigned, VF bus out "
        "of range, no ARI on the second PF, ixgbevf grabbing VFs, PFs down",
        shown,
        {"clean": report.clean, "findings": sorted(f"{c} {s}" for c, s in found)},
    )


def _refused_before(stage: Stage) -> Outcome:
    shown = ["# echo 7 > /sys/class/net/enp3s0f1/device/sriov_numvfs"]
    try:
        provisioning.set_vf_count(stage.kernel, "enp3s0f1", 7)
    except SriovstackError as exc:
        shown.append(f"  refused: {exc}")
        return Outcome(
            "pci=realloc" in str(exc),
            "refused before writing, naming pci=realloc",
            shown,
            {"refused": str(exc)},
        )
    return Outcome(False, "refused before writing, naming pci=realloc", shown, {"refused": None})


def _reboot_with_fixes(stage: Stage) -> Outcome:
    old = stage.kernel.profile
    fixed = replace(old, cmdline=f"{old.cmdline} {TALK_ARGS} modprobe.blacklist=ixgbevf")
    stage.kernel = SimulatedKernel(fixed)
    for pf in ("enp3s0f0", "enp3s0f1"):
        stage.kernel.set_link(pf, up=True)
    said = [line for line in stage.kernel.log() if "IOMMU" in line and "enabled" in line]
    shown = [
        f"# reboot with: {TALK_ARGS} (and blacklist ixgbevf)",
        "# ip link set dev enp3s0f0 up; ip link set dev enp3s0f1 up",
        "# dmesg | grep IOMMU | grep enabled",
        *(f"  {line}" for line in said),
    ]
    return Outcome(
        bool(said), "the kernel says Intel-IOMMU: enabled", shown, {"cmdline": fixed.cmdline}
    )


def _doctor_after(stage: Stage) -> Outcome:
    report = doctor.examine(stage.kernel)
    left = [
        f"  {str(f.severity).upper():8} {f.subject}: {f.summary}"
        for f in report.findings
        if f.severity > doctor.Severity.OK
    ]
    return Outcome(
        report.clean,
        "clean: no warnings or errors",
        ["# sriovstack host doctor", *left, f"  clean: {report.clean}"],
        {"clean": report.clean},
    )


def _seven_vfs(stage: Stage) -> Outcome:
    change = provisioning.set_vf_count(stage.kernel, "enp3s0f1", 7)
    slots = [vf.address.slot for vf in change.pf.vfs]
    ids = {f"{vf.vendor_id:04x}:{vf.device_id:04x}" for vf in change.pf.vfs}
    shown = [
        "# echo 7 > /sys/class/net/enp3s0f1/device/sriov_numvfs",
        "# lspci -vt -n | grep 8086:1515",
        *(f"  {_branch(i, len(slots))}-{s}  8086:1515" for i, s in enumerate(slots)),
    ]
    return Outcome(
        slots == TALK_VF_SLOTS and ids == {"8086:1515"},
        "VFs 10.1 10.3 10.5 10.7 11.1 11.3 11.5, all 8086:1515, as the talk's lspci",
        shown,
        {"vfs": [str(vf.address) for vf in change.pf.vfs], "ids": sorted(ids)},
    )


def _branch(i: int, count: int) -> str:
    return "\\" if i == count - 1 else "+"


def _vf_config(stage: Stage) -> Outcome:
    mac = MacAddress.parse("fa:16:3e:11:22:33")
    result = configuring.set_vf_config(
        stage.kernel, "enp3s0f1", 0, VFConfigChange(mac=mac, vlan=VlanTag(2010))
    )
    again = configuring.set_vf_config(
        stage.kernel, "enp3s0f1", 0, VFConfigChange(mac=mac, vlan=VlanTag(2010))
    )
    shown = [
        "# ip link set dev enp3s0f1 vf 0 mac fa:16:3e:11:22:33 vlan 2010",
        f"  changed: {', '.join(result.changed)}",
        "# (the same again)",
        f"  changed: {', '.join(again.changed) or 'nothing: already so'}",
    ]
    return Outcome(
        set(result.changed) == {"mac", "vlan"} and not again.changed,
        "MAC and VLAN applied and verified; a second run writes nothing",
        shown,
        {"changed": list(result.changed), "changed_again": list(again.changed)},
    )


def _count_change_refused(stage: Stage) -> Outcome:
    shown = ["# sriovstack host set-vfs enp3s0f1 4   (VF 0 now carries a port's MAC)"]
    try:
        provisioning.set_vf_count(stage.kernel, "enp3s0f1", 4)
    except VFsInUse as exc:
        shown.append(f"  refused: {exc}")
        return Outcome(
            True,
            "refused: VFs are allocated all at once, VF 0 would vanish",
            shown,
            {"refused": str(exc), "in_use": list(exc.in_use)},
        )
    return Outcome(
        False, "refused: VFs are allocated all at once, VF 0 would vanish", shown, {"refused": None}
    )


def _pf_down(stage: Stage) -> Outcome:
    stage.kernel.set_link("enp3s0f1", up=False)
    down = stage.kernel.link("enp3s0f1")
    pf = next(p for p in stage.kernel.pfs.values() if p.netdev_name == "enp3s0f1")
    links = [pf.vf_link_up(vf) for vf in pf.vfs]
    stage.kernel.set_link("enp3s0f1", up=True)
    shown = [
        "# ip link set dev enp3s0f1 down",
        f"  enp3s0f1 carrier {'on' if down.carrier else 'off'}; VF links up: {sum(links)} of 7",
        "# ip link set dev enp3s0f1 up",
    ]
    return Outcome(
        not down.carrier and not any(links),
        "with the PF down, no VF (link state auto) passes traffic",
        shown,
        {"carrier": down.carrier, "vf_links_up": sum(links)},
    )


def _fdb(stage: Stage) -> Outcome:
    mac = MacAddress.parse("00:de:ad:be:ef:00")
    fdb.add_fdb(stage.kernel, "enp3s0f1", mac)
    listing = fdb.list_fdb(stage.kernel, "enp3s0f1")
    shown = [
        "# bridge fdb add 00:de:ad:be:ef:00 dev enp3s0f1",
        *(f"  {e.mac} dev {e.ifname} self permanent" for e in listing.entries),
        f"  {listing.table.used} of {listing.table.capacity} unicast MAC filters in use "
        "(82599 and X540: 128)",
    ]
    return Outcome(
        any(e.mac == mac for e in listing.entries) and listing.table.capacity == 128,
        "the entry is in the PF's table, which holds 128 MACs",
        shown,
        {
            "entries": [str(e.mac) for e in listing.entries],
            "used": listing.table.used,
            "capacity": listing.table.capacity,
        },
    )


STEPS: list[Step] = [
    ("host doctor before the kernel parameters", _doctor_before),
    ("seven VFs refused before the fixes", _refused_before),
    ("reboot with the talk's kernel parameters", _reboot_with_fixes),
    ("host doctor after the fixes", _doctor_after),
    ("seven VFs on enp3s0f1", _seven_vfs),
    ("a VF config applied and verified", _vf_config),
    ("limitation: VF count change refused while in use", _count_change_refused),
    ("limitation: PF down takes its VFs down", _pf_down),
    ("limitation: PF FDB entries use the MAC filter table", _fdb),
]


def run_demo(console: Console, *, as_json: bool) -> bool:
    """Run every step; True when all behaved as expected."""
    stage = Stage(SimulatedKernel(load_profile("talk-before")))
    results = []
    started = time.perf_counter()
    for number, (title, step) in enumerate(STEPS, start=1):
        if not as_json:
            console.rule(Text(f"[{number}/{len(STEPS)}] {title}", style="bold"), align="left")
        try:
            outcome = step(stage)
        except SriovstackError as exc:
            outcome = Outcome(False, "no error", [f"  error: {exc}"])
        results.append(
            {
                "step": number,
                "title": title,
                "ok": outcome.ok,
                "expected": outcome.expected,
                "facts": outcome.facts,
                "shown": outcome.shown,
            }
        )
        if not as_json:
            for line in outcome.shown:
                console.print(line, highlight=False, markup=False)
            mark = Text(
                "  ok  " if outcome.ok else "  FAILED  ",
                style="bold green" if outcome.ok else "bold red",
            )
            console.print(mark + Text(outcome.expected))
    elapsed = time.perf_counter() - started
    passed = sum(1 for r in results if r["ok"])
    if as_json:
        print_json(console, {"passed": passed, "steps": results, "seconds": round(elapsed, 3)})
    else:
        console.rule()
        console.print(_tree(read_inventory(stage.kernel)))
        style = "bold green" if passed == len(results) else "bold red"
        console.print(
            Text(f"{passed} of {len(results)} steps as expected in {elapsed:.2f} s", style=style)
        )
    return passed == len(results)


def _tree(inv: HostInventory) -> object:
    return inventory_tree(inv, "the talk's host at the end")


def demo(
    ctx: typer.Context,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Replay the talk's host preparation on a simulated host and check every step."""
    console: Console = ctx.obj["out"]
    if not run_demo(console, as_json=json):
        raise typer.Exit(1)
