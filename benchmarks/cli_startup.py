"""Benchmark: how long a quick `sriovstack` command takes, Python's imports included.

Runs the real console script as a process, N times each, and prints JSON: the median and
the slowest wall seconds from starting the process to its exit of `sriovstack version` (the
least a command costs) and of `sriovstack host show --simulate talk-after --json` (a host
command on a simulated host), with each run's exit status, so that a fast run that failed is
not mistaken for a fast command.

    python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

PATIENCE = 60.0  # seconds one command may take before the benchmark gives up

COMMANDS = {
    "version": ["version"],
    "host_show_simulated": ["host", "show", "--simulate", "talk-after", "--json"],
}


def run_once(script: str, args: list[str]) -> tuple[float, int]:
    """One command: wall seconds to its exit, and its exit status."""
    # No SRIOVSTACK_* or OS_* variables: the figures must not depend on the caller's cloud.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    began = time.monotonic()
    done = subprocess.run(
        [script, *args],
        env=env | {"NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    return time.monotonic() - began, done.returncode


def measure(script: str, args: list[str], runs: int) -> dict[str, Any]:
    samples = [run_once(script, args) for _ in range(runs)]
    walls = [wall for wall, _ in samples]
    return {
        "command": " ".join(["sriovstack", *args]),
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_max": round(max(walls), 3),
        "exits": [code for _, code in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command to time")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    script = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    if script is None:
        parser.error("the sriovstack console script is not installed beside this Python")
    commands = {name: measure(script, cli, args.runs) for name, cli in COMMANDS.items()}
    result = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "all_passed": all(code == 0 for c in commands.values() for code in c["exits"]),
        **commands,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
