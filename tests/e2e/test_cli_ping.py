"""``sriovstack ping``, ``trace`` and ``lease`` against a running ``sriovstack up``: the talk's
network with two servers on VFs and one on Open vSwitch reach each other and DHCP; a port set
administratively down drops frames at its VF, said with the reason; unknown names are errors."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.processes import quiet_env, running_up
from tests.e2e.running import Cli
from tests.e2e.test_cli_up import PORTS, SERVERS, named

from sriovstack.client import Client

PATIENCE = 30.0  # seconds for the agents to act; each cycle takes well under one
NETWORKS = "/networking/v2.0/networks"
LINK_DISABLE = 2  # IFLA_VF_LINK_STATE_DISABLE, as the state file keeps it


@dataclass(frozen=True)
class Talk:
    """The running cloud and what the test made in it."""

    state: Path
    facts: dict[str, Any]
    ports: dict[str, str]  # port name -> ID
    servers: dict[str, str]  # server name -> ID

    def admin(self) -> Client:
        client = Client(self.facts["url"])
        client.login("admin", self.facts["users"]["admin"]["password"], "demo")
        return client


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"not within {PATIENCE:g} s: {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Talk]:
    """``sriovstack up`` with the talk's network, two direct ports, one normal port, and
    Instance-1, Instance-2 (VFs) and Instance-0 (Open vSwitch) running."""
    base = tmp_path_factory.mktemp("ping")
    state = base / "up"
    with running_up(["--state-dir", str(state)], quiet_env(base / "home")) as upped:
        talk = _make_the_talks_servers(state, upped.facts())
        yield talk
        assert upped.stop() == 0, upped.err
        assert not any("Traceback" in line for line in upped.err)


def _make_the_talks_servers(state: Path, facts: dict[str, Any]) -> Talk:
    """As the talk does it, with the admin in project demo: physnet1 on VLAN 2010 and so on."""
    client = Client(facts["url"])
    client.login("admin", facts["users"]["admin"]["password"], "demo")
    with client:
        provider = {
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 2010,
        }
        network = client.post(NETWORKS, {"network": {"name": "physnet1", **provider}})
        network_id = network["network"]["id"]
        subnet = {"name": "provider_net", "network_id": network_id, "ip_version": 4}
        client.post("/networking/v2.0/subnets", {"subnet": subnet | {"cidr": "10.0.0.0/24"}})
        ports = {}
        for name, vnic in (
            ("physnet1-vf1", "direct"),
            ("physnet1-vf2", "direct"),
            ("physnet1-ovs0", "normal"),
        ):
            asked = {"network_id": network_id, "name": name, "binding:vnic_type": vnic}
            ports[name] = client.post(PORTS, {"port": asked})["port"]["id"]
        flavor = named(client.get("/compute/v2.1/flavors")["flavors"], "m1.small")
        images = client.get("/image/v2/images")["images"]
        image = named(images, "Fedora-Cloud-Base-23-20151030.x86_64")
        servers = {}
        for name, port in (
            ("Instance-1", "physnet1-vf1"),
            ("Instance-2", "physnet1-vf2"),
            ("Instance-0", "physnet1-ovs0"),
        ):
            nics = [{"port": ports[port]}]
            body = {"name": name, "flavorRef": flavor, "imageRef": image, "networks": nics}
            servers[name] = client.post(SERVERS, {"server": body})["server"]["id"]
        _eventually(
            lambda: all(
                client.get(f"{SERVERS}/{server}")["server"]["status"] == "ACTIVE"
                for server in servers.values()
            ),
            "the servers ACTIVE",
        )
    # The agents save their hosts just after the cycle that reported the servers ACTIVE.
    _eventually(lambda: _running_guests(state) >= set(servers.values()), "the guests saved")
    return Talk(state, facts, ports, servers)


def _running_guests(state: Path) -> set[str]:
    running = set()
    for path in state.glob("hosts/*/sim-guests.json"):
        data = json.loads(path.read_text())
        running |= {g["spec"]["uuid"] for g in data["guests"] if g["power_state"] == "running"}
    return running


def _link_states(state: Path, mac: str) -> list[int]:
    """The link state of every VF that has ``mac``, as the agents last saved their hosts."""
    found = []
    for path in state.glob("hosts/*/sim-kernel.json"):
        data = json.loads(path.read_text())
        found += [
            vf["config"]["link_state"]
            for pf in data["pfs"]
            for vf in pf["vfs"]
            if vf["config"]["mac"] == mac
        ]
    return found


def _vf(port: dict[str, Any]) -> str:
    """How the fabric names a direct port's VF: ``VF 0 of enp3s0f1 (sriov-1)``."""
    return f"VF {port['binding:profile']['vf_num']} of enp3s0f1 ({port['binding:host_id']})"


