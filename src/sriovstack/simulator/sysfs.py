"""The simulated sysfs: a tree of directories, attribute files and relative symlinks, with lookup.

The tree is rendered from the simulated kernel's state and mirrors a real ``/sys``: functions
live under ``devices/pci0000:00/<bridge>/<bdf>`` and are reached through ``bus/pci/devices`` and
``class/net`` symlinks; VFs are siblings of their PF under the PF's parent bridge.
"""

from __future__ import annotations

import errno
import posixpath
from abc import ABC, abstractmethod
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
# A walk's end: the node reached, its canonical path's parts, and the symlinks followed.
_Walked = tuple[Node, tuple[str, ...], int]


class Drawing(ABC):
    """What a renderer draws on: nodes by path, placed wherever ``put`` places them."""

    @abstractmethod
    def put(self, path: str, node: Node) -> None: ...

    def attr(
        self, path: str, text: str | None, store: Store | None = None, *, error: int | None = None
    ) -> None:
        self.put(path, Attr(text, store, error))

    def link(self, path: str, target_path: str) -> None:
        """Place a symlink at ``path`` pointing at ``target_path``, stored relative."""
        self.put(path, Link(_relative(target_path, posixpath.dirname(path))))


class Tree(Drawing):
    """A rendered sysfs tree and path lookup that follows relative symlinks like the VFS."""

    def __init__(self) -> None:
        self.root = Dir()
        # Where directory paths led, until the tree next changes.
        self._resolved: dict[str, _Walked] = {}

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

    def put(self, path: str, node: Node) -> None:
        """Place ``node`` at ``path``; a directory is made (or kept, with what it holds)."""
        self._resolved.clear()
        if isinstance(node, Dir):
            self.mkdir(path)
            return
        parent, name = posixpath.split(path)
        self.mkdir(parent).children[name] = node

    def remove(self, path: str, *, keep: Callable[[str], bool]) -> None:
        """Take out the node at ``path`` (a directory once empty), then emptied ones not kept."""
        # sysfs has no empty directory that no one made: only ``keep`` names those that stay.
        self._resolved.clear()
        parts = _parts(path)
        dirs = [self.root]  # dirs[i] is the directory at parts[:i]
        for part in parts[:-1]:
            child = dirs[-1].children.get(part)
            if not isinstance(child, Dir):
                return
            dirs.append(child)
        depth = len(parts) - 1
        node = dirs[depth].children.get(parts[depth])
        if node is None or (isinstance(node, Dir) and node.children):
            return
        while True:
            del dirs[depth].children[parts[depth]]
            if depth == 0 or dirs[depth].children or keep("/".join(parts[:depth])):
                return
            depth -= 1

    def lookup(self, path: str, *, follow_last: bool = True, op: str = "open") -> tuple[Node, str]:
        """Find the node at ``path``; returns it with its canonical (link-free) path."""
        # Readers go through one directory's files in turn: resolve it once per tree state.
        parent, _, name = path.rpartition("/")
        start = self._resolved.get(parent)
        if start is not None and name not in ("", ".", ".."):
            rest = [name]
        else:
            rest = _parts(path)
            start = (self.root, (), 0)
            if len(rest) > 1:
                parent = "/".join(rest[:-1])
                if parent not in self._resolved:
                    self._resolved[parent] = self._walk(rest[:-1], True, start, path, op)
                start, rest = self._resolved[parent], rest[-1:]
        node, where, _ = self._walk(rest, follow_last, start, path, op)
        return node, "/".join(where)

    def _walk(
        self, parts: list[str], follow_last: bool, start: _Walked, path: str, op: str
    ) -> _Walked:
        node, done, hops = start
        where = list(done)
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
        return node, tuple(where), hops

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
