"""``sriovstack compute``, ``hypervisor`` and ``pci list``: the cloud's hosts and their devices."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Group
from rich.text import Text

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import HYPERVISOR, Cloud, Login, NoSuch, cloud_command, connect
from sriovstack.cli.options import Json
from sriovstack.cli.render import print_json
from sriovstack.cli.views import emit, fields_table, key, out, rows_table
from sriovstack.client import ApiError

compute_app = typer.Typer(
    no_args_is_help=True, help="Compute hosts of the cloud: register, list, enable, disable."
)
hypervisor_app = typer.Typer(no_args_is_help=True, help="Hypervisors (Nova) and their PCI devices.")

HOSTS = "/v1/hosts"
PCI_DEVICES = "sriovstack:pci_devices"
DEVICE_STATES = ("available", "claimed", "allocated", "unavailable", "unclaimable", "removed")

Host = Annotated[str, typer.Argument(metavar="HOST", help="The host's name.")]


def _used(used: str, total: str) -> Any:
    return lambda h: f"{h.get(used) or 0}/{h.get(total) if h.get(total) is not None else '?'}"


def _enabled(host: dict[str, Any]) -> str:
    if host.get("enabled"):
        return "enabled"
    reason = host.get("disabled_reason")
    return f"disabled ({reason})" if reason else "disabled"


@cloud_command(compute_app, "list")
def list_hosts(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Every host: zone, agent up or down, enabled, vCPUs and RAM used, free devices (admins)."""
    with connect(login) as cloud:
        hosts: list[dict[str, Any]] = cloud.get(HOSTS)["hosts"]
    columns = [
        ("Name", key("name")),
        ("Zone", key("availability_zone")),
        ("State", key("state")),
        ("Status", _enabled),
        ("vCPUs used", _used("vcpus_used", "cpus")),
        ("RAM used (MiB)", _used("memory_mib_used", "memory_mib")),
        ("PFs", key("pfs")),
        ("VFs", key("vfs")),
        ("Free devices", key("free_devices")),
    ]
    emit(ctx, hosts, json, lambda: rows_table(columns, hosts))


@cloud_command(compute_app, "show")
def show_host(ctx: typer.Context, host: Host, login: Login, json: Json = False) -> None:
    """One host with its VFs counted by state."""
    with connect(login) as cloud:
        found = _host(cloud, host)
    emit(ctx, found, json, lambda: fields_table(found))


@cloud_command(compute_app, "register")
def register_host(ctx: typer.Context, host: Host, login: Login, json: Json = False) -> None:
    """Register a host; prints its agent's credentials, which are shown this once (admins)."""
    with connect(login) as cloud:
        made: dict[str, Any] = cloud.post(HOSTS, {"name": host})["host"]
    if json:
        print_json(out(ctx), made)
        return
    shown = {k: v for k, v in made.items() if k != "agent_credentials"}
    creds = made.get("agent_credentials") or {}
    note = Text(
        f"The agent's credentials, shown this once: give them to the agent on {host} now.\n",
        style="bold",
    )
    for name in ("user", "password", "project"):
        note.append(f"  {name}: {creds.get(name, '-')}\n")
    out(ctx).print(Group(fields_table(shown), note))


@cloud_command(compute_app, "disable")
def disable_host(
    ctx: typer.Context,
    host: Host,
    login: Login,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why, e.g. maintenance.")
    ] = "",
    json: Json = False,
) -> None:
    """Take a host out of scheduling; servers on it keep running (admins)."""
    with connect(login) as cloud:
        changed = _change(cloud, host, {"enabled": False, "disabled_reason": reason})
    emit(ctx, changed, json, lambda: fields_table(changed))


@cloud_command(compute_app, "enable")
def enable_host(ctx: typer.Context, host: Host, login: Login, json: Json = False) -> None:
    """Put a host back into scheduling (admins)."""
    with connect(login) as cloud:
        changed = _change(cloud, host, {"enabled": True})
    emit(ctx, changed, json, lambda: fields_table(changed))


