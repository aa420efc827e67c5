"""Graphviz DOT for lbrspec's figures, and SVG through Graphviz's ``dot`` when it is installed.

State diagrams are ordinary digraphs (rounded boxes, a black dot pointing at each initial
node); a step that stays in a node is listed inside it after ``↻`` rather than drawn as a loop,
whose label Graphviz would place over the edges arriving at the node.  A sequence diagram is laid out as a grid: one column of invisible points per lane, one
row per message or note, dashed lifelines down each column, and each message a horizontal edge
inside its row.  A window is a tinted cluster around its rows (red for a race, green where it is
guarded) labelled at its top; an interrupt is a bold red arrow into the lane it preempts, whose
lifeline is drawn thick while the handler runs.
"""

from __future__ import annotations

import shutil
import subprocess

from ..errors import InputError
from ..printable import printable
from .figure import (Activate, Deactivate, LoopEnd, LoopStart, Message, Note, RegionEnd, RegionStart, SequenceDiagram,
                     StateDiagram)

#: (fill, border, label colour) of a highlighted region of a sequence diagram, by tone.
REGION_COLOURS = {"race": ("#fde4e4", "#d9534f", "#a61e1e"), "guarded": ("#e3f4e3", "#5cb85c", "#2d6a2d")}

FONT = "Helvetica"


def _q(text: str) -> str:
    """A DOT string literal; ``\\n`` in ``text`` becomes a centred line break."""
    return '"' + printable(text, newlines=True).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ql(text: str) -> str:
    """A DOT string literal with left-aligned lines."""
    return '"' + printable(text, newlines=True).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + '\\l"'


def state_diagram(d: StateDiagram) -> str:
    out = [
        "digraph lbrspec {",
        f"  graph [rankdir={d.direction}, fontname={_q(FONT)}, fontsize=12, labelloc=t, label={_q(d.title)}, nodesep=0.4, ranksep=0.6];",
        f"  node [shape=box, style=rounded, fontname={_q(FONT)}, fontsize=10];",
        f"  edge [fontname={_q(FONT)}, fontsize=9];",
    ]
    # a step that stays in a node is written inside it (↻), not drawn as a loop whose label would overlap
    # the edges arriving there
    loops = {e.src: e.labels for e in d.edges if e.src == e.dst}
    for n in d.nodes:
        stay = ["↻ " + "\n   ".join(lab.split("\n")) for lab in loops.get(n.id, [])]
        label = "\n".join(n.lines + ([n.note] if n.note else []) + stay)
        extra = ", style=\"rounded,filled,bold\", fillcolor=\"#f8d0d0\", color=\"#c9302c\"" if n.highlight else ""
        out.append(f"  {n.id} [label={_q(label)}{extra}];")
    for n in d.nodes:
        if n.initial:
            out.append(f"  init_{n.id} [shape=point, width=0.12, label=\"\"];")
            out.append(f"  init_{n.id} -> {n.id};")
    for e in d.edges:
        if e.src != e.dst:
            out.append(f"  {e.src} -> {e.dst} [label={_q(chr(10).join(e.labels))}];")
    out.append("}")
    return "\n".join(out) + "\n"


