"""Two ``sriovstack agent`` processes for simulated hosts against an API server on loopback:
boots spread and go ACTIVE by long-poll, hotplug, delete, and an agent killed (SIGKILL) and
started again that picks up where it was, as a service manager would restart it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.running import Cli
from tests.e2e.test_cli_agent import Running, run_agent
from tests.integration.api.cloud import ADMIN_PASSWORD, Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.client import ApiError, Client

__all__ = ["run_agent"]  # the fixture, shared with test_cli_agent

SERVERS = "/compute/v2.1/servers"
PORTS = "/networking/v2.0/ports"
HOSTS = ("sriov-1", "sriov-2")
PATIENCE = 60.0  # seconds a step may take on a loaded 2-core machine


def config_for(url: str, host: str) -> str:
    return f"""
[api]
url = "{url}"
[api.register]
user = "admin"
password = "{ADMIN_PASSWORD}"

[host]
name = "{host}"
state_dir = "state"

[kernel]
mode = "simulated"
profile = "talk-after"
state_file = "kernel.json"

[sriov]
config = "local.conf"

[loop]
interval = 30
long_poll = 20
"""


@dataclass
class Site:
    cloud: Cloud
    configs: dict[str, Path]
    demo: Client
    admin: Client
    network: str
    flavor: str
    image: str

    def boot(self, name: str, port: str) -> dict[str, Any]:
        body = {
            "server": {
                "name": name,
                "flavorRef": self.flavor,
                "imageRef": self.image,
                "networks": [{"port": port}],
            }
        }
        server: dict[str, Any] = self.demo.post(SERVERS, body)["server"]
        return server

    def server(self, server_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.admin.get(f"{SERVERS}/{server_id}")["server"]
        except ApiError as exc:
            assert exc.status == 404
            return None
        return found

    def port(self, port_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.admin.get(f"{PORTS}/{port_id}")["port"]
        return found


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"not within {PATIENCE:g} s: {what}"
        time.sleep(0.1)


@pytest.fixture
def site(cli: Cli, tmp_path: Path) -> Iterator[Site]:
    configs = {}
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        for host in HOSTS:
            directory = tmp_path / host
            directory.mkdir()
            (directory / "local.conf").write_text(TALK_LOCAL_CONF)
            cli.ok(
                "host", "set-vfs", "enp3s0f1", "7", "--simulate", "talk-after",
                "--state-file", str(directory / "kernel.json"),
            )  # fmt: skip
            config = directory / "agent.toml"
            config.write_text(config_for(cloud.url, host))
            configs[host] = config
        admin = cloud.client("admin", "demo")
        yield Site(
            cloud,
            configs,
            cloud.client("demo"),
            cloud.client("admin"),
            provider_network(admin),
            add_flavor(cloud),
            add_image(cloud),
        )


def test_agents_as_processes_boot_hotplug_delete_and_survive_a_kill(
    site: Site, run_agent: Callable[[Path], Running]
) -> None:
    agents = {host: run_agent(config) for host, config in site.configs.items()}
    for host, agent in agents.items():
        agent.wait_for(lambda a=agent, h=host: f"{h}: reported its inventory" in a.out)  # type: ignore[misc]

    ports = [add_port(site.cloud, site.demo, site.network) for _ in range(2)]
    servers = [site.boot(f"Instance-{i}", port) for i, port in enumerate(ports, 1)]
    # No agent cycles on a timer here (interval 30 s): the long-poll wakes them.
    for server in servers:
        eventually(lambda s=server: site.server(s["id"])["status"] == "ACTIVE", "ACTIVE")  # type: ignore[index,misc]
    placed = {site.server(s["id"])["OS-EXT-SRV-ATTR:host"] for s in servers}  # type: ignore[index]
    assert placed == set(HOSTS)

    first = servers[0]
    extra = add_port(site.cloud, site.demo, site.network)
    site.demo.post(
        f"{SERVERS}/{first['id']}/os-interface", {"interfaceAttachment": {"port_id": extra}}
    )
    eventually(lambda: site.port(extra)["status"] == "ACTIVE", "the hotplugged port ACTIVE")
    site.demo.delete(f"{SERVERS}/{first['id']}/os-interface/{extra}")
    eventually(lambda: site.port(extra)["device_id"] == "", "the detach confirmed")

    # SIGKILL the agent of the second server's host while it waits, then start it again.
    second = site.server(servers[1]["id"])
    assert second is not None
    host = second["OS-EXT-SRV-ATTR:host"]
    agents[host].process.kill()
    agents[host].process.wait(timeout=15)
    site.demo.delete(f"{SERVERS}/{second['id']}")
    time.sleep(0.5)
    assert site.server(second["id"]) is not None  # nobody has reset its VF yet
    agents[host] = run_agent(site.configs[host])
    eventually(lambda: site.server(second["id"]) is None, "the delete confirmed after restart")
    free = [
        d
        for d in site.admin.get("/v1/pci-devices", host=host)["pci_devices"]
        if d["dev_type"] == "type-VF" and d["state"] == "available"
    ]
    assert len(free) == 7

    again = site.boot("Instance-3", add_port(site.cloud, site.demo, site.network))
    eventually(lambda: site.server(again["id"])["status"] == "ACTIVE", "ACTIVE after restart")  # type: ignore[index]
    for agent in agents.values():
        assert agent.stop() == 0, agent.err
        assert not any("Traceback" in line for line in agent.err)
