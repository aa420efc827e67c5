"""Mermaid text for lbrspec's figures (GitHub renders Mermaid blocks in Markdown).

State diagrams become ``stateDiagram-v2`` blocks, sequence diagrams ``sequenceDiagram`` blocks
with a ``loop`` block around the repeated part of a lasso, a ``rect`` block (tinted red for a
race, green where it is guarded) around a window, its label as a note at its top, an interrupt as
an asynchronous arrow (``-)``) into the lane it preempts, and that lane's activation while the
handler runs.  Text is made safe for Mermaid's
grammar: ``;`` ends a statement and ``#`` starts an entity code, so both are replaced; double
quotes become single ones; line breaks become ``<br/>``; control characters (from a trace
file, say) are escaped (:func:`lbrspec.printable.printable`).
"""

from __future__ import annotations

from ..printable import printable
from .figure import (Activate, Deactivate, LoopEnd, LoopStart, Message, Note, RegionEnd, RegionStart, SequenceDiagram,
                     StateDiagram)

#: The background of a highlighted region of a sequence diagram, by tone.
REGION_FILL = {"race": "rgba(255, 120, 120, 0.18)", "guarded": "rgba(120, 200, 120, 0.18)"}


def _safe(text: str) -> str:
    return (printable(text, newlines=True).replace(";", ",").replace("#", "no.").replace('"', "'").replace("\n", "<br/>")
            .replace("{", "(").replace("}", ")"))


def state_diagram(d: StateDiagram) -> str:
    out = ["stateDiagram-v2"]
    if d.direction in ("LR", "TB"):
        out.append(f"    direction {d.direction}")
    for n in d.nodes:
        label = "\n".join(n.lines + ([n.note] if n.note else [])) or "(no state)"  # Mermaid refuses an empty label
        out.append(f'    state "{_safe(label)}" as {n.id}')
    for n in d.nodes:
        if n.initial:
            out.append(f"    [*] --> {n.id}")
    for e in d.edges:
        label = _safe("\n".join(e.labels)).replace(":", " ")
        out.append(f"    {e.src} --> {e.dst}" + (f" : {label}" if label else ""))
    marked = [n.id for n in d.nodes if n.highlight]
    if marked:
        out.append("    classDef highlighted fill:#f8d0d0,stroke:#c9302c,stroke-width:2px")
        out.extend(f"    class {x} highlighted" for x in marked)
    return "\n".join(out) + "\n"


def sequence_diagram(d: SequenceDiagram) -> str:
    out = ["sequenceDiagram"]
    for lane_id, name in d.lanes:
        out.append(f"    participant {lane_id} as {_safe(name)}")
    depth = 1
    for it in d.items:
        pad = "    " * depth
        if isinstance(it, Message):
            arrow = "-)" if it.style == "interrupt" else "->>"
            out.append(f"{pad}{it.src}{arrow}{it.dst}: {_safe(it.text)}")
        elif isinstance(it, Note):
            where = "over " + ",".join(it.lanes)
            out.append(f"{pad}Note {where}: {_safe(it.text)}")
        elif isinstance(it, LoopStart):
            out.append(f"{pad}loop {_safe(it.label)}")
            depth += 1
        elif isinstance(it, LoopEnd | RegionEnd):
            depth -= 1
            out.append("    " * depth + "end")
        elif isinstance(it, RegionStart):
            out.append(f"{pad}rect {REGION_FILL.get(it.tone, REGION_FILL['race'])}")
            depth += 1
            out.append(f"{pad}    Note over {','.join(dict.fromkeys(it.lanes))}: {_safe(it.label)}")
        elif isinstance(it, Activate):
            out.append(f"{pad}activate {it.lane}")
        elif isinstance(it, Deactivate):
            out.append(f"{pad}deactivate {it.lane}")
    return "\n".join(out) + "\n"


def fenced(text: str) -> str:
    """``text`` as a Markdown Mermaid block."""
    return "```mermaid\n" + text + "```\n"
