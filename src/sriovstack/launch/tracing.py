"""The fabric of a cloud ``sriovstack up`` runs: its hosts as their agents last saved them.

Read only: the running ``up``'s agents own the state files and replace each one atomically,
so a reader sees an old file or a new one, never half of one. What the control plane knows
(networks, ports and their addresses, DHCP ports) is given by the caller, from the API.

Which Open vSwitch bridge sits on which PF comes from each host's DevStack local.conf:
``OVS_PHYSICAL_BRIDGE`` on ``PUBLIC_INTERFACE`` (the talk's br-enp3s0f0 on enp3s0f0). The
agent plugs normal ports into the integration bridge br-int, which DevStack patches to that
physical bridge; the fabric folds the two into one learning switch named after the physical
bridge, where the frames of normal ports and DHCP namespaces meet the wire.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovstack.agent.binding import DEFAULT_BRIDGE
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.fabric.model import DhcpServer, FabricHost
from sriovstack.fabric.tracing import Fabric
from sriovstack.launch.fabricview import fabric_network, first_ip, port_addresses
from sriovstack.launch.fleet import Fleet
from sriovstack.launch.running import choose_fleet
from sriovstack.launch.statedir import (
    Record,
    StateDir,
    read_passwords,
    read_record,
    saved_openrc,
)
from sriovstack.services.dhcp import DHCP_OWNER
from sriovstack.simulator import state as sim_state
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.simulated import SimulatedHypervisor

READ_ATTEMPTS = 5  # a host's two files are saved one after the other: read until they hold still
_HEADER = re.compile(r"\[\[\s*([^|\]]+?)\s*\|\s*([^\]]+?)\s*\]\]")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True, eq=False)
class CloudFabric:
    """The fabric over a state directory's hosts, the DHCP namespaces by their port's ID, and
    what had to be left out, in words."""

    fabric: Fabric
    dhcp_ports: Mapping[str, str]  # DHCP port ID -> its namespace's name in the fabric
    notes: tuple[str, ...]


def cloud_record(state: StateDir) -> Record:
    """What ``up`` recorded in ``state``; a directory where it never ran is refused."""
    record = read_record(state)
    if record is None:
        raise InvalidInput(
            "--state-dir",
            f"{state.root} holds no cloud of `sriovstack up` (no {state.record_file.name}): "
            "start one with `sriovstack up`, or give its --state-dir",
        )
    return record


def saved_login(state: StateDir) -> tuple[str, str, str, str]:
    """(auth URL, user, password, project): the admin in project demo, as ``. openrc`` logs in."""
    cloud_record(state)
    try:
        _, url = saved_openrc(state)
    except InvalidInput:
        url = ""
    password = read_passwords(state).get("admin")
    if not url or not password:
        raise InvalidInput(
            "--state-dir",
            f"{state.root} has no openrc or admin password to log in with: source an openrc "
            "(OS_* variables) instead",
        )
    return url, "admin", password, "demo"


def build_fabric(
    state: StateDir,
    networks: Sequence[Mapping[str, Any]],
    ports: Sequence[Mapping[str, Any]],
) -> CloudFabric:
    """The fabric now: every host of ``state`` and the API's ``networks`` and ``ports``."""
    record = cloud_record(state)
    notes: list[str] = []
    bridges = _bridges(state, notes)
    hosts = tuple(
        _read_host(state, name, str(identity.get("profile")), bridges.get(name))
        for name, identity in record.hosts.items()
        if state.kernel_file(name).exists()  # a host added to the fleet but not started yet
    )
    known = {host.name: host for host in hosts}
    seen = tuple(fabric_network(n) for n in networks)
    # A port on a network the caller cannot see has no VLAN the fabric could put it in.
    ours = [p for p in ports if str(p.get("network_id")) in {n.id for n in seen}]
    servers: list[DhcpServer] = []
    dhcp_ports: dict[str, str] = {}
    for port in ours:
        if port.get("device_owner") != DHCP_OWNER:
            continue
        server = _dhcp_server(port, known, notes)
        if server is not None and server.network_id not in {s.network_id for s in servers}:
            servers.append(server)
            dhcp_ports[str(port["id"])] = server.label
    fabric = Fabric(
        hosts=hosts,
        networks=seen,
        ports=tuple(port_addresses(p for p in ours if p.get("device_owner") != DHCP_OWNER)),
        dhcp_servers=tuple(servers),
    )
    return CloudFabric(fabric, dhcp_ports, tuple(notes))


# ------------------------------------------------------------------------------ hosts


def _read_host(
    state: StateDir, name: str, profile: str, uplink: tuple[str, str] | None
) -> FabricHost:
    kernel, guests = _read_consistent(state, name, profile)
    bridges: dict[str, str] = {}
    if uplink is not None:
        bridge, pf = uplink
        bridges[bridge] = pf
        _fold_integration_bridge(guests, bridge)
    hypervisor = _hypervisor(state.guests_file(name), guests, kernel)
    return FabricHost(name, kernel, hypervisor, bridges)


def _read_consistent(
    state: StateDir, name: str, profile: str
) -> tuple[SimulatedKernel, dict[str, Any] | None]:
    """The host's kernel and guests, read again while an agent's save lands between them."""
    files = (state.kernel_file(name), state.guests_file(name))
    attempts = 0
    while True:
        before = [_stamp(path) for path in files]
        kernel = sim_state.load(files[0], profile_ref=profile)
        guests = _guests_data(files[1])
        attempts += 1
        if [_stamp(path) for path in files] == before or attempts == READ_ATTEMPTS:
            return kernel, guests


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def _guests_data(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # no guest has run on the host yet
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable guests file ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "is not a sriovstack simulated guests file")
    return data


def _fold_integration_bridge(guests: dict[str, Any] | None, bridge: str) -> None:
    for guest in (guests or {}).get("guests", []):
        for nic in guest.get("spec", {}).get("nics", []):
            if nic.get("bridge") == DEFAULT_BRIDGE:
                nic["bridge"] = bridge


def _hypervisor(
    path: Path, data: dict[str, Any] | None, kernel: SimulatedKernel
) -> SimulatedHypervisor:
    if data is None:
        return SimulatedHypervisor(kernel)
    try:
        return SimulatedHypervisor.load(data, kernel)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.field}", exc.rule, exc.value) from None


# ------------------------------------------------------------------------------ OVS bridges


def _bridges(state: StateDir, notes: list[str]) -> dict[str, tuple[str, str]]:
    """Each host's physical OVS bridge and its uplink PF, from its config in the fleet file."""
    try:
        fleet: Fleet = choose_fleet(state, None)
    except InvalidInput as exc:
        notes.append(f"no host has an OVS bridge: the fleet file cannot be read ({exc})")
        return {}
    found: dict[str, tuple[str, str]] = {}
    for host in fleet.hosts:
        path = host.sriov.path
        if path is None or host.sriov.format != "local.conf":
            continue
        try:
            localrc = localrc_variables(path.read_text(encoding="utf-8"))
        except OSError:
            continue  # the fleet was read a moment ago; a file gone since leaves no bridge
        bridge, pf = localrc.get("OVS_PHYSICAL_BRIDGE"), localrc.get("PUBLIC_INTERFACE")
        if bridge and pf:
            found[host.name] = (bridge, pf)
    return found


def localrc_variables(text: str) -> dict[str, str]:
    """A DevStack local.conf's ``[[local|localrc]]`` shell variables (``NAME=word``, ``+=``).

    ``sriovstack.domain.hostconfig`` reads only the variables the agent needs; this reads
    them all, for ``OVS_PHYSICAL_BRIDGE`` and ``PUBLIC_INTERFACE``. Lines before the first
    ``[[...]]`` header count as localrc. Commands and lines that are not one word are skipped.
    """
    variables: dict[str, str] = {}
    in_localrc = True
    for raw in text.splitlines():
        line = raw.strip()
        if header := _HEADER.fullmatch(line):
            in_localrc = (header[1], header[2]) == ("local", "localrc")
            continue
        assign = _ASSIGN.fullmatch(line) if in_localrc else None
        if assign is None:
            continue
        try:
            words = shlex.split(assign[3], comments=True)
        except ValueError:
            continue
        if len(words) > 1:
            continue
        value = _VARIABLE.sub(lambda m: variables.get(m[1] or m[2], ""), words[0] if words else "")
        name = assign[1]
        variables[name] = variables.get(name, "") + value if assign[2] else value
    return variables


# ------------------------------------------------------------------------------ the API's view


def _dhcp_server(
    port: Mapping[str, Any], hosts: Mapping[str, FabricHost], notes: list[str]
) -> DhcpServer | None:
    """The namespace DevStack's DHCP agent plugs into the physical bridge of the port's host."""
    ip, host = first_ip(port), str(port.get("binding:host_id") or "")
    network = str(port["network_id"])
    where = f"the DHCP port {ip or port['id']} of network {network}"
    if ip is None:
        return None  # it serves no address: nothing can ask it
    if host not in hosts:
        notes.append(f"{where} is left out: it is bound to {host or 'no host'}, not a host here")
        return None
    bridge = next(iter(hosts[host].bridges), None)
    if bridge is None:
        notes.append(
            f"{where} is left out: {host} has no OVS bridge (its local.conf sets no "
            "OVS_PHYSICAL_BRIDGE and PUBLIC_INTERFACE)"
        )
        return None
    mac = MacAddress.parse(str(port["mac_address"]))
    return DhcpServer(network, mac, ip, host, bridge, name=f"qdhcp-{network}")
