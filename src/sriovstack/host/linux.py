"""The real kernel behind the ``Kernel`` seam: sysfs files, rtnetlink via pyroute2, boot facts."""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as pyroute2_netns
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import IFF_LOWER_UP, IFF_UP, ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import NTF_SELF, NUD_NOARP, NUD_PERMANENT

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput, KernelError
from sriovstack.domain.kernelparams import KernelParams, modprobe_blacklist
from sriovstack.domain.observed import FdbEntry, ObservedLink, ObservedVF
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanProto, VlanTag

# include/uapi/linux/rtnetlink.h
RTEXT_FILTER_VF = 1 << 0
RTEXT_FILTER_SKIP_STATS = 1 << 3
# include/uapi/linux/if_arp.h
ARPHRD_ETHER = 1

# The kernel pre-fills spoofchk/trust/rss_query_en with -1 ("driver does not report it");
# pyroute2 decodes the u32 as unsigned.
_NOT_REPORTED = (0xFFFFFFFF, -1)

# sizeof(struct ifla_vf_vlan_info): u32 vf, vlan, qos; __be16 vlan_proto; 2 bytes tail padding.
_VF_VLAN_INFO_SIZE = 16

# `bridge fdb add MAC dev IFNAME self permanent`; state must be an int (a string breaks
# pyroute2's defaulting), and NOARP keeps pyroute2 from adding defaults of its own.
_FDB_STATE = NUD_NOARP | NUD_PERMANENT
_FDB_FLAGS = NTF_SELF

_KMSG_READ_SIZE = 16384  # one read returns one record; a smaller buffer gives EINVAL
_KMSG_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_MAC_TEXT = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def _pad_vf_vlan_info() -> None:
    # pyroute2 packs ifla_vf_vlan_info as 14 bytes, without the struct's tail padding, and
    # do_setvfinfo() rejects an IFLA_VF_VLAN_INFO shorter than the struct with EINVAL (length
    # check added in 2024, also in stable kernels): 802.1ad VLANs could never be set. Decoding
    # is unaffected (the kernel sends 16 bytes). A pyroute2 that already pads is left alone.
    ivvi: Any = ifinfmsg.vflist.vfinfo.vf_vlist.ivvi
    size = sum(struct.calcsize(fmt) for _, fmt in ivvi.fields)
    if size < _VF_VLAN_INFO_SIZE:
        ivvi.fields = (*ivvi.fields, ("__pad", f"{_VF_VLAN_INFO_SIZE - size}x"))


_pad_vf_vlan_info()


# --------------------------------------------------------------------------------------------
# pure conversions: pyroute2 messages <-> domain values


def vf_request(
    index: int,
    *,
    mac: MacAddress | None = None,
    vlan: VlanTag | None = None,
    spoofchk: bool | None = None,
    trust: bool | None = None,
    link_state: LinkState | None = None,
    rate: TxRate | None = None,
) -> dict[str, object]:
    """The ``vf=`` argument of pyroute2's ``link('set')`` for one VF: only the given settings.

    A new dict on every call: pyroute2 pops keys out of the dict it is given.
    """
    if index < 0:
        raise InvalidInput("vf", "must be 0 or more", index)
    request: dict[str, object] = {"vf": index}
    if mac is not None:
        request["mac"] = str(mac)
    if vlan is not None:
        if vlan.proto is VlanProto.DOT1Q:
            # like iproute2: 802.1Q goes as legacy IFLA_VF_VLAN (the kernel implies 802.1Q)
            request["vlan"] = {"vlan": vlan.vlan, "qos": vlan.qos}
        else:
            # a list becomes IFLA_VF_VLAN_LIST; the kernel takes exactly one entry
            request["vlan"] = [{"vlan": vlan.vlan, "qos": vlan.qos, "proto": int(vlan.proto)}]
    if rate is not None:
        request["rate"] = {"min_tx_rate": rate.min_mbps, "max_tx_rate": rate.max_mbps}
    if spoofchk is not None:
        request["spoofchk"] = int(spoofchk)
    if trust is not None:
        request["trust"] = int(trust)
    if link_state is not None:
        request["link_state"] = int(link_state)
    return request


def observed_link(msg: Any) -> ObservedLink:
    """An ``ObservedLink`` from a pyroute2 RTM_NEWLINK message (``ifinfmsg``)."""
    flags = int(msg["flags"])
    num_vfs = msg.get("IFLA_NUM_VF")
    vfinfo_list = msg.get("IFLA_VFINFO_LIST")
    infos = vfinfo_list.get_attrs("IFLA_VF_INFO") if vfinfo_list is not None else []
    return ObservedLink(
        index=int(msg["index"]),
        ifname=str(msg.get("IFLA_IFNAME") or ""),
        mac=_link_mac(int(msg["ifi_type"]), msg.get("IFLA_ADDRESS")),
        admin_up=bool(flags & IFF_UP),
        carrier=bool(flags & IFF_LOWER_UP),
        mtu=int(msg.get("IFLA_MTU") or 0),
        num_vfs=None if num_vfs is None else int(num_vfs),
        vfs=tuple(observed_vf(info) for info in infos),
    )


