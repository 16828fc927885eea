"""``sriovstack security group [rule]``: Neutron security groups and rules, as in OSC."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import NEUTRON, SECURITY_GROUP, Login, cloud_command, connect
from sriovstack.cli.options import Json
from sriovstack.cli.views import emit, fields_table, key, rows_table, said
from sriovstack.domain.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Security groups and their rules.")
group_app = typer.Typer(no_args_is_help=True, help="Security groups (Neutron).")
rule_app = typer.Typer(no_args_is_help=True, help="Rules of a security group.")
app.add_typer(group_app, name="group")
group_app.add_typer(rule_app, name="rule")

RULES = f"{NEUTRON}/security-group-rules"
PORTED = ("tcp", "udp", "sctp", "udplite", "dccp")  # protocols whose rules take port ranges
ICMP = ("icmp", "icmpv6", "ipv6-icmp")

Group = Annotated[str, typer.Argument(metavar="GROUP", help="The group's name or ID.")]


@cloud_command(group_app, "create")
def create_group(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    login: Login,
    description: Annotated[str | None, typer.Option("--description")] = None,
    json: Json = False,
) -> None:
    """Create a security group (it starts with egress rules only)."""
    body = check.without_none({"name": name, "description": description})
    with connect(login) as cloud:
        group = cloud.post(SECURITY_GROUP.path, {"security_group": body})["security_group"]
    emit(ctx, group, json, lambda: fields_table(group))


@cloud_command(group_app, "list")
def list_groups(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Security groups of the project (every project's for an admin)."""
    with connect(login) as cloud:
        groups = SECURITY_GROUP.list(cloud)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Description", key("description")),
        ("Project", key("project_id")),
    ]
    emit(ctx, groups, json, lambda: rows_table(columns, groups))


@cloud_command(group_app, "show")
def show_group(ctx: typer.Context, group: Group, login: Login, json: Json = False) -> None:
    """One security group with its rules."""
    with connect(login) as cloud:
        found = SECURITY_GROUP.find(cloud, group)
    rules = found.get("security_group_rules") or []
    emit(
        ctx,
        found,
        json,
        lambda: fields_table(found, {"security_group_rules": lambda _: f"{len(rules)} rules"}),
    )


