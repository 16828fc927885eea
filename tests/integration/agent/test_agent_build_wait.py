"""GET of a server in BUILD waits, bounded, for its boot to end; lists and others answer at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.integration.agent.fleet import SERVERS, TALK_CONFIG, Fleet, Host, talk_kernel
from tests.integration.api.cloud import TEST_SETTINGS, running_cloud
from tests.integration.api.seeding import add_flavor, add_image, provider_network

from sriovstack.client import Client
from sriovstack.virt.simulated import SimulatedHypervisor

BEFORE_THE_AGENT = 0.5  # seconds the agent lets a GET wait before it starts the guest


@contextmanager
def one_host(tmp_path: Path, build_wait: float) -> Iterator[Fleet]:
    """A fleet of one talk host whose API holds a BUILD server's GET up to ``build_wait``."""
    settings = replace(TEST_SETTINGS, build_wait=timedelta(seconds=build_wait))
    with running_cloud(f"sqlite:///{tmp_path / 'cloud.db'}", settings) as cloud:
        admin = cloud.client("admin", "demo")
        credentials = admin.post("/v1/hosts", {"name": "sriov-1"})["host"]["agent_credentials"]
        kernel = talk_kernel()
        host = Host("sriov-1", cloud, kernel, SimulatedHypervisor(kernel), credentials, TALK_CONFIG)
        host.settle()
        network, flavor, image = provider_network(admin), add_flavor(cloud), add_image(cloud)
        demo = cloud.client("demo")
        yield Fleet(cloud, {"sriov-1": host}, cloud.client("admin"), demo, network, flavor, image)


def timed_get(client: Client, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    answer = client.get(path)
    return answer, time.monotonic() - started


def test_a_get_during_the_boot_answers_active_as_soon_as_the_agent_reports(
    tmp_path: Path,
) -> None:
    bound = 30.0  # far beyond the boot: an answer before it came from the boot, not the bound
    with one_host(tmp_path, bound) as made, ThreadPoolExecutor(1) as pool:
        server = made.boot("Instance-1", made.port())
        assert server["status"] == "BUILD"
        polled = pool.submit(timed_get, made.demo, f"{SERVERS}/{server['id']}")
        time.sleep(BEFORE_THE_AGENT)
        assert made.host().agent.cycle().activated == [server["id"]]
        answer, took = polled.result(timeout=bound)
    assert answer["server"]["status"] == "ACTIVE"
    assert BEFORE_THE_AGENT <= took < bound  # it waited, and woke when the server changed


def test_a_server_that_stays_in_build_is_shown_in_build_after_the_bound(tmp_path: Path) -> None:
    bound = 0.5
    with one_host(tmp_path, bound) as made:
        server = made.boot("Instance-1", made.port())  # the agent never runs: it stays BUILD
        answer, took = timed_get(made.demo, f"{SERVERS}/{server['id']}")
    assert answer["server"]["status"] == "BUILD"
    assert answer["server"]["OS-EXT-STS:vm_state"] == "building"
    assert took >= bound


def test_lists_and_servers_out_of_build_answer_at_once(tmp_path: Path) -> None:
    bound = 30.0
    with one_host(tmp_path, bound) as made:
        active = made.boot("Instance-1", made.port())
        assert made.host().agent.cycle().activated == [active["id"]]
        building = made.boot("Instance-2", made.port())  # the agent does not run again
        shown, took_show = timed_get(made.demo, f"{SERVERS}/{active['id']}")
        listed, took_list = timed_get(made.demo, f"{SERVERS}/detail")
    assert shown["server"]["status"] == "ACTIVE"
    statuses = {s["id"]: s["status"] for s in listed["servers"]}
    assert statuses == {active["id"]: "ACTIVE", building["id"]: "BUILD"}
    assert took_show < bound / 2 and took_list < bound / 2