def observed_vf(info: Any) -> ObservedVF:
    """An ``ObservedVF`` from one decoded ``IFLA_VF_INFO`` nest."""
    vf_mac = info.get("IFLA_VF_MAC")
    index = _vf_index(info)
    return ObservedVF(
        index=index,
        mac=MacAddress.parse(vf_mac["mac"]) if vf_mac is not None else MacAddress.zero(),
        vlan=_vf_vlan(info),
        spoofchk=_vf_flag(info.get("IFLA_VF_SPOOFCHK"), "spoofchk"),
        trust=_vf_flag(info.get("IFLA_VF_TRUST"), "trust"),
        link_state=_vf_link_state(info.get("IFLA_VF_LINK_STATE")),
        rate=_vf_rate(info),
    )


def fdb_entry(msg: Any, ifname: str, master: str | None) -> FdbEntry | None:
    """An ``FdbEntry`` from a pyroute2 AF_BRIDGE neighbour message; None without an address."""
    lladdr = msg.get("NDA_LLADDR")
    if not isinstance(lladdr, str) or not _MAC_TEXT.match(lladdr.lower()):
        return None
    vlan = msg.get("NDA_VLAN")
    return FdbEntry(
        ifname=ifname,
        mac=MacAddress.parse(lladdr),
        vlan=None if vlan is None else int(vlan),
        master=master,
        permanent=bool(int(msg["state"]) & NUD_PERMANENT),
    )


def _link_mac(link_type: int, address: object) -> MacAddress:
    # Only Ethernet-type links have a MAC: tunnels carry 4 or 16 bytes, InfiniBand 20, some
    # none. pyroute2 decodes IFLA_ADDRESS as six bytes whatever its length, so the link type
    # decides, not the text.
    if link_type == ARPHRD_ETHER and isinstance(address, str) and _MAC_TEXT.match(address):
        return MacAddress.parse(address)
    return MacAddress.zero()


def _vf_index(info: Any) -> int:
    # every IFLA_VF_* struct starts with the VF number; MAC comes first from the kernel
    for name in ("IFLA_VF_MAC", "IFLA_VF_VLAN", "IFLA_VF_RATE", "IFLA_VF_LINK_STATE"):
        attr = info.get(name)
        if attr is not None:
            return int(attr["vf"])
    raise KernelError(errno.EPROTO, "decode", "IFLA_VF_INFO", "no attribute names the VF")


def _vf_vlan(info: Any) -> VlanTag:
    vlan_list = info.get("IFLA_VF_VLAN_LIST")
    entries = vlan_list.get_attrs("IFLA_VF_VLAN_INFO") if vlan_list is not None else []
    if entries:
        # the kernel sends exactly one entry, and only it carries the protocol
        first = entries[0]
        return VlanTag(
            vlan=int(first["vlan"]), qos=int(first["qos"]), proto=VlanProto(int(first["proto"]))
        )
    legacy = info.get("IFLA_VF_VLAN")
    if legacy is not None:
        return VlanTag(vlan=int(legacy["vlan"]), qos=int(legacy["qos"]))
    return VlanTag()


def _vf_rate(info: Any) -> TxRate:
    rate = info.get("IFLA_VF_RATE")
    if rate is not None:
        return TxRate(min_mbps=int(rate["min_tx_rate"]), max_mbps=int(rate["max_tx_rate"]))
    legacy = info.get("IFLA_VF_TX_RATE")
    if legacy is not None:
        return TxRate(max_mbps=int(legacy["tx_rate"]))
    return TxRate()


def _vf_flag(attr: Any, field: str) -> bool | None:
    if attr is None:
        return None
    value = int(attr[field])
    return None if value in _NOT_REPORTED else bool(value)


def _vf_link_state(attr: Any) -> LinkState:
    return LinkState.AUTO if attr is None else LinkState(int(attr["link_state"]))


# --------------------------------------------------------------------------------------------
# pure text parsing: kernel log and module blacklists


def dmesg_lines(record: str) -> list[str]:
    """Lines ``dmesg`` prints for one ``/dev/kmsg`` record ``pri,seq,usec,flags[,..];message``.

    Continuation lines (`` KEY=value``) are metadata and dropped; ``\\xNN`` escapes are undone.
    A record that does not parse gives no lines.
    """
    header, sep, body = record.partition(";")
    fields = header.split(",")
    if not sep or len(fields) < 4 or not fields[2].isdigit():
        return []
    usec = int(fields[2])
    prefix = f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}]"
    message = _KMSG_ESCAPE.sub(lambda m: chr(int(m[1], 16)), body.split("\n", 1)[0])
    return [f"{prefix} {line}" for line in message.split("\n")]


