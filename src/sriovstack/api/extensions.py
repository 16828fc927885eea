"""Neutron's version document, resource index and extension list (only what is implemented)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sriovstack.api.context import Authenticated, base_url
from sriovstack.domain.errors import NotFound

router = APIRouter(prefix="/networking", tags=["network"])

UPDATED = "2026-11-25T00:00:00-00:00"
CORE_RESOURCES = (("network", "networks"), ("subnet", "subnets"), ("port", "ports"))
# alias -> (name, description); every one of them is implemented, so clients may rely on it.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "binding": (
        "Port Binding",
        "Expose port bindings of a virtual port to external applications: binding:host_id, "
        "binding:vnic_type (normal, direct, direct-physical, macvtap, virtio-forwarder, "
        "remote-managed), binding:profile, binding:vif_type and binding:vif_details.",
    ),
    "provider": (
        "Provider Network",
        "Expose the provider segment of a network: vlan or flat on a physical network.",
    ),
    "external-net": (
        "Neutron external network",
        "Adds the router:external attribute to networks (always false: there are no routers).",
    ),
    "security-group": (
        "security-group",
        "The security groups extension. Groups and rules are stored and shown, but they are "
        "not enforced on direct, direct-physical, macvtap or other non-normal (SR-IOV) ports: "
        "VF traffic bypasses the host firewall, as in Neutron, and only the VF's spoof check "
        "(port_security_enabled) applies. Such ports show "
        '"sriovstack:security_groups_enforced": false.',
    ),
    "stateful-security-group": (
        "Stateful security group",
        "Adds the stateful attribute to security groups.",
    ),
    "security-groups-normalized-cidr": (
        "Security group with normalized CIDR",
        "Adds normalized_cidr, the network of remote_ip_prefix, to security group rules.",
    ),
    "port-security": (
        "Port Security",
        "Adds port_security_enabled to networks and ports; on a VF it is the spoof check.",
    ),
    "network-mtu": ("Network MTU", "Adds the mtu attribute to networks."),
    "standard-attr-revisions": (
        "Resource revision numbers",
        "Adds revision_number to networks, subnets, ports and security groups.",
    ),
    "standard-attr-description": (
        "standard-attr-description",
        "Adds a description to networks, subnets, ports and security groups.",
    ),
    "standard-attr-timestamp": (
        "Resource timestamps",
        "Adds created_at and updated_at to networks, subnets, ports and security groups.",
    ),
    "project-id": (
        "project_id field enabled",
        "Resources carry project_id as well as tenant_id.",
    ),
    "uplink-status-propagation": (
        "Uplink status propagation extension",
        "Adds propagate_uplink_status to ports: the VF's link follows the PF's uplink.",
    ),
    "uplink-status-propagation-updatable": (
        "Uplink status propagation updatable",
        "propagate_uplink_status may be changed after the port is created.",
    ),
    "port-numa-affinity-policy": (
        "Port NUMA affinity policy",
        "Adds numa_affinity_policy (required, preferred, legacy) to ports.",
    ),
    "port-numa-affinity-policy-socket": (
        "Port NUMA affinity policy socket",
        "Adds the socket value to numa_affinity_policy.",
    ),
    "port-mac-address-regenerate": (
        "Neutron Port MAC address regenerate",
        "A port update with mac_address null gives the port a new MAC address.",
    ),
}


@router.get("", include_in_schema=False)
@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    """The one API version; clients skip discovery and append v2.0 themselves."""
    href = f"{base_url(request)}/networking/v2.0/"
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [_link(href)]}]}


@router.get("/v2.0", include_in_schema=False)
@router.get("/v2.0/")
def resources(request: Request) -> dict[str, Any]:
    root = f"{base_url(request)}/networking/v2.0"
    return {
        "resources": [
            {"name": name, "collection": collection, "links": [_link(f"{root}/{collection}")]}
            for name, collection in CORE_RESOURCES
        ]
    }


@router.get("/v2.0/extensions")
def list_extensions(caller: Authenticated) -> dict[str, Any]:
    return {"extensions": [_extension(alias) for alias in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
def show_extension(alias: str, caller: Authenticated) -> dict[str, Any]:
    if alias not in EXTENSIONS:
        raise NotFound("extension", alias, "sriovstack does not implement it")
    return {"extension": _extension(alias)}


def _extension(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "links": [],
        "updated": UPDATED,
    }


def _link(href: str) -> dict[str, str]:
    return {"rel": "self", "href": href}
