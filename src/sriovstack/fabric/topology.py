"""The fabric's pieces and cables at one moment, built from the hosts' state and the endpoints."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.embedded import HOST, WIRE, EmbeddedSwitch, vf_port
from sriovstack.fabric.endpoints import Attachment, Endpoint
from sriovstack.fabric.model import FabricHost, Network
from sriovstack.fabric.nics import NicView
from sriovstack.fabric.nodes import NIC, EndpointNode, Node, endpoint_key
from sriovstack.fabric.observing import observe_nics
from sriovstack.fabric.switches import LearningSwitch, SwitchPort

TOR = "tor"
UPLINK = "uplink"


@dataclass(frozen=True, slots=True)
class Link:
    """The far end of a cable or plug: node and port, and how a path names the way (``wire``)."""

    node: str
    port: str
    hop: str = ""


class Topology:
    """Nodes, the links between their ports, and why some ports have nothing behind them."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.links: dict[tuple[str, str], Link] = {}
        self.unlinked: dict[tuple[str, str], str] = {}
        self.endpoints: dict[str, EndpointNode] = {}
        self.nics: list[NicView] = []
        self._distances: dict[str, dict[str, int]] = {}

    def add(self, node: Node) -> None:
        self.nodes[node.key] = node

    def connect(self, a: str, a_port: str, b: str, b_port: str, hop: str = "") -> None:
        self.links[(a, a_port)] = Link(b, b_port, hop)
        self.links[(b, b_port)] = Link(a, a_port, hop)

    def neighbour(self, node: str, port: str) -> str | None:
        link = self.links.get((node, port))
        return link.node if link else None

    def distances(self, target: str) -> dict[str, int]:
        """Hops from every node to ``target`` over the links, whatever the switching rules."""
        if target not in self._distances:
            neighbours: dict[str, list[str]] = {}
            for (node, _), link in self.links.items():
                neighbours.setdefault(node, []).append(link.node)
            found = {target: 0}
            queue = deque([target])
            while queue:
                here = queue.popleft()
                for there in neighbours.get(here, []):
                    if there not in found:
                        found[there] = found[here] + 1
                        queue.append(there)
            self._distances[target] = found
        return self._distances[target]


def build_topology(
    hosts: Sequence[FabricHost], networks: Mapping[str, Network], endpoints: Iterable[Endpoint]
) -> Topology:
    """Observe every host's NICs and wire them to the ToR, the OVS bridges and the endpoints."""
    return _Builder(hosts, networks, [e for e in endpoints if e.running]).build()