# --------------------------------------------------------------------------------------------
# the kernel


@contextmanager
def _os_errors(op: str, target: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise KernelError(exc.errno or errno.EIO, op, target) from exc


@contextmanager
def _netlink_errors(op: str, target: str) -> Iterator[None]:
    try:
        yield
    except NetlinkError as exc:
        raise KernelError(int(exc.code), op, target) from exc
    except OSError as exc:
        raise KernelError(exc.errno or errno.EIO, op, target) from exc


class LinuxKernel:
    """The kernel of this machine (or of a recorded tree, for the file-based calls).

    ``rtnetlink=False`` is for a tree that is not this machine's (recorded, exported): its
    netdevs are not live, and asking this machine's rtnetlink would describe another device
    that happens to have the same name. Every rtnetlink call then fails with ENODEV.
    """

    def __init__(
        self, sysfs_root: str | Path = "/sys", *, netns: str | None = None, rtnetlink: bool = True
    ) -> None:
        self._sysfs = Path(os.path.abspath(sysfs_root))
        self._host = self._sysfs.parent
        self._netns = netns
        self._rtnetlink = rtnetlink
        self._socket: Any = None  # pyroute2 IPRoute, opened on first rtnetlink call

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the rtnetlink socket, if one was opened; later calls open a new one."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> LinuxKernel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- sysfs ---------------------------------------------------------------------------------

    def read(self, path: str) -> str:
        full = self._path(path)
        with _os_errors("read", path), open(full, "rb", buffering=0) as handle:
            data = handle.read()
        return data.decode("utf-8", "surrogateescape")

    def write(self, path: str, value: str) -> None:
        full = self._path(path)
        data = value.encode("utf-8", "surrogateescape")
        with _os_errors("write", path):
            # no O_TRUNC/O_CREAT: a sysfs attribute exists already and takes one write()
            fd = os.open(full, os.O_WRONLY | os.O_CLOEXEC)
            try:
                written = os.write(fd, data)
                info = os.fstat(fd)
                # a plain file (recorded tree) must hold exactly the value afterwards;
                # sysfs files report a size of their own and ignore truncation
                if stat.S_ISREG(info.st_mode) and info.st_size > written:
                    os.ftruncate(fd, written)
            finally:
                os.close(fd)
        if written != len(data):
            raise KernelError(errno.EIO, "write", path, f"short write: {written} of {len(data)}")

    def listdir(self, path: str) -> list[str]:
        full = self._path(path)
        with _os_errors("listdir", path):
            return sorted(os.listdir(full))

    def readlink(self, path: str) -> str:
        full = self._path(path)
        with _os_errors("readlink", path):
            return os.readlink(full)

    def exists(self, path: str) -> bool:
        return os.path.exists(self._path(path))

    def is_link(self, path: str) -> bool:
        return os.path.islink(self._path(path))

    def _path(self, path: str) -> str:
        """The absolute file name of a sysfs-relative path; refuses ways out of the root."""
        if path.startswith("/") or "\0" in path:
            raise InvalidInput("path", "must be relative to the sysfs root", path)
        depth = 0
        for part in path.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise InvalidInput("path", "must stay inside the sysfs root", path)
            elif part not in ("", "."):
                depth += 1
        # joined, not normalised: '..' after a symlink must follow the link, as the kernel does
        return os.path.join(self._sysfs, path) if path else str(self._sysfs)

    # -- rtnetlink -----------------------------------------------------------------------------

    def links(self) -> list[ObservedLink]:
        with _netlink_errors("dump links", self._netns or "host"):
            messages = self._ipr().link("dump")
            return [observed_link(msg) for msg in messages]

    def link(self, ifname: str) -> ObservedLink:
        with _netlink_errors("get link", ifname):
            (msg,) = self._ipr().link(
                "get", ifname=ifname, ext_mask=RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS
            )
            return observed_link(msg)

    def set_vf(
        self,
        ifname: str,
        index: int,
        *,
        mac: MacAddress | None = None,
        vlan: VlanTag | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
        link_state: LinkState | None = None,
        rate: TxRate | None = None,
    ) -> None:
        """Set VF attributes on PF ``ifname`` in one RTM_NEWLINK; nothing given, nothing sent."""
        request = vf_request(
            index,
            mac=mac,
            vlan=vlan,
            spoofchk=spoofchk,
            trust=trust,
            link_state=link_state,
            rate=rate,
        )
        if len(request) == 1:
            return  # an empty IFLA_VF_INFO would only earn EINVAL
        pf_index = self._index(ifname)
        with _netlink_errors(f"set vf {index}", ifname):
            self._ipr().link("set", index=pf_index, vf=request)

    def set_link(self, ifname: str, *, up: bool) -> None:
        index = self._index(ifname)
        with _netlink_errors("set link " + ("up" if up else "down"), ifname):
            self._ipr().link("set", index=index, state="up" if up else "down")

    def fdb_add(self, ifname: str, mac: MacAddress) -> None:
        self._fdb("add", ifname, mac)

    def fdb_del(self, ifname: str, mac: MacAddress) -> None:
        self._fdb("del", ifname, mac)

    def fdb_list(self, ifname: str) -> list[FdbEntry]:
        index = self._index(ifname)
        with _netlink_errors("fdb dump", ifname):
            ours = [msg for msg in self._ipr().fdb("dump") if int(msg["ifindex"]) == index]
            names = {
                master: self._ifname(master)
                for master in {msg.get("NDA_MASTER") for msg in ours} - {None}
            }
            entries = (fdb_entry(msg, ifname, names.get(msg.get("NDA_MASTER"))) for msg in ours)
            return [entry for entry in entries if entry is not None]

    def _fdb(self, command: str, ifname: str, mac: MacAddress) -> None:
        index = self._index(ifname)
        with _netlink_errors(f"fdb {command} {mac}", ifname):
            self._ipr().fdb(
                command, ifindex=index, lladdr=str(mac), state=_FDB_STATE, flags=_FDB_FLAGS
            )

    def _index(self, ifname: str) -> int:
        with _netlink_errors("get link", ifname):
            (msg,) = self._ipr().link("get", ifname=ifname)
            return int(msg["index"])

    def _ifname(self, index: int) -> str:
        (msg,) = self._ipr().link("get", index=index)
        return str(msg.get("IFLA_IFNAME"))

    def _ipr(self) -> Any:
        if not self._rtnetlink:
            raise KernelError(
                errno.ENODEV,
                "open rtnetlink",
                "for a sysfs tree on disk",
                "its netdevs are not live",
            )
        if self._socket is None:
            if self._netns is None:
                with _os_errors("open rtnetlink", "host"):
                    self._socket = IPRoute()
            else:
                self._socket = self._open_netns(self._netns)
        return self._socket

    @staticmethod
    def _open_netns(name: str) -> Any:
        # Check first: a failing IPRoute() leaks its event loop, and pyroute2 would create
        # the namespace rather than fail unless flags=0.
        path = name if "/" in name else os.path.join(pyroute2_netns.NETNS_RUN_DIR, name)
        if not os.path.exists(path):
            raise KernelError(errno.ENOENT, "open netns", name)
        with _os_errors("open netns", name), warnings.catch_warnings():
            # pyroute2 forks a child that enters the namespace and passes the socket back; the
            # child's own copy of the socket object dies unclosed (a ResourceWarning there)
            warnings.simplefilter("ignore", ResourceWarning)
            return IPRoute(netns=name, flags=0)

    # -- boot-time facts -----------------------------------------------------------------------

    def cmdline(self) -> str:
        path = self._host / "proc" / "cmdline"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise KernelError(exc.errno or errno.EIO, "read", str(path)) from exc
        return text.rstrip("\n")

    def log(self) -> list[str]:
        if self._host == Path("/"):
            return self._kmsg()
        path = self._host / "var" / "log" / "dmesg"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise KernelError(exc.errno or errno.EIO, "read", str(path)) from exc
        return text.splitlines()

    def _kmsg(self) -> list[str]:
        path = str(self._host / "dev" / "kmsg")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (PermissionError, FileNotFoundError):
            return []  # dmesg_restrict, or a container without /dev/kmsg
        except OSError as exc:
            raise KernelError(exc.errno or errno.EIO, "open", path) from exc
        lines: list[str] = []
        try:
            while True:
                try:
                    record = os.read(fd, _KMSG_READ_SIZE)
                except BlockingIOError:
                    break  # EAGAIN: read everything there is
                except BrokenPipeError:
                    continue  # EPIPE: records were overwritten; the next read goes on
                except PermissionError:
                    return []
                if not record:
                    break
                lines.extend(dmesg_lines(record.decode("utf-8", "replace")))
        except OSError as exc:
            raise KernelError(exc.errno or errno.EIO, "read", path) from exc
        finally:
            os.close(fd)
        return lines

    def blacklisted_modules(self) -> frozenset[str]:
        names = set(KernelParams.parse(self.cmdline()).blacklist)
        for conf in sorted((self._host / "etc" / "modprobe.d").glob("*.conf")):
            try:
                text = conf.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise KernelError(exc.errno or errno.EIO, "read", str(conf)) from exc
            names |= modprobe_blacklist(text)
        return frozenset(names)
