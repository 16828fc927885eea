"""Benchmark: the wall time of `sriovstack demo`, the whole talk replayed, as a person runs it.

Runs the real command (`sriovstack demo --json`) as a process, N times, and prints JSON: the
wall seconds from starting the process to its exit (Python's imports included), the seconds
the demo itself reports (its seven steps, cloud start and stop included), and each step's
outcome, so that a slow run that failed is not mistaken for a fast one.

    python benchmarks/demo.py [--runs N]
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

PATIENCE = 300.0  # seconds one demo may take before the benchmark gives up


def run_once(script: str) -> dict[str, Any]:
    """One demo: wall seconds to its exit, the seconds it reports, and whether it passed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    began = time.monotonic()
    done = subprocess.run(
        [script, "demo", "--json"],
        env=env | {"NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    wall = time.monotonic() - began
    report = json.loads(done.stdout)
    return {
        "wall_s": round(wall, 3),
        "demo_says_s": report["seconds"],
        "exit": done.returncode,
        "passed": f"{report['passed']}/{report['total']}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="demos to time")
    args = parser.parse_args(argv)
    script = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    if script is None:
        parser.error("the sriovstack console script is not installed beside this Python")
    samples = [run_once(script) for _ in range(args.runs)]
    result = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "wall_s_median": round(statistics.median(s["wall_s"] for s in samples), 3),
        "wall_s_max": max(s["wall_s"] for s in samples),
        "demo_says_s_median": round(statistics.median(s["demo_says_s"] for s in samples), 3),
        "all_passed": all(s["exit"] == 0 for s in samples),
        "runs": samples,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
