"""``sriovstack network`` and ``sriovstack subnet``: Neutron networks and their subnets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import NETWORK, SUBNET, Login, cloud_command, connect
from sriovstack.cli.options import Json
from sriovstack.cli.views import emit, fields_table, key, rows_table, said
from sriovstack.domain.errors import InvalidInput

network_app = typer.Typer(no_args_is_help=True, help="Networks (Neutron): a VLAN on a physnet.")
subnet_app = typer.Typer(no_args_is_help=True, help="Subnets of networks (Neutron).")

TYPE = "provider:network_type"
PHYSNET = "provider:physical_network"
SEGMENT = "provider:segmentation_id"
NETWORK_TYPES = ("vlan", "flat")

NameOrId = Annotated[str, typer.Argument(metavar="NAME_OR_ID")]
NamesOrIds = Annotated[list[str], typer.Argument(metavar="NAME_OR_ID...")]


@cloud_command(network_app, "create")
def create_network(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    login: Login,
    network_type: Annotated[
        str | None,
        typer.Option("--provider-network-type", metavar="vlan|flat", help="The segment's type."),
    ] = None,
    physnet: Annotated[
        str | None,
        typer.Option("--provider-physical-network", metavar="PHYSNET", help="e.g. physnet1."),
    ] = None,
    segment: Annotated[
        int | None,
        typer.Option("--provider-segment", metavar="VLAN", help="The VLAN ID (1-4094)."),
    ] = None,
    share: Annotated[
        bool, typer.Option("--share", help="Let every project use the network.")
    ] = False,
    json: Json = False,
) -> None:
    """Create a network; provider attributes put it on a physnet (admins)."""
    if network_type is not None:
        check.choice("--provider-network-type", network_type, NETWORK_TYPES)
    if segment is not None:
        check.vlan_id("--provider-segment", segment)
        if network_type == "flat":
            raise InvalidInput("--provider-segment", "is only for vlan networks", segment)
    body = check.without_none(
        {"name": name, TYPE: network_type, PHYSNET: physnet, SEGMENT: segment}
    )
    if share:
        body["shared"] = True
    with connect(login) as cloud:
        network = cloud.post(NETWORK.path, {"network": body})["network"]
    emit(ctx, network, json, lambda: fields_table(network))


@cloud_command(network_app, "list")
def list_networks(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Networks the project can use."""
    with connect(login) as cloud:
        networks = NETWORK.list(cloud)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Type", key(TYPE)),
        ("Physnet", key(PHYSNET)),
        ("Segment", key(SEGMENT)),
        ("Shared", key("shared")),
        ("Subnets", key("subnets")),
    ]
    emit(ctx, networks, json, lambda: rows_table(columns, networks))


@cloud_command(network_app, "show")
def show_network(ctx: typer.Context, network: NameOrId, login: Login, json: Json = False) -> None:
    """One network's fields."""
    with connect(login) as cloud:
        found = NETWORK.find(cloud, network)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(network_app, "delete")
def delete_network(
    ctx: typer.Context, networks: NamesOrIds, login: Login, json: Json = False
) -> None:
    """Delete networks (with no ports left on them)."""
    with connect(login) as cloud:
        gone = [NETWORK.delete(cloud, name) for name in networks]
    said(ctx, json, gone, "deleted " + ", ".join(f"network {g['name'] or g['id']}" for g in gone))


@cloud_command(subnet_app, "create")
def create_subnet(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    network: Annotated[
        str, typer.Option("--network", metavar="NETWORK", help="The network's name or ID.")
    ],
    subnet_range: Annotated[
        str, typer.Option("--subnet-range", metavar="CIDR", help="e.g. 10.0.0.0/24.")
    ],
    login: Login,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", metavar="IP|none", help="Default: the range's first address."),
    ] = None,
    pools: Annotated[
        list[str] | None,
        typer.Option("--allocation-pool", metavar="start=IP,end=IP", help="Repeatable."),
    ] = None,
    nameservers: Annotated[
        list[str] | None, typer.Option("--dns-nameserver", metavar="IP", help="Repeatable.")
    ] = None,
    no_dhcp: Annotated[bool, typer.Option("--no-dhcp", help="Turn DHCP off.")] = False,
    json: Json = False,
) -> None:
    """Create a subnet on a network."""
    body = _subnet_body(subnet_range, gateway, pools or [], nameservers or [])
    body["name"] = name
    if no_dhcp:
        body["enable_dhcp"] = False
    with connect(login) as cloud:
        body["network_id"] = NETWORK.find_id(cloud, network)
        subnet = cloud.post(SUBNET.path, {"subnet": body})["subnet"]
    emit(ctx, subnet, json, lambda: fields_table(subnet))


def _subnet_body(
    subnet_range: str, gateway: str | None, pools: list[str], nameservers: list[str]
) -> dict[str, Any]:
    network = check.cidr("--subnet-range", subnet_range)
    body: dict[str, Any] = {"cidr": str(network), "ip_version": network.version}
    if gateway is not None:
        if gateway.lower() == "none":
            body["gateway_ip"] = None
        else:
            address = check.ip_address("--gateway", gateway)
            if address not in network:
                raise InvalidInput("--gateway", f"must be inside {network}", gateway)
            body["gateway_ip"] = str(address)
    if pools:
        body["allocation_pools"] = [_pool(text, network) for text in pools]
    if nameservers:
        body["dns_nameservers"] = [
            str(check.ip_address("--dns-nameserver", ns)) for ns in nameservers
        ]
    return body


def _pool(text: str, network: check.IpNetwork) -> dict[str, str]:
    given = check.key_values("--allocation-pool", text, ("start", "end"), required=("start", "end"))
    start = check.ip_address("--allocation-pool", given["start"])
    end = check.ip_address("--allocation-pool", given["end"])
    if start not in network or end not in network:
        raise InvalidInput("--allocation-pool", f"must be inside {network}", text)
    if start > end:  # type: ignore[operator]
        raise InvalidInput("--allocation-pool", "start must not be after end", text)
    return {"start": str(start), "end": str(end)}


@cloud_command(subnet_app, "list")
def list_subnets(
    ctx: typer.Context,
    login: Login,
    network: Annotated[
        str | None, typer.Option("--network", metavar="NETWORK", help="Only this network's.")
    ] = None,
    json: Json = False,
) -> None:
    """Subnets the project can use."""
    with connect(login) as cloud:
        params = {"network_id": NETWORK.find_id(cloud, network)} if network else {}
        subnets = SUBNET.list(cloud, **params)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Network", key("network_id")),
        ("Subnet", key("cidr")),
        ("Gateway", key("gateway_ip")),
        ("DHCP", key("enable_dhcp")),
    ]
    emit(ctx, subnets, json, lambda: rows_table(columns, subnets))


@cloud_command(subnet_app, "show")
def show_subnet(ctx: typer.Context, subnet: NameOrId, login: Login, json: Json = False) -> None:
    """One subnet's fields."""
    with connect(login) as cloud:
        found = SUBNET.find(cloud, subnet)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(subnet_app, "set")
def set_subnet(
    ctx: typer.Context,
    subnet: NameOrId,
    login: Login,
    nameservers: Annotated[
        list[str] | None,
        typer.Option("--dns-nameserver", metavar="IP", help="Add a name server. Repeatable."),
    ] = None,
    no_nameservers: Annotated[
        bool, typer.Option("--no-dns-nameservers", help="Remove every name server first.")
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    json: Json = False,
) -> None:
    """Change a subnet, e.g. add the host's name server (the talk's `subnet-update`)."""
    added = [str(check.ip_address("--dns-nameserver", ns)) for ns in nameservers or []]
    if not (added or no_nameservers or name is not None):
        raise InvalidInput("subnet set", "give --dns-nameserver, --no-dns-nameservers or --name")
    with connect(login) as cloud:
        found = SUBNET.find(cloud, subnet)
        changes: dict[str, Any] = {} if name is None else {"name": name}
        if added or no_nameservers:
            kept = [] if no_nameservers else list(found.get("dns_nameservers") or [])
            changes["dns_nameservers"] = kept + [ns for ns in added if ns not in kept]
        updated = cloud.put(f"{SUBNET.path}/{found['id']}", {"subnet": changes})["subnet"]
    emit(ctx, updated, json, lambda: fields_table(updated))


@cloud_command(subnet_app, "delete")
def delete_subnet(
    ctx: typer.Context, subnets: NamesOrIds, login: Login, json: Json = False
) -> None:
    """Delete subnets."""
    with connect(login) as cloud:
        gone = [SUBNET.delete(cloud, name) for name in subnets]
    said(ctx, json, gone, "deleted " + ", ".join(f"subnet {g['name'] or g['id']}" for g in gone))
