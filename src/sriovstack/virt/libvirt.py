"""LibvirtHypervisor: the hypervisor seam over libvirt; the only module that imports libvirt."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sriovstack.domain.errors import Conflict, InvalidInput, NotFound
from sriovstack.virt.domainxml import (
    NAMESPACE,
    PREFIX,
    domain_xml,
    is_sriovstack_domain,
    metadata_xml,
    nic_xml,
    parse_domain_xml,
)
from sriovstack.virt.guests import Guest, GuestNic, GuestSpec, NicKind, PowerState, canonical_uuid
from sriovstack.virt.hypervisor import HypervisorError

# virDomainState -> Nova's power state, as Nova's libvirt driver maps it.
_POWER = {
    0: PowerState.NOSTATE,  # VIR_DOMAIN_NOSTATE
    1: PowerState.RUNNING,  # VIR_DOMAIN_RUNNING
    2: PowerState.RUNNING,  # VIR_DOMAIN_BLOCKED: running, its vCPUs idle
    3: PowerState.PAUSED,  # VIR_DOMAIN_PAUSED
    4: PowerState.SHUTDOWN,  # VIR_DOMAIN_SHUTDOWN: being shut down
    5: PowerState.SHUTDOWN,  # VIR_DOMAIN_SHUTOFF
    6: PowerState.CRASHED,  # VIR_DOMAIN_CRASHED
    7: PowerState.SUSPENDED,  # VIR_DOMAIN_PMSUSPENDED
}
_PAUSED = 3


@functools.cache
def _binding() -> ModuleType:
    """The libvirt module, imported once, with libvirt's printing of every error to stderr off."""
    try:
        import libvirt
    except ImportError:
        raise HypervisorError(
            "connect", "the libvirt Python binding is missing: pip install 'sriovstack[libvirt]'"
        ) from None
    # Errors reach us as exceptions; the default handler would also print each one.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    module: ModuleType = libvirt
    return module