def _host(cloud: Cloud, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = cloud.get(f"{HOSTS}/{quote(name, safe='')}")["host"]
    except ApiError as exc:
        if exc.status == 404:
            raise NoSuch("host", name) from None
        raise
    return found


def _change(cloud: Cloud, name: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        changed: dict[str, Any] = cloud.patch(f"{HOSTS}/{quote(name, safe='')}", body)["host"]
    except ApiError as exc:
        if exc.status == 404:
            raise NoSuch("host", name) from None
        raise
    return changed


@cloud_command(hypervisor_app, "list")
def list_hypervisors(ctx: typer.Context, login: Login, json: Json = False) -> None:
    """Hypervisors as Nova lists them (admins)."""
    with connect(login) as cloud:
        found = HYPERVISOR.list(cloud)
    columns = [
        ("ID", key("id")),
        ("Hypervisor Hostname", key("hypervisor_hostname")),
        ("Hypervisor Type", key("hypervisor_type")),
        ("Host IP", key("host_ip")),
        ("State", key("state")),
        ("Status", key("status")),
        ("vCPUs used", _used("vcpus_used", "vcpus")),
        ("RAM used (MiB)", _used("memory_mb_used", "memory_mb")),
    ]
    emit(ctx, found, json, lambda: rows_table(columns, found))


@cloud_command(hypervisor_app, "show")
def show_hypervisor(
    ctx: typer.Context,
    hypervisor: Annotated[str, typer.Argument(metavar="NAME_OR_ID")],
    login: Login,
    json: Json = False,
) -> None:
    """One hypervisor, with its PFs and their VFs by state when the server reports them."""
    with connect(login) as cloud:
        listed = HYPERVISOR.find(cloud, hypervisor)
        # A listing may leave out the PCI devices: show it again by its ID for them.
        found = HYPERVISOR.show(cloud, str(listed["id"]))
    emit(ctx, found, json, lambda: _hypervisor_view(found))


def _hypervisor_view(found: dict[str, Any]) -> Any:
    devices = found.get(PCI_DEVICES)
    table = fields_table(found, {PCI_DEVICES: lambda d: f"{len(d or [])} PFs (below)"})
    if devices is None:
        return table
    columns = [
        ("Address", key("address")),
        ("Netdev", key("netdev")),
        ("Physnet", key("physnet")),
        ("NUMA", key("numa_node")),
        ("VFs", _used("num_vfs", "total_vfs")),
        ("Free VFs", key("free_vfs")),
        ("VFs by state", _by_state),
    ]
    return Group(table, rows_table(columns, devices, title=PCI_DEVICES, title_justify="left"))


def _by_state(device: dict[str, Any]) -> str:
    counts = device.get("vfs_by_state") or {}
    return ", ".join(f"{state} {n}" for state, n in counts.items() if n) or "-"


def pci_list(
    ctx: typer.Context,
    login: Login,
    host: Annotated[str | None, typer.Option("--host", metavar="HOST", help="Only its.")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", metavar="STATE", help=f"Only: {', '.join(DEVICE_STATES)}."),
    ] = None,
    json: Json = False,
) -> None:
    """Every PF and VF the cloud's hosts offer, with its state and owner (from the API server).

    Columns: host, PCI address, PF or VF, parent PF, VF index, physnet, NUMA node, state, owner.
    """
    if state is not None:
        check.choice("--state", state, DEVICE_STATES)
    params = check.without_none({"host": host, "state": state})
    with connect(login) as cloud:
        try:
            devices: list[dict[str, Any]] = cloud.get("/v1/pci-devices", **params)["pci_devices"]
        except ApiError as exc:
            if exc.status == 404 and host is not None:
                raise NoSuch("host", host) from None
            raise
    columns = [
        ("Host", key("host")),
        ("Address", key("address")),
        ("Type", lambda d: str(d.get("dev_type") or "").removeprefix("type-")),
        ("Parent", _parent),
        ("VF", key("vf_index")),
        ("Physnet", key("physical_network")),
        ("NUMA", key("numa_node")),
        ("State", key("state")),
        ("Owner", key("owner")),
    ]
    emit(ctx, devices, json, lambda: rows_table(columns, devices))


def _parent(device: dict[str, Any]) -> str | None:
    parent = device.get("parent")
    if not parent:
        return None
    ifname = device.get("parent_ifname")
    return f"{parent} ({ifname})" if ifname else str(parent)
