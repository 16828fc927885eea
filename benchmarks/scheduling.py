"""Benchmark: schedule + claim boots with one direct port each, at several fleet sizes.

Each fleet has hosts with 2 X540 PFs x 63 VFs on physnet1, loaded in bulk (the rows an agent's
first report leaves; tests/integration/store/test_store_bulk.py holds the two paths equal).
For each size the benchmark runs the control plane's placement (SQL pre-filter, domain filters
and weighers, conditional-update claims, one transaction per attempt) for every boot, on a
SQLite file, and prints JSON: boots per second, p50/p99 latency, peak RSS, and the cost per
boot relative to the smallest fleet. Exits 1 when a fleet's cost per boot is over 2x the
smallest's.

    python benchmarks/scheduling.py [--hosts 100,1000,10000] [--boots 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sriovstack.domain.requesting import VnicType, device_request_for_port
from sriovstack.domain.scheduling import BootRequest
from sriovstack.services.environment import Environment
from sriovstack.services.hosts import add_reported_hosts
from sriovstack.services.scheduler import Placement, place
from sriovstack.services.settings import Settings
from sriovstack.simulator.fleet import host_name, synthetic_report
from sriovstack.store.database import Database
from sriovstack.store.querying import Session

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BATCH = 500  # hosts per bulk load


def build_fleet(env: Environment, hosts: int) -> float:
    """Load ``hosts`` hosts with their first reports in bulk; the seconds it took."""
    started = time.perf_counter()
    for first in range(0, hosts, BATCH):
        # Reports are made per batch so that the fleet's setup does not set the peak memory.
        batch = [synthetic_report(host_name(i)) for i in range(first, min(first + BATCH, hosts))]
        add_reported_hosts(env, batch)
    return time.perf_counter() - started


def run_boots(env: Environment, boots: int) -> tuple[list[float], int, int]:
    """Place ``boots`` boots one after another; latencies (s), placed, failed."""
    latencies: list[float] = []
    placed = failed = 0

    def record(_session: Session, _host_id: int, _host: str, _devices: Sequence[Any]) -> None:
        return None  # placement alone: binding a port is not part of schedule + claim

    for index in range(boots):
        port = f"port-{index:08d}"
        request = device_request_for_port(
            port, VnicType.DIRECT, physnet="physnet1", trusted=None, numa_policy=None
        )
        assert request is not None
        boot = BootRequest(ram_mib=2048, vcpus=1, availability_zone=None, devices=(request,))
        started = time.perf_counter()
        result = place(env, server_id=f"server-{index:08d}", boot=boot, on_claimed=record)
        latencies.append(time.perf_counter() - started)
        if isinstance(result, Placement):
            placed += 1
        else:
            failed += 1
    return latencies, placed, failed


def measure(hosts: int, boots: int, url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        database_url = url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        database = Database.open(database_url, pool_size=2)
        env = Environment(database, Settings(database_url=database_url), clock=lambda: NOW)
        try:
            setup = build_fleet(env, hosts)
            rss_before = _peak_rss_mib()
            started = time.perf_counter()
            latencies, placed, failed = run_boots(env, boots)
            wall = time.perf_counter() - started
        finally:
            database.close()
    ordered = sorted(latencies)
    return {
        "hosts": hosts,
        "vfs": hosts * 2 * 63,
        "boots": boots,
        "placed": placed,
        "failed": failed,
        "fleet_setup_s": round(setup, 2),
        "wall_s": round(wall, 2),
        "boots_per_s": round(boots / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "peak_rss_mib_before_boots": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
        "backend": database_url.split(":", 1)[0],
    }


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,1000,10000", help="fleet sizes, comma-separated")
    parser.add_argument("--boots", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.hosts.split(",")]
    results = []
    for size in sizes:
        result = measure(size, args.boots, args.database_url)
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)  # progress while the next runs
    base = results[0]["mean_ms"]
    for result in results:
        result["cost_vs_smallest"] = round(result["mean_ms"] / base, 2)
    print(json.dumps({"benchmark": "schedule+claim", "results": results}, indent=2))
    worst = max(result["cost_vs_smallest"] for result in results)
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