class _Builder:
    def __init__(
        self,
        hosts: Sequence[FabricHost],
        networks: Mapping[str, Network],
        endpoints: list[Endpoint],
    ) -> None:
        self.hosts = hosts
        self.networks = networks
        self.endpoints = endpoints
        self.topology = Topology()
        self.tor_ports: list[SwitchPort] = []
        self.tor_links: list[tuple[str, str, str]] = []  # ToR port, node, node's port
        self.nics: dict[tuple[str, str], NicView] = {}
        self.owners: dict[tuple[str, str], Endpoint] = {}  # (host, PF) -> whole-PF guest
        self.vfs: dict[str, tuple[NicView, int]] = {}  # endpoint key -> its VF

    def build(self) -> Topology:
        for host in self.hosts:
            for nic in observe_nics(host):
                self.nics[(host.name, nic.pf)] = nic
                self.topology.nics.append(nic)
        for endpoint in self.endpoints:
            found = self._find_vf(endpoint)
            if found is not None:
                self.vfs[endpoint.key] = found
        self._find_whole_pf_owners()
        for endpoint in self.endpoints:
            node = EndpointNode(endpoint, self._attachment_text(endpoint))
            self.topology.add(node)
            self.topology.endpoints[node.key] = node
        for host in self.hosts:
            self._add_host(host)
        for endpoint in self.endpoints:
            if endpoint.attachment is Attachment.TOR:
                self._add_external(endpoint)
        self.topology.add(LearningSwitch(TOR, "tor", self.tor_ports))
        for tor_port, far, port in self.tor_links:
            self.topology.connect(TOR, tor_port, far, port, "wire")
        for endpoint in self.endpoints:
            key = (endpoint_key(endpoint), NIC)
            if key not in self.topology.links and key not in self.topology.unlinked:
                self.topology.unlinked[key] = self._unplugged(endpoint)
        return self.topology

    def _unplugged(self, endpoint: Endpoint) -> str:
        name, host, port = endpoint.name, endpoint.host, endpoint.key
        kind = endpoint.attachment
        if kind is Attachment.VF:
            return (
                f"{name}'s port {port} is on VF {endpoint.pci_address}, which {host} does not have"
            )
        if kind is Attachment.MACVTAP:
            return f"{name}'s macvtap sits on {endpoint.device}, which is no VF's netdev on {host}"
        if kind is Attachment.WHOLE_PF:
            return (
                f"{name}'s port {port} is on PF {endpoint.pci_address}, which {host} does not have"
            )
        bridges = next((sorted(h.bridges) for h in self.hosts if h.name == host), [])
        return (
            f"{name}'s port {port} is plugged into {endpoint.device}, which {host} does not have "
            f"(its OVS bridges: {', '.join(bridges) or 'none'})"
        )

    # -- whole PFs and attachment texts --------------------------------------------------
    def _find_whole_pf_owners(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.attachment is not Attachment.WHOLE_PF:
                continue
            nic = self._nic_at(endpoint)
            if nic is not None:
                self.owners[(nic.host, nic.pf)] = endpoint

    def _nic_at(self, endpoint: Endpoint) -> NicView | None:
        return next(
            (
                n
                for (host, _), n in self.nics.items()
                if host == endpoint.host and n.address == endpoint.pci_address
            ),
            None,
        )

    def _vf_at(self, endpoint: Endpoint) -> tuple[NicView, int] | None:
        return self.vfs.get(endpoint.key)

    def _find_vf(self, endpoint: Endpoint) -> tuple[NicView, int] | None:
        for (host, _), nic in self.nics.items():
            if host != endpoint.host:
                continue
            for vf in nic.vfs:
                if (
                    endpoint.attachment is Attachment.VF and vf.address == endpoint.pci_address
                ) or (endpoint.attachment is Attachment.MACVTAP and vf.netdev == endpoint.device):
                    return nic, vf.index
        return None

    def _attachment_text(self, endpoint: Endpoint) -> str:
        kind, host = endpoint.attachment, endpoint.host
        if kind in (Attachment.VF, Attachment.MACVTAP):
            found = self._vf_at(endpoint)
            where = f"VF {found[1]} of {found[0].name}" if found else str(endpoint.pci_address)
            return where if kind is Attachment.VF else f"macvtap on {endpoint.device}, {where}"
        if kind is Attachment.WHOLE_PF:
            nic = self._nic_at(endpoint)
            return f"whole PF {nic.name if nic else endpoint.pci_address}"
        if kind is Attachment.TOR:
            return f"its cable to tor port {endpoint.device}"
        return f"a port of {endpoint.device} ({host})"

    # -- a host: its NICs, their cables, its OVS bridges ---------------------------------
    def _add_host(self, host: FabricHost) -> None:
        for nic in (n for (name, _), n in self.nics.items() if name == host.name):
            self._add_nic(host, nic)
        for bridge, uplink in sorted(host.bridges.items()):
            self._add_bridge(host, bridge, uplink)

    def _add_nic(self, host: FabricHost, nic: NicView) -> None:
        owner = self.owners.get((host.name, nic.pf))
        cable = host.cable(nic.pf)
        if owner is not None:
            if cable is None:
                self._unlink(endpoint_key(owner), NIC, f"{nic.name} is not cabled to the ToR")
                return
            self._cable_port(host, nic, "")
            self.tor_links.append((cable.tor_port, endpoint_key(owner), NIC))
            return
        node = EmbeddedSwitch(nic, self._vf_users(nic), self._behind_host(host, nic))
        self.topology.add(node)
        for endpoint in self.endpoints:
            found = self._vf_at(endpoint)
            if found is not None and found[0] is nic:
                self.topology.connect(endpoint_key(endpoint), NIC, node.key, vf_port(found[1]))
        if cable is None:
            self._unlink(node.key, WIRE, f"{nic.name} is not cabled to the ToR")
            return
        down = "" if nic.up else f"the link is down: PF {nic.name} {nic.down_reason}"
        if down and nic.vfs:
            down += ", so its VFs pass no traffic"
        self._cable_port(host, nic, down)
        self.tor_links.append((cable.tor_port, node.key, WIRE))

    def _vf_users(self, nic: NicView) -> dict[int, tuple[str, MacAddress]]:
        users: dict[int, tuple[str, MacAddress]] = {}
        for endpoint in self.endpoints:
            found = self._vf_at(endpoint)
            if found is not None and found[0] is nic:
                users[found[1]] = (endpoint.name, endpoint.mac)
        return users

    def _behind_host(self, host: FabricHost, nic: NicView) -> dict[MacAddress, str]:
        bridges = {b for b, uplink in host.bridges.items() if uplink == nic.pf}
        return {
            e.mac: e.name
            for e in self.endpoints
            if e.host == host.name
            and e.attachment in (Attachment.TAP, Attachment.NAMESPACE)
            and e.device in bridges
        }

    def _cable_port(self, host: FabricHost, nic: NicView, down: str) -> None:
        cable = host.cable(nic.pf)
        assert cable is not None  # the callers have checked
        name, vlan = cable.tor_port, cable.access_vlan
        what = f"{nic.pf} of {host.name}"
        port = SwitchPort(name, what, f"tor port {name}", vlan is None, vlan, down)
        self.tor_ports.append(port)

    def _add_bridge(self, host: FabricHost, bridge: str, uplink: str) -> None:
        key = f"ovs:{host.name}/{bridge}"
        ports = [SwitchPort(UPLINK, f"its uplink {uplink}")]
        plugged: list[Endpoint] = []
        for endpoint in self.endpoints:
            if endpoint.host != host.name or endpoint.attachment not in (
                Attachment.TAP,
                Attachment.NAMESPACE,
            ):
                continue
            if endpoint.device != bridge:
                continue
            port = self._bridge_port(endpoint)
            if port is not None:
                ports.append(port)
                plugged.append(endpoint)
        self.topology.add(LearningSwitch(key, f"{bridge} ({host.name})", ports))
        for endpoint in plugged:
            self.topology.connect(endpoint_key(endpoint), NIC, key, f"port:{endpoint.key}")
        nic = self.nics.get((host.name, uplink))
        owner = self.owners.get((host.name, uplink))
        if nic is None:
            self._unlink(key, UPLINK, f"{bridge}'s uplink {uplink} is not a PF on {host.name}")
        elif owner is not None:
            self._unlink(key, UPLINK, f"{nic.name} is passed through whole to {owner.name}")
        else:
            self.topology.connect(key, UPLINK, f"nic:{host.name}/{uplink}", HOST)

    def _bridge_port(self, endpoint: Endpoint) -> SwitchPort | None:
        network = self.networks.get(endpoint.network_id or "")
        if network is None:
            self._unlink(
                endpoint_key(endpoint),
                NIC,
                f"{endpoint.name}'s port {endpoint.key} has no network the control plane "
                "knows, so Open vSwitch does not know its VLAN",
            )
            return None
        what = f"{endpoint.name}'s port (network {network.name})"
        return SwitchPort(f"port:{endpoint.key}", what, trunk=False, vlan=network.vlan)

    def _add_external(self, endpoint: Endpoint) -> None:
        network = self.networks.get(endpoint.network_id or "")
        vlan = network.vlan if network else None
        name = endpoint.device or endpoint.name
        self.tor_ports.append(SwitchPort(name, endpoint.name, f"tor port {name}", False, vlan))
        self.tor_links.append((name, endpoint_key(endpoint), NIC))

    def _unlink(self, node: str, port: str, reason: str) -> None:
        self.topology.unlinked[(node, port)] = reason
