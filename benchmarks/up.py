"""Benchmark: how long `sriovstack up` takes until the API answers and every agent has reported.

Runs the real command (`sriovstack up --port 0 --json`) as a process, for a cold start (a new
state directory: hosts booted and their VFs made, the database created and migrated, hosts
registered) and then a warm one (the same directory again), and stops each with SIGINT. Prints
JSON: wall seconds from starting the process to its one JSON line (what a script waits for),
the seconds `up` itself reports (after Python has imported it), and the seconds SIGINT took.

    python benchmarks/up.py [--runs N] [--hosts N | --fleet FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATIENCE = 300.0  # seconds one start may take before the benchmark gives up


def fleet_of(hosts: int, directory: Path) -> Path:
    """A fleet of ``hosts`` talk-after hosts with 7 VFs each, all with the talk's local.conf."""
    from sriovstack.launch.fleet import default_fleet  # the shipped local.conf, wherever it is

    talk = default_fleet().hosts[0].sriov.path
    assert talk is not None
    entries = [
        f'[[host]]\nname = "sriov-{i}"\nprofile = "talk-after"\nvfs = {{ enp3s0f1 = 7 }}\n'
        f'config = "{talk}"\n'
        for i in range(1, hosts + 1)
    ]
    path = directory / "fleet.toml"
    path.write_text("\n".join(entries))
    return path


def start_and_stop(script: str, args: list[str]) -> dict[str, Any]:
    """One `up`: seconds to its JSON line, what it says it took, and seconds to stop on SIGINT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    began = time.monotonic()
    process = subprocess.Popen(
        [script, "up", "--port", "0", "--json", *args],
        env=env | {"NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once every agent has reported
        ready = time.monotonic() - began
        if not line:
            raise SystemExit(f"sriovstack up exited {process.wait(PATIENCE)} before it was up")
        facts = json.loads(line)
        stopping = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(PATIENCE)
        stopped = time.monotonic() - stopping
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise SystemExit(f"sriovstack up exited {code} on SIGINT")
    return {
        "ready_s": round(ready, 3),
        "up_says_s": facts["seconds"],
        "stop_s": round(stopped, 3),
        "start": facts["start"],
        "hosts": len(facts["hosts"]),
        "vfs": sum(h["vfs"] or 0 for h in facts["hosts"]),
    }


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("ready_s", "up_says_s", "stop_s")
    return {
        **{f"{key}_median": round(statistics.median(s[key] for s in samples), 3) for key in keys},
        **{f"{key}_min": min(s[key] for s in samples) for key in keys},
        "runs": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold and warm starts to time")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--hosts", type=int, help="a fleet of N talk-after hosts")
    chosen.add_argument("--fleet", type=Path, help="a fleet file (default: the default fleet)")
    args = parser.parse_args(argv)
    script = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    if script is None:
        parser.error("the sriovstack console script is not installed beside this Python")
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as scratch:
        fleet = args.fleet or (fleet_of(args.hosts, Path(scratch)) if args.hosts else None)
        extra = ["--fleet", str(fleet.absolute())] if fleet else []
        for run in range(args.runs):
            state = ["--state-dir", str(Path(scratch) / f"state-{run}")]
            cold.append(start_and_stop(script, state + extra))
            warm.append(start_and_stop(script, state + extra))
    result = {
        "fleet": str(args.fleet)
        if args.fleet
        else f"{args.hosts} talk-after hosts"
        if args.hosts
        else "the default fleet (sriov-1, sriov-2)",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "cold": summary(cold),
        "warm": summary(warm),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
