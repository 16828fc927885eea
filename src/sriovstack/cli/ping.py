"""``sriovstack ping``, ``trace`` and ``lease``: reachable or dropped on a running ``up``, and why.

The hosts are read from the ``up`` state directory (as their agents last saved them), what
the control plane knows from its API; exit 0 reachable (leased), 1 dropped, else an error's.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from sriovstack.cli.cloud import (
    NETWORK,
    PORT,
    SERVER,
    Cloud,
    Kind,
    Login,
    NoSuch,
    Unreachable,
    connect,
)
from sriovstack.cli.options import Json
from sriovstack.cli.views import emit
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import Conflict, InvalidInput, NotFound, SriovstackError
from sriovstack.fabric.endpoints import Endpoint
from sriovstack.fabric.results import LeaseResult, Leg, TraceResult
from sriovstack.launch.statedir import StateDir, default_state_dir

if TYPE_CHECKING:
    from sriovstack.launch.tracing import CloudFabric

DROPPED = 1  # the exit status of a frame lost; errors have the codes of cli/errors.py

_REF_HELP = "A server's name or ID (its first port), a port's name or ID, or an IP address."
Source = Annotated[str, typer.Argument(metavar="SOURCE", help=_REF_HELP)]
Target = Annotated[str, typer.Argument(metavar="TARGET", help=_REF_HELP)]
ClientRef = Annotated[str, typer.Argument(metavar="CLIENT", help=_REF_HELP)]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="The running `sriovstack up`'s state directory, whose hosts are read "
        "(default: as up's, $SRIOVSTACK_STATE_DIR/up, else ~/.local/state/sriovstack/up).",
    ),
]


class NotPlugged(NotFound):
    """A server or port the API knows that no guest on the hosts has (yet)."""

    def __init__(self, message: str) -> None:
        self.kind, self.key = "guest", None
        SriovstackError.__init__(self, message)


class NotRunning(Conflict):
    """The cloud's API does not answer: exit 4, so that 1 keeps meaning "dropped"."""


def ping(
    ctx: typer.Context,
    source: Source,
    target: Target,
    login: Login,
    state_dir: StateDirOption = None,
    json: Json = False,
) -> None:
    """Ping TARGET from SOURCE: ARP, ARP reply, echo request and reply, hop by hop.

    Exit 0 when the reply comes back, 1 when a frame is dropped (the reason says where and
    why). Credentials: the OS_* variables, else the state directory's admin.
    """
    _echo(ctx, "ping", source, target, login, state_dir, json)


def trace(
    ctx: typer.Context,
    source: Source,
    target: Target,
    login: Login,
    state_dir: StateDirOption = None,
    json: Json = False,
) -> None:
    """Trace the way to TARGET from SOURCE: ARP, ARP reply and the echo request, hop by hop.

    Exit 0 when the request arrives, 1 when a frame is dropped (the reason says where and
    why). Credentials: the OS_* variables, else the state directory's admin.
    """
    _echo(ctx, "trace", source, target, login, state_dir, json)


def lease(
    ctx: typer.Context,
    client: ClientRef,
    login: Login,
    state_dir: StateDirOption = None,
    json: Json = False,
) -> None:
    """Ask DHCP for CLIENT's address: DISCOVER to its network's server, OFFER back.

    Exit 0 when an address is offered, 1 when a frame is dropped or nothing is offered.
    """
    built, refs = _read(login, state_dir, [client])
    result = built.fabric.lease(refs[0])
    who = built.fabric.endpoint(refs[0])
    data = {
        "command": "lease",
        "client": _endpoint_data(who, client),
        "leased": result.leased,
        "ip": str(result.ip) if result.ip is not None else None,
        "verdict": "leased" if result.leased else "no lease",
        "reason": result.reason or None,
        "legs": [_leg_data(leg) for leg in result.legs],
        "notes": list(built.notes),
    }
    emit(ctx, data, json, lambda: _lease_view(result, who, built.notes))
    if not result.leased:
        raise typer.Exit(DROPPED)


# ------------------------------------------------------------------------------ the work