class LibvirtHypervisor:
    """Guests of one libvirt connection, opened on first use.

    The binding (``pip install 'sriovstack[libvirt]'``) is imported then too, so sriovstack
    works without it on simulated hosts. Only domains carrying sriovstack's metadata are guests
    here: every other domain on the host is invisible to the seam and never touched.
    """

    def __init__(self, uri: str = "qemu:///system") -> None:
        self.uri = uri
        self._conn: Any = None

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with self._translating("close"):
                conn.close()

    # -- the Hypervisor protocol ---------------------------------------------------------
    def guests(self) -> list[Guest]:
        lv = _binding()
        with self._translating("list guests"):
            domains = self._connection().listAllDomains(0)
        found: list[Guest] = []
        for dom in domains:
            try:
                text = str(dom.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE))
                if is_sriovstack_domain(text):
                    found.append(Guest(self._parse(text, "list guests"), _power(dom)))
            except lv.libvirtError as exc:
                if exc.get_error_code() != lv.VIR_ERR_NO_DOMAIN:
                    raise _translated("list guests", exc) from exc
                # undefined while we listed: it is simply gone
        return sorted(found, key=lambda g: g.uuid)

    def guest(self, uuid: str) -> Guest | None:
        dom = self._lookup(uuid)
        if dom is None:
            return None
        with self._translating("read guest", uuid):
            return Guest(self._spec(dom), _power(dom))

    def start(self, spec: GuestSpec) -> Guest:
        dom = self._lookup(spec.uuid, ours_only=False)
        if dom is None:
            return self._create(spec)
        with self._translating("start", spec.uuid):
            text = str(dom.XMLDesc(_binding().VIR_DOMAIN_XML_INACTIVE))
            if not is_sriovstack_domain(text):
                raise Conflict(f"domain {spec.uuid} exists and was not defined by sriovstack")
            current = self._parse(text, "start")
            if current != spec:
                raise Conflict(
                    f"guest {current.name} ({spec.uuid}) exists with another spec; "
                    "change its NICs by attach and detach, or destroy it first"
                )
            if not dom.isActive():
                dom.create()
            return Guest(spec, _power(dom))

    def destroy(self, uuid: str) -> None:
        lv = _binding()
        dom = self._lookup(uuid)
        if dom is None:
            return
        with self._translating("destroy", uuid, gone_is_fine=True):
            _stop(dom)
            # sriovstack's domains boot by BIOS: there is no NVRAM to remove with them.
            dom.undefineFlags(
                lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | lv.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            )

    def attach_nic(self, uuid: str, nic: GuestNic) -> None:
        dom = self._require(uuid)
        with self._translating("attach_nic", uuid):
            spec = self._spec(dom)
            plugged = spec.nic(nic.port_id)
            if plugged == nic:
                return
            if plugged is not None:
                raise Conflict(
                    f"port {nic.port_id} is plugged into guest {spec.name} ({spec.uuid}) as "
                    "another NIC; detach it first"
                )
            wanted = spec.with_nic(nic)
            if nic.kind is NicKind.HOSTDEV_PF:
                # First the MAC libvirt has no place for, so the device never reads back without.
                self._set_metadata(dom, wanted)
            dom.attachDeviceFlags(nic_xml(nic), self._affect(dom))

    def detach_nic(self, uuid: str, port_id: str) -> None:
        """Unplug a NIC; a live unplug may finish later, when the guest lets the device go."""
        dom = self._require(uuid)
        with self._translating("detach_nic", uuid):
            spec = self._spec(dom)
            nic = spec.nic(port_id)
            if nic is None:
                return
            dom.detachDeviceFlags(nic_xml(nic), self._affect(dom))
            if nic.kind is NicKind.HOSTDEV_PF:
                self._set_metadata(dom, spec.without_nic(port_id))

    def power_off(self, uuid: str) -> None:
        """Stop the guest at once, as pulling its plug: a guest that ignores ACPI still stops."""
        dom = self._require(uuid)
        with self._translating("power_off", uuid):
            _stop(dom)

    def power_on(self, uuid: str) -> None:
        dom = self._require(uuid)
        with self._translating("power_on", uuid):
            if not dom.isActive():
                dom.create()
            elif int(dom.state()[0]) == _PAUSED:
                dom.resume()

    # -- helpers -------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None:
            with self._translating("connect"):
                self._conn = _binding().open(self.uri)
        return self._conn

    @contextmanager
    def _translating(
        self, operation: str, uuid: str | None = None, *, gone_is_fine: bool = False
    ) -> Iterator[None]:
        """Turn a libvirtError into sriovstack's errors (NotFound for a guest that is gone)."""
        lv = _binding()
        try:
            yield
        except lv.libvirtError as exc:
            if exc.get_error_code() == lv.VIR_ERR_NO_DOMAIN and uuid is not None:
                if gone_is_fine:
                    return
                raise NotFound("guest", uuid) from exc
            raise _translated(f"{operation} {uuid}" if uuid else operation, exc) from exc

    def _lookup(self, uuid: str, *, ours_only: bool = True) -> Any:
        """The domain with this UUID, or None (also for one sriovstack did not define)."""
        uuid = canonical_uuid(uuid)
        lv = _binding()
        conn = self._connection()
        try:
            dom = conn.lookupByUUIDString(uuid)
            if ours_only and not is_sriovstack_domain(str(dom.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE))):
                return None
        except lv.libvirtError as exc:
            if exc.get_error_code() == lv.VIR_ERR_NO_DOMAIN:
                return None
            raise _translated(f"look up {uuid}", exc) from exc
        return dom

    def _require(self, uuid: str) -> Any:
        dom = self._lookup(uuid)
        if dom is None:
            raise NotFound("guest", uuid)
        return dom

    def _spec(self, dom: Any) -> GuestSpec:
        return self._parse(str(dom.XMLDesc(_binding().VIR_DOMAIN_XML_INACTIVE)), "read guest")

    @staticmethod
    def _parse(text: str, operation: str) -> GuestSpec:
        try:
            return parse_domain_xml(text)
        except InvalidInput as exc:
            # Someone changed the domain behind sriovstack's back (virsh edit): say what.
            raise HypervisorError(
                operation, f"the domain's XML is not sriovstack's: {exc}"
            ) from exc

    def _create(self, spec: GuestSpec) -> Guest:
        lv = _binding()
        conn = self._connection()
        with self._translating("define", spec.uuid):
            try:
                named = conn.lookupByName(spec.name)
            except lv.libvirtError as exc:
                if exc.get_error_code() != lv.VIR_ERR_NO_DOMAIN:
                    raise
            else:
                raise Conflict(f"the name {spec.name!r} is taken by domain {named.UUIDString()}")
            dom = conn.defineXML(domain_xml(spec))
        try:
            with self._translating("start", spec.uuid):
                dom.create()
                return Guest(spec, _power(dom))
        except Exception:
            # Nothing half-applied: a guest that cannot start is not left defined.
            with self._translating("undefine", spec.uuid, gone_is_fine=True):
                dom.undefine()
            raise

    @staticmethod
    def _affect(dom: Any) -> int:
        """Change the persistent definition, and the running guest too when there is one."""
        lv = _binding()
        live = lv.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0
        return int(lv.VIR_DOMAIN_AFFECT_CONFIG | live)

    @classmethod
    def _set_metadata(cls, dom: Any, spec: GuestSpec) -> None:
        element = _binding().VIR_DOMAIN_METADATA_ELEMENT
        dom.setMetadata(element, metadata_xml(spec), PREFIX, NAMESPACE, cls._affect(dom))


def _stop(dom: Any) -> None:
    """Pull the guest's plug; one that is already off (or stopped meanwhile) is fine."""
    lv = _binding()
    try:
        dom.destroy()
    except lv.libvirtError as exc:
        if exc.get_error_code() != lv.VIR_ERR_OPERATION_INVALID:  # "domain is not running"
            raise


def _power(dom: Any) -> PowerState:
    return _POWER.get(int(dom.state()[0]), PowerState.NOSTATE)


def _translated(operation: str, exc: Any) -> Exception:
    """A libvirtError as sriovstack's: a refused state is a Conflict, the rest HypervisorError."""
    lv = _binding()
    code = exc.get_error_code()
    message = str(exc.get_error_message() or exc)
    if code in (lv.VIR_ERR_OPERATION_INVALID, lv.VIR_ERR_DOM_EXIST):
        return Conflict(f"{operation}: {message}")
    return HypervisorError(operation, message)
