"""An agent killed at every step of its work (each API request, each kernel write, each guest
operation) converges when a new agent starts: no VF leaked, none used twice, no port left
unfinished, every deleted or detached VF reset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.agent.fleet import PORTS, SERVERS, Fleet, fleet

from sriovstack.client import Client
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.vfconfig import CLEAN, LinkState, VlanTag
from sriovstack.host.counting import WRITES

GUEST_CHANGES = frozenset({"start", "destroy", "attach_nic", "detach_nic", "power_off", "power_on"})


class Killed(BaseException):
    """The agent's process died here (not an Exception: nothing in the agent may catch it)."""


@dataclass
class Tripwire:
    """Counts the agent's steps and kills it before step ``at``."""

    at: int | None = None
    steps: int = 0
    trail: list[str] = field(default_factory=list)

    def step(self, what: str) -> None:
        self.steps += 1
        self.trail.append(what)
        if self.at == self.steps:
            raise Killed(what)


class Tripping:
    """Forwards to ``inner``; the calls named in ``names`` are steps of the tripwire."""

    def __init__(self, inner: Any, names: frozenset[str], wire: Tripwire, kind: str) -> None:
        self._inner, self._names, self._wire, self._kind = inner, names, wire, kind

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in self._names:
            return target

        def tripped(*args: Any, **kwargs: Any) -> Any:
            self._wire.step(f"{self._kind}.{name}{args[:2]}")
            return target(*args, **kwargs)

        return tripped


class TrippingClient(Client):
    """An API client whose every request is a step."""

    def __init__(self, url: str, wire: Tripwire) -> None:
        super().__init__(url)
        self._wire = wire

    def request(self, method: str, path: str, **options: Any) -> Any:
        self._wire.step(f"{method} {path}")
        return super().request(method, path, **options)


@dataclass
class Scene:
    """A host with work waiting for its agent, and what the end state must be."""

    fleet: Fleet
    deleted: str  # server deleted by its user
    booted: str  # server booted, not yet started
    kept: str  # running server with changes to its ports
    booted_port: str
    plugged: str  # attached to ``kept``
    unplugged: str  # being detached from ``kept``
    downed: str  # ``kept``'s first port, set administratively down
    freed_vfs: tuple[int, ...]  # the VFs of the deleted server and the detached port


def set_scene(made: Fleet) -> Scene:
    host = made.host()
    gone_port, downed, unplugged = made.port(), made.port(), made.port()
    deleted = made.boot("Instance-0", gone_port)
    kept = made.boot("Instance-1", downed, unplugged)
    host.settle()
    freed = tuple(_vf(made, p) for p in (gone_port, unplugged))
    made.demo.delete(f"{SERVERS}/{deleted['id']}")
    booted_port = made.port()
    booted = made.boot("Instance-2", booted_port)
    plugged = made.port()
    made.demo.post(
        f"{SERVERS}/{kept['id']}/os-interface", {"interfaceAttachment": {"port_id": plugged}}
    )
    made.demo.delete(f"{SERVERS}/{kept['id']}/os-interface/{unplugged}")
    made.demo.put(f"{PORTS}/{downed}", {"port": {"admin_state_up": False}})
    return Scene(
        made,
        deleted["id"],
        booted["id"],
        kept["id"],
        booted_port,
        plugged,
        unplugged,
        downed,
        freed,
    )


def _vf(made: Fleet, port_id: str) -> int:
    return int(made.show_port(port_id)["binding:profile"]["vf_num"])


def run_killed(made: Fleet, wire: Tripwire) -> bool:
    """Run the agent with the tripwire until it settles or dies; True when it died."""
    host = made.host()
    host.start_agent(
        client=TrippingClient(made.cloud.url, wire),
        kernel=Tripping(host.kernel, WRITES, wire, "kernel"),
        hypervisor=Tripping(host.hypervisor, GUEST_CHANGES, wire, "guest"),
    )
    try:
        host.settle()
    except Killed:
        return True
    return False


def check_converged(scene: Scene) -> None:
    made = scene.fleet
    host = made.host()
    assert made.server(scene.deleted) is None
    for server_id in (scene.booted, scene.kept):
        server = made.server(server_id)
        assert server is not None and server["status"] == "ACTIVE", server
    guests = {g.uuid: {nic.port_id for nic in g.spec.nics} for g in host.hypervisor.guests()}
    assert guests == {
        scene.booted: {scene.booted_port},
        scene.kept: {scene.downed, scene.plugged},
    }
    statuses = {p: made.show_port(p)["status"] for p in (scene.booted_port, scene.plugged)}
    assert statuses == {scene.booted_port: "ACTIVE", scene.plugged: "ACTIVE"}
    assert made.show_port(scene.downed)["status"] == "DOWN"
    assert made.show_port(scene.unplugged)["device_id"] == ""
    held = {d["owner"]: d for d in made.devices() if d["state"] != "available"}
    assert set(held) == {scene.booted_port, scene.downed, scene.plugged}
    assert {d["state"] for d in held.values()} == {"allocated"}
    addresses = [d["address"] for d in held.values()]
    assert len(set(addresses)) == len(addresses)  # no VF used twice
    for port_id in (scene.booted_port, scene.plugged, scene.downed):
        port = made.show_port(port_id)
        config = host.vf_config(_vf(made, port_id))
        assert config.mac == MacAddress.parse(port["mac_address"])
        assert config.vlan == VlanTag(2010)
        wanted = LinkState.DISABLE if port_id == scene.downed else LinkState.ENABLE
        assert config.link_state is wanted
    in_use = {_vf(made, p) for p in (scene.booted_port, scene.plugged, scene.downed)}
    for index in range(7):
        if index not in in_use:
            assert host.vf_config(index) == CLEAN, f"VF {index} leaked"
            assert host.vf(index).driver is None


def test_the_scene_converges_without_a_kill(tmp_path: Path) -> None:
    with fleet(tmp_path) as made:
        scene = set_scene(made)
        assert not run_killed(made, Tripwire())
        check_converged(scene)


def test_an_agent_killed_at_any_step_converges_after_a_restart(tmp_path: Path) -> None:
    with fleet(tmp_path / "count") as made:
        set_scene(made)
        counted = Tripwire()
        run_killed(made, counted)
    assert counted.steps > 12  # the scene makes the agent work: requests, writes, guests
    for at in range(1, counted.steps + 1):
        with fleet(tmp_path / f"kill-{at}") as made:
            scene = set_scene(made)
            wire = Tripwire(at)
            assert run_killed(made, wire), f"no step {at}"
            made.host().start_agent()  # a new process: fresh memory and login
            made.host().settle()
            try:
                check_converged(scene)
            except AssertionError as exc:
                raise AssertionError(f"killed before {wire.trail[-1]} (step {at}): {exc}") from exc
