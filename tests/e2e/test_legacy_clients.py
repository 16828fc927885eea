"""The talk's ``local.sh`` and ``start-vms.sh`` run by the legacy ``neutron`` (python-neutronclient
9.0.0) and ``nova`` (python-novaclient 18) CLIs against a live ``sriovstack up`` on loopback, with
only the flag renames of tests/e2e/talk/README.md; then ``nova list`` as the talk shows it, a
hotplug with ``nova interface-attach``/``interface-detach``, the hypervisors, and the answers to
a live migration and to names that are not there.

Both CLIs run as subprocesses: they print deprecation notices, and their imports raise
DeprecationWarnings that this suite makes fatal in-process."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.processes import Run, console_script, quiet_env, running_up, sourced

TALK = Path(__file__).parent / "talk"
IMAGE = "Fedora-Cloud-Base-23-20151030.x86_64"
NAMESERVER = "192.0.2.53"  # in the test's own resolv.conf: the machine's may have none
COMMAND_TIMEOUT = 120.0
PATIENCE = 90.0
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHOn9Jf0yG5y6VDnLw2OZ7w3TO1uCw2m5n0dKQ7n6m1C stack@talk"
)
SSH_RULE = (
    "--protocol tcp --port-range-min 22 --port-range-max 22 --remote-ip-prefix 0.0.0.0/0 default"
)
ICMP_RULE = "--protocol icmp --remote-ip-prefix 0.0.0.0/0 default"

# (what the talk wrote, what runs instead, how many times it must be there)
FLAG_RENAMES = {
    "local.sh": [
        ("--pub_key=", "--pub-key=", 1),
        (
            "nova --os-project-name $i secgroup-add-rule default \\\n        tcp 22 22 0.0.0.0/0",
            f"neutron --os-project-name $i security-group-rule-create {SSH_RULE}",
            1,
        ),
        (
            "nova --os-project-name $i secgroup-add-rule default \\\n        icmp -1 -1 0.0.0.0/0",
            f"neutron --os-project-name $i security-group-rule-create {ICMP_RULE}",
            1,
        ),
    ],
    "start-vms.sh": [("--key_name", "--key-name", 2)],
}
# Places on the talk's DevStack machine, and where the test keeps each (under its directory).
PLACES = {
    "/opt/stack/.ssh/id_rsa.pub": "id_rsa.pub",
    "/opt/stack/devstack/openrc": "openrc",
    "/etc/resolv.conf": "resolv.conf",
}


class Shell:
    """Commands and scripts run as after ``. openrc admin demo``, in the test's directory."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self._env = env

    def __call__(self, *args: str) -> Run:
        done = subprocess.run(
            args,
            cwd=self.directory,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return Run(args, done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> str:
        run = self(*args)
        assert run.code == 0, f"{' '.join(args)} -> {run.code}:\n{run.out}\n{run.err}"
        return run.out

    def openstack(self, *args: str) -> Any:
        """``openstack ARGS... -f json``: for the test's own look at what the scripts made."""
        return json.loads(self.ok("openstack", *args, "-f", "json"))


def adapted(script: str, directory: Path) -> str:
    """The talk's ``script`` with the renames and places of tests/e2e/talk/README.md."""
    text = (TALK / script).read_text()
    for old, new, times in FLAG_RENAMES[script]:
        assert text.count(old) == times, f"{script}: {old!r} is not there {times} times"
        text = text.replace(old, new)
    for place, ours in PLACES.items():
        text = text.replace(place, str(directory / ours))
    return text


def prettytable(text: str) -> list[list[str]]:
    """The rows of a table the legacy CLIs print (``| a | b |``), the header first."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"not within {PATIENCE:g} s: {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    """``sriovstack up``, its openrc written by ``sriovstack openrc``, and the network and subnet
    DevStack's stack.sh makes before it runs local.sh."""
    for name in ("neutron", "nova", "openstack"):
        console_script(name)
    directory = tmp_path_factory.mktemp("legacy")
    base = quiet_env(directory / "home")
    base["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), base.get("PATH", "")])
    with running_up(["--state-dir", str(directory / "up")], base) as upped:
        facts = upped.facts()
        bare = Shell(directory, base)
        bare.ok("sriovstack", "openrc", "--state-dir", str(directory / "up"), "-o", "openrc")
        shell = Shell(directory, base | sourced(directory / "openrc", "admin", "demo"))
        (directory / "id_rsa.pub").write_text(PUBLIC_KEY + "\n")
        (directory / "resolv.conf").write_text(f"search example\nnameserver {NAMESERVER}\n")
        provider = (
            "--provider:network_type vlan --provider:physical_network physnet1 "
            "--provider:segmentation_id 2010"
        )
        shell.ok("neutron", "net-create", "physnet1", *provider.split())
        shell.ok("neutron", "subnet-create", "physnet1", "10.0.0.0/24", "--name", "provider_net")
        assert facts["users"]["admin"]["password"] == shell._env["OS_PASSWORD"]
        yield shell
        assert upped.stop() == 0, upped.err
        assert not any("Traceback" in line for line in upped.err), upped.err


@pytest.fixture(scope="module")
def scripts(shell: Shell) -> dict[str, Run]:
    """local.sh as DevStack runs it (after `. openrc admin demo`), then start-vms.sh; each with
    ``bash -e`` so that the first command to fail stops it."""
    ran = {}
    for script in ("local.sh", "start-vms.sh"):
        (shell.directory / script).write_text(adapted(script, shell.directory))
        run = shell("bash", "-e", script)
        assert run.code == 0, f"{script} -> {run.code}:\n{run.out}\n{run.err}"
        ran[script] = run
    return ran


def test_the_renames_and_places_are_the_only_changes(tmp_path: Path) -> None:
    for script in FLAG_RENAMES:
        undone = adapted(script, tmp_path)
        for place, ours in PLACES.items():
            undone = undone.replace(str(tmp_path / ours), place)
        for old, new, _ in FLAG_RENAMES[script]:
            undone = undone.replace(new, old)
        assert undone == (TALK / script).read_text()


def test_local_sh_adds_the_key_the_rules_the_nameserver_and_seven_ports(
    shell: Shell, scripts: dict[str, Run]
) -> None:
    assert "ERROR" not in scripts["local.sh"].err
    blob = base64.b64decode(PUBLIC_KEY.split()[1])
    fingerprint = ":".join(re.findall("..", hashlib.md5(blob).hexdigest()))
    keys = prettytable(shell.ok("nova", "keypair-list"))
    assert keys[0][:3] == ["Name", "Type", "Fingerprint"]
    assert [row[:3] for row in keys[1:]] == [["stack-ssh", "ssh", fingerprint]]

    for project in ("admin", "demo"):
        rules = shell.openstack(
            "--os-project-name", project, "security", "group", "rule", "list", "default"
        )
        ingress = {
            (r["IP Protocol"], r["Port Range"], r["IP Range"], r["Remote Security Group"])
            for r in rules
            if r["Direction"] == "ingress" and r["Ethertype"] == "IPv4"
        }
        group = shell.openstack(
            "--os-project-name", project, "security", "group", "show", "default"
        )
        assert ingress == {
            ("tcp", "22:22", "0.0.0.0/0", None),
            ("icmp", "", "0.0.0.0/0", None),
            (None, "", "0.0.0.0/0", group["id"]),  # Neutron's: from the group's own members
        }, project

    shown = shell.ok(
        "neutron", "subnet-show", "provider_net", "-F", "dns_nameservers", "-f", "json"
    )
    assert json.loads(shown) == {"dns_nameservers": [NAMESERVER]}  # -F: that field alone

    ports = shell.openstack("port", "list", "--long")
    direct = sorted(p["Name"] for p in ports if p["Name"].startswith("physnet1-vf"))
    assert direct == [f"physnet1-vf{n}" for n in range(1, 8)]
    for n in range(1, 8):
        vnic = shell.ok(
            "neutron", "port-show", f"physnet1-vf{n}", "-F", "binding:vnic_type", "-f", "value"
        )
        assert vnic.strip() == "direct"


def test_start_vms_sh_boots_the_talks_three_instances(
    shell: Shell, scripts: dict[str, Run]
) -> None:
    assert "ERROR" not in scripts["start-vms.sh"].err
    port_id = shell.ok("neutron", "port-show", "physnet1-vf1", "-F", "id", "-f", "value").strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", port_id)

    def listed() -> list[list[str]]:
        return prettytable(shell.ok("nova", "list"))

    def all_active() -> bool:
        rows = listed()[1:]
        return len(rows) == 3 and all(row[2] == "ACTIVE" for row in rows)

    eventually(all_active, "Instance-0, -1 and -2 ACTIVE in `nova list`")
    table = listed()
    assert table[0] == ["ID", "Name", "Status", "Task State", "Power State", "Networks"]
    # As the talk's slide: "Instance-1 ACTIVE - Running physnet1=10.0.0.3".
    rows = {row[1]: row[2:] for row in table[1:]}
    assert rows["Instance-1"] == ["ACTIVE", "-", "Running", "physnet1=10.0.0.3"]
    assert rows["Instance-2"] == ["ACTIVE", "-", "Running", "physnet1=10.0.0.4"]
    status, task, power, networks = rows["Instance-0"]
    assert (status, task, power) == ("ACTIVE", "-", "Running")
    assert re.fullmatch(r"physnet1=10\.0\.0\.\d+", networks)

    bound = shell.openstack("port", "show", "physnet1-vf1")
    assert (bound["binding_vif_type"], bound["binding_vnic_type"]) == ("hw_veb", "direct")
    assert bound["binding_vif_details"]["vlan"] == "2010"
    (listed_port,) = shell.openstack("port", "list", "--server", "Instance-0")
    normal = shell.openstack("port", "show", listed_port["ID"])
    assert (normal["binding_vnic_type"], normal["binding_vif_type"]) == ("normal", "ovs")


def test_nova_interface_attach_and_detach_hotplug_a_vf(
    shell: Shell, scripts: dict[str, Run]
) -> None:
    spare = shell.ok("neutron", "port-show", "physnet1-vf3", "-F", "id", "-f", "value").strip()
    shell.ok("nova", "interface-attach", "--port-id", spare, "Instance-1")

    def interfaces() -> dict[str, str]:
        table = prettytable(shell.ok("nova", "interface-list", "Instance-1"))
        header = table[0]
        state, port = header.index("Port State"), header.index("Port ID")
        return {row[port]: row[state] for row in table[1:]}

    eventually(lambda: interfaces().get(spare) == "ACTIVE", "the hot-plugged VF ACTIVE")
    assert len(interfaces()) == 2

    shell.ok("nova", "interface-detach", "Instance-1", spare)

    def unbound() -> bool:
        shown = shell.ok(
            "neutron", "port-show", spare, "-F", "device_id", "-F", "binding:vif_type", "-f", "json"
        )
        port = json.loads(shown)
        return bool(port["device_id"] == "" and port["binding:vif_type"] == "unbound")

    eventually(unbound, "physnet1-vf3 unbound after interface-detach")
    assert spare not in interfaces()


def test_nova_lists_the_hypervisors(shell: Shell, scripts: dict[str, Run]) -> None:
    table = prettytable(shell.ok("nova", "hypervisor-list"))
    assert table[0] == ["ID", "Hypervisor hostname", "State", "Status"]
    assert sorted(row[1:] for row in table[1:]) == [
        ["sriov-1", "up", "enabled"],
        ["sriov-2", "up", "enabled"],
    ]
    # By name: novaclient asks for the name as an ID first and searches only after a 404.
    shown = {row[0]: row[1] for row in prettytable(shell.ok("nova", "hypervisor-show", "sriov-1"))}
    assert (shown["hypervisor_hostname"], shown["state"]) == ("sriov-1", "up")
    assert shown["host_ip"] == "127.0.0.1"  # the agent's own address toward the API


def test_a_live_migration_is_refused_saying_why(shell: Shell, scripts: dict[str, Run]) -> None:
    refused = shell("nova", "live-migration", "Instance-1")
    assert refused.code != 0
    assert re.search(r"^ERROR \(\w+\): .*live migration.*\(HTTP 4\d\d\)", refused.err, re.M | re.I)
    rows = {row[1]: row[2] for row in prettytable(shell.ok("nova", "list"))[1:]}
    assert rows["Instance-1"] == "ACTIVE"


def test_names_that_are_not_there(shell: Shell, scripts: dict[str, Run]) -> None:
    server = shell("nova", "show", "nope")
    assert server.code != 0
    assert "No server with a name or ID of 'nope' exists." in server.err
    port = shell("neutron", "port-show", "nope")
    assert port.code != 0
    assert "Unable to find port with name or id 'nope'" in port.err
    network = shell("neutron", "net-show", "nope")
    assert "Unable to find network with name or id 'nope'" in network.err
