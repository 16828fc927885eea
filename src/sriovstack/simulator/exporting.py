"""Write a simulated host to disk as a host root that ``LinuxKernel`` reads like a real machine."""

from __future__ import annotations

from pathlib import Path

from sriovstack.simulator.kernel import SimulatedKernel


def export_host(kernel: SimulatedKernel, root: Path) -> int:
    """A host root a LinuxKernel can read: sysfs, the command line, the log and modprobe.d."""
    count = kernel.tree().export(root / "sys")
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "cmdline").write_text(kernel.cmdline() + "\n", encoding="utf-8")
    (root / "var" / "log").mkdir(parents=True, exist_ok=True)
    # one line per record, each ended: an empty log is an empty file, not one blank line
    dmesg = "".join(f"{line}\n" for line in kernel.log())
    (root / "var" / "log" / "dmesg").write_text(dmesg, encoding="utf-8")
    blacklist = sorted(kernel.profile.blacklist)
    if blacklist:
        (root / "etc" / "modprobe.d").mkdir(parents=True, exist_ok=True)
        (root / "etc" / "modprobe.d" / "blacklist.conf").write_text(
            "".join(f"blacklist {m}\n" for m in blacklist), encoding="utf-8"
        )
    return count
