"""64 simultaneous boots over HTTP at a fleet with 40 free VFs, on SQLite and on PostgreSQL:
no VF is used twice, exactly 40 servers get VFs (and go ACTIVE), the other 24 fail saying why."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

from tests.integration.api.cloud import Cloud
from tests.integration.api.seeding import (
    add_flavor,
    add_host,
    add_image,
    add_port,
    provider_network,
)

from sriovstack.client import ApiError, Client
from sriovstack.simulator.fleet import synthetic_report

BOOTS = 64
HOSTS = {"compute-1": 10, "compute-2": 10, "compute-3": 10, "compute-4": 10}  # VFs per host
SERVERS = "/compute/v2.1/servers"


def test_64_simultaneous_boots_share_no_vf_and_the_surplus_fails_cleanly(cloud: Cloud) -> None:
    agents = {
        name: add_host(cloud, synthetic_report(name, pfs=2, vfs_per_pf=vfs // 2))
        for name, vfs in HOSTS.items()
    }
    free_vfs = sum(HOSTS.values())
    admin = cloud.client("admin", "demo")
    network = provider_network(admin)
    demo = cloud.client("demo")
    flavor, image = add_flavor(cloud, ram=512, vcpus=1), add_image(cloud)
    ports = [add_port(cloud, demo, network) for _ in range(BOOTS)]
    start = Barrier(BOOTS)

    def boot(index: int) -> dict[str, Any]:
        with Client(cloud.url, token=demo.token) as client:
            start.wait()  # every boot leaves at once
            body = {
                "server": {
                    "name": f"vm-{index:02d}",
                    "flavorRef": flavor,
                    "imageRef": image,
                    "networks": [{"port": ports[index]}],
                }
            }
            try:
                server: dict[str, Any] = client.post(SERVERS, body)["server"]
            except ApiError as error:  # pragma: no cover - shown when the test fails
                return {"status": f"HTTP {error.status}", "fault": {"message": error.message}}
            return server

    with ThreadPoolExecutor(BOOTS) as pool:
        results = list(pool.map(boot, range(BOOTS)))

    statuses = Counter(server["status"] for server in results)
    assert statuses == {"BUILD": free_vfs, "ERROR": BOOTS - free_vfs}, statuses
    for failed in (s for s in results if s["status"] == "ERROR"):
        assert failed["fault"]["message"].startswith("No valid host was found.")
        assert "0 free" in failed["fault"]["message"]

    devices = cloud.client("admin").get("/v1/pci-devices")["pci_devices"]
    owners = [d["owner"] for d in devices if d["dev_type"] == "type-VF" and d["owner"]]
    assert len(owners) == len(set(owners)) == free_vfs
    built = [s for s in results if s["status"] == "BUILD"]
    assert sorted(owners) == sorted(
        port for port, server in zip(ports, results, strict=True) if server["status"] == "BUILD"
    )

    # Each host's agent starts its guests: every server that got a VF goes ACTIVE.
    for name, agent in agents.items():
        for server in agent.get(f"/v1/hosts/{name}/servers")["servers"]:
            slots = [port["profile"]["pci_slot"] for port in server["ports"]]
            assert len(slots) == 1
            agent.put(f"/v1/hosts/{name}/servers/{server['id']}/status", {"status": "ACTIVE"})
    listed = demo.get(f"{SERVERS}/detail")["servers"]
    assert Counter(s["status"] for s in listed) == {
        "ACTIVE": len(built),
        "ERROR": BOOTS - len(built),
    }
    slots = [
        (name, port["profile"]["pci_slot"])
        for name, agent in agents.items()
        for server in agent.get(f"/v1/hosts/{name}/servers")["servers"]
        for port in server["ports"]
    ]
    assert len(slots) == len(set(slots)) == free_vfs
    usage = [cloud.client("admin").get(f"/v1/hosts/{name}")["host"] for name in HOSTS]
    assert [h["free_devices"] for h in usage] == [0] * len(HOSTS)
    assert sum(h["vcpus_used"] for h in usage) == free_vfs
