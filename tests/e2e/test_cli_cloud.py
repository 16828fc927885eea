"""The cloud commands against a real API server on loopback, from the talk's flow to refusals."""

from __future__ import annotations

import base64
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.running import Cli, Result
from tests.integration.api.cloud import ADMIN_PASSWORD, DEMO_PASSWORD, Cloud, running_cloud

from sriovstack.client import ApiError, Client
from sriovstack.domain.reporting import report_to_wire
from sriovstack.simulator.fleet import synthetic_report

FEDORA = "Fedora-Cloud-Base-23-20151030.x86_64"  # the talk's image
HOST = "sriov-1"
# Nobody listens on port 1: a command that sent anything would fail with "cannot reach".
NOWHERE = "http://127.0.0.1:1/identity"


def ssh_public_key(comment: str = "stack@devstack") -> str:
    """A well-formed ssh-ed25519 public key (SSH wire strings, base64), as ssh-keygen writes."""

    def wire(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    blob = wire(b"ssh-ed25519") + wire(bytes(range(32)))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    with running_cloud(f"sqlite:///{tmp_path}/db") as running:
        yield running


@pytest.fixture
def openrc(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """What ``. openrc admin demo`` exports, pointing at the test's cloud."""
    for name in ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_TENANT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OS_AUTH_URL", f"{cloud.url}/identity")
    monkeypatch.setenv("OS_USERNAME", "admin")
    monkeypatch.setenv("OS_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OS_PROJECT_NAME", "demo")
    return cloud


def needs(cloud: Cloud, *paths: str) -> None:
    """Skip, naming the endpoint, while a part of the API this test uses is not served yet."""
    admin = cloud.client("admin", "demo")
    for path in paths:
        try:
            admin.get(path)
        except ApiError as exc:
            if exc.status in (404, 405):
                pytest.skip(f"GET {path} answers {exc.status}: that part of the API is not done")
            raise


NETWORKS = "/networking/v2.0/networks"
SUBNETS = "/networking/v2.0/subnets"
PORTS = "/networking/v2.0/ports"
GROUPS = "/networking/v2.0/security-groups"
FLAVORS = "/compute/v2.1/flavors"
KEYPAIRS = "/compute/v2.1/os-keypairs"
IMAGES = "/image/v2/images"
HYPERVISORS = "/compute/v2.1/os-hypervisors"


def run(cli: Cli, line: str) -> Result:
    """A command that must succeed, written as a person types it (no quoting needed here)."""
    return cli.ok(*line.split())


def refused(result: Result, code: int, *words: str) -> str:
    """A refusal: the exit code, one error line holding ``words``, nothing on stdout."""
    line = result.error_line()
    assert result.code == code, line
    assert result.out == ""
    for word in words:
        assert word in line
    return line


def register_host(
    cli: Cli, cloud: Cloud, name: str = HOST, vfs: int = 7, *, trusted: bool = False
) -> Client:
    """``compute register`` and the host's agent reporting one X540 port with ``vfs`` VFs."""
    made = cli.ok("compute", "register", name, "--json").json()
    credentials = made["agent_credentials"]
    agent = Client(cloud.url)
    cloud.clients.append(agent)
    agent.login(credentials["user"], credentials["password"], credentials["project"])
    agent.put(
        f"/v1/hosts/{name}/inventory",
        report_to_wire(
            synthetic_report(
                name, pfs=1, vfs_per_pf=vfs, tags=(("trusted", "true"),) if trusted else ()
            )
        ),
    )
    return agent


def provider_network(cli: Cli, name: str = "physnet1", *, physnet: str = "physnet1") -> Any:
    return cli.ok(
        "network",
        "create",
        name,
        "--provider-network-type",
        "vlan",
        "--provider-physical-network",
        physnet,
        "--provider-segment",
        "2010",
        "--share",
        "--json",
    ).json()


def boot_catalog(cli: Cli, tmp_path: Path) -> None:
    """DevStack's m1.small, the talk's Fedora image and the stack-ssh key pair."""
    run(cli, "flavor create m1.small --id 2 --ram 2048 --vcpus 1 --disk 20")
    cli.ok("image", "create", FEDORA, "--public")
    key = tmp_path / "id_rsa.pub"
    key.write_text(ssh_public_key() + "\n")
    cli.ok("keypair", "create", "stack-ssh", "--public-key", str(key))


def boot(cli: Cli, name: str, port: str, *extra: str) -> Result:
    """The talk's ``nova boot``, in OSC's spelling."""
    line = f"server create --flavor m1.small --key-name stack-ssh --image {FEDORA}"
    return cli(*line.split(), "--nic", f"port-id={port}", name, *extra)


def report(agent: Client, server_id: str, status: str, fault: str | None = None) -> None:
    body = {"status": status} | ({"fault": fault} if fault else {})
    agent.put(f"/v1/hosts/{HOST}/servers/{server_id}/status", body)


# The talk's flow: . openrc admin demo; keypair; ssh and ping; a VF port; boot; nova list


def test_the_talks_flow_from_openrc_to_nova_list(cli: Cli, openrc: Cloud, tmp_path: Path) -> None:
    needs(openrc, NETWORKS, SUBNETS, PORTS, GROUPS, FLAVORS, KEYPAIRS, IMAGES)
    agent = register_host(cli, openrc)
    network = provider_network(cli)
    assert (network["provider:network_type"], network["provider:segmentation_id"]) == ("vlan", 2010)
    assert network["provider:physical_network"] == "physnet1"
    run(cli, "subnet create provider_net --network physnet1 --subnet-range 10.0.0.0/24")
    # neutron subnet-update --dns-nameserver $ns provider_net
    subnet = cli.ok("subnet", "set", "provider_net", "--dns-nameserver", "10.0.0.53", "--json")
    assert subnet.json()["dns_nameservers"] == ["10.0.0.53"]
    boot_catalog(cli, tmp_path)
    # nova secgroup-add-rule default tcp 22 22 0.0.0.0/0, and icmp -1 -1 0.0.0.0/0
    rule = "security group rule create default --remote-ip 0.0.0.0/0 --protocol"
    ssh = run(cli, f"{rule} tcp --dst-port 22 --json").json()
    assert (ssh["port_range_min"], ssh["port_range_max"], ssh["direction"]) == (22, 22, "ingress")
    run(cli, f"{rule} icmp")
    rules = cli.ok("security", "group", "rule", "list", "default", "--json").json()
    assert {r["protocol"] for r in rules if r["direction"] == "ingress"} >= {"tcp", "icmp"}
    # neutron port-create physnet1 --vnic-type direct --name physnet1-vf1
    cli.ok("port", "create", "physnet1-vf1", "--network", "physnet1", "--vnic-type", "direct")
    # port_id=`neutron port-show physnet1-vf1 -F id -f value`
    port_id = cli.ok("port", "show", "physnet1-vf1", "--json").json()["id"]

    server = boot(cli, "Instance-1", port_id, "--json").json()
    assert server["status"] == "BUILD"
    report(agent, server["id"], "ACTIVE")

    # nova list: ID  Name  Status  Task State  Power State  Networks
    listed = cli.ok("server", "list").out
    row = next(line for line in listed.splitlines() if "Instance-1" in line)
    assert server["id"] in row
    assert "ACTIVE" in row and "Running" in row
    assert "physnet1=10.0.0." in row
    (shown,) = cli.ok("server", "list", "--json").json()
    assert (shown["id"], shown["status"]) == (server["id"], "ACTIVE")
    bound = cli.ok("port", "show", port_id, "--json").json()
    assert bound["binding:host_id"] == HOST
    assert bound["binding:vif_type"] == "hw_veb"
    (vf,) = cli.ok("pci", "list", "--state", "allocated", "--json").json()
    assert (vf["owner"], vf["dev_type"], vf["physical_network"]) == (port_id, "type-VF", "physnet1")
    assert vf["address"] == bound["binding:profile"]["pci_slot"]
    (host,) = cli.ok("compute", "list", "--json").json()
    assert (host["name"], host["state"], host["free_devices"], host["vcpus_used"]) == (
        HOST,
        "up",
        6,
        1,
    )

    # The agent confirms once it has stopped the guest and reset the VF; --wait sees it go.
    confirm = f"/v1/hosts/{HOST}/servers/{server['id']}/deleted"
    timer = threading.Timer(1.0, lambda: agent.post(confirm, {}))
    timer.start()
    try:
        cli.ok("server", "delete", "Instance-1", "--wait", "--timeout", "60")
    finally:
        timer.join()
    assert cli.ok("server", "list", "--json").json() == []
    free = cli.ok("pci", "list", "--host", HOST, "--state", "available", "--json").json()
    assert len([d for d in free if d["dev_type"] == "type-VF"]) == 7


def test_server_create_wait_shows_progress_until_active(
    cli: Cli, openrc: Cloud, tmp_path: Path
) -> None:
    needs(openrc, PORTS, FLAVORS, KEYPAIRS, IMAGES)
    agent = register_host(cli, openrc, trusted=True)
    provider_network(cli)
    boot_catalog(cli, tmp_path)
    line = "port create vf --network physnet1 --vnic-type direct --binding-profile trusted=true"
    port = run(cli, f"{line} --json").json()
    assert port["binding:profile"] == {"trusted": True}

    def play_agent() -> None:
        # The agent's loop: see the server placed on its host, start it, say it runs.
        for _ in range(200):
            placed = agent.get(f"/v1/hosts/{HOST}/servers")["servers"]
            if placed:
                report(agent, placed[0]["id"], "ACTIVE")
                return
            time.sleep(0.05)

    playing = threading.Thread(target=play_agent)
    playing.start()
    try:
        result = boot(cli, "Instance-1", "vf", "--wait", "--json")
    finally:
        playing.join()

    assert result.code == 0, result.err
    assert result.json()["status"] == "ACTIVE"
    progress = result.err.splitlines()
    assert any("BUILD" in line for line in progress)
    assert "ACTIVE" in progress[-1]


def test_server_create_wait_exits_1_with_the_fault(cli: Cli, openrc: Cloud, tmp_path: Path) -> None:
    needs(openrc, PORTS, FLAVORS, KEYPAIRS, IMAGES)
    register_host(cli, openrc)  # its VFs are on physnet1 only
    provider_network(cli, "elsewhere", physnet="physnet2")
    boot_catalog(cli, tmp_path)
    cli.ok("port", "create", "vf", "--network", "elsewhere", "--vnic-type", "direct")

    result = boot(cli, "lost", "vf", "--wait")

    assert result.code == 1
    assert result.out == ""
    last = result.err.splitlines()[-1]
    assert last.startswith("sriovstack: error: server lost")
    assert "ERROR" in last and "No valid host was found" in last and "physnet2" in last


# Output for scripts


def test_json_output_parses_and_has_the_fields(cli: Cli, openrc: Cloud, tmp_path: Path) -> None:
    needs(openrc, SUBNETS, PORTS, GROUPS, FLAVORS, KEYPAIRS, IMAGES, HYPERVISORS)
    register_host(cli, openrc)
    network = provider_network(cli)
    boot_catalog(cli, tmp_path)
    run(
        cli,
        "subnet create provider_net --network physnet1 --subnet-range 10.0.0.0/24 --no-dhcp "
        "--allocation-pool start=10.0.0.10,end=10.0.0.20 --gateway 10.0.0.1",
    )
    run(
        cli,
        f"port create p --network {network['id']} --vnic-type direct "
        "--fixed-ip subnet=provider_net,ip-address=10.0.0.15",
    )

    (net,) = cli.ok("network", "list", "--json").json()
    assert {"id", "name", "provider:segmentation_id", "shared", "subnets"} <= set(net)
    (subnet,) = cli.ok("subnet", "list", "--network", "physnet1", "--json").json()
    assert subnet["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.20"}]
    assert subnet["enable_dhcp"] is False
    (port,) = cli.ok("port", "list", "--network", "physnet1", "--json").json()
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.15"}]
    assert port["binding:vnic_type"] == "direct"
    flavor = cli.ok("flavor", "show", "m1.small", "--json").json()
    assert (flavor["id"], flavor["ram"], flavor["vcpus"], flavor["disk"]) == ("2", 2048, 1, 20)
    assert [f["name"] for f in cli.ok("flavor", "list", "--json").json()] == ["m1.small"]
    image = cli.ok("image", "show", FEDORA, "--json").json()
    assert (image["name"], image["visibility"]) == (FEDORA, "public")
    (keypair,) = cli.ok("keypair", "list", "--json").json()
    assert keypair["name"] == "stack-ssh" and keypair["fingerprint"].count(":") == 15
    groups = cli.ok("security", "group", "list", "--json").json()
    assert "default" in {g["name"] for g in groups}
    (host,) = cli.ok("compute", "list", "--json").json()
    assert {"name", "availability_zone", "state", "enabled", "cpus", "free_devices"} <= set(host)
    assert cli.ok("compute", "show", HOST, "--json").json()["vfs_by_state"]["available"] == 7
    (hypervisor,) = cli.ok("hypervisor", "list", "--json").json()
    assert (hypervisor["hypervisor_hostname"], hypervisor["state"]) == (HOST, "up")
    shown = cli.ok("hypervisor", "show", HOST, "--json").json()
    (pf,) = shown["sriovstack:pci_devices"]
    assert (pf["physnet"], pf["free_vfs"]) == ("physnet1", 7)
    table = cli.ok("hypervisor", "show", HOST).out
    assert "sriovstack:pci_devices" in table and pf["address"] in table
    devices = cli.ok("pci", "list", "--json").json()
    assert {d["dev_type"] for d in devices} == {"type-PF", "type-VF"}
    vf = next(d for d in devices if d["dev_type"] == "type-VF")
    assert {
        "address",
        "parent",
        "vf_index",
        "physical_network",
        "numa_node",
        "state",
        "owner",
    } <= set(vf)


def test_the_flavor_property_asks_for_vfs_and_a_refused_one_leaves_no_flavor(
    cli: Cli, openrc: Cloud
) -> None:
    needs(openrc, FLAVORS)
    line = "flavor create m1.sriov --ram 2048 --vcpus 1 --property pci_passthrough:alias=x540vf:1"
    result = cli(*line.split())

    refused(result, 2, "x540vf", "(HTTP 400)")
    assert cli.ok("flavor", "list", "--json").json() == []


# Names and IDs


def test_names_and_ids_are_taken_wherever_an_id_is(cli: Cli, openrc: Cloud) -> None:
    needs(openrc, PORTS)
    network = provider_network(cli)

    by_name = cli.ok("network", "show", "physnet1", "--json").json()
    by_id = cli.ok("network", "show", network["id"], "--json").json()
    assert by_name["id"] == by_id["id"] == network["id"]
    cli.ok("port", "create", "vf", "--network", network["id"], "--vnic-type", "direct")
    assert [
        p["name"] for p in cli.ok("port", "list", "--network", "physnet1", "--json").json()
    ] == ["vf"]


def test_an_unknown_name_is_exit_3_saying_so(cli: Cli, openrc: Cloud) -> None:
    needs(openrc, PORTS)

    refused(cli("network", "show", "nosuch"), 3, "No network with a name or ID of 'nosuch' exists.")
    refused(cli("port", "delete", "nosuch"), 3, "No port with a name or ID of 'nosuch' exists.")
    refused(
        cli("port", "create", "p", "--network", "nosuch"),
        3,
        "No network with a name or ID of 'nosuch' exists.",
    )
    refused(cli("compute", "show", "nosuch"), 3, "No host with a name or ID of 'nosuch' exists.")


def test_a_shared_name_asks_for_the_id(cli: Cli, openrc: Cloud) -> None:
    first = cli.ok("network", "create", "twin", "--json").json()
    cli.ok("network", "create", "twin")

    refused(
        cli("network", "show", "twin"), 4, "More than one network named 'twin' exists: use its ID."
    )
    assert cli.ok("network", "show", first["id"], "--json").json()["id"] == first["id"]


# Refusals


def bad(ident: str, *args: str) -> Any:
    return pytest.param(list(args), id=ident)


LOCAL = [
    bad("vlan-5000", "network", "create", "n", "--provider-network-type", "vlan",
        "--provider-segment", "5000", "--provider-segment: must be a VLAN ID from 1 to 4094"),
    bad("flat-with-segment", "network", "create", "n", "--provider-network-type", "flat",
        "--provider-segment", "5", "--provider-segment: is only for vlan networks"),
    bad("network-type", "network", "create", "n", "--provider-network-type", "vxlan",
        "--provider-network-type: must be one of vlan, flat"),
    bad("host-bits", "subnet", "create", "s", "--network", "n", "--subnet-range", "10.0.0.1/24",
        "--subnet-range: must be a network in CIDR notation, e.g. 10.0.0.0/24"),
    bad("gateway-outside", "subnet", "create", "s", "--network", "n", "--subnet-range",
        "10.0.0.0/24", "--gateway", "10.1.0.1", "--gateway: must be inside 10.0.0.0/24"),
    bad("pool-shape", "subnet", "create", "s", "--network", "n", "--subnet-range", "10.0.0.0/24",
        "--allocation-pool", "10.0.0.2-10.0.0.9", "--allocation-pool: must be start=...,end=..."),
    bad("vnic-type", "port", "create", "p", "--network", "n", "--vnic-type", "sriov",
        "--vnic-type: must be one of normal, direct"),
    bad("trusted", "port", "create", "p", "--network", "n", "--binding-profile", "trusted=maybe",
        "--binding-profile: trusted must be true or false"),
    bad("fixed-ip", "port", "create", "p", "--network", "n", "--fixed-ip", "ip-address=10.0.0.300",
        "--fixed-ip: must be an IPv4 or IPv6 address"),
    bad("dst-port", "security", "group", "rule", "create", "default", "--protocol", "tcp",
        "--dst-port", "70000", "--dst-port: ports must be from 1 to 65535"),
    bad("dst-port-icmp", "security", "group", "rule", "create", "default", "--protocol", "icmp",
        "--dst-port", "22", "--dst-port: needs --protocol tcp"),
    bad("remote-ip", "security", "group", "rule", "create", "default", "--remote-ip", "0.0.0/0",
        "--remote-ip: must be a network in CIDR notation"),
    bad("nic", "server", "create", "s", "--flavor", "f", "--image", "i", "--nic", "port=x",
        "--nic: must be port-id=...,net-id=..."),
    bad("ram", "flavor", "create", "f", "--ram", "0", "--vcpus", "1", "--ram: must be 1 or more"),
    bad("property", "image", "create", "i", "--property", "novalue",
        "--property: must be key=value"),
    bad("public-key", "keypair", "create", "k", "--public-key", "/nonexistent/id_rsa.pub",
        "--public-key: cannot read /nonexistent/id_rsa.pub"),
    bad("pci-state", "pci", "list", "--state", "busy", "--state: must be one of available"),
]  # fmt: skip


@pytest.mark.parametrize("args", LOCAL)
def test_bad_input_is_refused_before_anything_is_sent(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    *command, words = args
    credentials = {"OS_AUTH_URL": NOWHERE, "OS_USERNAME": "admin", "OS_PASSWORD": "x"}
    for name, value in (credentials | {"OS_PROJECT_NAME": "demo"}).items():
        monkeypatch.setenv(name, value)

    refused(cli(*command), 2, words)


def test_missing_credentials_name_the_variable(
    cli: Cli, openrc: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OS_AUTH_URL")
    refused(cli("network", "list"), 2, "OS_AUTH_URL is not set", "--os-auth-url")
    monkeypatch.setenv("OS_AUTH_URL", f"{openrc.url}/identity/v3")
    monkeypatch.delenv("OS_PASSWORD")
    refused(cli("network", "list"), 2, "OS_PASSWORD is not set")
    # Options win over the environment; OS_TENANT_NAME stands in for OS_PROJECT_NAME.
    monkeypatch.delenv("OS_PROJECT_NAME")
    monkeypatch.setenv("OS_TENANT_NAME", "demo")
    assert cli.ok("network", "list", "--os-password", ADMIN_PASSWORD, "--json").json() == []


def test_the_apis_refusals_keep_its_message_and_map_to_exit_codes(
    cli: Cli, openrc: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_demo = ("--os-username", "demo", "--os-password", DEMO_PASSWORD)
    refused(cli("compute", "list", *as_demo), 7, "needs the admin role", "(HTTP 403)")
    refused(cli("pci", "list", *as_demo), 7, "(HTTP 403)")
    refused(cli("network", "list", "--os-password", "wrong"), 7, "login as admin", "(HTTP 401)")
    cli.ok("compute", "register", HOST)
    refused(cli("compute", "register", HOST), 4, "already registered", "(HTTP 409)")
    refused(cli("compute", "register", "a/b"), 2, "name", "(HTTP 400)")
    monkeypatch.setenv("OS_AUTH_URL", NOWHERE)
    refused(cli("network", "list"), 1, "cannot reach the API at http://127.0.0.1:1")


def test_compute_disable_and_enable(cli: Cli, openrc: Cloud) -> None:
    register_host(cli, openrc)

    off = cli.ok("compute", "disable", HOST, "--reason", "maintenance", "--json").json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "maintenance")
    assert "disabled (maintenance)" in cli.ok("compute", "list").out
    assert cli.ok("compute", "enable", HOST, "--json").json()["enabled"] is True


def test_register_prints_the_agent_credentials_once(cli: Cli, openrc: Cloud) -> None:
    out = cli.ok("compute", "register", HOST).out

    assert "shown this once" in out
    assert "agent-sriov-1" in out
    assert "agent_credentials" not in cli.ok("compute", "show", HOST, "--json").json()
