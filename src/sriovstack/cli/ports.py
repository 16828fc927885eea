"""``sriovstack port``: Neutron ports, e.g. ``--vnic-type direct`` for a VF."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import (
    NETWORK,
    PORT,
    SECURITY_GROUP,
    SERVER,
    SUBNET,
    Cloud,
    Login,
    cloud_command,
    connect,
)
from sriovstack.cli.options import Json
from sriovstack.cli.views import emit, fields_table, key, rows_table, said

app = typer.Typer(no_args_is_help=True, help="Ports (Neutron): a VF port has --vnic-type direct.")

VNIC, PROFILE, HOST = "binding:vnic_type", "binding:profile", "binding:host_id"
VNIC_TYPES = (
    "normal",
    "direct",
    "direct-physical",
    "macvtap",
    "virtio-forwarder",
    "remote-managed",
)

NameOrId = Annotated[str, typer.Argument(metavar="NAME_OR_ID")]


@cloud_command(app, "create")
def create_port(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    network: Annotated[
        str, typer.Option("--network", metavar="NETWORK", help="The network's name or ID.")
    ],
    login: Login,
    vnic_type: Annotated[
        str,
        typer.Option(
            "--vnic-type",
            metavar="TYPE",
            help="direct (a VF), direct-physical (a whole PF), macvtap or normal.",
        ),
    ] = "normal",
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--binding-profile", metavar="KEY=VALUE", help="e.g. trusted=true. Repeatable."
        ),
    ] = None,
    fixed_ips: Annotated[
        list[str] | None,
        typer.Option("--fixed-ip", metavar="subnet=SUBNET,ip-address=IP", help="Repeatable."),
    ] = None,
    security_groups: Annotated[
        list[str] | None,
        typer.Option("--security-group", metavar="GROUP", help="Repeatable."),
    ] = None,
    disable_port_security: Annotated[
        bool,
        typer.Option("--disable-port-security", help="No spoof check and no security groups."),
    ] = False,
    json: Json = False,
) -> None:
    """Create a port; boot a server with it by `--nic port-id=`."""
    check.choice("--vnic-type", vnic_type, VNIC_TYPES)
    bound = check.binding_profile("--binding-profile", profile or [])
    wanted_ips = [
        check.key_values("--fixed-ip", text, ("subnet", "ip-address")) for text in fixed_ips or []
    ]
    for ip in wanted_ips:
        if "ip-address" in ip:
            check.ip_address("--fixed-ip", ip["ip-address"])
    body: dict[str, Any] = {"name": name, VNIC: vnic_type}
    if bound:
        body[PROFILE] = bound
    if disable_port_security:
        body["port_security_enabled"] = False
    with connect(login) as cloud:
        body["network_id"] = NETWORK.find_id(cloud, network)
        if wanted_ips:
            body["fixed_ips"] = [_fixed_ip(cloud, ip) for ip in wanted_ips]
        if security_groups:
            body["security_groups"] = [SECURITY_GROUP.find_id(cloud, g) for g in security_groups]
        port = cloud.post(PORT.path, {"port": body})["port"]
    emit(ctx, port, json, lambda: fields_table(port))


def _fixed_ip(cloud: Cloud, given: dict[str, str]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    if "subnet" in given:
        wanted["subnet_id"] = SUBNET.find_id(cloud, given["subnet"])
    if "ip-address" in given:
        wanted["ip_address"] = given["ip-address"]
    return wanted


def addresses(port: dict[str, Any]) -> str:
    return ", ".join(str(ip.get("ip_address")) for ip in port.get("fixed_ips") or [])


@cloud_command(app, "list")
def list_ports(
    ctx: typer.Context,
    login: Login,
    network: Annotated[
        str | None, typer.Option("--network", metavar="NETWORK", help="Only this network's.")
    ] = None,
    server: Annotated[
        str | None, typer.Option("--server", metavar="SERVER", help="Only this server's.")
    ] = None,
    json: Json = False,
) -> None:
    """Ports of the project, with their VNIC type, binding host and status."""
    with connect(login) as cloud:
        params: dict[str, str] = {}
        if network:
            params["network_id"] = NETWORK.find_id(cloud, network)
        if server:
            params["device_id"] = SERVER.find_id(cloud, server)
        ports = PORT.list(cloud, **params)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("MAC Address", key("mac_address")),
        ("Fixed IP Addresses", addresses),
        ("VNIC Type", key(VNIC)),
        ("Host", key(HOST)),
        ("Status", key("status")),
    ]
    emit(ctx, ports, json, lambda: rows_table(columns, ports))


@cloud_command(app, "show")
def show_port(ctx: typer.Context, port: NameOrId, login: Login, json: Json = False) -> None:
    """One port's fields, with its binding (host, VIF type, the VF in binding:profile)."""
    with connect(login) as cloud:
        found = PORT.find(cloud, port)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(app, "delete")
def delete_port(
    ctx: typer.Context,
    ports: Annotated[list[str], typer.Argument(metavar="NAME_OR_ID...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete ports (a port a server uses is refused)."""
    with connect(login) as cloud:
        gone = [PORT.delete(cloud, name) for name in ports]
    said(ctx, json, gone, "deleted " + ", ".join(f"port {g['name'] or g['id']}" for g in gone))
