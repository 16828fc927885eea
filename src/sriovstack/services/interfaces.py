"""Interfaces of running servers (Nova's os-interface): hotplug attach and detach, and the
port statuses agents report.

Attach claims first: the VF is taken and the port bound in one transaction, and a claim that
fails changes nothing (the guest stays as it was, not in ERROR). Detach marks the port; the
host's agent unplugs the NIC and resets the VF, and only its confirmation frees the VF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sriovstack.domain.errors import ConcurrentUpdate, Conflict, InvalidInput, NotFound
from sriovstack.domain.scheduling import BootRequest, fit_devices
from sriovstack.services.desired import touch_host
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.events import record_event
from sriovstack.services.hosts import alive
from sriovstack.services.networks import visible_network
from sriovstack.services.ports import new_port, port_view, remove_port
from sriovstack.services.scheduler import device_owners, device_takes
from sriovstack.services.servers import bind_port, free_port, port_request, unbind_port
from sriovstack.store.claiming import allocate_server, claim_devices, release_owner
from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.network_tables import PortRow
from sriovstack.store.pools import host_states
from sriovstack.store.querying import Session, find_rows, flush, get_row
from sriovstack.store.tables import HostRow

ATTACHABLE = ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED")  # Nova's states for attach/detach
PORT_STATUSES = ("ACTIVE", "DOWN", "ERROR")
TAG_SINCE = 70  # microversion that shows an interface's tag


def list_interfaces(
    env: Environment, caller: Caller, server_id: str, *, minor: int = 1
) -> list[dict[str, Any]]:
    with env.unit_of_work() as uow:
        session = uow.session
        _visible_server(session, caller, server_id)
        ports = find_rows(session, PortRow, where={"device_id": server_id}, order_by=("id",))
        return [_attachment(session, port, minor) for port in ports]


def show_interface(
    env: Environment, caller: Caller, server_id: str, port_id: str, *, minor: int = 1
) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        session = uow.session
        _visible_server(session, caller, server_id)
        port = _attached(session, server_id, port_id)
        return _attachment(session, port, minor)


def attach_interface(
    env: Environment, caller: Caller, server_id: str, body: Mapping[str, Any], *, minor: int = 1
) -> dict[str, Any]:
    """Attach a port (``port_id``) or a new port on a network (``net_id``) to a running server.

    An SR-IOV port needs a free device on the server's host: it is claimed here, and when none
    fits the request is refused (400) with the reason and nothing changes.
    """
    caller.require_member("attaching an interface")
    request = body.get("interfaceAttachment")
    if not isinstance(request, dict):
        raise InvalidInput("interfaceAttachment", "is required: an object")
    if not (request.get("port_id") or request.get("net_id")):
        raise InvalidInput("interfaceAttachment", "needs port_id or net_id")
    if request.get("port_id") and request.get("net_id"):
        raise InvalidInput("interfaceAttachment", "give port_id or net_id, not both")
    for attempt in range(3):
        try:
            return _attach(env, caller, server_id, request, minor)
        except ConcurrentUpdate:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _attach(
    env: Environment, caller: Caller, server_id: str, request: Mapping[str, Any], minor: int
) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        session = uow.session
        server = _visible_server(session, caller, server_id)
        host = _running_on(session, server, "attach_interface")
        if request.get("port_id"):
            port = free_port(session, caller, str(request["port_id"]), [])
        else:
            try:
                network = visible_network(session, caller, str(request["net_id"]))
            except NotFound:
                raise InvalidInput(
                    "interfaceAttachment.net_id", f"network {request['net_id']} does not exist"
                ) from None
            fixed = request.get("fixed_ips")
            port = new_port(
                env,
                session,
                caller,
                network,
                {"fixed_ips": fixed} if fixed else {},
                created_for_server=True,
            )
        device = None
        wanted = port_request(session, port)
        if wanted is not None:
            device = _claim(env, session, server, host, port, wanted)
        now = env.now()
        port.device_id = server.id
        port.device_owner = f"compute:{host.availability_zone or 'nova'}"
        bind_port(session, port, host.name, device, now)
        port.status = "DOWN"  # until the agent has plugged it and verified its VF
        touch_host(session, host_id=host.id)
        flush(session)
        view = _attachment(session, port, minor)
        uow.commit()
    return view


def _claim(
    env: Environment, session: Session, server: ServerRow, host: HostRow, port: PortRow, wanted: Any
) -> Any:
    alive_since = env.now() - env.settings.agent_down_time
    states = host_states(session, [host.id], alive_since=alive_since)
    state = states[0][1]
    boot = BootRequest(ram_mib=0, vcpus=0, availability_zone=None, devices=(wanted,))
    fit = fit_devices((wanted,), state.pools, boot=boot, host_cells=state.numa_cells)
    if isinstance(fit, str):
        raise InvalidInput(
            "interfaceAttachment",
            f"port {port.id} needs a {port.vnic_type} device on {host.name}, the server's "
            f"host, and none fits: {fit}",
        )
    owners = device_owners(server.id, (wanted,))
    devices = claim_devices(
        session,
        host_id=host.id,
        server_id=server.id,
        takes=device_takes((wanted,), owners, fit),
        now=env.now(),
    )
    return devices[0]


def detach_interface(env: Environment, caller: Caller, server_id: str, port_id: str) -> None:
    """Detach a port from a server. The host's agent unplugs it and resets its VF before the VF
    is freed; on a host whose agent is down the port is released at once."""
    caller.require_member("detaching an interface")
    with env.unit_of_work() as uow:
        session = uow.session
        server = _visible_server(session, caller, server_id)
        host = _running_on(session, server, "detach_interface")
        port = _attached(session, server_id, port_id)
        if alive(host, env):
            if not port.detaching:
                port.detaching = True
                port.updated_at = env.now()
                touch_host(session, host_id=host.id)
            uow.commit()
            return
        _release_port(env, session, host, port)
        touch_host(session, host_id=host.id)
        uow.commit()


def confirm_detached(env: Environment, caller: Caller, host: str, port_id: str) -> None:
    """The agent unplugged the port's NIC and reset its VF: free the VF and unbind the port."""
    caller.require_host(host)
    with env.unit_of_work() as uow:
        session = uow.session
        port = get_row(session, PortRow, port_id)
        if port is None or port.host_id != host:
            raise NotFound("port", port_id, f"not bound to host {host}")
        if not port.detaching:
            raise Conflict(f"port {port_id} is not being detached")
        host_row = find_rows(session, HostRow, where={"name": host})[0]
        _release_port(env, session, host_row, port)
        touch_host(session, host_id=host_row.id)
        uow.commit()


