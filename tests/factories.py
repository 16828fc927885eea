"""Test factories: simulated hosts built from shipped profiles or small TOML overlays."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import HostProfile, load_profile, parse_profile


def boot(name: str = "talk-after", **changes: Any) -> SimulatedKernel:
    """A freshly booted shipped profile, optionally with fields of the profile replaced."""
    return SimulatedKernel(replace(load_profile(name), **changes))


def boot_toml(text: str) -> SimulatedKernel:
    """A freshly booted profile given as TOML (``extends`` may name a shipped profile)."""
    return SimulatedKernel(parse_profile(text, source="test"))


def with_model(profile: HostProfile, **changes: Any) -> HostProfile:
    """The same host with its NIC model's facts changed (e.g. a smaller filter table)."""
    cards = tuple(replace(c, model=replace(c.model, **changes)) for c in profile.cards)
    return replace(profile, cards=cards)


def unchecked(cls: type[Any], **fields: Any) -> Any:
    """Build a frozen value without its validation: what a buggy caller could send a kernel."""
    obj = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj
