"""Learning Ethernet switches with VLANs: the top-of-rack switch and Open vSwitch bridges.

Each learns the port of every (VLAN, source MAC) it sees, sends known unicast out of that
port, floods broadcast, multicast and unknown unicast to every other port of the VLAN, and
never sends a frame back out the port it came in on (no hairpin). A trunk port carries every
VLAN tagged; an access port carries one, untagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sriovstack.fabric.frames import Frame, on_vlan
from sriovstack.fabric.nodes import Drop, Learned, Outcome, Send


@dataclass(frozen=True, slots=True)
class SwitchPort:
    """A port: a VLAN trunk, or an access port of ``vlan`` (None: the untagged network).

    ``what`` says what is behind it (``enp3s0f1 of sriov-1``), ``hop`` how a path names it
    (empty: by the switch's name), ``down`` why it has no link (empty when it has one).
    """

    name: str
    what: str
    hop: str = ""
    trunk: bool = True
    vlan: int | None = None
    down: str = ""

    def carries(self, vlan: int | None) -> bool:
        return self.trunk or self.vlan == vlan


class LearningSwitch:
    """A learning switch with VLANs, as a ToR is and an OVS bridge in NORMAL mode is."""

    def __init__(self, key: str, name: str, ports: Iterable[SwitchPort]) -> None:
        self.key = key
        self.name = name
        self.ports = {p.name: p for p in ports}

    def label(self, port: str) -> str:
        return self.ports[port].hop or self.name

    def receive(self, frame: Frame, port: str, learned: Learned) -> list[Outcome]:
        ingress = self.ports[port]
        if not ingress.trunk:
            if frame.vlan is not None:
                where = self.label(port)
                return [
                    Drop(f"dropped at {where}: an access port takes no tagged frames ({frame.on})")
                ]
            if ingress.vlan is not None:
                frame = frame.tagged(ingress.vlan, f"the access VLAN of {ingress.what}")
        table = learned.setdefault(self.key, {})
        table[(frame.vlan, frame.src)] = port
        if frame.dst.is_multicast:
            return self._flood(frame, ingress, "")
        out = table.get((frame.vlan, frame.dst))
        if out is None:
            return self._flood(frame, ingress, f"{frame.to} is not learned here: flooded")
        if out == port:
            return [Drop(self._hairpin(ingress), port=port)]
        where = self.ports[out].hop or self.ports[out].what
        return [self._send(frame, self.ports[out], f"{frame.to} learned on {where}")]

    def _hairpin(self, ingress: SwitchPort) -> str:
        return (
            f"dropped at {self.name}: would have to go back out the port it came in on "
            f"({ingress.what})"
        )

    def _flood(self, frame: Frame, ingress: SwitchPort, note: str) -> list[Outcome]:
        outcomes = [self._send(frame, p, note) for p in self.ports.values() if p is not ingress]
        # Not sending a broadcast back is how every switch works; for unknown unicast it is
        # how a frame for a MAC behind that very port is lost, so it may explain a loss.
        outcomes.append(
            Drop(self._hairpin(ingress), port=ingress.name, quiet=frame.dst.is_multicast)
        )
        return outcomes

    def _send(self, frame: Frame, port: SwitchPort, note: str) -> Outcome:
        if port.down:
            return Drop(f"dropped at {port.hop or self.name}: {port.down}", port=port.name)
        if not port.carries(frame.vlan):
            return Drop(
                f"dropped at {self.name}: VLAN mismatch: {port.what} is "
                f"{on_vlan(port.vlan)} but the frame is {frame.on}",
                port=port.name,
            )
        out = frame if port.trunk else frame.untagged()
        return Send(port.name, out, note, hop=port.hop)