def report_port(
    env: Environment, caller: Caller, host: str, port_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """An agent's status for a port bound to its host: ACTIVE, DOWN (administratively down) or
    ERROR (with ``reason``, also recorded as an event)."""
    caller.require_host(host)
    status = body.get("status")
    if status not in PORT_STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(PORT_STATUSES)}", status)
    reason = body.get("reason")
    if status == "ERROR" and (not isinstance(reason, str) or not reason):
        raise InvalidInput("reason", "is required for ERROR: why the port failed")
    with env.unit_of_work() as uow:
        session = uow.session
        port = get_row(session, PortRow, port_id)
        if port is None or port.host_id != host:
            raise NotFound("port", port_id, f"not bound to host {host}")
        if port.status != status:
            port.status, port.updated_at = str(status), env.now()
            port.revision_number += 1
        if status == "ACTIVE" and port.device_id:
            allocate_server(session, port.device_id, [port.id])  # a hotplugged VF is in use
        if status == "ERROR":
            record_event(
                session,
                env,
                host=host,
                kind="port_error",
                severity="error",
                message=f"port {port.id} on {host}: {reason}",
                project_id=port.project_id,
                server_id=port.device_id or None,
                port_id=port.id,
            )
        view = port_view(session, port)
        uow.commit()
    return view


def _release_port(env: Environment, session: Session, host: HostRow, port: PortRow) -> None:
    release_owner(session, host_id=host.id, owner=port.id)
    if port.created_for_server:
        remove_port(session, port)
        return
    unbind_port(port, env.now())
    port.device_id, port.device_owner = "", ""


def _visible_server(session: Session, caller: Caller, server_id: str) -> ServerRow:
    server = get_row(session, ServerRow, server_id)
    if server is None or not caller.sees(server.project_id):
        raise NotFound("server", server_id)
    return server


def _running_on(session: Session, server: ServerRow, action: str) -> HostRow:
    """The server's host, if the server is in a state that allows ``action`` (Nova's 409)."""
    if server.status not in ATTACHABLE or server.task_state is not None:
        state = server.task_state or server.vm_state
        raise Conflict(f"Cannot '{action}' instance {server.id} while it is in {state} state")
    host = get_row(session, HostRow, server.host_id) if server.host_id is not None else None
    if host is None:
        raise Conflict(f"Cannot '{action}' instance {server.id}: it is on no host")
    return host


def _attached(session: Session, server_id: str, port_id: str) -> PortRow:
    port = get_row(session, PortRow, port_id)
    if port is None or port.device_id != server_id:
        raise NotFound("port", port_id, f"not attached to server {server_id}")
    return port


def _attachment(session: Session, port: PortRow, minor: int) -> dict[str, Any]:
    """An interface as Nova shows it (port_state, fixed_ips, mac_addr, net_id, port_id)."""
    view = port_view(session, port)
    attachment: dict[str, Any] = {
        "port_state": port.status,
        "fixed_ips": view["fixed_ips"],
        "mac_addr": port.mac_address,
        "net_id": port.network_id,
        "port_id": port.id,
    }
    if minor >= TAG_SINCE:
        attachment["tag"] = None
    return attachment
