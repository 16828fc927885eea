"""The hypervisor's host_ip is the one its agent reports: configured, or its address to the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.agent.fleet import FACTS, Fleet, fleet

from sriovstack.agent.config import FactsSettings
from sriovstack.agent.cycle import Agent
from sriovstack.agent.facts import host_facts

HYPERVISORS = "/compute/v2.1/os-hypervisors/detail"
AT_2_88 = {"OpenStack-API-Version": "compute 2.88"}  # what OSC's `hypervisor list` sends


def host_ips(made: Fleet) -> dict[str, Any]:
    found = made.admin.request("GET", HYPERVISORS, headers=AT_2_88)["hypervisors"]
    return {h["hypervisor_hostname"]: h["host_ip"] for h in found}


def test_an_agent_reports_its_address_towards_the_api(tmp_path: Path) -> None:
    with fleet(tmp_path, ("sriov-1", "sriov-2")) as made:
        # The API listens on loopback, so each agent reaches it from 127.0.0.1.
        assert host_ips(made) == {"sriov-1": "127.0.0.1", "sriov-2": "127.0.0.1"}


def test_a_configured_host_ip_is_reported_instead(tmp_path: Path) -> None:
    with fleet(tmp_path) as made:
        host = made.host()
        facts = host_facts(FACTS, FactsSettings(host_ip="192.0.2.7"), zone="nova")
        client = host.login()
        host.agent = Agent(host.name, client, host.kernel, host.hypervisor, host.config, facts)
        assert host.settle()[0].reported
        assert host_ips(made) == {"sriov-1": "192.0.2.7"}
