"""What an agent's cycle did, read from its result: for printing it and for pacing the loop."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # For the annotations only: agent.cycle imports the whole agent, and the CLI imports this
    # module at start for printing cycles (see cli/agent.py).
    from sriovstack.agent.cycle import CycleResult


def did_change(result: CycleResult) -> bool:
    """Whether the cycle changed the host: the next one then verifies it converged."""
    return bool(result.actions) or any(done(result).values())


_NOT_DONE = frozenset({"actions", "drift", "failed", "reported", "revision"})


def done(result: CycleResult) -> dict[str, list[str]]:
    """What the cycle did to servers and ports, by verb (started, stopped, activated, ...).

    Read from the result's fields rather than named one by one: every list of IDs a cycle
    result holds is something it did, and the cycle learns new steps (hotplug, deletes).
    """
    found: dict[str, list[str]] = {}
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if item.name not in _NOT_DONE and isinstance(value, list | tuple):
            found[item.name] = [str(v) for v in value]
    return found
