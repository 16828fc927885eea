"""A kernel proxy that counts the calls made through it, by kind: how agents and benchmarks show
what a cycle cost and prove that an idle one writes nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any

WRITES = frozenset({"write", "set_vf", "set_link", "fdb_add", "fdb_del"})
"""The Kernel calls that change the host."""

NETLINK_READS = frozenset({"link", "links", "fdb_list"})


class CountingKernel:
    """Forwards every attribute of ``inner`` and counts each call by its name."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted

    @property
    def writes(self) -> int:
        return sum(count for name, count in self.calls.items() if name in WRITES)

    def reset(self) -> None:
        self.calls.clear()