def sequence_diagram(d: SequenceDiagram) -> str:
    lanes = [lane for lane, _ in d.lanes]
    out = [
        "digraph lbrspec_sequence {",
        f"  graph [rankdir=TB, fontname={_q(FONT)}, fontsize=12, labelloc=t, label={_q(d.title)}, nodesep=0.25, ranksep=0.15, splines=line, newrank=true];",
        f"  node [fontname={_q(FONT)}, fontsize=9];",
        f"  edge [fontname={_q(FONT)}, fontsize=9];",
    ]
    out.append("  { rank=same; " + " ".join(f"h_{lane} [shape=box, style=filled, fillcolor=\"#eeeeee\", label={_q(name)}];" for lane, name in d.lanes) + " }")
    for a, b in zip(lanes, lanes[1:]):
        out.append(f"  h_{a} -> h_{b} [style=invis, weight=10];")
    rows: list[list[str]] = []
    borders: dict[int, str] = {}  # row -> colour of the line drawn across it (a window's top or bottom)
    messages: list[str] = []
    loop_open: list[str] = []
    active: set[str] = set()
    regions: list[str] = []  # the kinds of the windows open
    row_active: list[set[str]] = []  # per row: the lanes whose lifeline is thick (an activation) down to it
    row_region: list[str | None] = []  # per row: the kind of the innermost window it is in
    for it in d.items:
        if isinstance(it, Activate):
            active.add(it.lane)
            continue
        if isinstance(it, Deactivate):
            active.discard(it.lane)
            continue
        r = len(rows)
        cells = {lane: f"c{r}_{lane} [shape=point, width=0.01, height=0.01, label=\"\"]" for lane in lanes}
        if isinstance(it, Message):
            if it.src == it.dst:
                cells[it.src] = f"c{r}_{it.src} [shape=plaintext, label={_q(it.text)}]"
            else:
                style = (", color=\"#c9302c\", fontcolor=\"#c9302c\", penwidth=2, arrowhead=vee" if it.style == "interrupt"
                         else ", arrowhead=normal")
                messages.append(f"  c{r}_{it.src} -> c{r}_{it.dst} [label={_q(it.text)}, constraint=false{style}];")
        elif isinstance(it, Note):
            lane = it.lanes[0]
            cells[lane] = f"c{r}_{lane} [shape=note, style=filled, fillcolor=\"#fff8dc\", label={_ql(it.text)}]"
        elif isinstance(it, LoopStart):
            loop_open.append(it.label)
            cells[lanes[0]] = f"c{r}_{lanes[0]} [shape=plaintext, fontcolor=\"#1f5fa8\", label={_q('loop: ' + it.label)}]"
        elif isinstance(it, LoopEnd):
            label = loop_open.pop() if loop_open else ""
            cells[lanes[0]] = f"c{r}_{lanes[0]} [shape=plaintext, fontcolor=\"#1f5fa8\", label={_q(f'end of loop ({label})')}]"
        elif isinstance(it, RegionStart):
            fill, border, ink = REGION_COLOURS.get(it.tone, REGION_COLOURS["race"])
            regions.append(it.tone)
            borders[r] = border
            cells[lanes[0]] = (f"c{r}_{lanes[0]} [shape=box, style=\"filled,rounded\", fillcolor=\"{fill}\", color=\"{border}\", "
                               f"fontcolor=\"{ink}\", label={_ql(_wrap(it.label))}]")
        elif isinstance(it, RegionEnd):
            kind = regions.pop() if regions else "race"
            borders[r] = REGION_COLOURS.get(kind, REGION_COLOURS["race"])[1]
        rows.append([cells[lane] for lane in lanes])
        row_active.append(set(active) | ({it.dst} if isinstance(it, Message) and it.style == "interrupt" else set()))
        row_region.append(regions[-1] if regions else None)
    for r, row in enumerate(rows):
        out.append("  { rank=same; " + "; ".join(row) + "; }")
        for a, b in zip(lanes, lanes[1:]):
            if r in borders:
                out.append(f"  c{r}_{a} -> c{r}_{b} [color=\"{borders[r]}\", penwidth=1.5, arrowhead=none];")
            else:
                out.append(f"  c{r}_{a} -> c{r}_{b} [style=invis];")
    for lane in lanes:
        chain = [f"h_{lane}"] + [f"c{r}_{lane}" for r in range(len(rows))]
        for r, (a, b) in enumerate(zip(chain, chain[1:])):
            # the segment from row r - 1 down to row r
            if r > 0 and lane in row_active[r - 1] and lane in row_active[r]:
                out.append(f"  {a} -> {b} [color=\"#c9302c\", penwidth=5, arrowhead=none, weight=100];")
            elif r > 0 and row_region[r - 1] is not None:  # inside a window
                colour = REGION_COLOURS.get(row_region[r - 1] or "race", REGION_COLOURS["race"])[1]
                out.append(f"  {a} -> {b} [style=dashed, penwidth=1.5, arrowhead=none, color=\"{colour}\", weight=100];")
            else:
                out.append(f"  {a} -> {b} [style=dashed, arrowhead=none, color=\"#999999\", weight=100];")
    out.extend(messages)
    out.append("}")
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int = 60) -> str:
    """``text`` broken at spaces into lines of about ``width`` characters."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "\n".join(lines)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render(dot_text: str, fmt: str = "svg", timeout: float = 60.0) -> bytes:
    """Run Graphviz ``dot -T<fmt>`` on ``dot_text``; :class:`InputError` if ``dot`` is missing
    or rejects the input (which would be a bug in this module)."""
    exe = shutil.which("dot")
    if exe is None:
        raise InputError("Graphviz 'dot' is not installed (apt-get install graphviz); use --format dot or mermaid")
    try:
        p = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"Graphviz 'dot' took more than {timeout:g} s") from None
    if p.returncode != 0:
        raise InputError(f"Graphviz 'dot' failed: {p.stderr.decode(errors='replace').strip().splitlines()[0] if p.stderr else p.returncode}")
    return p.stdout

