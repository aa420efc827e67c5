"""Traces as readable text: the initial state in full, then per step only what changed.

The text is what a kernel developer follows step by step, so each step prints the action with
its parameters and, when the model is given, the first line of the action's documentation
(which names the kernel function or patch it models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lang.domains import Value
from ..printable import printable
from . import Trace

if TYPE_CHECKING:
    from ..lang.spec import Model


def fmt_value(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _group(state: dict[str, Value]) -> list[str]:
    """``running: v0=false v1=true`` lines, one per variable, in slot order."""
    groups: dict[str, list[str]] = {}
    for slot, val in state.items():
        if "[" in slot:
            var, idx = slot[:-1].split("[", 1)
            groups.setdefault(var, []).append(f"{idx}={fmt_value(val)}")
        else:
            groups.setdefault(slot, []).append(fmt_value(val))
    return [f"{var}: {' '.join(vals)}" for var, vals in groups.items()]


def _first_line(doc: str) -> str:
    doc = doc.strip()
    return doc.splitlines()[0].strip() if doc else ""


def render(trace: Trace, model: "Model | None" = None, title: str | None = None) -> str:
    """The whole trace as text."""
    docs: dict[str, str] = {}
    if model is not None:
        docs = {a.name: _first_line(a.doc) for a in model.actions}
    sizes = ", ".join(f"{n} {s}" for s, n in trace.sizes.items())
    out: list[str] = []
    out.append(title or f"Trace of {trace.model} (variant {trace.variant}; {sizes}), {len(trace)} steps")
    out.append("")
    out.append("  0  initial state")
    for line in _group(trace.states[0]):
        out.append(f"       {line}")
    width = len(str(len(trace)))
    for i, st in enumerate(trace.steps):
        n = str(i + 1).rjust(max(width, 1))
        head = f"  {n}  {st.label()}"
        if docs.get(st.action):
            head += f"   -- {docs[st.action]}"
        out.append(head)
        ch = trace.changes(i)
        if not ch:
            out.append("       (no variable changes)")
        for slot, (a, b) in ch.items():
            out.append(f"       {slot}: {fmt_value(a)} -> {fmt_value(b)}")
    if trace.loop is not None:
        out.append(f"  the last state is state {trace.loop}: the steps from {trace.loop + 1} on repeat forever")
    if trace.violation:
        out.append("")
        what = trace.violation
        if model is not None:
            for inv in model.invariants:
                if inv.name == trace.violation:
                    what = f"{inv.name}: {inv.summary}" + (f" [{inv.patch}]" if inv.patch else "")
        where = "in the last state" if trace.loop is None else "along the loop"
        if trace.meta.get("violated_by_last_step") == trace.violation:
            where = "by the last step"
        out.append(f"  violated {where}: {what}")
    return "\n".join(printable(line) for line in out) + "\n"  # a trace read from a file names anything
