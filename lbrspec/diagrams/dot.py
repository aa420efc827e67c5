"""Graphviz DOT for lbrspec's figures, and SVG through Graphviz's ``dot`` when it is installed.

State diagrams are ordinary digraphs (rounded boxes, a black dot pointing at each initial
node).  A sequence diagram is laid out as a grid: one column of invisible points per lane, one
row per message or note, dashed lifelines down each column, and each message a horizontal edge
inside its row.
"""

from __future__ import annotations

import shutil
import subprocess

from ..errors import InputError
from ..printable import printable
from .figure import LoopEnd, LoopStart, Message, Note, SequenceDiagram, StateDiagram

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
    for n in d.nodes:
        label = "\n".join(n.lines + ([n.note] if n.note else []))
        out.append(f"  {n.id} [label={_q(label)}];")
    for n in d.nodes:
        if n.initial:
            out.append(f"  init_{n.id} [shape=point, width=0.12, label=\"\"];")
            out.append(f"  init_{n.id} -> {n.id};")
    for e in d.edges:
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
    messages: list[str] = []
    loop_open: list[str] = []
    for r, it in enumerate(d.items):
        cells = {lane: f"c{r}_{lane} [shape=point, width=0.01, height=0.01, label=\"\"]" for lane in lanes}
        if isinstance(it, Message):
            if it.src == it.dst:
                cells[it.src] = f"c{r}_{it.src} [shape=plaintext, label={_q(it.text)}]"
            else:
                messages.append(f"  c{r}_{it.src} -> c{r}_{it.dst} [label={_q(it.text)}, constraint=false, arrowhead=normal];")
        elif isinstance(it, Note):
            lane = it.lanes[0]
            cells[lane] = f"c{r}_{lane} [shape=note, style=filled, fillcolor=\"#fff8dc\", label={_ql(it.text)}]"
        elif isinstance(it, LoopStart):
            loop_open.append(it.label)
            cells[lanes[0]] = f"c{r}_{lanes[0]} [shape=plaintext, fontcolor=\"#1f5fa8\", label={_q('loop: ' + it.label)}]"
        elif isinstance(it, LoopEnd):
            label = loop_open.pop() if loop_open else ""
            cells[lanes[0]] = f"c{r}_{lanes[0]} [shape=plaintext, fontcolor=\"#1f5fa8\", label={_q(f'end of loop ({label})')}]"
        rows.append([cells[lane] for lane in lanes])
    for r, row in enumerate(rows):
        out.append("  { rank=same; " + "; ".join(row) + "; }")
        for a, b in zip(lanes, lanes[1:]):
            out.append(f"  c{r}_{a} -> c{r}_{b} [style=invis];")
    for lane in lanes:
        chain = [f"h_{lane}"] + [f"c{r}_{lane}" for r in range(len(rows))]
        for a, b in zip(chain, chain[1:]):
            out.append(f"  {a} -> {b} [style=dashed, arrowhead=none, color=\"#999999\", weight=100];")
    out.extend(messages)
    out.append("}")
    return "\n".join(out) + "\n"


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

