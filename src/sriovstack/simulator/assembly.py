"""A sysfs tree kept up to date piece by piece: a change redraws only the pieces it touched."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from sriovstack.simulator.sysfs import Drawing, Node, Tree


@dataclass(slots=True)
class Piece:
    """One device's (or the host's) share of the tree, with everything its drawing depends on."""

    key: Hashable
    # The object the drawn write handlers act on: a new object needs new handlers.
    owner: object
    # Every value the drawing reads that can change after boot; equal inputs draw equal nodes.
    inputs: object
    draw: Callable[[Drawing], None]


class _Sketch(Drawing):
    """Records what a piece draws, so it can be placed in the tree and later taken out."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, Node]] = []

    def put(self, path: str, node: Node) -> None:
        self.nodes.append((path, node))


@dataclass(slots=True)
class _Drawn:
    """A piece as last drawn: what it was drawn from and the nodes it placed."""

    owner: object
    inputs: object
    nodes: list[tuple[str, Node]]


class Assembly:
    """A tree made of pieces; ``update`` redraws the changed ones and leaves the rest in place."""

    def __init__(self) -> None:
        self.tree = Tree()
        self.draws = 0  # pieces drawn so far: a redraw is the cost this module exists to avoid
        self._drawn: dict[Hashable, _Drawn] = {}
        # How many drawn pieces place each path: pieces may share one (an IOMMU group's type).
        self._placed: Counter[str] = Counter()

    def update(self, pieces: Iterable[Piece]) -> None:
        """Bring the tree to these pieces: draw new or changed ones, take out vanished ones."""
        wanted: set[Hashable] = set()
        for piece in pieces:
            wanted.add(piece.key)
            old = self._drawn.get(piece.key)
            if old is not None and old.owner is piece.owner and old.inputs == piece.inputs:
                continue
            if old is not None:
                self._erase(piece.key)
            self._draw(piece)
        for key in self._drawn.keys() - wanted:
            self._erase(key)

    def _draw(self, piece: Piece) -> None:
        sketch = _Sketch()
        piece.draw(sketch)
        for path, node in sketch.nodes:
            self._placed[path] += 1
            self.tree.put(path, node)
        self._drawn[piece.key] = _Drawn(piece.owner, piece.inputs, sketch.nodes)
        self.draws += 1

    def _erase(self, key: Hashable) -> None:
        for path, _ in self._drawn.pop(key).nodes:
            self._placed[path] -= 1
            if not self._placed[path]:
                del self._placed[path]
                self.tree.remove(path, keep=self._placed.__contains__)
