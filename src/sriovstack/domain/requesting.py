"""Device requests: what ports and flavor aliases ask of PCI pools, and which pools match."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sriovstack.domain.alias import Alias, NumaPolicy, parse_flavor_extra_specs
from sriovstack.domain.devspec import DevType, TagValue, read_bool
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.pools import PoolKey

VNIC_TYPE_FIELD = "binding:vnic_type"
IMAGE_NUMA_PROPERTY = "hw_pci_numa_affinity_policy"

RequestSpec = Mapping[str, str | None]
"""Keys a pool must hold (compared case-insensitively; None matches a pool without the key)."""


class RequestSource(enum.StrEnum):
    """Who asks for the devices: a Neutron port or a flavor's alias."""

    PORT = "port"
    ALIAS = "alias"


class VnicType(enum.StrEnum):
    """Neutron's ``binding:vnic_type``: how a port reaches its guest."""

    NORMAL = "normal"
    DIRECT = "direct"
    MACVTAP = "macvtap"
    DIRECT_PHYSICAL = "direct-physical"
    VIRTIO_FORWARDER = "virtio-forwarder"
    REMOTE_MANAGED = "remote-managed"
    VDPA = "vdpa"
    BAREMETAL = "baremetal"


_UNSUPPORTED = {
    VnicType.VDPA: "sriovstack has no vDPA devices, only VFs and whole PFs",
    VnicType.BAREMETAL: "bare-metal ports are bound by Ironic, not to a VM's PCI device",
}


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """``count`` devices for one requester; a pool may serve it if any of ``specs`` matches.

    ``numa_policy`` is the requester's own: the port's ``numa_affinity_policy`` or the alias's
    ``numa_policy``; the flavor and image policy is the boot's (see ``effective_policy``).
    """

    count: int
    specs: tuple[RequestSpec, ...]
    requester: str  # a port ID or an alias name
    source: RequestSource
    numa_policy: NumaPolicy | None = None

    @property
    def label(self) -> str:
        """``port <id>`` or ``alias <name>``, as reasons name the requester."""
        return f"{self.source} {self.requester}"


def parse_vnic_type(text: str) -> VnicType:
    """A ``binding:vnic_type`` value, spelt exactly as Neutron spells it."""
    try:
        return VnicType(text)
    except ValueError:
        allowed = ", ".join(str(v) for v in VnicType)
        raise InvalidInput(VNIC_TYPE_FIELD, f"must be one of {allowed}", text) from None


def device_request_for_port(
    port_id: str,
    vnic_type: VnicType,
    *,
    physnet: str | None,
    trusted: bool | None,
    numa_policy: NumaPolicy | None,
) -> DeviceRequest | None:
    """The one device a port needs, with Nova's spec for its vnic_type (None for ``normal``).

    ``physnet`` is the network's (None for a tunnelled network, which then matches only pools
    without a physnet); ``trusted`` is the binding profile's, when it has one.
    """
    if vnic_type is VnicType.NORMAL:
        return None
    why = _UNSUPPORTED.get(vnic_type)
    if why is not None:
        raise InvalidInput(VNIC_TYPE_FIELD, f"is not supported: {why}", str(vnic_type))
    # Nova spells these booleans "True"/"False"; pools hold "true"/"false" and the match
    # ignores case. A plain VF request carries remote_managed "False" so that it never gets
    # a VF that a SmartNIC's own control plane manages.
    spec: dict[str, str | None] = {
        "physical_network": physnet,
        "remote_managed": str(vnic_type is VnicType.REMOTE_MANAGED),
    }
    if vnic_type is VnicType.DIRECT_PHYSICAL:
        spec["dev_type"] = str(DevType.PF)
    if trusted is not None:
        spec["trusted"] = str(trusted)
    return DeviceRequest(1, (spec,), port_id, RequestSource.PORT, numa_policy)


def device_requests_for_flavor(
    extra_specs: Mapping[str, str], aliases: Mapping[str, Alias]
) -> tuple[DeviceRequest, ...]:
    """One request per ``pci_passthrough:alias`` entry with a count above 0, in flavor order.

    The flavor's ``hw:pci_numa_affinity_policy`` is checked here but not folded into the
    requests: it belongs to the boot, where it outranks each alias's own policy.
    """
    requests = parse_flavor_extra_specs(extra_specs, tuple(aliases.values()))
    return tuple(
        DeviceRequest(
            count=request.count,
            specs=tuple(spec.request() for spec in request.alias.specs),
            requester=request.alias.name,
            source=RequestSource.ALIAS,
            numa_policy=request.alias.numa_policy,
        )
        for request in requests
        if request.count > 0
    )


def resolve_numa_policy(
    *, flavor: NumaPolicy | None, image: NumaPolicy | None
) -> NumaPolicy | None:
    """The boot's PCI NUMA policy: the flavor's or the image's; an image may not override."""
    if flavor is not None and image is not None and flavor is not image:
        # Nova's ImagePCINUMAPolicyForbidden: only an image that agrees with the flavor, or a
        # flavor that says nothing, lets the image property count.
        raise InvalidInput(
            IMAGE_NUMA_PROPERTY,
            f"may not override the flavor's hw:pci_numa_affinity_policy={flavor}",
            str(image),
        )
    return flavor if flavor is not None else image


def pool_matches(key: PoolKey, specs: Sequence[RequestSpec]) -> bool:
    """Nova's ``pci_device_prop_match``: some spec whose every key the pool holds, case aside.

    A key the pool lacks reads as None, so None asks for "no such tag" (a tunnelled network
    has physnet None) and any other value fails.
    """
    values = key.as_dict()
    return any(all(_folded(values.get(k)) == _folded(v) for k, v in spec.items()) for spec in specs)


def _folded(value: TagValue) -> TagValue:
    return value.lower() if isinstance(value, str) else value


_NOUNS: Mapping[TagValue, tuple[str, str]] = {
    str(DevType.VF).lower(): ("VF", "VFs"),
    str(DevType.PF).lower(): ("PF", "PFs"),
    str(DevType.PCI).lower(): ("PCI device", "PCI devices"),
}


def describe_request(request: DeviceRequest) -> str:
    """``1 VF on physnet physnet1``, ``2 VFs 8086:1515 or 8086:10ed``: for people."""
    return f"{request.count} " + " or ".join(
        _describe_spec(spec, request) for spec in request.specs
    )


def _describe_spec(spec: RequestSpec, request: DeviceRequest) -> str:
    default = ("VF", "VFs") if request.source is RequestSource.PORT else ("device", "devices")
    singular, plural = _NOUNS.get(_folded(spec.get("dev_type")), default)
    words = []
    if "trusted" in spec:
        words.append("trusted" if read_bool(spec["trusted"]) else "untrusted")
    if read_bool(spec.get("remote_managed")):
        words.append("remote-managed")
    words.append(singular if request.count == 1 else plural)
    if "vendor_id" in spec or "product_id" in spec:
        words.append(f"{spec.get('vendor_id') or '*'}:{spec.get('product_id') or '*'}")
    if "physical_network" in spec:
        physnet = spec["physical_network"]
        words.append("without a physnet" if physnet is None else f"on physnet {physnet}")
    return " ".join(words)
