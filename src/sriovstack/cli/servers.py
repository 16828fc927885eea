"""``sriovstack server``: boot servers with VF ports (``--nic port-id=``), list, show, delete."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from sriovstack.cli import arguments as check
from sriovstack.cli.cloud import (
    FLAVOR,
    IMAGE,
    NETWORK,
    PORT,
    SERVER,
    Cloud,
    Login,
    cloud_command,
    connect,
)
from sriovstack.cli.options import Json
from sriovstack.cli.views import cell, emit, err, fields_table, key, rows_table, said
from sriovstack.client import ApiError
from sriovstack.domain.errors import InvalidInput, SriovstackError

app = typer.Typer(no_args_is_help=True, help="Servers (Nova): VMs, with VFs through their ports.")

TASK, POWER = "OS-EXT-STS:task_state", "OS-EXT-STS:power_state"
POWER_STATES = {
    0: "NOSTATE",
    1: "Running",
    3: "Paused",
    4: "Shutdown",
    6: "Crashed",
    7: "Suspended",
}
SETTLED = ("ACTIVE", "ERROR")  # what OSC's --wait stops at
FIRST_POLL, LONGEST_POLL = 0.1, 2.0  # quick at first: a boot is often settled within a second
PROGRESS_EVERY = 10.0  # seconds between "still waiting" lines when nothing changes

NameOrId = Annotated[str, typer.Argument(metavar="NAME_OR_ID")]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until it is done, showing progress.")]
Timeout = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="How long --wait waits.")
]


class ServerFailed(SriovstackError):
    """A server went to ERROR while we waited for it."""


class WaitTimedOut(SriovstackError):
    """``--wait`` gave up."""


def networks(server: dict[str, Any]) -> str:
    """The addresses as ``nova list`` shows them: ``net=addr, addr; net2=addr``."""
    found = server.get("addresses") or {}
    return "; ".join(
        f"{net}=" + ", ".join(str(a.get("addr")) for a in addrs)
        for net, addrs in sorted(found.items())
    )


def power(server: dict[str, Any]) -> str:
    state = server.get(POWER)
    return POWER_STATES.get(state, cell(state)) if isinstance(state, int) else cell(state)


@cloud_command(app, "create")
def create_server(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    flavor: Annotated[str, typer.Option("--flavor", metavar="FLAVOR", help="Name or ID.")],
    image: Annotated[str, typer.Option("--image", metavar="IMAGE", help="Name or ID.")],
    login: Login,
    key_name: Annotated[str | None, typer.Option("--key-name", metavar="KEYPAIR")] = None,
    nics: Annotated[
        list[str] | None,
        typer.Option(
            "--nic",
            metavar="port-id=PORT|net-id=NETWORK",
            help="A NIC on a port (a VF with a direct port) or a network. Repeatable.",
        ),
    ] = None,
    zone: Annotated[str | None, typer.Option("--availability-zone", metavar="ZONE")] = None,
    wait: Wait = False,
    timeout: Timeout = 600.0,
    json: Json = False,
) -> None:
    """Boot a server, e.g. the talk's `--flavor m1.small --nic port-id=$port_id Instance-1`."""
    wanted = [_nic(text) for text in nics or []]
    if any(kind in ("none", "auto") for kind, _ in wanted) and len(wanted) > 1:
        raise InvalidInput("--nic", "none and auto cannot be combined with other NICs")
    if timeout < 0:
        raise InvalidInput("--timeout", "must be 0 or more seconds", timeout)
    body: dict[str, Any] = {"name": name}
    if key_name:
        body["key_name"] = key_name
    if zone:
        body["availability_zone"] = zone
    with connect(login) as cloud:
        body["flavorRef"] = FLAVOR.find_id(cloud, flavor)
        body["imageRef"] = IMAGE.find_id(cloud, image)
        if wanted:
            body["networks"] = _networks(cloud, wanted)
        server = cloud.post(SERVER.path, {"server": body})["server"]
        if wait:
            server = wait_until_settled(cloud, err(ctx), server, timeout)
    emit(ctx, server, json, lambda: show_fields(server))


def _nic(text: str) -> tuple[str, str]:
    if text in ("none", "auto"):
        return text, ""
    given = check.key_values("--nic", text, ("port-id", "net-id"))
    if len(given) != 1:
        raise InvalidInput("--nic", "give port-id=... or net-id=..., not both", text)
    ((kind, value),) = given.items()
    return kind, value


