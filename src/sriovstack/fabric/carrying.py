"""Carry one frame from an endpoint through the fabric: every copy's path and how each ended."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sriovstack.fabric.frames import Frame, Hop
from sriovstack.fabric.nodes import Accept, Drop, Learned, Node, Outcome, Send
from sriovstack.fabric.topology import Topology

_MAX_VISITS = 100_000  # a frame in a loop would never end; the fabric is built without loops


@dataclass(frozen=True, slots=True)
class Visit:
    """A copy of the frame entering ``node`` at ``port``; ``hops`` led here from the parent."""

    index: int
    parent: int | None
    node: str
    port: str
    frame: Frame
    hops: tuple[Hop, ...]
    depth: int


@dataclass(frozen=True, slots=True)
class Ending:
    """How one copy ended: taken in by an endpoint (``drop`` None) or dropped.

    ``toward`` is the node the copy was headed for when it was dropped (the node itself
    when it was dropped on the way in).
    """

    visit: int
    node: str
    hops: tuple[Hop, ...]
    drop: Drop | None
    toward: str


@dataclass(slots=True)
class Carried:
    """Every copy of one frame: the tree of visits and the endings."""

    visits: list[Visit] = field(default_factory=list)
    endings: list[Ending] = field(default_factory=list)

    def path(self, ending: Ending) -> tuple[Hop, ...]:
        chain: list[Visit] = []
        index: int | None = ending.visit
        while index is not None:
            chain.append(self.visits[index])
            index = self.visits[index].parent
        hops = [hop for visit in reversed(chain) for hop in visit.hops]
        return (*hops, *ending.hops)

    def taken_by(self, node: str) -> Ending | None:
        return next((e for e in self.endings if e.drop is None and e.node == node), None)

    def depth(self, ending: Ending) -> int:
        return self.visits[ending.visit].depth


def carry(topology: Topology, source: str, frame: Frame, learned: Learned) -> Carried:
    """Send ``frame`` from endpoint ``source`` and follow every copy; switches learn as they go."""
    carried = Carried()
    endpoint = topology.endpoints[source]
    carried.visits.append(Visit(0, None, source, "", frame, (), 0))
    queue: deque[tuple[Visit, list[Outcome], str]] = deque()
    queue.append((carried.visits[0], endpoint.send(frame), endpoint.source_label))
    seen: set[tuple[str, str, int | None]] = set()
    while queue:
        visit, outcomes, label = queue.popleft()
        for outcome in outcomes:
            child = _follow(topology, carried, visit, outcome, label)
            if child is None or (child.node, child.port, child.frame.vlan) in seen:
                continue
            seen.add((child.node, child.port, child.frame.vlan))
            if len(carried.visits) > _MAX_VISITS:
                raise RuntimeError("the fabric has a loop: a frame never stopped")
            node: Node = topology.nodes[child.node]
            queue.append(
                (child, node.receive(child.frame, child.port, learned), node.label(child.port))
            )
    return carried


def _follow(
    topology: Topology, carried: Carried, visit: Visit, outcome: Outcome, label: str
) -> Visit | None:
    """Record what ``outcome`` did at ``visit``'s node; the next visit if the frame moves on."""
    here = visit.node
    if isinstance(outcome, Accept):
        carried.endings.append(Ending(visit.index, here, (Hop(label, outcome.note),), None, here))
        return None
    if isinstance(outcome, Drop):
        toward = topology.neighbour(here, outcome.port) if outcome.port else None
        ending = Ending(visit.index, here, (Hop(label),), outcome, toward or here)
        carried.endings.append(ending)
        return None
    return _move(topology, carried, visit, outcome, label)


def _move(
    topology: Topology, carried: Carried, visit: Visit, send: Send, label: str
) -> Visit | None:
    hops = [Hop(label, send.note, send.cause)]
    if send.hop:
        hops.append(Hop(send.hop))
    link = topology.links.get((visit.node, send.port))
    if link is None:
        reason = topology.unlinked.get((visit.node, send.port))
        # A port with no reason recorded has nothing the fabric models behind it (a PF's
        # host side with no bridge): the frame reaches the host's own stack and stops.
        drop = (
            Drop(f"dropped: {reason}")
            if reason
            else Drop(f"dropped at {label}: nothing the fabric models is behind it", quiet=True)
        )
        carried.endings.append(Ending(visit.index, visit.node, tuple(hops), drop, visit.node))
        return None
    if link.hop:
        hops.append(Hop(link.hop))
    child = Visit(
        len(carried.visits),
        visit.index,
        link.node,
        link.port,
        send.frame,
        tuple(hops),
        visit.depth + 1,
    )
    carried.visits.append(child)
    return child
