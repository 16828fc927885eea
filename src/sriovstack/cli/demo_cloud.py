"""Step 3 of ``sriovstack demo``: the talk's DevStack post-setup, over the real API.

``stack.sh`` here is the API server on loopback and sriov-1's agent joining it; then, as the
talk's users, the provider network physnet1 (VLAN 2010) and its subnet, the stack-ssh key pair
and the default group's rules for ssh and ping.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from rich.table import Table
from rich.text import Text

from sriovstack.cli.cloud import NEUTRON, NOVA, Cloud
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.cli.views import cell
from sriovstack.client import Client
from sriovstack.launch.demo import demo_cloud
from sriovstack.launch.demo_hosts import CONTROLLER, UPLINKS, demo_fleet
from sriovstack.services.dhcp import DHCP_OWNER

PHYSNET, VLAN = "physnet1", 2010
CIDR, GATEWAY, DHCP_IP = "10.0.0.0/24", "10.0.0.1", "10.0.0.2"
KEY_NAME = "stack-ssh"
NETWORK_FACTS = (
    "id",
    "name",
    "shared",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
)
RULES = (("tcp", 22, 22), ("icmp", None, None))  # nova secgroup-add-rule default ...


def demo_public_key() -> str:
    """A fixed ed25519 public key for stack-ssh: no guest is logged into, so no private key."""
    kind = b"ssh-ed25519"
    blob = hashlib.sha256(b"sriovstack demo stack-ssh").digest()
    wire = struct.pack(">I", len(kind)) + kind + struct.pack(">I", len(blob)) + blob
    return f"ssh-ed25519 {base64.b64encode(wire).decode()} stack@sriov-1"


def post_setup(stage: Stage, log: StepLog) -> None:
    _stack(stage, log)
    _provider_network(stage, log)
    _key_and_rules(stage, log)


def _stack(stage: Stage, log: StepLog) -> None:
    log.command("$ ./stack.sh        (the API server, a database, sriov-1's agent)")
    log.progress("starting the API server")
    fleet = demo_fleet()
    cloud = stage.stack.enter_context(demo_cloud(fleet))
    stage.cloud_ = cloud
    log.progress("sriov-1's agent registers its host and reports it")
    host = cloud.join(
        CONTROLLER, stage.kernel, fleet.host(CONTROLLER).sriov.config, uplink=UPLINKS[CONTROLLER]
    )
    stage.admin_ = _session(cloud.login("admin", "demo"))
    stage.demo_ = _session(cloud.login("demo", "demo"))
    seen = stage.admin.get("/v1/hosts")["hosts"]
    row: dict[str, Any] = next((h for h in seen if h["name"] == host.name), {})
    log.say(
        f"  API at {cloud.url} (SQLite in a temporary directory); host {host.name} "
        f"joined: {row.get('vfs')} VFs offered, agent {row.get('state')}"
    )
    log.facts["host"] = {"name": host.name, "vfs": row.get("vfs"), "state": row.get("state")}
    log.check(
        "sriov-1's agent reported its seven VFs and is up",
        row.get("vfs") == 7 and row.get("state") == "up",
        f"{row}",
    )


def _session(client: Client) -> Cloud:
    """The logged-in client as the CLI's cloud: compute calls carry our microversion."""
    assert client.session is not None
    return Cloud(client, client.session.project_id)