@cloud_command(group_app, "delete")
def delete_group(
    ctx: typer.Context,
    groups: Annotated[list[str], typer.Argument(metavar="GROUP...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete security groups."""
    with connect(login) as cloud:
        gone = [SECURITY_GROUP.delete(cloud, name) for name in groups]
    said(ctx, json, gone, "deleted " + ", ".join(f"security group {g['name']}" for g in gone))


@cloud_command(rule_app, "create")
def create_rule(
    ctx: typer.Context,
    group: Group,
    login: Login,
    protocol: Annotated[
        str | None,
        typer.Option("--protocol", metavar="PROTO", help="tcp, udp, icmp, ... (default: any)."),
    ] = None,
    dst_port: Annotated[
        str | None, typer.Option("--dst-port", metavar="PORT[:PORT]", help="For tcp and udp.")
    ] = None,
    icmp_type: Annotated[int | None, typer.Option("--icmp-type", metavar="TYPE")] = None,
    icmp_code: Annotated[int | None, typer.Option("--icmp-code", metavar="CODE")] = None,
    ingress: Annotated[
        bool, typer.Option("--ingress/--egress", help="The direction (default: ingress).")
    ] = True,
    remote_ip: Annotated[
        str | None, typer.Option("--remote-ip", metavar="CIDR", help="e.g. 0.0.0.0/0.")
    ] = None,
    remote_group: Annotated[
        str | None, typer.Option("--remote-group", metavar="GROUP", help="Members of a group.")
    ] = None,
    ethertype: Annotated[str | None, typer.Option("--ethertype", metavar="IPv4|IPv6")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    json: Json = False,
) -> None:
    """Allow traffic, e.g. ssh: `--protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0`."""
    if remote_ip is not None and remote_group is not None:
        raise InvalidInput("--remote-group", "give --remote-ip or --remote-group, not both")
    body = _rule_body(protocol, dst_port, icmp_type, icmp_code, remote_ip, ethertype)
    body.update(direction="ingress" if ingress else "egress")
    if description is not None:
        body["description"] = description
    with connect(login) as cloud:
        body["security_group_id"] = SECURITY_GROUP.find_id(cloud, group)
        if remote_group is not None:
            body["remote_group_id"] = SECURITY_GROUP.find_id(cloud, remote_group)
        rule = cloud.post(RULES, {"security_group_rule": body})["security_group_rule"]
    emit(ctx, rule, json, lambda: fields_table(rule))


def _rule_body(
    protocol: str | None,
    dst_port: str | None,
    icmp_type: int | None,
    icmp_code: int | None,
    remote_ip: str | None,
    ethertype: str | None,
) -> dict[str, Any]:
    proto = None if protocol is None or protocol.lower() == "any" else protocol.lower()
    body: dict[str, Any] = {"protocol": proto}
    if dst_port is not None:
        if proto not in PORTED:
            raise InvalidInput("--dst-port", f"needs --protocol {', '.join(PORTED)}", dst_port)
        body["port_range_min"], body["port_range_max"] = check.port_range("--dst-port", dst_port)
    if icmp_type is not None or icmp_code is not None:
        if proto not in ICMP:
            raise InvalidInput("--icmp-type", "needs --protocol icmp or icmpv6")
        if icmp_type is None:
            raise InvalidInput("--icmp-code", "needs --icmp-type")
        for option, value in (("--icmp-type", icmp_type), ("--icmp-code", icmp_code)):
            if value is not None and not 0 <= value <= 255:
                raise InvalidInput(option, "must be from 0 to 255", value)
        body["port_range_min"], body["port_range_max"] = icmp_type, icmp_code
    version = None
    if remote_ip is not None:
        network = check.cidr("--remote-ip", remote_ip)
        version = f"IPv{network.version}"
        body["remote_ip_prefix"] = str(network)
    if ethertype is not None:
        check.choice("--ethertype", ethertype, ("IPv4", "IPv6"))
        if version is not None and version != ethertype:
            raise InvalidInput("--ethertype", f"is {ethertype} but --remote-ip is {version}")
    body["ethertype"] = ethertype or version or "IPv4"
    return check.without_none(body)


@cloud_command(rule_app, "list")
def list_rules(
    ctx: typer.Context,
    login: Login,
    group: Annotated[
        str | None, typer.Argument(metavar="[GROUP]", help="Only this group's rules.")
    ] = None,
    json: Json = False,
) -> None:
    """Security group rules: direction, protocol, ports and remote."""
    with connect(login) as cloud:
        params = {"security_group_id": SECURITY_GROUP.find_id(cloud, group)} if group else {}
        rules: list[dict[str, Any]] = cloud.get(RULES, **params)["security_group_rules"]
    columns = [
        ("ID", key("id")),
        ("Direction", key("direction")),
        ("Ethertype", key("ethertype")),
        ("Protocol", lambda r: r.get("protocol") or "any"),
        ("Port Range", _ports),
        ("Remote", lambda r: r.get("remote_ip_prefix") or r.get("remote_group_id")),
        ("Group", key("security_group_id")),
    ]
    emit(ctx, rules, json, lambda: rows_table(columns, rules))


def _ports(rule: Any) -> str:
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None and high is None:
        return "any"
    return str(low) if low == high else f"{low}:{high}"


@cloud_command(rule_app, "delete")
def delete_rule(
    ctx: typer.Context,
    rules: Annotated[list[str], typer.Argument(metavar="RULE_ID...")],
    login: Login,
    json: Json = False,
) -> None:
    """Delete security group rules by ID."""
    with connect(login) as cloud:
        for rule in rules:
            cloud.delete(f"{RULES}/{rule}")
    said(ctx, json, rules, "deleted " + ", ".join(f"rule {r}" for r in rules))