def _echo(
    ctx: typer.Context,
    command: str,
    source: str,
    target: str,
    login: Login,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    built, (src, dst) = _read(login, state_dir, [source, target])
    fabric = built.fabric
    if fabric.endpoint(src) == fabric.endpoint(dst):
        raise InvalidInput("TARGET", f"names SOURCE's own port ({src}): name another one", target)
    result = fabric.ping(src, dst) if command == "ping" else fabric.trace(src, dst)
    ends = fabric.endpoint(src), fabric.endpoint(dst)
    data = {
        "command": command,
        "source": _endpoint_data(ends[0], source),
        "target": _endpoint_data(ends[1], target),
        "reachable": result.reachable,
        "verdict": "reachable" if result.reachable else "dropped",
        "reason": result.reason or None,
        "legs": [_leg_data(leg) for leg in result.legs],
        "notes": list(built.notes),
    }
    emit(ctx, data, as_json, lambda: _echo_view(command, result, ends, built.notes))
    if not result.reachable:
        raise typer.Exit(DROPPED)


def _read(
    login: Login, state_dir: Path | None, refs: Sequence[str]
) -> tuple[CloudFabric, list[str]]:
    """The fabric now, and each ref as the fabric names its endpoint."""
    # Here, not at the top: launch.tracing imports the control plane (FastAPI, SQLAlchemy),
    # seconds that every other command would pay, as main imports this module.
    from sriovstack.launch.tracing import build_fabric, saved_login

    state = StateDir((state_dir or default_state_dir(os.environ)).expanduser().absolute())
    if not login.auth_url:
        login = Login(*saved_login(state))
    try:
        with connect(login) as cloud:
            networks = NETWORK.list(cloud)
            ports = PORT.list(cloud)
            built = build_fabric(state, networks, ports)
            return built, [_resolve(cloud, built, ref, state) for ref in refs]
    except Unreachable as exc:
        raise NotRunning(
            f"the cloud's API does not answer ({exc}): is `sriovstack up --state-dir "
            f"{state.root}` running?"
        ) from None


def _resolve(cloud: Cloud, built: CloudFabric, ref: str, state: StateDir) -> str:
    """What the fabric calls the endpoint ``ref`` names: an IP or MAC as given, a DHCP
    namespace by name, a server's first plugged port, or a port by name or ID."""
    if _is_address(ref) or ref in built.dhcp_ports.values():
        return ref
    plugged = [e.port_id for e in built.fabric.endpoints() if e.port_id]
    server = _find(SERVER, cloud, ref)
    if server is not None:
        ids = {str(p["id"]) for p in PORT.list(cloud, device_id=str(server["id"]))}
        first = next((port for port in plugged if port in ids), None)  # in its NICs' order
        if first is None:
            raise NotPlugged(
                f"server {server.get('name') or server['id']} ({server.get('status')}) has no "
                f"guest with a port on the hosts in {state.root} (yet)"
            )
        return first
    port = _find(PORT, cloud, ref)
    if port is None:
        raise NoSuch("server, port or IP address", ref)
    port_id = str(port["id"])
    if port_id in built.dhcp_ports:
        return built.dhcp_ports[port_id]
    if port_id not in plugged:
        raise NotPlugged(
            f"port {port.get('name') or port_id} ({port.get('status')}, bound to "
            f"{port.get('binding:host_id') or 'no host'}) is in no guest on the hosts in "
            f"{state.root}"
        )
    return port_id


def _find(kind: Kind, cloud: Cloud, ref: str) -> dict[str, Any] | None:
    try:
        return kind.find(cloud, ref)
    except NoSuch:
        return None


def _is_address(ref: str) -> bool:
    try:
        ipaddress.ip_address(ref)
    except ValueError:
        try:
            MacAddress.parse(ref)
        except (InvalidInput, ValueError):
            return False
    return True


# ------------------------------------------------------------------------------ the views


def _endpoint_data(endpoint: Endpoint, given: str) -> dict[str, Any]:
    return {
        "given": given,
        "name": endpoint.name,
        "port_id": endpoint.port_id,
        "ip": str(endpoint.ip) if endpoint.ip is not None else None,
        "mac": str(endpoint.mac),
        "host": endpoint.host,
        "attachment": str(endpoint.attachment),
        "network_id": endpoint.network_id,
        "state": endpoint.state,
    }


def _leg_data(leg: Leg) -> dict[str, Any]:
    return {
        "what": leg.what,
        "sender": leg.sender,
        "receiver": leg.receiver,
        "delivered": leg.delivered,
        "reason": leg.reason or None,
        "hops": [{"place": hop.place, "note": hop.note or None} for hop in leg.hops],
    }


def _title(endpoint: Endpoint) -> str:
    where = f"{endpoint.ip}" if endpoint.ip is not None else str(endpoint.mac)
    return f"{endpoint.name} ({where})"


def _legs_tree(head: str, legs: Sequence[Leg]) -> Tree:
    tree = Tree(Text(head, style="bold"))
    for leg in legs:
        state = Text("delivered", style="green") if leg.delivered else Text("LOST", style="red")
        branch = tree.add(Text.assemble(f"{leg.what}: ", state))
        for hop in leg.hops:
            line = Text(hop.place)
            if hop.note:
                line.append(f"  {hop.note}", style="dim")
            branch.add(line)
    return tree


def _dropped(reason: str, verdict: str = "dropped") -> Text:
    # Most reasons say where already ("dropped at ..."); the others get the verdict in front.
    shown = reason if reason.startswith("dropped") else f"{verdict}: {reason}"
    return Text(shown, style="bold red")


def _notes(notes: Sequence[str]) -> list[Text]:
    return [Text(f"note: {note}", style="dim") for note in notes]


def _echo_view(
    command: str, result: TraceResult, ends: tuple[Endpoint, Endpoint], notes: Sequence[str]
) -> Group:
    head = f"{command} {_title(ends[0])} -> {_title(ends[1])}"
    verdict = Text("reachable", style="bold green") if result.reachable else _dropped(result.reason)
    return Group(_legs_tree(head, result.legs), verdict, *_notes(notes))


def _lease_view(result: LeaseResult, client: Endpoint, notes: Sequence[str]) -> Group:
    head = f"lease for {client.name} ({client.mac})"
    verdict = (
        Text(f"leased {result.ip}", style="bold green")
        if result.ip is not None
        else _dropped(result.reason, "no lease")
    )
    return Group(_legs_tree(head, result.legs), verdict, *_notes(notes))
