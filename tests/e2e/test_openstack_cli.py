"""The official ``openstack`` CLI (python-openstackclient) against a live ``sriovstack up`` on
loopback: the talk's provider network, subnet, direct ports, keypair, security group rules and
Instance-0 (Open vSwitch), Instance-1 and Instance-2 (VFs), then the listings, a hotplug, a
refused live migration and a name that is not there.

The CLI runs as a subprocess, from the console script beside this Python: importing osc-lib
raises a DeprecationWarning, which this suite turns into an error."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.processes import Run, console_script, quiet_env, running_up, sourced

IMAGE = "Fedora-Cloud-Base-23-20151030.x86_64"
VFS = 7  # the talk's `echo 7 > .../sriov_numvfs`
COMMAND_TIMEOUT = 180.0  # seconds for one CLI command; --wait polls every 5 s
PATIENCE = 90.0
# Any RSA public key will do; a fixed one spares the test ssh-keygen.
PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCoKz2Vz5yieNY+Fx4gLAw74vj7aeh3MYJRx9RdgQB8XwCkSRQ34p03"
    "Fhtfr8GdKurX1RUKOT4V/kzriWlyRn+XQ8vBUYm68rtkxIxi2cg/52+ZAcyVrFRndsfZrnZOdpwt1kBH7T1QbLw30fwX"
    "yEfKQbofzkbOoT7/JGGy8SkAcF/L6LIQE0aDsLeeYdzoXxikk3/lB11/8qah8V3bzOmARCfxh0cZFmOiV8idbLcJXyF7"
    "N7O2ppRT9utCILCLcst1XT9YQfReVIj/T4LQtj0sHnwGIF0kHPafAf3FbEaGABv19KULtnf8zj3TuZ4uuA69hk7EBRJm"
    "ZzfNUMVhZPIx stack@talk"
)


class OpenStack:
    """``openstack ARGS...`` with the OS_* variables of ``. openrc admin demo``."""

    def __init__(self, script: str, env: dict[str, str]) -> None:
        self._script = script
        self._env = env

    def __call__(self, command: str, *args: str) -> Run:
        """``command`` is the command's words in one string: ``"server create"``."""
        words = (*command.split(), *args)
        done = subprocess.run(
            [self._script, *words],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return Run(words, done.returncode, done.stdout, done.stderr)

    def ok(self, command: str, *args: str) -> Run:
        run = self(command, *args)
        assert run.code == 0, f"openstack {' '.join(run.args)} -> {run.code}:\n{run.err}"
        return run

    def json(self, command: str, *args: str) -> Any:
        return self.ok(command, *args, "-f", "json").json()


@dataclass(frozen=True)
class Talk:
    """What the talk's commands printed, run once for the module."""

    openstack: OpenStack
    network: dict[str, Any]
    subnet: dict[str, Any]
    ports: list[dict[str, Any]]
    keypair: dict[str, Any]
    ssh_rule: dict[str, Any]
    icmp_rule: dict[str, Any]
    server: dict[str, Any]  # Instance-1
    others: dict[str, dict[str, Any]]  # Instance-0 (on Open vSwitch) and Instance-2, by name


@pytest.fixture(scope="module")
def openstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenStack]:
    """``sriovstack up`` on a free port, and the CLI logged in as admin in project demo."""
    osc_script = console_script("openstack")
    tmp = tmp_path_factory.mktemp("osc")
    base = quiet_env(tmp / "home")
    with running_up(["--state-dir", str(tmp / "up")], base) as upped:
        facts = upped.facts()
        login = sourced(Path(facts["openrc"]), "admin", "demo")
        assert login["OS_AUTH_URL"] == facts["auth_url"]
        assert login["OS_PASSWORD"] == facts["users"]["admin"]["password"]
        yield OpenStack(osc_script, base | login)
        assert upped.stop() == 0, upped.err


@pytest.fixture(scope="module")
def talk(openstack: OpenStack, tmp_path_factory: pytest.TempPathFactory) -> Talk:
    """The talk's commands, in the talk's order, each printing JSON."""
    network = openstack.json(
        "network create",
        *("--provider-network-type", "vlan", "--provider-physical-network", "physnet1"),
        *("--provider-segment", "2010", "physnet1"),
    )
    subnet = openstack.json(
        "subnet create", "--network", "physnet1", "--subnet-range", "10.0.0.0/24", "provider_net"
    )
    ports = [
        openstack.json(
            "port create", "--network", "physnet1", "--vnic-type", "direct", f"physnet1-vf{n}"
        )
        for n in range(1, VFS + 1)
    ]
    key_file = tmp_path_factory.mktemp("keys") / "id_rsa.pub"
    key_file.write_text(PUBLIC_KEY + "\n")
    keypair = openstack.json("keypair create", "--public-key", str(key_file), "stack-ssh")
    ssh_rule = openstack.json(
        "security group rule create", "--protocol", "tcp", "--dst-port", "22", "default"
    )
    icmp_rule = openstack.json("security group rule create", "--protocol", "icmp", "default")
    # As start-vms.sh: Instance-0 with a port on the network (Open vSwitch), then Instance-1
    # and Instance-2 each on a VF port.
    nics = {"Instance-0": "net-id=physnet1"} | {
        f"Instance-{n}": f"port-id={ports[n - 1]['id']}" for n in (1, 2)
    }
    servers = {
        name: openstack.json(
            "server create",
            *("--flavor", "m1.small", "--image", IMAGE, "--key-name", "stack-ssh"),
            *("--nic", nic, "--wait", name),
        )
        for name, nic in nics.items()
    }
    server = servers.pop("Instance-1")
    return Talk(openstack, network, subnet, ports, keypair, ssh_rule, icmp_rule, server, servers)


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"not within {PATIENCE:g} s: {what}"
        time.sleep(0.5)


def test_the_provider_network_and_its_subnet(talk: Talk) -> None:
    network, subnet = talk.network, talk.subnet
    assert network["name"] == "physnet1"
    assert network["provider:network_type"] == "vlan"
    assert network["provider:physical_network"] == "physnet1"
    assert network["provider:segmentation_id"] == 2010
    assert (network["status"], network["admin_state_up"]) == ("ACTIVE", True)
    assert subnet["name"] == "provider_net"
    assert subnet["network_id"] == network["id"]
    assert (subnet["cidr"], subnet["ip_version"]) == ("10.0.0.0/24", 4)
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert subnet["enable_dhcp"] is True
    shown = talk.openstack.json("network show", "physnet1")
    assert shown["id"] == network["id"]
    assert shown["subnets"] == [subnet["id"]]


def test_seven_direct_ports_are_made_unbound(talk: Talk) -> None:
    assert [p["name"] for p in talk.ports] == [f"physnet1-vf{n}" for n in range(1, VFS + 1)]
    addresses = set()
    for port in talk.ports:
        assert port["network_id"] == talk.network["id"]
        assert port["binding_vnic_type"] == "direct"
        assert port["mac_address"].startswith("fa:16:3e:")
        (fixed,) = port["fixed_ips"]
        assert fixed["subnet_id"] == talk.subnet["id"]
        assert fixed["ip_address"].startswith("10.0.0.")
        addresses.add(fixed["ip_address"])
    assert len(addresses) == VFS
    assert talk.ports[-1]["binding_vif_type"] == "unbound"
    assert talk.ports[-1]["status"] == "DOWN"


def test_the_keypair_and_the_default_groups_rules(talk: Talk) -> None:
    blob = base64.b64decode(PUBLIC_KEY.split()[1])
    fingerprint = ":".join(re.findall("..", hashlib.md5(blob).hexdigest()))
    assert (talk.keypair["name"], talk.keypair["type"]) == ("stack-ssh", "ssh")
    assert talk.keypair["fingerprint"] == fingerprint
    listed = talk.openstack.json("keypair list")
    assert [(k["Name"], k["Fingerprint"]) for k in listed] == [("stack-ssh", fingerprint)]

    (group,) = talk.openstack.json("security group list")
    assert group["Name"] == "default"
    ssh, icmp = talk.ssh_rule, talk.icmp_rule
    for rule in (ssh, icmp):
        assert rule["security_group_id"] == group["ID"]
        assert (rule["direction"], rule["ether_type"]) == ("ingress", "IPv4")
        assert rule["remote_ip_prefix"] == "0.0.0.0/0"
    assert (ssh["protocol"], ssh["port_range_min"], ssh["port_range_max"]) == ("tcp", 22, 22)
    assert (icmp["protocol"], icmp["port_range_min"], icmp["port_range_max"]) == (
        "icmp",
        None,
        None,
    )


def test_instance_1_is_active_on_its_direct_port(talk: Talk) -> None:
    server, port = talk.server, talk.ports[0]
    address = port["fixed_ips"][0]["ip_address"]
    assert address == "10.0.0.3"  # the subnet's DHCP port took 10.0.0.2, as in the talk
    assert (server["name"], server["status"]) == ("Instance-1", "ACTIVE")
    assert server["addresses"] == {"physnet1": [address]}
    assert server["key_name"] == "stack-ssh"
    assert server["flavor"]["original_name"] == "m1.small"
    assert server["image"].startswith(f"{IMAGE} (")
    host = server["OS-EXT-SRV-ATTR:host"]
    assert host in ("sriov-1", "sriov-2")

    rows = {row["Name"]: row for row in talk.openstack.json("server list")}
    assert sorted(rows) == ["Instance-0", "Instance-1", "Instance-2"]
    row = rows["Instance-1"]
    assert (row["ID"], row["Status"]) == (server["id"], "ACTIVE")
    assert row["Networks"] == {"physnet1": [address]}
    assert (row["Image"], row["Flavor"]) == (IMAGE, "m1.small")
    assert (rows["Instance-2"]["Status"], rows["Instance-2"]["Networks"]) == (
        "ACTIVE",
        {"physnet1": ["10.0.0.4"]},
    )

    bound = talk.openstack.json("port show", "physnet1-vf1")
    assert bound["id"] == port["id"]
    assert (bound["device_id"], bound["device_owner"]) == (server["id"], "compute:nova")
    assert (bound["binding_vif_type"], bound["binding_host_id"]) == ("hw_veb", host)
    assert bound["binding_vif_details"]["vlan"] == "2010"
    assert bound["binding_profile"]["physical_network"] == "physnet1"
    assert re.fullmatch(
        r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", bound["binding_profile"]["pci_slot"]
    )
    eventually(
        lambda: talk.openstack.json("port show", "physnet1-vf1")["status"] == "ACTIVE",
        "the port goes ACTIVE once the agent has plugged the VF",
    )


