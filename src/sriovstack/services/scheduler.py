"""Choosing a host for a boot and claiming what it needs there, retrying elsewhere on a lost race.

Each attempt is one transaction: the SQL pre-filter walks an index to a page of candidate hosts,
the domain's filters and weighers rank them, and the best one is claimed with conditional
updates. A claim that finds the world changed rolls back whole and the next attempt skips that
host, so concurrent boots never share a device and a boot never holds half its devices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sriovstack.domain.errors import ConcurrentUpdate
from sriovstack.domain.requesting import DeviceRequest, RequestSource
from sriovstack.domain.scheduling import (
    BootRequest,
    Fit,
    Strategy,
    Weighing,
    explain_no_valid_host,
    rank_hosts,
)
from sriovstack.services.environment import Environment
from sriovstack.store.claiming import ClaimedDevice, DeviceTake, claim_boot
from sriovstack.store.pools import (
    VF_POOL,
    PoolDemand,
    all_host_ids,
    candidate_hosts,
    host_id_named,
    host_states,
)
from sriovstack.store.querying import Session

EXPLAIN_LIMIT = 5000  # hosts examined to explain a failure; more are summarised
RACE_BACKOFF = 0.005  # seconds before re-reading after every candidate was lost to a race, doubled
OnClaimed = Callable[[Session, int, str, Sequence[ClaimedDevice]], None]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a boot landed and the devices it holds there."""

    host_id: int
    host: str
    devices: tuple[ClaimedDevice, ...]
    attempts: int


def device_owners(server_id: str, requests: Sequence[DeviceRequest]) -> list[tuple[str, ...]]:
    """The owner name of each device of each request: a port's ID, or ``<server>:<n>``."""
    owners: list[tuple[str, ...]] = []
    numbered = 0
    for request in requests:
        if request.source is RequestSource.PORT:
            owners.append((request.requester,) * request.count)
        else:
            owners.append(tuple(f"{server_id}:{numbered + i}" for i in range(request.count)))
            numbered += request.count
    return owners


def place(
    env: Environment,
    *,
    server_id: str,
    boot: BootRequest,
    on_claimed: OnClaimed,
) -> Placement | str:
    """Claim a host for ``boot``; ``on_claimed`` records the result in the same transaction.

    Returns the placement, or the "No valid host" explanation with each host's reason.
    """
    settings = env.settings
    weighing = Weighing(Strategy(settings.scheduler_strategy), settings.pci_weight_multiplier)
    demands = pool_demands(boot.devices)
    owners = device_owners(server_id, boot.devices)
    tried: set[int] = set()  # hosts that fail the finer filters: skipped for the whole boot
    raced: set[int] = set()  # hosts lost to a race: skipped until the candidates run out
    attempt = rounds = pages = 0
    while rounds < settings.scheduler_attempts and pages < settings.scheduler_attempts:
        attempt += 1  # every iteration skips one more host, so each round ends
        alive_since = env.now() - settings.agent_down_time
        with env.unit_of_work() as uow:
            ids = candidate_hosts(
                uow.session,
                demands=demands,
                ram_mib=boot.ram_mib,
                vcpus=boot.vcpus,
                availability_zone=boot.availability_zone,
                alive_since=alive_since,
                strategy=settings.scheduler_strategy,
                limit=settings.scheduler_candidates,
                skip=tried | raced,
                host=boot.host,
            )
            if not ids:
                if not raced:
                    break
                # Every candidate was lost to a race, but a lost race only says another boot
                # got there first, and it may still be committing: wait for it, then look at
                # those hosts again with fresh counts (which may now say 0 free).
                raced.clear()
                rounds += 1
                time.sleep(RACE_BACKOFF * 2 ** (rounds - 1))
                continue
            states = host_states(uow.session, ids, alive_since=alive_since)
            by_name = {state.name: host_id for host_id, state in states}
            ranking = rank_hosts(boot, [state for _, state in states], weighing=weighing)
            if not ranking.chosen:
                tried.update(ids)  # this page fails the finer filters: look further
                pages += 1
                continue
            best, fit = ranking.chosen[0]
            host_id = by_name[best.name]
            try:
                devices = claim_boot(
                    uow.session,
                    host_id=host_id,
                    server_id=server_id,
                    ram_mib=boot.ram_mib,
                    vcpus=boot.vcpus,
                    alive_since=alive_since,
                    takes=device_takes(boot.devices, owners, fit),
                    now=env.now(),
                )
                on_claimed(uow.session, host_id, best.name, devices)
                uow.commit()
            except ConcurrentUpdate:
                raced.add(host_id)  # everything rolls back; try elsewhere, then here again
                continue
            return Placement(host_id, best.name, tuple(devices), attempt)
    return explain(env, boot, weighing)


def explain(env: Environment, boot: BootRequest, weighing: Weighing) -> str:
    """Why no host takes ``boot`` now, per host (grouped when there are many); only the named
    host's reason when the boot names one."""
    alive_since = env.now() - env.settings.agent_down_time
    with env.unit_of_work() as uow:
        ids = _hosts_to_explain(uow.session, boot)
        examined = ids[:EXPLAIN_LIMIT]
        states = host_states(uow.session, examined, alive_since=alive_since)
    if boot.host is not None and not ids:  # removed since the boot was accepted
        return explain_no_valid_host([(boot.host, "no compute host has this name")])
    ranking = rank_hosts(boot, [state for _, state in states], weighing=weighing)
    rejected = list(ranking.rejected)
    rejected.extend(
        (host.name, "could take it, but other boots claimed what it had first: try again")
        for host, _ in ranking.chosen
    )
    message = explain_no_valid_host(rejected)
    if len(ids) > len(examined):
        message += f" ({len(ids) - len(examined)} more hosts not examined)"
    return message


def _hosts_to_explain(session: Session, boot: BootRequest) -> list[int]:
    if boot.host is None:
        return all_host_ids(session)
    named = host_id_named(session, boot.host)
    return [] if named is None else [named]


def pool_demands(requests: Sequence[DeviceRequest]) -> list[PoolDemand]:
    """What the SQL pre-filter can check cheaply: free devices per physnet and kind."""
    totals: dict[tuple[str | None, str], int] = {}
    for request in requests:
        specs = request.specs
        physnets = {spec.get("physical_network") for spec in specs}
        if len(physnets) != 1 or any("physical_network" not in spec for spec in specs):
            continue  # alias requests match by IDs: left to the domain's filters
        physnet = physnets.pop()
        dev_types = {spec.get("dev_type") or VF_POOL for spec in specs}
        if len(dev_types) != 1:
            continue
        key = (physnet.lower() if isinstance(physnet, str) else None, dev_types.pop() or VF_POOL)
        totals[key] = totals.get(key, 0) + request.count
    return [PoolDemand(physnet, dev_type, count) for (physnet, dev_type), count in totals.items()]


def device_takes(
    requests: Sequence[DeviceRequest], owners: Sequence[tuple[str, ...]], fit: Fit
) -> list[DeviceTake]:
    """The fit's takes as claims, each device with its owner."""
    given = [0] * len(requests)
    takes = []
    for take in fit.takes:
        index = next(i for i, request in enumerate(requests) if request is take.request)
        start = given[index]
        given[index] += take.count
        takes.append(
            DeviceTake(
                pf_address=take.pool.address,
                dev_type=str(take.pool.dev_type),
                owners=owners[index][start : start + take.count],
            )
        )
    return takes
