"""The fabric at one moment: its topology, what its switches learned, and the frames it carries.

The switches start having learned every running endpoint that could broadcast (as each does
when it boots and asks DHCP), and they learn on from each call's own frames; a call's
learning is forgotten after it, so results do not depend on what was asked before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.carrying import carry
from sriovstack.fabric.endpoints import Attachment, Endpoint, find_endpoint
from sriovstack.fabric.explaining import explain
from sriovstack.fabric.frames import BROADCAST, Frame
from sriovstack.fabric.model import FabricHost, Network, PortAddress
from sriovstack.fabric.nodes import NIC, Learned, endpoint_key
from sriovstack.fabric.results import LeaseResult, Leg, TraceResult
from sriovstack.fabric.topology import Topology, build_topology


class Snapshot:
    """The fabric at one moment: its topology and what the switches have learned."""

    def __init__(
        self,
        hosts: Sequence[FabricHost],
        networks: Iterable[Network],
        ports: Iterable[PortAddress],
        endpoints: Sequence[Endpoint],
    ) -> None:
        self.endpoints = tuple(endpoints)
        self.networks = {n.id: n for n in networks}
        self.ports = tuple(ports)
        self.topology: Topology = build_topology(hosts, self.networks, self.endpoints)
        self.learned: Learned = {}
        names = [e.name for e in self.endpoints]
        self._ambiguous = {n for n in names if names.count(n) > 1}
        self._warm_up()

    def title(self, endpoint: Endpoint) -> str:
        """The endpoint's name, with its port when the name alone is ambiguous."""
        if endpoint.name in self._ambiguous and endpoint.port_id:
            return f"{endpoint.name} ({endpoint.port_id})"
        return endpoint.name

    def _warm_up(self) -> None:
        for endpoint in sorted(self.endpoints, key=lambda e: e.key):
            if endpoint_key(endpoint) in self.topology.endpoints:
                hello = Frame(endpoint.mac, BROADCAST, "gratuitous ARP")
                carry(self.topology, endpoint_key(endpoint), hello, self.learned)

    def _learned_copy(self) -> Learned:
        return {switch: dict(table) for switch, table in self.learned.items()}

    def _unreachable(self, endpoint: Endpoint) -> str:
        """Why ``endpoint`` cannot send or take frames at all, or empty."""
        if not endpoint.running:
            return f"{self.title(endpoint)} is not running ({endpoint.state})"
        return self.topology.unlinked.get((endpoint_key(endpoint), NIC), "")

    # -- echo ----------------------------------------------------------------------------
    def echo(self, source: str, target: str, *, round_trip: bool) -> TraceResult:
        src, dst = find_endpoint(self.endpoints, source), find_endpoint(self.endpoints, target)
        return self.echo_between(src, dst, round_trip=round_trip)

    def echo_between(self, src: Endpoint, dst: Endpoint, *, round_trip: bool) -> TraceResult:
        a, b = self.title(src), self.title(dst)
        problem = self._echo_problem(src, dst)
        if problem:
            return TraceResult(a, b, False, (), problem)
        learned = self._learned_copy()
        frames = [
            (src, dst, Frame(src.mac, BROADCAST, f"ARP who-has {dst.ip} tell {src.ip}")),
            (dst, src, Frame(dst.mac, src.mac, f"ARP reply {dst.ip} is-at {dst.mac}")),
            (src, dst, Frame(src.mac, dst.mac, f"ICMP echo request {src.ip} > {dst.ip}")),
        ]
        if round_trip:
            frames.append(
                (dst, src, Frame(dst.mac, src.mac, f"ICMP echo reply {dst.ip} > {src.ip}"))
            )
        legs: list[Leg] = []
        for sender, receiver, frame in frames:
            leg = self._leg(sender, receiver, frame, learned)
            legs.append(leg)
            if not leg.delivered:
                return TraceResult(a, b, False, tuple(legs), leg.reason)
        return TraceResult(a, b, True, tuple(legs))

    def _echo_problem(self, src: Endpoint, dst: Endpoint) -> str:
        if src is dst:
            return f"{self.title(src)} is both ends"
        for endpoint in (src, dst):
            problem = self._unreachable(endpoint)
            if problem:
                return problem
            if endpoint.ip is None:
                return (
                    f"{self.title(endpoint)} has no IP address the control plane knows "
                    f"(no fixed IP for port {endpoint.key}), so nothing can ARP for it"
                )
        if src.network_id != dst.network_id:
            return (
                f"{self.title(src)} is on network {self._network_name(src)} and "
                f"{self.title(dst)} on {self._network_name(dst)}: there is no router between "
                "them (the fabric carries L2 only)"
            )
        return ""

    def _network_name(self, endpoint: Endpoint) -> str:
        network = self.networks.get(endpoint.network_id or "")
        return network.name if network else str(endpoint.network_id)

    def _leg(self, sender: Endpoint, receiver: Endpoint, frame: Frame, learned: Learned) -> Leg:
        carried = carry(self.topology, endpoint_key(sender), frame, learned)
        return explain(
            carried,
            self.topology,
            endpoint_key(receiver),
            what=frame.what,
            sender_name=self.title(sender),
            receiver_name=self.title(receiver),
        )

    # -- DHCP ----------------------------------------------------------------------------
    def lease(self, ref: str) -> LeaseResult:
        client = find_endpoint(self.endpoints, ref)
        name = self.title(client)
        server, problem = self._dhcp_server(client)
        if server is None or problem:
            return LeaseResult(name, None, (), problem)
        learned = self._learned_copy()
        discover = Frame(client.mac, BROADCAST, f"DHCP DISCOVER from {client.mac}")
        legs = [self._leg(client, server, discover, learned)]
        if not legs[0].delivered:
            return LeaseResult(name, None, tuple(legs), legs[0].reason)
        offered = self._offer(server, client.mac)
        if offered is None:
            reason = (
                f"{server.name} has no port with MAC {client.mac} on network "
                f"{self._network_name(server)}, so it offers nothing"
            )
            return LeaseResult(name, None, tuple(legs), reason)
        offer = Frame(server.mac, client.mac, f"DHCP OFFER {offered.ip} to {client.mac}")
        legs.append(self._leg(server, client, offer, learned))
        if not legs[1].delivered:
            return LeaseResult(name, None, tuple(legs), legs[1].reason)
        return LeaseResult(name, offered.ip, tuple(legs))

    def _dhcp_server(self, client: Endpoint) -> tuple[Endpoint | None, str]:
        name = self.title(client)
        problem = self._unreachable(client)
        if problem:
            return None, problem
        if client.network_id is None:
            return None, (
                f"the control plane has no address for {name}'s port {client.key}, so no "
                "DHCP server would answer it"
            )
        server = next(
            (
                e
                for e in self.endpoints
                if e.attachment is Attachment.NAMESPACE and e.network_id == client.network_id
            ),
            None,
        )
        if server is None:
            return None, f"network {self._network_name(client)} has no DHCP server"
        if server is client:
            return None, f"{name} is the DHCP server"
        return server, self._unreachable(server)

    def _offer(self, server: Endpoint, mac: MacAddress) -> PortAddress | None:
        return next(
            (p for p in self.ports if p.network_id == server.network_id and p.mac == mac),
            None,
        )
