"""``sriovstack agent`` against a real API server on loopback, on the talk's simulated host:
registration and its saved credentials, reports, a boot to ACTIVE, guests kept across restarts,
SIGTERM, an API that is away, and bad configuration files."""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from rich.console import Console
from tests.e2e.running import Cli, files_in
from tests.integration.api.cloud import ADMIN_PASSWORD, Cloud, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, add_port, provider_network
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.cycle import CycleResult
from sriovstack.cli.agent import CyclePrinter

SERVERS = "/compute/v2.1/servers"
HOST = "sriov-1"


def agent_config(url: str, *, extra: str = "", credentials: str | None = None) -> str:
    """A simulated talk host whose agent registers itself as admin; paths beside the file."""
    login = credentials or f'[api.register]\nuser = "admin"\npassword = "{ADMIN_PASSWORD}"\n'
    return f"""
[api]
url = "{url}"
{login}
[host]
name = "{HOST}"
state_dir = "state"

[kernel]
mode = "simulated"
profile = "talk-after"
state_file = "kernel.json"

[sriov]
config = "local.conf"
{extra}"""


@dataclass
class Site:
    """A running cloud and a directory holding an agent's configuration for the talk's host."""

    cloud: Cloud
    cli: Cli
    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "agent.toml"

    @property
    def credentials(self) -> Path:
        return self.directory / "state" / "credentials.json"

    def agent(self, *args: str) -> Any:
        return self.cli("agent", "--config", str(self.config), *args)


@pytest.fixture
def site(cli: Cli, tmp_path: Path) -> Iterator[Site]:
    directory = tmp_path / "agent"
    directory.mkdir()
    (directory / "local.conf").write_text(TALK_LOCAL_CONF)
    # The talk's seven VFs, made as the talk makes them, in the state file the agent will use.
    cli.ok(
        "host", "set-vfs", "enp3s0f1", "7", "--simulate", "talk-after",
        "--state-file", str(directory / "kernel.json"),
    )  # fmt: skip
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}") as cloud:
        (directory / "agent.toml").write_text(agent_config(cloud.url))
        yield Site(cloud, cli, directory)


def test_the_agent_registers_its_host_reports_it_and_keeps_its_credentials(site: Site) -> None:
    first = site.agent("--once")

    assert first.code == 0, first.err
    assert first.out.splitlines() == [f"{HOST}: reported its inventory"]
    assert f"registered host {HOST}" in first.err
    admin = site.cloud.client("admin")
    host = admin.get(f"/v1/hosts/{HOST}")["host"]
    assert (host["pfs"], host["vfs"], host["state"]) == (1, 7, "up")
    assert (host["cpus"], host["memory_mib"]) == (12, 32768)  # the talk-after profile's
    devices = admin.get("/v1/pci-devices", host=HOST)["pci_devices"]
    assert {d["physical_network"] for d in devices} == {"physnet1"}
    assert len([d for d in devices if d["dev_type"] == "type-VF"]) == 7
    assert stat.S_IMODE(site.credentials.stat().st_mode) == 0o600
    saved = json.loads(site.credentials.read_text())
    assert (saved["host"], saved["user"], saved["project"]) == (HOST, f"agent-{HOST}", "service")

    before = files_in(site.credentials.parent)
    second = site.agent("--once", "--json")

    assert second.code == 0, second.err  # registering again would have been refused (409)
    assert "registered" not in second.err
    assert json.loads(second.out)["host"] == HOST
    assert files_in(site.credentials.parent) == before


def test_a_boot_goes_active_and_its_guest_survives_an_agent_restart(site: Site) -> None:
    site.agent("--once")  # registered and reported: the scheduler may now choose the host
    admin = site.cloud.client("admin", "demo")
    demo = site.cloud.client("demo")
    port = add_port(site.cloud, demo, provider_network(admin))
    body = {
        "server": {
            "name": "Instance-1",
            "flavorRef": add_flavor(site.cloud),
            "imageRef": add_image(site.cloud),
            "networks": [{"port": port}],
        }
    }
    server = demo.post(SERVERS, body)["server"]

    booted = site.agent("--once", "--json")

    assert booted.code == 0, booted.err
    line = json.loads(booted.out)
    uuid = server["id"]
    assert (line["started"], line["activated"], line["failed"]) == ([uuid], [uuid], {})
    assert line["actions"] >= 1  # the VF got the port's MAC and VLAN
    assert demo.get(f"{SERVERS}/{server['id']}")["server"]["status"] == "ACTIVE"
    guests = json.loads((site.directory / "state" / "sim-guests.json").read_text())
    assert [g["spec"]["uuid"] for g in guests["guests"]] == [server["id"]]

    again = site.agent("--once", "--json")

    line = json.loads(again.out)
    assert (again.code, line["started"], line["stopped"], line["failed"]) == (0, [], [], {})


