"""``sriovstack up`` as a real process: the talk's network, port and server on the default fleet,
Ctrl-C, and a second ``up`` on the same state directory that finds all of it again; a state
directory in use, a fleet that does not fit it, a bad fleet file, and a taken port."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.processes import Upped, launch_up, quiet_env
from tests.e2e.running import Cli
from tests.integration.conftest import POSTGRES_URL, postgres_database

from sriovstack.cli import up
from sriovstack.client import Client

PATIENCE = 60.0
SERVERS = "/compute/v2.1/servers"
PORTS = "/networking/v2.0/ports"


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[Callable[..., Upped]]:
    env = quiet_env(tmp_path / "home")
    started: list[Upped] = []

    def start(*args: str) -> Upped:
        upped = launch_up(args, env)
        started.append(upped)
        return upped

    yield start
    for upped in started:
        upped.close()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"not within {PATIENCE:g} s: {what}"
        time.sleep(0.1)


def admin_in_demo(facts: dict[str, Any]) -> Client:
    """Logged in as ``. openrc admin demo`` would be."""
    client = Client(facts["url"])
    client.login("admin", facts["users"]["admin"]["password"], "demo")
    return client


def named(items: list[dict[str, Any]], name: str) -> str:
    found = [item["id"] for item in items if item["name"] == name]
    assert len(found) == 1, [item["name"] for item in items]
    return str(found[0])


def boot_the_talks_instance(client: Client) -> tuple[str, str, str]:
    """The talk's provider network and subnet, a direct port, and Instance-1 on it."""
    network = client.post(
        "/networking/v2.0/networks",
        {
            "network": {
                "name": "physnet1",
                "shared": True,
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 2010,
            }
        },
    )["network"]["id"]
    subnet = {"name": "provider_net", "network_id": network, "ip_version": 4}
    client.post("/networking/v2.0/subnets", {"subnet": subnet | {"cidr": "10.0.0.0/24"}})
    port = client.post(
        PORTS,
        {"port": {"network_id": network, "name": "physnet1-vf1", "binding:vnic_type": "direct"}},
    )["port"]["id"]
    flavor = named(client.get("/compute/v2.1/flavors")["flavors"], "m1.small")
    image = named(client.get("/image/v2/images")["images"], "Fedora-Cloud-Base-23-20151030.x86_64")
    body = {"name": "Instance-1", "flavorRef": flavor, "imageRef": image}
    server = client.post(SERVERS, {"server": body | {"networks": [{"port": port}]}})["server"]
    return network, port, server["id"]


def guests_of(state: Path, host: str) -> dict[str, str]:
    """The simulated hypervisor's saved guests on ``host``: UUID -> power state."""
    data = json.loads((state / "hosts" / host / "sim-guests.json").read_text())
    return {g["spec"]["uuid"]: g["power_state"] for g in data["guests"]}