def _networks(cloud: Cloud, wanted: list[tuple[str, str]]) -> Any:
    if wanted[0][0] in ("none", "auto"):
        return wanted[0][0]
    return [
        {"port": PORT.find_id(cloud, value)}
        if kind == "port-id"
        else {"uuid": NETWORK.find_id(cloud, value)}
        for kind, value in wanted
    ]


def wait_until_settled(
    cloud: Cloud, progress: Console, server: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Poll until ACTIVE (returned) or ERROR (ServerFailed with the fault); progress on stderr."""

    def settled(current: dict[str, Any]) -> bool:
        return current.get("status") in SETTLED

    server = _poll(cloud, progress, server, timeout, settled)
    if server.get("status") == "ERROR":
        fault = (server.get("fault") or {}).get("message") or "no fault recorded"
        raise ServerFailed(f"server {server['name']} ({server['id']}) went to ERROR: {fault}")
    return server


def _poll(
    cloud: Cloud,
    progress: Console,
    server: dict[str, Any],
    timeout: float,
    done: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    started = time.monotonic()
    delay, last, said_at = FIRST_POLL, None, started
    while True:
        elapsed = time.monotonic() - started
        state = f"{server.get('status')}" + (f" ({server[TASK]})" if server.get(TASK) else "")
        if state != last or time.monotonic() - said_at >= PROGRESS_EVERY:
            progress.print(f"server {server.get('name')}: {state} after {elapsed:.1f} s")
            last, said_at = state, time.monotonic()
        if done(server):
            return server
        if elapsed >= timeout:
            raise WaitTimedOut(
                f"server {server.get('name')} is still {state} after {timeout:g} s (--timeout)"
            )
        time.sleep(delay)
        delay = min(delay * 2, LONGEST_POLL)
        server = SERVER.show(cloud, str(server["id"]))


def show_fields(server: dict[str, Any]) -> Any:
    return fields_table(
        server,
        {
            "addresses": lambda _: networks(server) or "-",
            "fault": lambda fault: cell((fault or {}).get("message")),
            POWER: lambda _: power(server),
        },
    )


@cloud_command(app, "list")
def list_servers(
    ctx: typer.Context,
    login: Login,
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's servers (admins).")
    ] = False,
    host: Annotated[
        str | None, typer.Option("--host", metavar="HOST", help="Only servers on it (admins).")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", metavar="STATUS")] = None,
    json: Json = False,
) -> None:
    """Servers, as `nova list` shows them: ID, Name, Status, Task State, Power State, Networks."""
    params = check.without_none(
        {"all_tenants": "True" if all_projects else None, "host": host, "status": status}
    )
    with connect(login) as cloud:
        servers = SERVER.list(cloud, **params)
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Status", key("status")),
        ("Task State", key(TASK)),
        ("Power State", power),
        ("Networks", networks),
    ]
    emit(ctx, servers, json, lambda: rows_table(columns, servers))


@cloud_command(app, "show")
def show_server(ctx: typer.Context, server: NameOrId, login: Login, json: Json = False) -> None:
    """One server: status, host (admins), addresses, and the fault when it failed."""
    with connect(login) as cloud:
        found = SERVER.find(cloud, server)
    emit(ctx, found, json, lambda: show_fields(found))


@cloud_command(app, "delete")
def delete_server(
    ctx: typer.Context,
    servers: Annotated[list[str], typer.Argument(metavar="NAME_OR_ID...")],
    login: Login,
    wait: Wait = False,
    timeout: Timeout = 600.0,
    json: Json = False,
) -> None:
    """Delete servers; their VFs go back to the pool and ports they were given stay."""
    with connect(login) as cloud:
        gone = [SERVER.delete(cloud, name) for name in servers]
        if wait:
            for server in gone:
                _wait_gone(cloud, err(ctx), server, timeout)
    said(ctx, json, gone, "deleted " + ", ".join(f"server {g['name']}" for g in gone))


def _wait_gone(cloud: Cloud, progress: Console, server: dict[str, str], timeout: float) -> None:
    started, delay = time.monotonic(), FIRST_POLL
    while True:
        try:
            current = SERVER.show(cloud, server["id"])
        except ApiError as exc:
            if exc.status == 404:
                progress.print(f"server {server['name']}: gone")
                return
            raise
        elapsed = time.monotonic() - started
        if elapsed >= timeout:
            raise WaitTimedOut(
                f"server {server['name']} is still {current.get('status')} after {timeout:g} s"
            )
        progress.print(f"server {server['name']}: {current.get('status')} after {elapsed:.1f} s")
        time.sleep(delay)
        delay = min(delay * 2, LONGEST_POLL)
