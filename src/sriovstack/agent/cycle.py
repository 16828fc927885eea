"""One agent cycle: observe the host, report it, plan the VFs against the desired state, apply
only what differs, verify by reading back, then act on guests and tell the API what holds.

Every step is safe to repeat and to interrupt: the agent keeps nothing it cannot rebuild from
the host and the API, so an agent killed anywhere converges on its next cycle. Devices go back
to the pool only on the agent's word that their VFs are clean again (deletes and detaches).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sriovstack.agent.binding import (
    LIVE,
    VF_VIF_TYPES,
    bound_ports,
    guest_nic,
    guest_spec,
    observed_configs,
)
from sriovstack.agent.facts import local_address
from sriovstack.agent.fdbstep import FdbOutcome, reconcile_fdb
from sriovstack.client import ApiError, Client
from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import SriovstackError
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.reconciling import (
    Action,
    BoundPort,
    Configure,
    VfKey,
    plan_vfs,
    wanted_config,
)
from sriovstack.domain.reporting import (
    AgentConfiguration,
    HostFacts,
    HostReport,
    agent_configuration,
    offered_devices,
    report_to_wire,
)
from sriovstack.domain.vfconfig import CLEAN, VFConfig
from sriovstack.host.configuring import set_vf_configs
from sriovstack.host.inventory import read_inventory
from sriovstack.host.kernel import Kernel
from sriovstack.virt.hypervisor import Hypervisor

LONG_POLL_MARGIN = 10.0  # seconds the HTTP timeout allows beyond the server's long-poll wait


@dataclass
class AgentMemory:
    """What an agent keeps between cycles; all of it can be lost (a restart) without harm."""

    last_report: HostReport | None = None
    verified: dict[VfKey, VFConfig] = field(default_factory=dict)
    revision: int | None = None  # of the desired state the last cycle worked from
    alerts: set[tuple[str, str]] = field(default_factory=set)  # FDB alerts standing, sent once
    missing: set[tuple[str, str]] = field(default_factory=set)  # bound VFs gone, said once
    host_ip: str | None = None  # this host's address towards the API, once found


@dataclass
class CycleResult:
    """What one cycle did, for logs, tests and benchmarks."""

    reported: bool = False
    revision: int | None = None
    actions: tuple[Action, ...] = ()
    drift: tuple[str, ...] = ()  # ports whose VF had been changed by hand
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    plugged: list[str] = field(default_factory=list)  # ports hotplugged into running guests
    unplugged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # servers whose delete was confirmed
    detached: list[str] = field(default_factory=list)  # ports whose detach was confirmed
    failed: dict[str, str] = field(default_factory=dict)  # server or port ID -> why
    fdb: FdbOutcome = field(default_factory=FdbOutcome)

    @property
    def changed(self) -> bool:
        """Whether the cycle did anything (the next cycle may then have more to do)."""
        return bool(
            self.actions
            or self.started
            or self.stopped
            or self.activated
            or self.plugged
            or self.unplugged
            or self.deleted
            or self.detached
            or self.fdb.added
            or self.fdb.removed
        )


@dataclass
class Agent:
    """The agent of one host: its API client, its kernel, its hypervisor and configuration."""

    host: str
    client: Client
    kernel: Kernel
    hypervisor: Hypervisor
    config: HostConfig
    facts: HostFacts
    memory: AgentMemory = field(default_factory=AgentMemory)

    def cycle(self) -> CycleResult:
        """One pass from any state towards the desired one; safe to repeat at any point."""
        result = CycleResult()
        inventory = read_inventory(self.kernel)
        report = self._report(inventory)
        result.reported = report != self.memory.last_report
        if result.reported:
            self.client.put(f"/v1/hosts/{self.host}/inventory", report_to_wire(report))
            self.memory.last_report = report
        else:
            self.client.post(f"/v1/hosts/{self.host}/heartbeat", {})
        desired = self.client.get(f"/v1/hosts/{self.host}/desired")
        result.revision = self.memory.revision = int(desired["revision"])
        servers: list[dict[str, Any]] = desired["servers"]
        live = [s for s in servers if s["status"] in LIVE and s.get("task_state") != "deleting"]
        # Guests and NICs that must go go first: their VFs come back from vfio before the plan.
        result.stopped = self._stop_unwanted({str(s["id"]).lower() for s in live})
        result.unplugged = self._unplug(live)
        if result.stopped or result.unplugged:
            inventory = read_inventory(self.kernel)
        bound = [port for server in live for port in bound_ports(server)]
        managed = [(pf.address, vf.index) for pf in report.pfs for vf in pf.vfs]
        observed = observed_configs(inventory)
        result.actions = plan_vfs(bound, observed, managed=managed, verified=self.memory.verified)
        errors = self._apply(result.actions)
        result.drift = tuple(
            a.port_id for a in result.actions if isinstance(a, Configure) and a.drift
        )
        # Nothing written: what was just observed is what a re-read would show.
        if result.actions:
            inventory = read_inventory(self.kernel)
            observed = observed_configs(inventory)
        verified = self._verify(bound, observed)
        self._drift_events(result.actions, bound)
        self._missing_events(bound, observed)
        for port in bound:
            if port.key not in observed:
                errors.setdefault(
                    port.port_id, f"its VF {port.vf_index} of {port.pf} is gone from the host"
                )
        self._confirm_releases(servers, live, observed, result)
        result.fdb = reconcile_fdb(
            self.kernel, inventory, self.config, desired.get("fdb", []), desired
        )
        self._fdb_events(result.fdb)
        self._guests(live, inventory, verified, errors, result)
        return result

    def wait(self, timeout: float) -> bool:
        """Long-poll up to ``timeout`` seconds for the host's desired state to move on from the
        revision the last cycle used; True when it did. Without one yet, just wait."""
        known = self.memory.revision
        if known is None:
            time.sleep(timeout)
            return False
        answer = self.client.request(
            "GET",
            f"/v1/hosts/{self.host}/desired",
            params={"revision": str(known), "wait": f"{timeout:g}"},
            timeout=timeout + LONG_POLL_MARGIN,
        )
        return int(answer["revision"]) != known

    # -- steps --------------------------------------------------------------------------------
    def _report(self, inventory: HostInventory) -> HostReport:
        agent = self.config.agent if self.config.agent.device_mappings.physnets else None
        pfs = offered_devices(inventory, self.config.device_specs, agent)
        configuration = AgentConfiguration.of(agent_configuration(self.config))
        return HostReport(self.host, self._facts(), pfs, configuration)

    def _facts(self) -> HostFacts:
        """The facts, with the host's IP: the configured one, or else the address this host
        reaches the API from (Nova finds its my_ip alike, on the way to a public address)."""
        if self.facts.host_ip is not None:
            return self.facts
        if self.memory.host_ip is None:
            self.memory.host_ip = local_address(self.client.url)
        return replace(self.facts, host_ip=self.memory.host_ip)

    def _apply(self, actions: Sequence[Action]) -> dict[str, str]:
        """Apply the actions a PF at a time; a failure is recorded for its port, and the others
        go on.

        A batch per PF rather than a cache of the PFs observed this cycle: the batch keeps the
        one PF read, the writes it must account for and the read-back together in the host
        layer, where nothing can use a stale observation, and reads the PF just before writing,
        so that settings changed by hand since the cycle began are merged, not trampled.
        """
        errors: dict[str, str] = {}
        for pf, group in _by_pf(actions).items():
            # plan_vfs gives one action per VF, so keying them by VF index loses none.
            outcomes = set_vf_configs(self.kernel, str(pf), {a.vf_index: a.change for a in group})
            for action in group:
                outcome = outcomes[action.vf_index]
                if isinstance(outcome, SriovstackError) and isinstance(action, Configure):
                    errors[action.port_id] = str(outcome)
        return errors

    def _verify(self, bound: Sequence[BoundPort], observed: Mapping[VfKey, VFConfig]) -> set[str]:
        """The ports whose VF, as read back, carries exactly what the port wants."""
        verified = set()
        self.memory.verified = {}
        for port in bound:
            wanted = wanted_config(port)
            if observed.get(port.key) == wanted:
                verified.add(port.port_id)
                self.memory.verified[port.key] = wanted
        return verified

    def _stop_unwanted(self, wanted: set[str]) -> list[str]:
        stopped = []
        for guest in self.hypervisor.guests():
            if guest.spec.uuid not in wanted:
                self.hypervisor.destroy(guest.spec.uuid)
                stopped.append(guest.spec.uuid)
        return stopped

    def _unplug(self, live: Sequence[Mapping[str, Any]]) -> list[str]:
        """Unplug the NICs of ports being detached from guests that still have them."""
        unplugged = []
        for server in live:
            guest = self.hypervisor.guest(str(server["id"]))
            if guest is None:
                continue
            for port in server["ports"]:
                if port.get("detaching") and guest.spec.nic(str(port["id"])) is not None:
                    self.hypervisor.detach_nic(guest.uuid, str(port["id"]))
                    unplugged.append(str(port["id"]))
        return unplugged

    def _confirm_releases(
        self,
        servers: Sequence[Mapping[str, Any]],
        live: Sequence[Mapping[str, Any]],
        observed: Mapping[VfKey, VFConfig],
        result: CycleResult,
    ) -> None:
        """Say which deleted servers and detached ports are done: guest or NIC gone, and every
        VF they held reads back clean (or is gone from the host)."""
        for server in servers:
            if server.get("task_state") != "deleting":
                continue
            if self.hypervisor.guest(str(server["id"])) is not None:
                continue
            if all(_clean(port, observed) for port in server["ports"]):
                self._confirm(f"/v1/hosts/{self.host}/servers/{server['id']}/deleted")
                result.deleted.append(str(server["id"]))
        for server in live:
            guest = self.hypervisor.guest(str(server["id"]))
            for port in server["ports"]:
                if not port.get("detaching"):
                    continue
                if guest is not None and guest.spec.nic(str(port["id"])) is not None:
                    continue
                if _clean(port, observed):
                    self._confirm(f"/v1/hosts/{self.host}/ports/{port['id']}/detached")
                    result.detached.append(str(port["id"]))

    def _confirm(self, path: str) -> None:
        try:
            self.client.post(path, {})
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
            # Already confirmed (by this agent before a restart): nothing left to say.

    def _guests(
        self,
        live: Sequence[Mapping[str, Any]],
        inventory: HostInventory,
        verified: set[str],
        errors: Mapping[str, str],
        result: CycleResult,
    ) -> None:
        """Start guests whose VFs are verified, hotplug NICs into running ones, report status."""
        for server in live:
            uuid = str(server["id"]).lower()
            ports = [p for p in server["ports"] if not p.get("detaching")]
            vf_ports = [str(p["id"]) for p in ports if p["vif_type"] in VF_VIF_TYPES]
            failures = {p: errors[p] for p in vf_ports if p in errors}
            guest = self.hypervisor.guest(uuid)
            if guest is None:
                if failures:
                    why = "; ".join(f"port {p}: {e}" for p, e in failures.items())
                    self._fail(server, why, result)
                    continue
                if any(p not in verified for p in vf_ports):
                    continue  # not there yet: the next cycle tries again
                try:
                    self.hypervisor.start(guest_spec(server, ports, inventory))
                    result.started.append(uuid)
                except SriovstackError as exc:
                    self._fail(server, f"the guest could not start: {exc}", result)
                    continue
            else:
                self._hotplug(server, ports, inventory, verified, failures, result)
            self._statuses(server, ports, failures, result)

    def _hotplug(
        self,
        server: Mapping[str, Any],
        ports: Sequence[Mapping[str, Any]],
        inventory: HostInventory,
        verified: set[str],
        failures: Mapping[str, str],
        result: CycleResult,
    ) -> None:
        """Plug ports attached to a running guest once their VFs are verified."""
        uuid = str(server["id"]).lower()
        guest = self.hypervisor.guest(uuid)
        assert guest is not None
        for port in ports:
            port_id = str(port["id"])
            if guest.spec.nic(port_id) is not None or port_id in failures:
                continue
            if port["vif_type"] in VF_VIF_TYPES and port_id not in verified:
                continue
            try:
                self.hypervisor.attach_nic(uuid, guest_nic(port, inventory))
                result.plugged.append(port_id)
            except SriovstackError as exc:
                result.failed[port_id] = f"hotplug failed: {exc}"

    def _statuses(
        self,
        server: Mapping[str, Any],
        ports: Sequence[Mapping[str, Any]],
        failures: Mapping[str, str],
        result: CycleResult,
    ) -> None:
        """BUILD -> ACTIVE with each port's status; later, only the ports whose status moved."""
        guest = self.hypervisor.guest(str(server["id"]))
        if guest is None:
            return
        wanted: dict[str, tuple[str, str | None]] = {}
        for port in ports:
            port_id = str(port["id"])
            if port_id in failures:
                wanted[port_id] = ("ERROR", failures[port_id])
            elif port_id in result.failed:
                wanted[port_id] = ("ERROR", result.failed[port_id])
            elif guest.spec.nic(port_id) is not None:
                wanted[port_id] = ("ACTIVE" if port["admin_state_up"] else "DOWN", None)
        if server["status"] == "BUILD":
            plugged = {p: s for p, (s, _) in wanted.items() if s != "ERROR"}
            if self._status(server, {"status": "ACTIVE", "ports": plugged}):
                result.activated.append(str(server["id"]).lower())
            return
        for port in ports:
            port_id = str(port["id"])
            if port_id not in wanted or wanted[port_id][0] == port["status"]:
                continue
            status, reason = wanted[port_id]
            body: dict[str, Any] = {"status": status}
            if reason:
                body["reason"] = reason
                result.failed.setdefault(port_id, reason)
            self._quietly(f"/v1/hosts/{self.host}/ports/{port_id}/status", body)

    def _fail(self, server: Mapping[str, Any], why: str, result: CycleResult) -> None:
        result.failed[str(server["id"])] = why
        if server["status"] == "BUILD":
            self._status(server, {"status": "ERROR", "fault": why})

    def _status(self, server: Mapping[str, Any], body: dict[str, Any]) -> bool:
        return self._quietly(f"/v1/hosts/{self.host}/servers/{server['id']}/status", body)

    def _quietly(self, path: str, body: dict[str, Any]) -> bool:
        """PUT a status; a refusal because the world moved on (404, 409) waits for next cycle."""
        try:
            self.client.put(path, body)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
            return False
        return True

    def _drift_events(self, actions: Sequence[Action], bound: Sequence[BoundPort]) -> None:
        events = [
            {
                "kind": "drift",
                "severity": "warning",
                "port_id": action.port_id,
                "message": f"VF {action.vf_index} of {action.pf} (port {action.port_id}) had "
                f"been changed on the host ({_fields(action)}); set back",
                "details": {"pf": str(action.pf), "vf": action.vf_index, "fields": _names(action)},
            }
            for action in actions
            if isinstance(action, Configure) and action.drift
        ]
        del bound
        self._events(events)

    def _missing_events(
        self, bound: Sequence[BoundPort], observed: Mapping[VfKey, VFConfig]
    ) -> None:
        """Say once that a port's VF is gone from the host (sriov_numvfs changed under it)."""
        gone = [port for port in bound if port.key not in observed]
        keys = {("vf_missing", port.port_id) for port in gone}
        events = [
            {
                "kind": "vf_missing",
                "severity": "error",
                "port_id": port.port_id,
                "message": f"VF {port.vf_index} of {port.pf}, bound to port {port.port_id}, is "
                "gone from the host (its PF's VF count changed?)",
            }
            for port in gone
            if ("vf_missing", port.port_id) not in self.memory.missing
        ]
        self.memory.missing = keys
        self._events(events)

    def _fdb_events(self, outcome: FdbOutcome) -> None:
        """Send each FDB alert once while it stands, not once per cycle."""
        fresh, standing = [], set()
        for event in outcome.events:
            key = (str(event["kind"]), str(event.get("port_id") or event["message"].split()[0]))
            standing.add(key)
            if key not in self.memory.alerts:
                fresh.append(event)
        self.memory.alerts = standing
        self._events(fresh)

    def _events(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.client.post(f"/v1/hosts/{self.host}/events", {"events": events})


def _by_pf(actions: Sequence[Action]) -> dict[PciAddress, list[Action]]:
    """The actions grouped by PF, each group in the plan's VF order."""
    groups: dict[PciAddress, list[Action]] = {}
    for action in actions:
        groups.setdefault(action.pf, []).append(action)
    return groups


def _clean(port: Mapping[str, Any], observed: Mapping[VfKey, VFConfig]) -> bool:
    """Whether the VF a port held reads back clean (a VF gone from the host is clean too)."""
    keys = [p.key for p in bound_ports({"ports": [port]}, detaching=True)]
    return all(observed.get(key, CLEAN) == CLEAN for key in keys)


def _names(action: Configure) -> list[str]:
    change = action.change
    return [f.name for f in fields(change) if getattr(change, f.name) is not None]


def _fields(action: Configure) -> str:
    return ", ".join(_names(action))
