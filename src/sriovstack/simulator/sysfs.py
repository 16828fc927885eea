"""The simulated sysfs: a tree of directories, attribute files and relative symlinks, with lookup.

The tree is rendered from the simulated kernel's state and mirrors a real ``/sys``: functions
live under ``devices/pci0000:00/<bridge>/<bdf>`` and are reached through ``bus/pci/devices`` and
``class/net`` symlinks; VFs are siblings of their PF under the PF's parent bridge.
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sriovstack.domain.errors import KernelError

Store = Callable[[str], None]


@dataclass(slots=True)
class Attr:
    """An attribute file: readable text and, for writable ones, what a write does."""

    text: str | None  # None: write-only (reading fails with EACCES, as kernfs does)
    store: Store | None = None
    # The errno the attribute's show() returns right now: the file is there (stat and
    # listdir see it) but reading it fails, e.g. a down netdev's carrier (EINVAL).
    error: int | None = None


@dataclass(slots=True)
class Link:
    """A symlink holding a relative target, as sysfs does."""

    target: str


@dataclass(slots=True)
class Dir:
    """A directory."""

    children: dict[str, Node] = field(default_factory=dict)


Node = Attr | Link | Dir


class Tree:
    """A rendered sysfs tree and path lookup that follows relative symlinks like the VFS."""

    def __init__(self) -> None:
        self.root = Dir()

    def mkdir(self, path: str) -> Dir:
        node = self.root
        for part in _parts(path):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Dir()
            if not isinstance(child, Dir):
                raise ValueError(f"{path}: {part} is not a directory")
            node = child
        return node

    def attr(
        self, path: str, text: str | None, store: Store | None = None, *, error: int | None = None
    ) -> None:
        parent, name = posixpath.split(path)
        self.mkdir(parent).children[name] = Attr(text, store, error)

    def link(self, path: str, target_path: str) -> None:
        """Place a symlink at ``path`` pointing at ``target_path``, stored relative."""
        parent, name = posixpath.split(path)
        self.mkdir(parent).children[name] = Link(_relative(target_path, parent))

    def lookup(self, path: str, *, follow_last: bool = True, op: str = "open") -> tuple[Node, str]:
        """Find the node at ``path``; returns it with its canonical (link-free) path."""
        parts = _parts(path)
        node: Node = self.root
        where: list[str] = []
        hops = 0
        i = 0
        while i < len(parts):
            part = parts[i]
            if not isinstance(node, Dir):
                raise KernelError(errno.ENOTDIR, op, path)
            child = node.children.get(part)
            if child is None:
                raise KernelError(errno.ENOENT, op, path)
            last = i == len(parts) - 1
            if isinstance(child, Link) and (follow_last or not last):
                hops += 1
                if hops > 40:
                    raise KernelError(errno.ELOOP, op, path)
                target = posixpath.normpath(posixpath.join("/".join(where), child.target))
                if target.startswith(".."):
                    raise KernelError(errno.ENOENT, op, path)
                parts = [*_parts(target), *parts[i + 1 :]]
                node, where, i = self.root, [], 0
                continue
            node = child
            where.append(part)
            i += 1
        return node, "/".join(where)

    def export(self, root: Path) -> int:
        """Write the tree under ``root`` as files, directories and relative symlinks.

        An attribute whose read fails (``Attr.error``) is left out: a recorder cannot copy
        what it cannot read, so recorded trees lack such files too (tests/data/sysfs).
        Write-only attributes become empty files of mode 0200.
        """
        count = 0
        stack: list[tuple[Path, Dir]] = [(root, self.root)]
        root.mkdir(parents=True, exist_ok=True)
        while stack:
            here, node = stack.pop()
            for name, child in node.children.items():
                target = here / name
                if isinstance(child, Dir):
                    target.mkdir(exist_ok=True)
                    stack.append((target, child))
                elif isinstance(child, Link):
                    target.symlink_to(child.target)
                elif child.error is not None:
                    continue
                else:
                    target.write_text(child.text or "", encoding="utf-8")
                    if child.text is None:
                        target.chmod(0o200)
                    elif child.store is None:
                        target.chmod(0o444)
                count += 1
        return count


def _relative(target: str, link_dir: str) -> str:
    """The link text kernfs writes: up to the deepest common directory that is not the target.

    A link to an ancestor (``net/eth0/device`` -> the function) climbs past the target and names
    it, giving ``../../../0000:03:00.1`` rather than ``../..``.
    """
    here, there = _parts(link_dir), _parts(target)
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    common = min(common, len(there) - 1)
    return "/".join([".."] * (len(here) - common) + there[common:])


def _parts(path: str) -> list[str]:
    if path.startswith("/"):
        raise KernelError(errno.EINVAL, "open", path, "paths are relative to the sysfs root")
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        raise KernelError(errno.EINVAL, "open", path, "'..' is not allowed")
    return parts
