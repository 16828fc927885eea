"""Benchmark: inventory of a host with 4 PFs x 128 VFs, simulated and as an exported sysfs tree.

Prints JSON: wall time per inventory and kernel calls per inventory by kind. Exits 1 if an
inventory makes more than one rtnetlink call per PF (VF configs must come from one dump per PF,
never one call per VF).

    python benchmarks/inventory.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sriovstack.host.counting import CountingKernel
from sriovstack.host.inventory import read_inventory
from sriovstack.host.kernel import Kernel
from sriovstack.host.linux import LinuxKernel
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.exporting import export_host
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PROFILE = "e810-4x128"
NETLINK = ("link", "links")


def measure(kernel: Kernel, rounds: int) -> dict[str, Any]:
    counting = CountingKernel(kernel)
    times = []
    pfs = vfs = 0
    for _ in range(rounds):
        counting.calls.clear()
        start = time.perf_counter()
        inv = read_inventory(counting)
        times.append(time.perf_counter() - start)
        pfs, vfs = len(inv.pfs), sum(len(pf.vfs) for pf in inv.pfs)
    return {
        "pfs": pfs,
        "vfs": vfs,
        "seconds_median": round(statistics.median(times), 5),
        "seconds_min": round(min(times), 5),
        "kernel_calls": sum(counting.calls.values()),
        "kernel_calls_by_kind": dict(sorted(counting.calls.items())),
        "rtnetlink_calls": sum(counting.calls[k] for k in NETLINK),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    kernel = SimulatedKernel(load_profile(PROFILE))
    for ifname in ("ens1f0", "ens1f1", "ens3f0", "ens3f1"):
        set_vf_count(kernel, ifname, 128)
    results: dict[str, Any] = {"profile": PROFILE, "simulated": measure(kernel, args.rounds)}
    with tempfile.TemporaryDirectory() as tmp:
        export_host(kernel, Path(tmp))
        with LinuxKernel(Path(tmp) / "sys") as linux:
            results["exported_tree"] = measure(linux, args.rounds)
    print(json.dumps(results, indent=2))
    pfs = results["simulated"]["pfs"]
    if results["simulated"]["rtnetlink_calls"] > pfs:
        print(f"more than one rtnetlink call per PF ({pfs} PFs)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
