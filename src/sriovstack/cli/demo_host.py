"""Steps 1 and 2 of ``sriovstack demo``: the talk's "SR-IOV System Setup" on its host.

The host logic that runs on real machines (doctor, VF provisioning, inventory) against a
simulated Intel X540 host: first as it booted, then rebooted with the talk's parameters.
"""

from __future__ import annotations

from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.cli.render import doctor_view, inventory_tree
from sriovstack.domain.errors import SriovstackError
from sriovstack.host import doctor, provisioning
from sriovstack.host.inventory import read_inventory
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

TALK_ARGS = "intel_iommu=on iommu=pt pci=realloc pci=assign-busses"
TALK_VF_SLOTS = ["10.1", "10.3", "10.5", "10.7", "11.1", "11.3", "11.5"]
VF_PF, OVS_PF = "enp3s0f1", "enp3s0f0"
TALK_PROBLEMS = {
    ("iommu", "host"),
    ("iommu-pt", "host"),
    ("vf-bars", "enp3s0f0"),
    ("vf-bars", "enp3s0f1"),
    ("vf-bus-range", "enp3s0f1"),
    ("ari", "enp3s0f1"),
    ("vf-driver", "enp3s0f1"),
    ("pf-link", "enp3s0f1"),
}
"""What the talk fixes by hand: IOMMU off, no iommu=pt, VF BARs unassigned, the VF bus out of
the root port's range, no ARI on the second PF, ixgbevf grabbing VFs, the PFs down."""


def doctor_before_and_after(stage: Stage, log: StepLog) -> None:
    before = SimulatedKernel(load_profile("talk-before"))
    log.command("# sriovstack host doctor          (the talk's host as it booted)")
    report = doctor.examine(before)
    log.say(doctor_view(report, verbose=False))
    found = {(f.check, f.subject) for f in report.findings if f.severity >= doctor.Severity.INFO}
    log.facts["before"] = {
        "clean": report.clean,
        "findings": sorted(f"{check} {subject}" for check, subject in found),
    }
    missed = sorted(f"{c} {s}" for c, s in TALK_PROBLEMS - found)
    log.check("the doctor finds the talk's problems", found >= TALK_PROBLEMS, f"missed {missed}")

    log.command(f"# echo 7 > /sys/class/net/{VF_PF}/device/sriov_numvfs")
    try:
        provisioning.set_vf_count(before, VF_PF, 7)
        refused = ""
    except SriovstackError as exc:
        refused = str(exc)
        log.say(f"  refused: {refused}")
    log.facts["refused"] = refused
    log.check("seven VFs are refused first, naming pci=realloc", "pci=realloc" in refused)

    log.command(f"# reboot with: {TALK_ARGS}   (and ixgbevf blacklisted)")
    log.command("# echo blacklist ixgbevf >> /etc/modprobe.d/blacklist.conf")
    after = SimulatedKernel(load_profile("talk-after"))
    log.command(f"# modprobe ixgbe; ip link set dev {OVS_PF} up; ip link set dev {VF_PF} up")
    for pf in (OVS_PF, VF_PF):
        after.set_link(pf, up=True)
    log.command("# dmesg | grep IOMMU | grep enabled")
    said = [line for line in after.log() if "IOMMU" in line and "enabled" in line]
    log.say(*(f"  {line}" for line in said))
    log.facts["cmdline"] = after.profile.cmdline
    log.facts["iommu"] = said
    log.check("the kernel says Intel-IOMMU: enabled", bool(said))

    log.command("# sriovstack host doctor          (after the fixes)")
    report = doctor.examine(after)
    log.say(doctor_view(report, verbose=False))
    log.facts["after"] = {"clean": report.clean}
    left = [f"{f.check} {f.subject}" for f in report.findings if f.severity > doctor.Severity.OK]
    log.check("the doctor is clean after the fixes", report.clean, f"still {left}")
    stage.kernel_ = after


def seven_vfs(stage: Stage, log: StepLog) -> None:
    kernel = stage.kernel
    log.command(f"# echo 7 > /sys/class/net/{VF_PF}/device/sriov_numvfs")
    change = provisioning.set_vf_count(kernel, VF_PF, 7)
    slots = [vf.address.slot for vf in change.pf.vfs]
    ids = sorted({f"{vf.vendor_id:04x}:{vf.device_id:04x}" for vf in change.pf.vfs})
    log.command("# lspci -vt -n | grep 8086:1515")
    log.say(*(f"  {_branch(i, len(slots))}-{slot}  8086:1515" for i, slot in enumerate(slots)))
    inventory = read_inventory(kernel)
    log.say(inventory_tree(inventory, "sriov-1 (sriovstack host show): PFs and their VFs"))
    drivers = sorted({vf.driver or "none" for vf in change.pf.vfs})
    log.facts.update(
        vfs=[str(vf.address) for vf in change.pf.vfs], slots=slots, ids=ids, drivers=drivers
    )
    log.check("seven VFs at the talk's slots 10.1 ... 11.5", slots == TALK_VF_SLOTS, f"got {slots}")
    log.check("every VF is 8086:1515 (X540 VF)", ids == ["8086:1515"], f"got {ids}")
    log.check("no host driver holds them (ixgbevf blacklisted)", drivers == ["none"], f"{drivers}")


def _branch(i: int, count: int) -> str:
    return "\\" if i == count - 1 else "+"
