"""The two kinds of figure lbrspec draws, independent of any output format.

* :class:`StateDiagram`: nodes (control states, or classes of product states) and labelled
  edges; used for per-machine diagrams and projections of the reachable graph.
* :class:`SequenceDiagram`: lanes (guest, KVM, perf core, host LBR user, IPI) and, in order,
  messages between lanes, notes over lanes, the start and end of a repeated part (the loop
  of a lasso), the start and end of a highlighted *window* (between a check and the action
  that relies on it), and the activation of a lane that an interrupt preempts.

:mod:`lbrspec.diagrams.mermaid` and :mod:`lbrspec.diagrams.dot` render them.  Everything is
kept in a deterministic order, so the same model gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    """A node: ``lines`` of text (one fact each), whether it is initial, a short note."""

    id: str
    lines: list[str]
    initial: bool = False
    note: str = ""
    highlight: bool = False  # drawn in red: e.g. it holds a state that violates the property shown


@dataclass
class Edge:
    src: str
    dst: str
    labels: list[str]


@dataclass
class StateDiagram:
    title: str
    nodes: list[Node]
    edges: list[Edge]
    caption: str = ""  # what was chosen or summarised, for the reader
    direction: str = "LR"

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


@dataclass
class Message:
    src: str  # lane id
    dst: str
    text: str
    style: str = ""  # "interrupt": an interrupt arriving at the lane it preempts


@dataclass
class Note:
    lanes: tuple[str, ...]  # one lane, or the first and last of a span
    text: str  # lines separated by "\n"


@dataclass
class LoopStart:
    label: str


@dataclass
class LoopEnd:
    pass


@dataclass
class RegionStart:
    """A highlighted stretch of the diagram: ``tone`` is "race" (something may interleave and
    break what was checked) or "guarded" (nothing can); ``lanes`` the first and last lane it
    spans."""

    label: str
    tone: str
    lanes: tuple[str, str]


@dataclass
class RegionEnd:
    pass


@dataclass
class Activate:
    """The lane runs something on top of what it was doing (an interrupt handler) until
    :class:`Deactivate`."""

    lane: str


@dataclass
class Deactivate:
    lane: str


Item = Message | Note | LoopStart | LoopEnd | RegionStart | RegionEnd | Activate | Deactivate


@dataclass
class SequenceDiagram:
    title: str
    lanes: list[tuple[str, str]]  # (id, display name), left to right
    items: list[Item] = field(default_factory=list)
    caption: str = ""
