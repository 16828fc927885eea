"""Turn a carried frame into a leg: the path to its receiver, or the loss that explains why not.

When no copy reached the receiver, the loss that explains it is the one nearest the receiver
over the fabric's links (a VF refused on the receiver's own NIC beats a broadcast not sent
back where it came from), the later one on a tie. Decisions marked as causes on that copy's
path (a NIC sending a frame to the wire for lack of a filter) are named with it.
"""

from __future__ import annotations

from sriovstack.fabric.carrying import Carried, Ending
from sriovstack.fabric.results import Leg
from sriovstack.fabric.topology import Topology


def explain(
    carried: Carried,
    topology: Topology,
    receiver: str,
    *,
    what: str,
    sender_name: str,
    receiver_name: str,
) -> Leg:
    taken = carried.taken_by(receiver)
    if taken is not None:
        return Leg(what, sender_name, receiver_name, True, carried.path(taken))
    loss = _nearest_loss(carried, topology, receiver)
    if loss is None or loss.drop is None:
        return Leg(what, sender_name, receiver_name, False, (), f"{receiver_name} got no copy")
    hops = carried.path(loss)
    causes = [h.cause for h in hops[: -len(loss.hops)] if h.cause]
    reason = "; ".join([loss.drop.reason, *causes])
    return Leg(what, sender_name, receiver_name, False, hops, reason)


def _nearest_loss(carried: Carried, topology: Topology, receiver: str) -> Ending | None:
    drops = [e for e in carried.endings if e.drop is not None]
    loud = [e for e in drops if e.drop is not None and not e.drop.quiet]
    distances = topology.distances(receiver)
    far = len(topology.nodes) + 1

    def rank(ending: Ending) -> tuple[int, int]:
        return distances.get(ending.toward, far), -carried.depth(ending)

    return min(loud or drops, key=rank, default=None)
