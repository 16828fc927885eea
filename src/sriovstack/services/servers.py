"""Servers: boot with ports or networks (schedule and claim before anything runs), the agent's
report that a guest runs, delete, which gives every device back."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sriovstack.domain.alias import (
    ALIAS_EXTRA_SPEC,
    NUMA_EXTRA_SPEC,
    parse_alias_counts,
    parse_numa_policy,
)
from sriovstack.domain.errors import ConcurrentUpdate, Conflict, Forbidden, InvalidInput, NotFound
from sriovstack.domain.requesting import (
    IMAGE_NUMA_PROPERTY,
    DeviceRequest,
    VnicType,
    device_request_for_port,
    device_requests_for_flavor,
    parse_vnic_type,
    resolve_numa_policy,
)
from sriovstack.domain.scheduling import BootRequest, ZoneAndHost, parse_zone_and_host
from sriovstack.services.desired import port_binding, touch_host
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.events import record_event
from sriovstack.services.flavors import visible_flavor
from sriovstack.services.hosts import alive
from sriovstack.services.images import visible_image
from sriovstack.services.keypairs import find_keypair
from sriovstack.services.networks import visible_network
from sriovstack.services.ports import PortInUse, new_port, remove_port
from sriovstack.services.scheduler import place
from sriovstack.store.claiming import ClaimedDevice, allocate_server, held_by_server, release_server
from sriovstack.store.compute_tables import FlavorRow, ImageRow, ServerRow
from sriovstack.store.network_tables import IPAllocationRow, NetworkRow, PortRow, SubnetRow
from sriovstack.store.querying import Session, delete_row, find_rows, flush, get_row
from sriovstack.store.revisions import SERVER_SIGNALS as SERVER_SIGNALS
from sriovstack.store.tables import HostRow, VFState

# SERVER_SIGNALS is re-exported: commits that wrote a server wake waits on it (api/servers.py).

NAME_LENGTH = 255
VIF_TYPES = {VnicType.DIRECT_PHYSICAL: "hostdev_physical"}  # every other SR-IOV type: hw_veb
POWER_RUNNING, POWER_NOSTATE = 1, 0
FLAVOR_EMBEDDED_SINCE = 47
RECORD_ATTEMPTS = 3
HOST_SINCE = 74  # "host" and "hypervisor_hostname" in the boot body (Nova 2.74)
HOST_NAME = re.compile(r"[a-zA-Z0-9._-]{1,255}")  # Nova's parameter_types.fqdn
# Nova's policies for naming the host of a boot (both admin-only by default).
FORCED_HOST_POLICY = "os_compute_api:servers:create:forced_host"
REQUESTED_DESTINATION_POLICY = "compute:servers:create:requested_destination"
FILTERS = ("name", "status", "host", "project_id", "tenant_id", "all_tenants", "flavor", "image")


def create_server(
    env: Environment, caller: Caller, body: Mapping[str, Any], *, minor: int = 1
) -> dict[str, Any]:
    """Boot a server: validate everything, record it in BUILD, then schedule and claim.

    A request refused for its input leaves nothing behind; a boot no host can take ends in
    ERROR with a fault that says, per host, why.
    """
    caller.require_member("creating a server")
    name = _name(body.get("name"))
    target = _target(caller, body, minor)
    server_id = env.new_id()
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            boot, port_ids = _record(env, caller, body, server_id, name, target)
            break
        except ConcurrentUpdate:
            # A port made for a network NIC lost an address to another writer: try again.
            if attempt == RECORD_ATTEMPTS:
                raise

    def bind(session: Session, host_id: int, host: str, devices: Sequence[ClaimedDevice]) -> None:
        _bind(env, session, server_id, host_id, host, port_ids, devices)

    placed = place(env, server_id=server_id, boot=boot, on_claimed=bind)
    if isinstance(placed, str):
        _fail(env, server_id, placed)
    return show_server(env, caller, server_id, minor=minor)


def _record(
    env: Environment,
    caller: Caller,
    body: Mapping[str, Any],
    server_id: str,
    name: str,
    target: ZoneAndHost,
) -> tuple[BootRequest, list[str]]:
    """Check the request and record the server in BUILD with its ports; nothing on refusal."""
    now = env.now()
    with env.unit_of_work() as uow:
        session = uow.session
        flavor = _flavor(session, caller, body.get("flavorRef"))
        image = _image(session, caller, body.get("imageRef"))
        key_name = _key_name(session, caller, body.get("key_name"))
        host_zone = _host_zone(session, target.host)
        zone = target.zone or host_zone  # shown as OS-EXT-AZ:availability_zone until placed
        ports = _ports(env, session, caller, body.get("networks"))
        requests = _device_requests(env, session, flavor, ports)
        boot = BootRequest(
            ram_mib=flavor.ram,
            vcpus=flavor.vcpus,
            availability_zone=target.zone,
            devices=tuple(requests),
            numa_policy=_boot_policy(flavor, image),
            host=target.host,
        )
        session.add(
            ServerRow(
                id=server_id,
                project_id=caller.project_id,
                user_id=caller.user_id,
                name=name,
                flavor_id=flavor.id,
                flavor=_flavor_copy(flavor),
                image_id=image.id,
                key_name=key_name,
                availability_zone=zone,
                status="BUILD",
                vm_state="building",
                task_state="scheduling",
                power_state=POWER_NOSTATE,
                metadata_items=_metadata(body.get("metadata")),
                created_at=now,
                updated_at=now,
            )
        )
        for port in ports:
            port.device_id = server_id
            port.device_owner = f"compute:{zone or 'nova'}"
            port.updated_at = now
            port.revision_number += 1
        flush(session)
        port_ids = [port.id for port in ports]
        uow.commit()
    return boot, port_ids


def report_server(
    env: Environment, caller: Caller, host: str, server_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """An agent says a guest runs (ACTIVE) or failed (ERROR, with ``fault``).

    ACTIVE is refused unless the server still holds every device it was given on this host:
    a server never becomes ACTIVE without its VFs. ``ports`` may give each port's status
    (ACTIVE, or DOWN for a port that is administratively down); the default is ACTIVE.
    An ERROR server keeps its devices, as in Nova, until it is deleted: its agent resets the
    VFs first, so a half-configured VF never goes back to the pool.
    """
    caller.require_host(host)
    status = body.get("status")
    if status not in ("ACTIVE", "ERROR"):
        raise InvalidInput("status", "must be ACTIVE or ERROR", status)
    statuses = _port_statuses(body.get("ports"))
    with env.unit_of_work() as uow:
        session = uow.session
        server, host_row = _server_on(session, server_id, host)
        if server.task_state == "deleting":
            raise Conflict(f"server {server_id} is being deleted")
        ports = find_rows(session, PortRow, where={"device_id": server_id})
        now = env.now()
        if status == "ERROR":
            fault = str(body.get("fault") or "the host could not start the guest")
            _set_error(server, fault, now)
            for port in ports:
                port.status, port.updated_at = "ERROR", now
            record_event(
                session,
                env,
                host=host,
                kind="server_error",
                severity="error",
                message=f"server {server.name} ({server.id}) failed on {host}: {fault}",
                project_id=server.project_id,
                server_id=server.id,
            )
            touch_host(session, host_id=host_row.id)
        else:
            held = held_by_server(session, server_id, [p.id for p in ports])
            missing = [owner for owner, state in held if state is VFState.REMOVED]
            if missing or len(held) != _device_count(server, ports):
                raise Conflict(
                    f"server {server_id} does not hold all its devices on {host}: "
                    f"{len(held)} held, {_device_count(server, ports)} needed"
                    + (f", removed from the host: {', '.join(missing)}" if missing else "")
                )
            allocate_server(session, server_id, [p.id for p in ports])
            server.status, server.vm_state, server.task_state = "ACTIVE", "active", None
            server.power_state = POWER_RUNNING
            server.launched_at = server.launched_at or now
            server.fault = None
            for port in ports:
                port.status = statuses.get(port.id, "ACTIVE")
                port.updated_at = now
        server.updated_at = now
        flush(session)
        view = server_view(session, caller, server)
        uow.commit()
    return view


def _port_statuses(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str) and v in ("ACTIVE", "DOWN") for v in value.values()
    ):
        raise InvalidInput("ports", 'must map port IDs to "ACTIVE" or "DOWN"', value)
    return {str(k): str(v) for k, v in value.items()}


def delete_server(env: Environment, caller: Caller, server_id: str) -> None:
    """Delete a server. On a host whose agent is up the server goes to task_state "deleting":
    the agent stops the guest and resets its VFs, and only its confirmation (``confirm_deleted``)
    gives the devices back. A server on no host, or on a host whose agent is down, goes at once
    (Nova's local delete); that agent resets the VFs when it returns, before any new binding."""
    with env.unit_of_work() as uow:
        session = uow.session
        server = visible_server(session, caller, server_id)
        if not caller.is_admin and server.project_id != caller.project_id:
            raise NotFound("server", server_id)
        host = get_row(session, HostRow, server.host_id) if server.host_id is not None else None
        if host is not None and alive(host, env):
            if server.task_state != "deleting":
                server.task_state, server.updated_at = "deleting", env.now()
                touch_host(session, host_id=host.id)
            uow.commit()
            return
        if host is not None:
            record_event(
                session,
                env,
                host=host.name,
                kind="local_delete",
                severity="warning",
                message=f"server {server.name} ({server.id}) deleted while the agent of "
                f"{host.name} was down; the agent resets its VFs when it comes back",
                project_id=server.project_id,
                server_id=server.id,
            )
            touch_host(session, host_id=host.id)
        _forget(env, session, server)
        uow.commit()


def confirm_deleted(env: Environment, caller: Caller, host: str, server_id: str) -> None:
    """The agent stopped the guest and reset its VFs: give everything back, forget the server."""
    caller.require_host(host)
    with env.unit_of_work() as uow:
        session = uow.session
        server, host_row = _server_on(session, server_id, host)
        if server.task_state != "deleting":
            raise Conflict(f"server {server_id} is not being deleted")
        _forget(env, session, server)
        touch_host(session, host_id=host_row.id)
        uow.commit()


def _forget(env: Environment, session: Session, server: ServerRow) -> None:
    """Release the server's devices and resources, remove or unbind its ports, delete it."""
    ports = find_rows(session, PortRow, where={"device_id": server.id})
    _release(session, server, ports)
    for port in ports:
        if port.created_for_server:
            remove_port(session, port)
        else:
            unbind_port(port, env.now())
            port.device_id, port.device_owner = "", ""
    delete_row(session, server)


# ------------------------------------------------------------------------------ show and list


def show_server(
    env: Environment, caller: Caller, server_id: str, *, minor: int = 1
) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        server = visible_server(uow.session, caller, server_id)
        return server_view(uow.session, caller, server, minor=minor)


def list_servers(
    env: Environment,
    caller: Caller,
    filters: Mapping[str, str],
    *,
    detail: bool,
    minor: int = 1,
) -> list[dict[str, Any]]:
    """Servers of the caller's project (every project for an admin with all_tenants)."""
    with env.unit_of_work() as uow:
        session = uow.session
        where: dict[str, object] = {}
        everyone = caller.is_admin and filters.get("all_tenants", "").lower() in ("1", "true")
        project = filters.get("project_id") or filters.get("tenant_id")
        if project and caller.is_admin:
            where["project_id"] = project
        elif not everyone:
            where["project_id"] = caller.project_id
        if "status" in filters:
            where["status"] = filters["status"].upper()
        if "host" in filters and caller.is_admin:
            hosts = find_rows(session, HostRow, where={"name": filters["host"]})
            where["host_id"] = hosts[0].id if hosts else -1
        rows = find_rows(session, ServerRow, where=where, order_by=("created_at", "id"))
        rows = [row for row in rows if _name_matches(row.name, filters.get("name"))]
        if detail:
            return [server_view(session, caller, row, minor=minor) for row in rows]
        return [{"id": row.id, "name": row.name, "links": _links(row.id)} for row in rows]


def host_servers(env: Environment, caller: Caller, host: str) -> list[dict[str, Any]]:
    """What a host's agent must run: its servers with their ports and devices."""
    caller.require_host(host)
    with env.unit_of_work() as uow:
        session = uow.session
        host_rows = find_rows(session, HostRow, where={"name": host})
        if not host_rows:
            raise NotFound("host", host)
        rows = find_rows(session, ServerRow, where={"host_id": host_rows[0].id}, order_by=("id",))
        return [
            {
                "id": row.id,
                "name": row.name,
                "status": row.status,
                "task_state": row.task_state,
                "vcpus": int(row.flavor["vcpus"]),
                "memory_mib": int(row.flavor["ram"]),
                "ports": [
                    port_binding(port)
                    for port in find_rows(session, PortRow, where={"device_id": row.id})
                ],
            }
            for row in rows
        ]


def server_view(
    session: Session, caller: Caller, row: ServerRow, *, minor: int = 1
) -> dict[str, Any]:
    """The server as Nova shows it at microversion 2.``minor`` (admin attributes for admins)."""
    host = get_row(session, HostRow, row.host_id) if row.host_id is not None else None
    flavor = row.flavor
    view: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "tenant_id": row.project_id,
        "user_id": row.user_id,
        "metadata": row.metadata_items,
        "hostId": _host_id(row.project_id, host.name) if host else "",
        "image": {"id": row.image_id, "links": []},
        "flavor": _flavor_view(flavor, minor),
        "created": _stamp(row.created_at),
        "updated": _stamp(row.updated_at),
        "addresses": _addresses(session, row.id),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": _links(row.id),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": (host.availability_zone if host else "")
        or (row.availability_zone or ""),
        "config_drive": "",
        "key_name": row.key_name,
        "OS-SRV-USG:launched_at": _stamp(row.launched_at),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": row.task_state,
        "OS-EXT-STS:vm_state": row.vm_state,
        "OS-EXT-STS:power_state": row.power_state,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
    }
    if caller.is_admin:
        view["OS-EXT-SRV-ATTR:host"] = host.name if host else None
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = host.name if host else None
        view["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{row.id[:8]}"
    if row.fault:
        view["fault"] = row.fault
    _versioned_fields(view, row, minor, host_up=host is not None and caller.is_admin)
    return view


def _flavor_view(flavor: Mapping[str, Any], minor: int) -> dict[str, Any]:
    if minor < FLAVOR_EMBEDDED_SINCE:
        return {"id": flavor["id"], "links": []}
    # From 2.47 Nova embeds the flavor as it was at boot, without its ID.
    return {
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor.get("ephemeral", 0),
        "swap": flavor.get("swap", 0),
        "original_name": flavor["original_name"],
        "extra_specs": dict(flavor.get("extra_specs", {})),
    }


def _versioned_fields(view: dict[str, Any], row: ServerRow, minor: int, *, host_up: bool) -> None:
    """Fields Nova added in later microversions (nova-pci and openstack-api.md §4.4)."""
    if minor >= 9:
        view["locked"] = False
    if minor >= 16 and host_up:
        view["host_status"] = "UP"
    if minor >= 19:
        view["description"] = None
    if minor >= 26:
        view["tags"] = []
    if minor >= 63:
        view["trusted_image_certificates"] = None
    if minor >= 71:
        view["server_groups"] = []
    if minor >= 73:
        view["locked_reason"] = None
    if minor >= 96:
        view["pinned_availability_zone"] = row.availability_zone


# ------------------------------------------------------------------------------------ boot


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_LENGTH:
        raise InvalidInput("name", f"must be 1-{NAME_LENGTH} characters", value)
    return value


def _flavor(session: Session, caller: Caller, ref: Any) -> FlavorRow:
    if not isinstance(ref, str | int) or not str(ref):
        raise InvalidInput("flavorRef", "is required: a flavor ID")
    key = str(ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = visible_flavor(session, caller, key)
    except NotFound:
        raise InvalidInput("flavorRef", f"flavor {key} does not exist") from None
    if flavor.disabled:
        raise InvalidInput("flavorRef", f"flavor {flavor.name} is disabled")
    return flavor


def _image(session: Session, caller: Caller, ref: Any) -> ImageRow:
    if not isinstance(ref, str) or not ref:
        raise InvalidInput("imageRef", "is required: an image ID")
    key = ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        return visible_image(session, caller, key)
    except NotFound:
        raise InvalidInput("imageRef", f"image {key} does not exist") from None


def _key_name(session: Session, caller: Caller, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return find_keypair(session, caller.user_id, str(value)).name
    except NotFound:
        raise InvalidInput("key_name", f"key pair {value} does not exist for this user") from None


def _zone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > NAME_LENGTH:
        raise InvalidInput("availability_zone", "must be a zone name", value)
    return value


class ComputeHostNotFound(InvalidInput):
    """A boot names a host that is not registered: a 400 in Nova's words (2.74's ``host``)."""

    def __init__(self, field: str, host: str) -> None:
        super().__init__(field, "is not a compute host", host)

    def __str__(self) -> str:
        return f"Compute host {self.value} could not be found."


def _target(caller: Caller, body: Mapping[str, Any], minor: int) -> ZoneAndHost:
    """The zone and the host a boot asks for; naming a host is for admins (Nova's policies).

    Checked before anything is read or written, so a refusal leaves nothing behind.
    """
    legacy = parse_zone_and_host(_zone(body.get("availability_zone")) or "")
    named = _named_host(body, minor)
    if legacy.host is not None:
        _require_policy(caller, FORCED_HOST_POLICY)
    if named is not None:
        _require_policy(caller, REQUESTED_DESTINATION_POLICY)
        if legacy.host is not None:
            raise InvalidInput(
                "host",
                "One mechanism with host and/or hypervisor_hostname and another mechanism "
                "with zone:host:node are mutually exclusive.",
            )
    return ZoneAndHost(legacy.zone, legacy.host or named)


def _require_policy(caller: Caller, policy: str) -> None:
    if not caller.is_admin:
        raise Forbidden(
            f"Policy doesn't allow {policy} to be performed: "
            "only an admin may choose the host a server boots on."
        )


def _named_host(body: Mapping[str, Any], minor: int) -> str | None:
    """``host`` or ``hypervisor_hostname`` (from 2.74; one and the same here, as a host is
    its own node). Before 2.74 Nova's schema refuses them, and so do we: ignoring them would
    boot the server somewhere the admin did not ask for."""
    given = {key: body[key] for key in ("host", "hypervisor_hostname") if key in body}
    if not given:
        return None
    if minor < HOST_SINCE:
        key = next(iter(given))
        rule = (
            f"is not a server attribute at microversion 2.{minor}: it arrives in "
            f"2.{HOST_SINCE} (or ask for availability_zone ZONE:HOST)"
        )
        raise InvalidInput(key, rule, given[key])
    for key, value in given.items():
        if not (isinstance(value, str) and HOST_NAME.fullmatch(value)):
            raise InvalidInput(
                key, "must be a host name (1-255 letters, digits, '.', '_' or '-')", value
            )
    host, node = given.get("host"), given.get("hypervisor_hostname")
    if host is not None and node is not None and host != node:
        rule = f"names node {node} of host {host}, but a host is its own node: give {host}"
        raise InvalidInput("hypervisor_hostname", rule, node)
    return str(host or node)


def _host_zone(session: Session, host: str | None) -> str | None:
    """The zone of the named host (None when no host is named); a 400 if there is none."""
    if host is None:
        return None
    rows = find_rows(session, HostRow, where={"name": host})
    if not rows:
        raise ComputeHostNotFound("host", host)
    return rows[0].availability_zone or None


def _ports(env: Environment, session: Session, caller: Caller, networks: Any) -> list[PortRow]:
    """The server's ports, in NIC order: given ports (the caller's or on shared networks, and
    free), or new normal ports on given networks, deleted with the server as Nova does."""
    if networks in (None, "none", "auto", []):
        return []
    if not isinstance(networks, list):
        raise InvalidInput("networks", 'must be a list of {"port": ID} or {"uuid": network ID}')
    ports: list[PortRow] = []
    for i, nic in enumerate(networks):
        if not isinstance(nic, dict) or not ({"port", "uuid"} & set(nic)):
            raise InvalidInput(f"networks[{i}]", 'needs "port" (a port ID) or "uuid"', nic)
        if nic.get("port"):
            ports.append(free_port(session, caller, str(nic["port"]), ports))
            continue
        try:
            network = visible_network(session, caller, str(nic["uuid"]))
        except NotFound:
            raise InvalidInput(
                f"networks[{i}].uuid", f"network {nic['uuid']} does not exist"
            ) from None
        body = {"fixed_ips": [{"ip_address": nic["fixed_ip"]}]} if nic.get("fixed_ip") else {}
        ports.append(new_port(env, session, caller, network, body, created_for_server=True))
    return ports


def free_port(session: Session, caller: Caller, port_id: str, taken: list[PortRow]) -> PortRow:
    port = get_row(session, PortRow, port_id)
    if port is None or not caller.sees(port.project_id):
        raise InvalidInput("networks.port", f"port {port_id} does not exist", port_id)
    if port.device_id or any(p.id == port.id for p in taken):
        raise PortInUse(f"port {port_id} is still in use by {port.device_id or 'this request'}")
    if not port.admin_state_up and port.vnic_type == "direct-physical":
        raise InvalidInput("networks.port", f"port {port_id} is administratively down", port_id)
    return port


def _device_requests(
    env: Environment, session: Session, flavor: FlavorRow, ports: Sequence[PortRow]
) -> list[DeviceRequest]:
    requests = [r for r in (port_request(session, port) for port in ports) if r is not None]
    requests.extend(device_requests_for_flavor(flavor.extra_specs, env.settings.aliases))
    return requests


def port_request(session: Session, port: PortRow) -> DeviceRequest | None:
    """The device a port asks for (a VF or a PF on its network's physnet), None for normal."""
    network = get_row(session, NetworkRow, port.network_id)
    assert network is not None  # the port's foreign key
    trusted = port.profile.get("trusted") if isinstance(port.profile, dict) else None
    policy = port.numa_affinity_policy
    return device_request_for_port(
        port.id,
        parse_vnic_type(port.vnic_type),
        physnet=network.physical_network,
        trusted=trusted if isinstance(trusted, bool) else None,
        numa_policy=None if policy is None else parse_numa_policy(policy),
    )


def _boot_policy(flavor: FlavorRow, image: ImageRow) -> Any:
    flavor_value = flavor.extra_specs.get(NUMA_EXTRA_SPEC)
    image_value = (image.properties or {}).get(IMAGE_NUMA_PROPERTY)
    return resolve_numa_policy(
        flavor=None if flavor_value is None else parse_numa_policy(flavor_value),
        image=None
        if image_value is None
        else parse_numa_policy(image_value, where=IMAGE_NUMA_PROPERTY),
    )


def _flavor_copy(flavor: FlavorRow) -> dict[str, Any]:
    return {
        "id": flavor.id,
        "original_name": flavor.name,
        "ram": flavor.ram,
        "vcpus": flavor.vcpus,
        "disk": flavor.disk,
        "ephemeral": flavor.ephemeral,
        "swap": flavor.swap,
        "extra_specs": dict(flavor.extra_specs),
    }


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 255
        for k, v in value.items()
    ):
        raise InvalidInput("metadata", "must map strings of up to 255 characters to strings")
    return dict(value)


def _bind(
    env: Environment,
    session: Session,
    server_id: str,
    host_id: int,
    host: str,
    port_ids: Sequence[str],
    devices: Sequence[ClaimedDevice],
) -> None:
    """Record the placement: the server's host and each port's binding to its device."""
    server = get_row(session, ServerRow, server_id)
    assert server is not None
    now = env.now()
    server.host_id, server.task_state, server.updated_at = host_id, "spawning", now
    by_owner = {device.owner: device for device in devices}
    for port_id in port_ids:
        port = get_row(session, PortRow, port_id)
        assert port is not None
        bind_port(session, port, host, by_owner.get(port.id), now)
    touch_host(session, host_id=host_id)
    flush(session)


def bind_port(
    session: Session, port: PortRow, host: str, device: ClaimedDevice | None, now: datetime
) -> None:
    """Bind a port to a host: to its claimed device, or (a normal port) to the host's switch."""
    network = get_row(session, NetworkRow, port.network_id)
    assert network is not None
    port.host_id = host
    port.updated_at = now
    port.revision_number += 1
    if device is None:  # a normal port: the host's virtual switch carries it
        port.vif_type = "ovs"
        port.vif_details = {"port_filter": True, "connectivity": "l2"}
        return
    port.profile = {**(port.profile or {}), **_binding_profile(device)}
    port.vif_type = VIF_TYPES.get(parse_vnic_type(port.vnic_type), "hw_veb")
    port.vif_details = {
        "port_filter": False,
        "connectivity": "l2",
        "vlan": str(network.segmentation_id or 0),
    }


def _binding_profile(device: ClaimedDevice) -> dict[str, Any]:
    """What Nova writes into binding:profile for a PCI device (nova-pci.md 1.4)."""
    profile: dict[str, Any] = {
        "pci_vendor_info": f"{device.vendor_id:04x}:{device.product_id:04x}",
        "pci_slot": str(device.address),
        "physical_network": device.physnet,
    }
    if device.vf_index is not None:
        profile["vf_num"] = device.vf_index
        profile["pf_address"] = str(device.pf_address)
    return profile


def _fail(env: Environment, server_id: str, reason: str) -> None:
    with env.unit_of_work() as uow:
        server = get_row(uow.session, ServerRow, server_id)
        if server is None:
            return  # deleted while it was being scheduled
        _set_error(server, reason, env.now())
        uow.commit()


def _set_error(server: ServerRow, message: str, now: datetime) -> None:
    server.status, server.vm_state, server.task_state = "ERROR", "error", None
    server.fault = {"code": 500, "message": message, "created": _stamp(now)}
    server.updated_at = now


def _release(session: Session, server: ServerRow, ports: Sequence[PortRow]) -> None:
    flavor = server.flavor
    release_server(
        session,
        server_id=server.id,
        host_id=server.host_id,
        ram_mib=int(flavor["ram"]),
        vcpus=int(flavor["vcpus"]),
        ports=[port.id for port in ports],
    )
    server.host_id = None


def unbind_port(port: PortRow, now: datetime) -> None:
    port.host_id = ""
    port.profile = {k: v for k, v in (port.profile or {}).items() if k == "trusted"}
    port.vif_type, port.vif_details, port.status = "unbound", {}, "DOWN"
    port.detaching = False
    port.updated_at = now
    port.revision_number += 1


def _device_count(server: ServerRow, ports: Sequence[PortRow]) -> int:
    """How many devices the server was given: one per SR-IOV port, plus its flavor's aliases."""
    sriov = sum(1 for port in ports if port.vnic_type != str(VnicType.NORMAL))
    text = server.flavor.get("extra_specs", {}).get(ALIAS_EXTRA_SPEC)
    return sriov + (sum(count for _, count in parse_alias_counts(text)) if text else 0)


def _server_on(session: Session, server_id: str, host: str) -> tuple[ServerRow, HostRow]:
    server = get_row(session, ServerRow, server_id)
    host_rows = find_rows(session, HostRow, where={"name": host})
    if server is None or not host_rows or server.host_id != host_rows[0].id:
        raise NotFound("server", server_id, f"not on host {host}")
    return server, host_rows[0]


def visible_server(session: Session, caller: Caller, server_id: str) -> ServerRow:
    """The server, if the caller may see it; NotFound (404) otherwise, as for none at all."""
    server = get_row(session, ServerRow, server_id)
    if server is None or not caller.sees(server.project_id):
        raise NotFound("server", server_id)
    return server


def _addresses(session: Session, server_id: str) -> dict[str, list[dict[str, Any]]]:
    addresses: dict[str, list[dict[str, Any]]] = {}
    for port in find_rows(session, PortRow, where={"device_id": server_id}, order_by=("id",)):
        network = get_row(session, NetworkRow, port.network_id)
        entries = addresses.setdefault(network.name if network else port.network_id, [])
        for allocation in find_rows(session, IPAllocationRow, where={"port_id": port.id}):
            subnet = get_row(session, SubnetRow, allocation.subnet_id)
            entries.append(
                {
                    "version": subnet.ip_version if subnet else 4,
                    "addr": allocation.ip_address,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }
            )
    return addresses


def _name_matches(name: str, pattern: str | None) -> bool:
    """Nova filters server names by regular expression search."""
    if not pattern:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        raise InvalidInput("name", "is not a valid regular expression", pattern) from None


def _host_id(project_id: str, host: str) -> str:
    # Nova's hostId: an opaque per-project hash of the host, so projects cannot map the cloud.
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def _links(server_id: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"/compute/v2.1/servers/{server_id}"}]


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