@pytest.fixture
def ping_cli(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The command line with no OS_* credentials: it logs in with the state directory's."""
    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    return cli


def test_servers_reach_each_other_and_dhcp_until_a_port_is_set_down(
    talk: Talk, ping_cli: Cli
) -> None:
    at = ("--state-dir", str(talk.state))
    with talk.admin() as client:
        vf1 = client.get(f"{PORTS}/{talk.ports['physnet1-vf1']}")["port"]

    pinged = ping_cli("ping", "Instance-1", "Instance-2", *at)
    assert pinged.code == 0, pinged.err
    assert pinged.out.startswith("ping Instance-1 (10.0.0.3) -> Instance-2 (10.0.0.4)\n")
    assert "ICMP echo reply 10.0.0.4 > 10.0.0.3: delivered" in pinged.out
    assert pinged.out.rstrip().endswith("reachable")

    # The DHCP port, by its IP: a namespace on the controller's br-enp3s0f0 (local.conf's
    # OVS_PHYSICAL_BRIDGE on PUBLIC_INTERFACE enp3s0f0), reached from a VF across the ToR.
    traced = ping_cli("trace", "Instance-1", "10.0.0.2", "--json", *at)
    assert traced.code == 0, traced.err
    shown = traced.json()
    assert (shown["command"], shown["verdict"], shown["reachable"]) == ("trace", "reachable", True)
    target = shown["target"]
    assert (target["given"], target["ip"], target["attachment"], target["host"]) == (
        "10.0.0.2",
        "10.0.0.2",
        "namespace",
        "sriov-1",
    )
    assert target["name"].startswith("qdhcp-")
    source = shown["source"]
    assert (source["name"], source["port_id"], source["attachment"]) == (
        "Instance-1",
        talk.ports["physnet1-vf1"],
        "vf",
    )
    legs = shown["legs"]
    assert [leg["what"] for leg in legs] == [
        "ARP who-has 10.0.0.2 tell 10.0.0.3",
        "ARP reply 10.0.0.2 is-at " + target["mac"],
        "ICMP echo request 10.0.0.3 > 10.0.0.2",
    ]
    assert all(leg["delivered"] and leg["reason"] is None for leg in legs)
    places = [hop["place"] for hop in legs[2]["hops"]]
    assert places[0] == f"Instance-1 via {_vf(vf1)}"
    assert places[-2:] == ["br-enp3s0f0 (sriov-1)", target["name"]]

    # The server on Open vSwitch, by its port's name; and its lease from the DHCP namespace.
    assert ping_cli("ping", "Instance-2", "physnet1-ovs0", *at).code == 0
    leased = ping_cli("lease", "Instance-0", "--json", *at)
    assert leased.code == 0, leased.err
    assert (leased.json()["verdict"], leased.json()["ip"]) == ("leased", "10.0.0.5")

    # Administratively down: the agent disables the VF's link, and frames stop there.
    with talk.admin() as client:
        port = client.put(
            f"{PORTS}/{talk.ports['physnet1-vf2']}", {"port": {"admin_state_up": False}}
        )["port"]
    _eventually(
        lambda: _link_states(talk.state, port["mac_address"]) == [LINK_DISABLE],
        "the VF's link disabled and saved",
    )
    dropped = ping_cli("trace", "Instance-1", "Instance-2", *at)
    assert dropped.code == 1, dropped.err
    reason = f"{_vf(port)} is administratively disabled (link-state disable)"
    assert dropped.out.rstrip().endswith(f"dropped: {reason}")
    assert "ARP who-has 10.0.0.4 tell 10.0.0.3: LOST" in dropped.out
    as_json = ping_cli("ping", "Instance-1", talk.ports["physnet1-vf2"], "--json", *at)
    assert as_json.code == 1
    shown = as_json.json()
    assert (shown["reachable"], shown["verdict"]) == (False, "dropped")
    assert shown["reason"] == f"dropped: {reason}"
    assert [leg["delivered"] for leg in shown["legs"]] == [False]
    assert shown["legs"][0]["reason"] == shown["reason"]


def test_what_is_not_there_is_one_error_line(talk: Talk, ping_cli: Cli, tmp_path: Path) -> None:
    at = ("--state-dir", str(talk.state))

    unknown = ping_cli("ping", "Instance-1", "Instance-9", *at)
    assert unknown.code == 3
    assert unknown.error_line() == (
        "sriovstack: error: No server, port or IP address with a name or ID of 'Instance-9' exists."
    )

    nobody = ping_cli("trace", "Instance-1", "10.0.0.99", *at)
    assert nobody.code == 3
    assert "endpoint 10.0.0.99 not found" in nobody.error_line()

    itself = ping_cli("ping", "Instance-1", talk.servers["Instance-1"], *at)
    assert itself.code == 2
    assert "TARGET: names SOURCE's own port" in itself.error_line()

    empty = tmp_path / "empty"
    no_cloud = ping_cli("ping", "Instance-1", "Instance-2", "--state-dir", str(empty))
    assert no_cloud.code == 2
    assert f"--state-dir: {empty} holds no cloud of `sriovstack up`" in no_cloud.error_line()