def test_up_runs_the_talks_cloud_and_a_second_up_finds_it_again(
    start_up: Callable[..., Upped], tmp_path: Path
) -> None:
    state = tmp_path / "up"
    first = start_up("--state-dir", str(state))
    facts = first.facts()
    assert facts["start"] == "cold"
    assert [(h["name"], h["vfs"], h["state"]) for h in facts["hosts"]] == [
        ("sriov-1", 7, "up"),
        ("sriov-2", 7, "up"),
    ]
    assert facts["openrc"] == str(state / "openrc")
    for secret in ("openrc", "passwords.json"):
        assert stat.S_IMODE((state / secret).stat().st_mode) == 0o600
    said = "\n".join(first.err)
    for step in ("prepared: 7 VFs made on enp3s0f1", "database ready", "API listening at"):
        assert step in said
    assert "agent of sriov-1 reported" in said and "agent of sriov-2 reported" in said

    with admin_in_demo(facts) as client:
        network, port, server = boot_the_talks_instance(client)
        dhcp = [
            p
            for p in client.get(PORTS, network_id=network)["ports"]
            if p["device_owner"] == "network:dhcp"
        ]
        assert [(p["binding:host_id"], p["fixed_ips"][0]["ip_address"]) for p in dhcp] == [
            ("sriov-1", "10.0.0.2")
        ]
        eventually(
            lambda: client.get(f"{SERVERS}/{server}")["server"]["status"] == "ACTIVE", "ACTIVE"
        )
        eventually(
            lambda: client.get(f"{PORTS}/{port}")["port"]["status"] == "ACTIVE", "port ACTIVE"
        )
        host = client.get(f"{SERVERS}/{server}")["server"]["OS-EXT-SRV-ATTR:host"]
        assert client.get(f"{PORTS}/{port}")["port"]["fixed_ips"][0]["ip_address"] == "10.0.0.3"

    assert first.stop(signal.SIGINT) == 0, first.err
    assert first.err[-1] == f"sriovstack: stopped; the cloud is kept in {state}"
    assert not any("Traceback" in line for line in first.err)
    assert guests_of(state, host) == {server: "running"}

    second = start_up("--state-dir", str(state))
    again = second.facts()
    assert again["start"] == "warm"
    assert again["users"] == facts["users"]
    assert {h["name"]: h["guests"] for h in again["hosts"]} == {
        "sriov-1": int(host == "sriov-1"),
        "sriov-2": int(host == "sriov-2"),
    }
    with admin_in_demo(again) as client:
        found = client.get(f"{SERVERS}/{server}")["server"]
        assert (found["status"], found["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)
        assert client.get(f"{PORTS}/{port}")["port"]["status"] == "ACTIVE"
    assert guests_of(state, host) == {server: "running"}
    assert not any(f"started {server}" in line for line in second.err)  # found running

    assert second.stop(signal.SIGTERM) == 0, second.err
    assert not any("Traceback" in line for line in second.err)


def test_a_state_dir_in_use_or_unfit_is_refused_naming_why(
    start_up: Callable[..., Upped], cli: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "up"
    first = start_up("--state-dir", str(state))
    first.facts()

    # Another `up` on a state directory in use is refused; the running one goes on.
    busy = cli("up", "--state-dir", str(state), "--port", "0")
    assert busy.code == 4
    assert (
        f"--state-dir {state}: another `sriovstack up` (pid {first.process.pid})"
        in busy.error_line()
    )
    assert first.stop() == 0, first.err

    # A fleet whose host differs from the one the directory holds is refused, naming it.
    other = tmp_path / "fleet.toml"
    other.write_text('[[host]]\nname = "sriov-1"\nprofile = "talk-after"\nvfs = { enp3s0f1 = 4 }\n')
    refused = cli("up", "--state-dir", str(state), "--port", "0", "--fleet", str(other))
    assert refused.code == 4
    line = refused.error_line()
    assert f"{other}: host sriov-1 vfs: is {{enp3s0f1 = 4}}, but {state} holds" in line

    # An agent that lost its credentials cannot register its host again: said, naming the file.
    lost = state / "hosts" / "sriov-2" / "credentials.json"
    lost.unlink()
    refused = cli("up", "--state-dir", str(state), "--port", "0")
    assert refused.code == 4
    last = refused.err.splitlines()[-1]
    assert last.startswith("sriovstack: error: host sriov-2 is registered in the database")
    assert f"({lost}) are gone" in last


def test_the_openrc_logs_in_as_admin_or_demo(
    start_up: Callable[..., Upped], tmp_path: Path
) -> None:
    state = tmp_path / "up"
    upped = start_up("--state-dir", str(state))
    facts = upped.facts()
    script = (
        f'. {state / "openrc"} "$@"; echo "$OS_AUTH_URL $OS_USERNAME $OS_PROJECT_NAME $OS_PASSWORD"'
    )
    for args, user in (([], "admin"), (["demo", "demo"], "demo")):
        shown = subprocess.run(
            ["bash", "-c", script, "bash", *args], capture_output=True, text=True, check=True
        ).stdout.split()
        password = facts["users"][user]["password"]
        assert shown == [facts["auth_url"], user, "demo", password]
        with Client(facts["url"]) as client:
            client.login(shown[1], shown[3], shown[2])
    assert upped.stop() == 0, upped.err


def test_a_first_signal_asks_to_stop_and_a_second_forces(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    notes: list[str] = []
    monkeypatch.setattr(os, "_exit", exits.append)  # what a forced stop calls
    stop = threading.Event()
    before = signal.getsignal(
        signal.SIGINT
    )  # SIG_IGN where a shell started pytest in the background

    with up.stopped_by_signals(stop, notes.append):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
        assert (exits, notes) == ([], [])
        os.kill(os.getpid(), signal.SIGTERM)
        eventually(lambda: bool(exits), "the forced exit")

    assert exits == [up.FORCED_EXIT]
    assert notes == ["forced to stop: each host keeps the state of its last finished cycle"]
    assert signal.getsignal(signal.SIGINT) is before  # put back


def test_a_bad_fleet_file_exits_2_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        '[[host]]\nname = "a"\nprofile = "talk-after"\n\n'
        '[[host]]\nname = "b"\nprofile = "talk-after"\nvfs = { enp3s0f9 = 7 }\n'
    )
    state = tmp_path / "up"

    result = cli("up", "--fleet", str(fleet), "--state-dir", str(state), "--port", "0")

    assert result.code == 2
    line = result.error_line()
    assert f"{fleet}: host[1].vfs.enp3s0f9: is not a PF of profile talk-after" in line
    assert not state.exists()  # refused before anything was made


def test_more_vfs_than_the_pf_has_exit_2_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[host]]\nname = "a"\nprofile = "talk-after"\nvfs = { enp3s0f1 = 64 }\n')

    result = cli("up", "--fleet", str(fleet), "--state-dir", str(tmp_path / "up"), "--port", "0")

    assert result.code == 2
    last = result.err.splitlines()[-1]  # after "starting": the kernel refuses when VFs are made
    assert last.startswith(f"sriovstack: error: {fleet}: host[0].vfs.enp3s0f1: must be 0..63")
    assert not (tmp_path / "up" / "hosts" / "a" / "sim-kernel.json").exists()


def test_a_taken_port_is_one_line_naming_the_option(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("up", "--state-dir", str(tmp_path / "up"), "--port", str(port))

    assert result.code == 1
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in result.error_line()
    assert not (tmp_path / "up").exists()


def test_up_keeps_its_cloud_in_postgresql_given_a_database_url(
    start_up: Callable[..., Upped], cli: Cli, tmp_path: Path
) -> None:
    admin_url = os.environ.get(POSTGRES_URL)
    if not admin_url:
        reason = f"PostgreSQL: {POSTGRES_URL} is not set (.ci/run starts a server and sets it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; in CI the PostgreSQL cases must run")
        pytest.skip(reason)
    state = tmp_path / "up"
    with postgres_database(admin_url) as url:
        first = start_up("--state-dir", str(state), "--database-url", url)
        facts = first.facts()
        assert facts["database"].startswith("postgresql") and ":***@" in facts["database"]
        assert not (state / "cloud.db").exists()
        assert (state / "hosts" / "sriov-2" / "sim-kernel.json").exists()  # kept in the state dir
        assert first.stop() == 0, first.err

        embedded = cli("up", "--state-dir", str(state), "--port", "0")
        assert embedded.code == 2
        assert f"--database-url: {state} holds a cloud whose database is postgresql" in (
            embedded.error_line()
        )

        second = start_up("--state-dir", str(state), "--database-url", url)
        again = second.facts()
        assert (again["start"], again["users"]) == ("warm", facts["users"])
        assert second.stop() == 0, second.err