def test_a_host_registered_before_without_saved_credentials_says_what_to_do(site: Site) -> None:
    site.cloud.client("admin").post("/v1/hosts", {"name": HOST})

    refused = site.agent("--once")

    line = refused.error_line()
    assert refused.code == 4
    assert f"host {HOST} is already registered" in line and "[api] user" in line
    assert not site.credentials.exists()


def test_configured_agent_credentials_are_used_as_they_are(site: Site) -> None:
    given = site.cloud.client("admin").post("/v1/hosts", {"name": HOST})["host"]
    credentials = given["agent_credentials"]
    (site.directory / "agent.pw").write_text(credentials["password"] + "\n")
    login = f'user = "{credentials["user"]}"\npassword_file = "agent.pw"\n'
    site.config.write_text(agent_config(site.cloud.url, credentials=login))

    result = site.agent("--once")

    assert result.code == 0, result.err
    assert not site.credentials.exists()
    wrong = login.replace("agent.pw", "wrong.pw")
    (site.directory / "wrong.pw").write_text("not-the-password")
    site.config.write_text(agent_config(site.cloud.url, credentials=wrong))
    refused = site.agent("--once")
    assert refused.code == 7
    assert f"login as agent-{HOST} ([api] user) refused" in refused.error_line()


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        ("[loop]\nintervall = 3\n", 2, ["[loop] intervall", "not a known key"]),
        ('[host.facts]\ncpus = "many"\n', 2, ["[host.facts] cpus", "whole number"]),
        ('[hypervisor]\nkind = "xen"\n', 2, ["[hypervisor] kind", '"libvirt"']),
        ("[loop]\nbackoff_max = -1\n", 2, ["[loop] backoff_max", "above 0"]),
    ],
)
def test_a_bad_config_exits_2_naming_the_key(
    site: Site, extra: str, code: int, words: list[str]
) -> None:
    site.config.write_text(agent_config(site.cloud.url, extra=extra))
    result = site.agent("--once")
    line = result.error_line()
    assert result.code == code, line
    for word in words:
        assert word in line
    assert not site.credentials.exists()  # nothing was registered


def test_a_missing_config_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("agent", "--config", str(tmp_path / "nope.toml"), "--once")
    assert result.code == 2
    assert "--config: cannot be read: No such file or directory" in result.error_line()


def test_an_api_that_does_not_answer_is_one_line_with_once(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "local.conf").write_text(TALK_LOCAL_CONF)
    (tmp_path / "agent.toml").write_text(agent_config("http://127.0.0.1:9"))
    result = cli("agent", "--config", str(tmp_path / "agent.toml"), "--once")
    assert result.code == 1
    assert "cannot reach the API at http://127.0.0.1:9" in result.error_line()


# ------------------------------------------------------------------------------ as a process


@dataclass
class Running:
    """An ``sriovstack agent`` process and the lines it has printed so far."""

    process: subprocess.Popen[str]
    lines: queue.Queue[tuple[str, str]] = field(default_factory=queue.Queue)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def wait_for(self, seen: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not seen():
            assert time.monotonic() < deadline, f"not seen in {timeout} s: {self.out} {self.err}"
            try:
                tag, line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, f"the agent exited: {self.err}"
                continue
            getattr(self, tag).append(line)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.wait_for(lambda: self.lines.empty() and self.process.poll() is not None)
        return code


def _pump(stream: IO[str], into: queue.Queue[tuple[str, str]], tag: str) -> None:
    for line in stream:
        into.put((tag, line.rstrip("\n")))


@pytest.fixture
def run_agent(tmp_path: Path) -> Iterator[Callable[[Path], Running]]:
    script = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    assert script, "the sriovstack console script is not installed beside this Python"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    started: list[tuple[Running, list[threading.Thread]]] = []

    def start(config: Path) -> Running:
        process = subprocess.Popen(
            [script, "agent", "--config", str(config)],
            env=keep | {"NO_COLOR": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running = Running(process)
        assert process.stdout is not None and process.stderr is not None
        pumps = [
            threading.Thread(target=_pump, args=(stream, running.lines, tag), daemon=True)
            for stream, tag in ((process.stdout, "out"), (process.stderr, "err"))
        ]
        for pump in pumps:
            pump.start()
        started.append((running, pumps))
        return running

    yield start
    for running, pumps in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=15)
        for pump in pumps:
            pump.join(timeout=10)
        for stream in (running.process.stdout, running.process.stderr):
            if stream is not None:
                stream.close()


def test_sigterm_stops_a_waiting_agent_at_once(
    site: Site, run_agent: Callable[[Path], Running]
) -> None:
    # A long interval: the agent is waiting when the signal comes, and must not wait it out.
    site.config.write_text(agent_config(site.cloud.url, extra="[loop]\ninterval = 300\n"))
    agent = run_agent(site.config)
    agent.wait_for(lambda: f"{HOST}: reported its inventory" in agent.out)

    stopping = time.monotonic()
    code = agent.stop()

    assert code == 0, agent.err
    assert time.monotonic() - stopping < 10
    assert agent.err[-1] == f"sriovstack: agent of host {HOST} stopped"
    assert not any("Traceback" in line for line in agent.err)


def test_an_api_that_is_away_is_retried_one_line_per_failure(
    tmp_path: Path, run_agent: Callable[[Path], Running]
) -> None:
    (tmp_path / "local.conf").write_text(TALK_LOCAL_CONF)
    config = tmp_path / "agent.toml"
    config.write_text(agent_config("http://127.0.0.1:9", extra="[loop]\nbackoff_max = 0.2\n"))
    agent = run_agent(config)

    agent.wait_for(lambda: sum("trying again" in line for line in agent.err) >= 3)
    code = agent.stop()

    assert code == 0, agent.err
    failures = [line for line in agent.err if "trying again" in line]
    assert "cannot reach the API at http://127.0.0.1:9" in failures[0]
    assert "(failures in a row: 1)" in failures[0] and "(failures in a row: 3)" in failures[2]
    assert not any("Traceback" in line for line in agent.err)


def test_once_exits_1_when_a_server_failed(site: Site) -> None:
    site.agent("--once")
    admin = site.cloud.client("admin", "demo")
    demo = site.cloud.client("demo")
    # macvtap needs the VF's netdev, and the talk's host blacklists ixgbevf: the VF has none.
    port = add_port(site.cloud, demo, provider_network(admin), vnic_type="macvtap")
    body = {
        "server": {
            "name": "Instance-1",
            "flavorRef": add_flavor(site.cloud),
            "imageRef": add_image(site.cloud),
            "networks": [{"port": port}],
        }
    }
    server = demo.post(SERVERS, body)["server"]

    result = site.agent("--once")

    assert result.code == 1, result.err
    assert f"failed {server['id']}: " in result.out and "macvtap" in result.out
    assert demo.get(f"{SERVERS}/{server['id']}")["server"]["status"] == "ERROR"


def test_an_idle_agent_says_so_at_most_once_a_minute() -> None:
    now = [0.0]
    out, err = io.StringIO(), io.StringIO()
    printer = CyclePrinter(
        HOST, Console(file=out, width=200), Console(file=err, width=200), clock=lambda: now[0]
    )
    printer.result(CycleResult(reported=True))
    for _ in range(12):  # two minutes of idle cycles, every 10 s
        now[0] += 10
        printer.result(CycleResult())
    printer.failure(ConnectionError("API away"), 1, 1.5)
    now[0] += 1
    printer.result(CycleResult())  # back after a failure: said at once

    assert out.getvalue().splitlines() == [
        f"{HOST}: reported its inventory",
        f"{HOST}: idle, nothing to do in 6 cycles",
        f"{HOST}: idle, nothing to do in 6 cycles",
        f"{HOST}: nothing to do",
    ]
    assert err.getvalue() == (
        "sriovstack: API away; trying again in 1.5 s (failures in a row: 1)\n"
    )
