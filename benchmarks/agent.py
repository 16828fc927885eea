"""Benchmark: the agent of a host with 4 E810 PFs x 128 VFs against a real API server on loopback.

Prints JSON: an idle cycle's time, kernel calls and kernel writes (it must write nothing: exits 1
otherwise), then the time from booting 128 servers with one direct port each until the agent
has made every one ACTIVE, and the cycles that took.

    python benchmarks/agent.py [--idle-cycles N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from sriovstack.agent.cycle import Agent
from sriovstack.api.app import create_app
from sriovstack.api.serving import start_in_thread
from sriovstack.client import Client
from sriovstack.domain.devspec import DeviceSpecList, parse_device_spec
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.host.counting import CountingKernel
from sriovstack.host.kernel import Kernel
from sriovstack.host.provisioning import set_vf_count
from sriovstack.services import flavors, identity, images
from sriovstack.services.environment import Environment
from sriovstack.services.settings import Settings
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile
from sriovstack.store.database import Database
from sriovstack.virt.simulated import SimulatedHypervisor

PROFILE = "e810-4x128"
PORTS = 128
PASSWORD = "benchmark-secret"
# Every E810 VF (8086:1889) on physnet1; the PFs stay with the host.
SPEC = '{"vendor_id": "8086", "product_id": "1889", "physical_network": "physnet1"}'
FACTS = HostFacts(cpus=256, memory_mib=1024 * 1024, numa_cells=(CellFacts(0, 0), CellFacts(1, 1)))


def host_kernel() -> SimulatedKernel:
    kernel = SimulatedKernel(load_profile(PROFILE))
    for pf in sorted(kernel.pfs.values(), key=lambda p: str(p.address)):
        set_vf_count(kernel, str(pf.address), 128)
    return kernel


def run(idle_cycles: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        database = Database.open(url, pool_size=5)
        env = Environment(database, Settings(database_url=url))
        identity.ensure_bootstrap(env, admin_password=PASSWORD, demo_password=PASSWORD)
        flavors.ensure_default_flavors(env)
        images.ensure_default_images(env)
        server = start_in_thread(create_app(env))
        try:
            return _measure(server.url, idle_cycles)
        finally:
            server.stop()
            database.close()


def _measure(url: str, idle_cycles: int) -> dict[str, Any]:
    with Client(url) as admin, Client(url) as agent_client:
        admin.login("admin", PASSWORD, "admin")
        credentials = admin.post("/v1/hosts", {"name": "e810-host"})["host"]["agent_credentials"]
        agent_client.login(credentials["user"], credentials["password"], credentials["project"])
        kernel = host_kernel()
        counting = CountingKernel(kernel)
        config = HostConfig(device_specs=DeviceSpecList(parse_device_spec(SPEC)))
        agent = Agent(
            "e810-host",
            agent_client,
            cast(Kernel, counting),
            SimulatedHypervisor(kernel),
            config,
            FACTS,
        )
        agent.cycle()  # the first report
        idle = _idle(agent, counting, idle_cycles)
        binding = _bind(admin, agent, counting)
    return {"benchmark": "agent", "profile": PROFILE, "idle": idle, "bind": binding}


def _idle(agent: Agent, counting: CountingKernel, cycles: int) -> dict[str, Any]:
    times, calls, writes = [], [], []
    for _ in range(cycles):
        counting.reset()
        started = time.perf_counter()
        agent.cycle()
        times.append(time.perf_counter() - started)
        calls.append(sum(counting.calls.values()))
        writes.append(counting.writes)
    return {
        "cycles": cycles,
        "cycle_s_median": round(statistics.median(times), 4),
        "kernel_calls_per_cycle": max(calls),
        "kernel_writes_per_cycle": max(writes),
        "kernel_calls_by_kind": dict(sorted(counting.calls.items())),
    }


def _bind(admin: Client, agent: Agent, counting: CountingKernel) -> dict[str, Any]:
    network = admin.post(
        "/networking/v2.0/networks",
        {
            "network": {
                "name": "physnet1",
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 2010,
            }
        },
    )["network"]["id"]
    image = admin.get("/image/v2/images")["images"][0]["id"]
    ports = [
        admin.post(
            "/networking/v2.0/ports",
            {"port": {"network_id": network, "binding:vnic_type": "direct", "name": f"vf{i}"}},
        )["port"]["id"]
        for i in range(PORTS)
    ]
    started = time.perf_counter()
    for i, port in enumerate(ports):
        body = {
            "server": {
                "name": f"vm{i}",
                "flavorRef": "1",
                "imageRef": image,
                "networks": [{"port": port}],
            }
        }
        admin.post("/compute/v2.1/servers", body)
    booted = time.perf_counter() - started
    cycles = 0
    counting.reset()
    while True:
        cycles += 1
        agent.cycle()
        listed = admin.get("/compute/v2.1/servers/detail")["servers"]
        if all(s["status"] == "ACTIVE" for s in listed) or cycles > 10:
            break
    active = sum(1 for s in listed if s["status"] == "ACTIVE")
    return {
        "ports": PORTS,
        "boots_s": round(booted, 2),
        "until_all_active_s": round(time.perf_counter() - started, 2),
        "agent_cycles": cycles,
        "active": active,
        "kernel_writes": counting.writes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-cycles", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.idle_cycles)
    print(json.dumps(result, indent=2))
    ok = result["idle"]["kernel_writes_per_cycle"] == 0 and result["bind"]["active"] == PORTS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