def test_instance_0_is_active_on_open_vswitch_and_instance_2_on_a_vf(talk: Talk) -> None:
    zero, two = talk.others["Instance-0"], talk.others["Instance-2"]
    assert (zero["status"], two["status"]) == ("ACTIVE", "ACTIVE")
    (address,) = zero["addresses"]["physnet1"]
    assert address.startswith("10.0.0.")
    (port,) = talk.openstack.json("port list", "--server", "Instance-0")
    normal = talk.openstack.json("port show", port["ID"])
    assert (normal["binding_vnic_type"], normal["binding_vif_type"]) == ("normal", "ovs")
    direct = talk.openstack.json("port show", "physnet1-vf2")
    assert (direct["device_id"], direct["binding_vif_type"]) == (two["id"], "hw_veb")


def test_a_port_is_hot_plugged_into_instance_1_and_out_again(talk: Talk) -> None:
    openstack, server = talk.openstack, talk.server
    spare = talk.ports[2]
    address = spare["fixed_ips"][0]["ip_address"]

    added = openstack.ok("server add port", "Instance-1", "physnet1-vf3")
    assert added.out == ""
    shown = openstack.json("server show", "Instance-1")
    assert sorted(shown["addresses"]["physnet1"]) == sorted([address, "10.0.0.3"])
    plugged = openstack.json("port show", "physnet1-vf3")
    assert (plugged["device_id"], plugged["binding_vif_type"]) == (server["id"], "hw_veb")

    removed = openstack.ok("server remove port", "Instance-1", "physnet1-vf3")
    assert removed.out == ""

    def unplugged() -> bool:
        port = openstack.json("port show", "physnet1-vf3")
        return bool(port["device_id"] == "" and port["binding_vif_type"] == "unbound")

    eventually(unplugged, "physnet1-vf3 unbound after `server remove port`")
    shown = openstack.json("server show", "Instance-1")
    assert shown["addresses"] == {"physnet1": ["10.0.0.3"]}


def test_hypervisors_images_and_flavors_are_listed(talk: Talk) -> None:
    openstack = talk.openstack
    hypervisors = openstack.json("hypervisor list")
    assert sorted((h["Hypervisor Hostname"], h["State"], h["Host IP"]) for h in hypervisors) == [
        ("sriov-1", "up", "127.0.0.1"),
        ("sriov-2", "up", "127.0.0.1"),
    ]
    shown = openstack.json("hypervisor show", "sriov-1")
    assert (shown["hypervisor_hostname"], shown["aggregates"]) == ("sriov-1", [])

    images = {i["Name"]: i["Status"] for i in openstack.json("image list")}
    assert images[IMAGE] == "active"
    assert any(name.startswith("cirros") for name in images)

    flavors = {f["Name"]: f for f in openstack.json("flavor list")}
    small = flavors["m1.small"]
    assert (small["RAM"], small["Disk"], small["VCPUs"], small["Is Public"]) == (2048, 20, 1, True)
    assert {"m1.tiny", "m1.small", "m1.medium"} <= set(flavors)


def test_a_server_that_is_not_there(talk: Talk) -> None:
    missing = talk.openstack("server show", "nope")
    assert missing.code != 0
    assert "No Server found for nope" in missing.err


def test_a_live_migration_is_refused_and_nothing_moves(talk: Talk) -> None:
    openstack = talk.openstack
    before = openstack.json("server show", "Instance-1")
    for extra in ((), ("--host", "sriov-2")):
        refused = openstack("server migrate", "--live-migration", *extra, "Instance-1")
        assert refused.code != 0
        assert "409" in refused.err
        assert "Live migration is not supported by sriovstack yet" in refused.err
    after = openstack.json("server show", "Instance-1")
    assert (after["status"], after["OS-EXT-SRV-ATTR:host"]) == (
        "ACTIVE",
        before["OS-EXT-SRV-ATTR:host"],
    )