def _provider_network(stage: Stage, log: StepLog) -> None:
    admin = stage.admin
    log.command("$ . ./openrc admin demo")
    log.command(
        f"$ neutron net-create {PHYSNET} --shared --provider:network_type vlan "
        f"--provider:physical_network {PHYSNET} --provider:segmentation_id {VLAN}"
    )
    body = {
        "name": PHYSNET,
        "shared": True,
        "provider:network_type": "vlan",
        "provider:physical_network": PHYSNET,
        "provider:segmentation_id": VLAN,
    }
    network = admin.post(f"{NEUTRON}/networks", {"network": body})["network"]
    stage.network_ = network
    log.say(_fields(network, (*NETWORK_FACTS, "project_id")))
    log.command(f"$ neutron subnet-create {PHYSNET} {CIDR} --name provider_net --gateway {GATEWAY}")
    body = {
        "network_id": network["id"],
        "name": "provider_net",
        "ip_version": 4,
        "cidr": CIDR,
        "gateway_ip": GATEWAY,
    }
    subnet = admin.post(f"{NEUTRON}/subnets", {"subnet": body})["subnet"]
    log.say(_fields(subnet, ("id", "name", "cidr", "gateway_ip", "allocation_pools")))
    (dhcp, *_) = admin.get(f"{NEUTRON}/ports", device_owner=DHCP_OWNER)["ports"] or [{}]
    dhcp_ip = (dhcp.get("fixed_ips") or [{}])[0].get("ip_address")
    dhcp_host = dhcp.get("binding:host_id")
    log.say(f"  the DHCP port of {PHYSNET}: {dhcp_ip} on {dhcp_host} (q-dhcp)")
    log.facts["network"] = {key: network.get(key) for key in NETWORK_FACTS}
    log.facts["subnet"] = {"cidr": subnet["cidr"], "gateway_ip": subnet["gateway_ip"]}
    log.facts["dhcp_port"] = {"ip": dhcp_ip, "host": dhcp_host}
    got = (network.get("provider:network_type"), network.get("provider:physical_network"))
    log.check(
        "physnet1 is a VLAN 2010 provider network on physnet1",
        got == ("vlan", PHYSNET) and network.get("provider:segmentation_id") == VLAN,
        f"{got}",
    )
    log.check("its subnet is 10.0.0.0/24", subnet["cidr"] == CIDR, subnet["cidr"])
    log.check(
        "its DHCP port has 10.0.0.2 on sriov-1",
        (dhcp_ip, dhcp_host) == (DHCP_IP, CONTROLLER),
        f"{dhcp_ip} on {dhcp_host}",
    )


def _key_and_rules(stage: Stage, log: StepLog) -> None:
    demo = stage.demo
    log.command("$ . ./openrc demo demo")
    log.command("$ ssh-keygen -q -N '' -t ed25519 -f ~/.ssh/id_ed25519")
    log.command(f"$ nova keypair-add --pub_key=~/.ssh/id_ed25519.pub {KEY_NAME}")
    body = {"name": KEY_NAME, "public_key": demo_public_key()}
    keypair = demo.post(f"{NOVA}/os-keypairs", {"keypair": body})["keypair"]
    log.say(f"  {keypair['name']}  {keypair['fingerprint']}")
    log.facts["keypair"] = {"name": keypair["name"], "fingerprint": keypair["fingerprint"]}
    log.check("key pair stack-ssh is the demo user's", keypair["name"] == KEY_NAME)

    (group,) = demo.get(f"{NEUTRON}/security-groups", name="default")["security_groups"]
    for protocol, low, high in RULES:
        shown = f"{low} {high}" if low is not None else "-1 -1"
        log.command(f"$ nova secgroup-add-rule default {protocol} {shown} 0.0.0.0/0")
        rule = {
            "security_group_id": group["id"],
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": protocol,
            "port_range_min": low,
            "port_range_max": high,
            "remote_ip_prefix": "0.0.0.0/0",
        }
        demo.post(f"{NEUTRON}/security-group-rules", {"security_group_rule": rule})
    rules = demo.get(f"{NEUTRON}/security-group-rules", security_group_id=group["id"])
    ingress = [
        (r["protocol"], r["port_range_min"], r["port_range_max"], r["remote_ip_prefix"])
        for r in rules["security_group_rules"]
        if r["direction"] == "ingress" and r["remote_ip_prefix"] == "0.0.0.0/0"
    ]
    table = Table("Protocol", "Ports", "Remote", title="default: ingress from anywhere")
    for protocol, low, high, remote in ingress:
        ports = f"{low}-{high}" if low is not None else "any"
        table.add_row(Text(protocol), Text(ports), Text(remote))
    log.say(table)
    log.facts["rules"] = [list(r) for r in ingress]
    wanted = {(p, low, high, "0.0.0.0/0") for p, low, high in RULES}
    log.check("default lets in ssh (tcp 22) and ping (icmp)", wanted <= set(ingress))


def _fields(item: dict[str, Any], names: tuple[str, ...]) -> Table:
    table = Table("Field", "Value", show_header=True)
    for name in names:
        if name in item:
            table.add_row(Text(name), Text(cell(item[name])))
    return table
