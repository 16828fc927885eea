"""The fabric: trace an ICMP echo, ping, lease an address over DHCP, and ping every pair.

Every call reads the hosts afresh (VF configs, FDB entries, PF links, running guests), so a
change made on a host shows in the next call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sriovstack.domain.errors import InvalidInput
from sriovstack.fabric.endpoints import (
    Endpoint,
    dhcp_endpoint,
    external_endpoint,
    find_endpoint,
    guest_endpoints,
)
from sriovstack.fabric.model import DhcpServer, ExternalHost, FabricHost, Network, PortAddress
from sriovstack.fabric.nics import NicView
from sriovstack.fabric.observing import observe_nics
from sriovstack.fabric.results import ConnectivityMatrix, LeaseResult, TraceResult
from sriovstack.fabric.snapshot import Snapshot


@dataclass(frozen=True, slots=True, eq=False)
class Fabric:
    """Hosts on one ToR switch, the networks on it, and what the control plane knows of ports."""

    hosts: tuple[FabricHost, ...]
    networks: tuple[Network, ...]
    ports: tuple[PortAddress, ...] = ()
    dhcp_servers: tuple[DhcpServer, ...] = ()
    externals: tuple[ExternalHost, ...] = ()

    def __post_init__(self) -> None:
        for name in ("hosts", "networks", "ports", "dhcp_servers", "externals"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check(self)

    # -- endpoints -----------------------------------------------------------------------
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every guest NIC (from the hypervisors, now), DHCP namespace and external host."""
        ports = {p.port_id: p for p in self.ports}
        return (
            *guest_endpoints(self.hosts, ports),
            *(dhcp_endpoint(s) for s in self.dhcp_servers),
            *(external_endpoint(m) for m in self.externals),
        )

    def endpoint(self, ref: str) -> Endpoint:
        """An endpoint by port ID (or namespace/machine name), IP, MAC, or unique server name."""
        return find_endpoint(self.endpoints(), ref)

    def nics(self) -> tuple[NicView, ...]:
        """Every PF's port as its embedded switch sees it now (filter tables, promiscuity)."""
        return tuple(nic for host in self.hosts for nic in observe_nics(host))

    def _snapshot(self) -> Snapshot:
        return Snapshot(self.hosts, self.networks, self.ports, self.endpoints())

    # -- traffic -------------------------------------------------------------------------
    def trace(self, source: str, target: str) -> TraceResult:
        """ARP for ``target``'s IP, the ARP reply, then the ICMP echo request."""
        return self._snapshot().echo(source, target, round_trip=False)

    def ping(self, source: str, target: str) -> TraceResult:
        """The round trip: the trace and then the echo reply."""
        return self._snapshot().echo(source, target, round_trip=True)

    def lease(self, client: str) -> LeaseResult:
        """DHCP DISCOVER (broadcast) to the network's server and its OFFER back."""
        return self._snapshot().lease(client)

    def matrix(self, refs: Sequence[str] | None = None) -> ConnectivityMatrix:
        """A ping between every ordered pair of ``refs`` (default: every endpoint with an IP)."""
        snapshot = self._snapshot()
        if refs is None:
            chosen = [e for e in snapshot.endpoints if e.ip is not None]
        else:
            chosen = [find_endpoint(snapshot.endpoints, r) for r in refs]
        names = tuple(snapshot.title(e) for e in chosen)
        results = tuple(
            snapshot.echo_between(a, b, round_trip=True)
            for a in chosen
            for b in chosen
            if a is not b
        )
        return ConnectivityMatrix(names, results)


def _check(fabric: Fabric) -> None:
    """Refuse inputs that contradict each other, naming the field."""
    _unique("hosts", [h.name for h in fabric.hosts])
    _unique("networks", [n.id for n in fabric.networks])
    _unique("ports", [p.port_id for p in fabric.ports])
    networks = {n.id for n in fabric.networks}
    hosts = {h.name: h for h in fabric.hosts}
    for port in fabric.ports:
        _known(f"ports[{port.port_id}].network_id", port.network_id, networks)
    _unique("dhcp_servers.network_id", [s.network_id for s in fabric.dhcp_servers])
    for server in fabric.dhcp_servers:
        where = f"dhcp_servers[{server.label}]"
        _known(f"{where}.network_id", server.network_id, networks)
        _known(f"{where}.host", server.host, set(hosts))
        _known(f"{where}.bridge", server.bridge, set(hosts[server.host].bridges))
    for machine in fabric.externals:
        _known(f"externals[{machine.name}].network_id", machine.network_id, networks)
    tor_ports = [m.port for m in fabric.externals]
    for host in fabric.hosts:
        pfs = [pf.netdev_name for pf in host.kernel.pfs.values()]
        cables = [host.cable(pf) for pf in pfs] if host.cables is None else host.cables
        tor_ports += [c.tor_port for c in cables if c is not None]
    _unique("ToR ports", tor_ports)
    keys = [s.label for s in fabric.dhcp_servers] + [m.name for m in fabric.externals]
    _unique("DHCP server and external host names", keys)


def _unique(field: str, values: list[str]) -> None:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise InvalidInput(field, "each must be unique", twice)


def _known(field: str, value: str, known: set[str]) -> None:
    if value not in known:
        raise InvalidInput(field, f"must be one of {', '.join(sorted(known)) or '(none)'}", value)
