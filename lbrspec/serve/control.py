"""Each machine's control states, for the web explorer: a diagram read off the model's text, and
which members of the machine family are in which control state now.

The docs' machine diagrams (:mod:`lbrspec.diagrams.machines`) are read off the reachable graph,
which takes minutes on the default instance; the explorer needs a picture at once, for any
model.  So here a machine's diagram is *syntactic*:

* the **control variable** is the machine's first enum variable that is not a ghost (else its
  first union, else its first boolean);
* its **nodes** are the variable's values;
* a transition gives an **edge** ``a -> b`` when its guard allows the control variable to be
  ``a`` (a conjunct ``x = a``, ``x != c``, or a disjunction of such; no conjunct: every value)
  and an update writes ``b`` (a value, or each branch of an ``if ... then ... else``, whose
  edges are labelled with the branch's condition); a transition that does not write the
  variable is a loop on the values its guard pins, and is not drawn where the guard pins none.

It shows what the text allows, not what is reachable (the docs' diagrams show that), and the
page lights the nodes the members are in now.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from ..explicit.instance import Instance, State
from ..lang.domains import BoolDomain, EnumDomain, UnionDomain
from ..lang.expr import And, Eq, Expr, Ite, Lit, Not, Or, Var, VarRef
from ..lang.expr import Assign
from ..lang.pretty import show
from ..lang.spec import Model
from ..trace.text import fmt_value

#: The longest edge label drawn (the whole label is the edge's tooltip).
LABEL_WIDTH = 34


def control_var(model: Model, machine: str) -> Var | None:
    vs = [v for v in model.vars if v.machine == machine and not getattr(v, "ghost", False)]
    for kind in (EnumDomain, UnionDomain, BoolDomain):
        for v in vs:
            if isinstance(v.dom, kind) and len(v.index) <= 1:
                return v
    return None


def _values(v: Var) -> list[str]:
    d = v.dom
    if isinstance(d, EnumDomain):
        return list(d.members)
    if isinstance(d, BoolDomain):
        return ["false", "true"]
    if isinstance(d, UnionDomain):
        return list(d.consts) + [f"{c}(_)" for c, _ in d.ctors]
    return []


def _lit_name(v: Var, e: Expr) -> str | None:
    """The value a literal of ``v``'s domain stands for, as the model's text prints it."""
    return show(e) if isinstance(e, Lit) and e.dom == v.dom else None


def _conjuncts(e: Expr) -> list[Expr]:
    return [c for a in e.args for c in _conjuncts(a)] if isinstance(e, And) else [e]


def _allowed(v: Var, c: Expr, values: list[str]) -> set[str] | None:
    """The values of ``v`` conjunct ``c`` allows, or None when it says nothing about ``v``."""
    if isinstance(c, Eq):
        for a, b in ((c.a, c.b), (c.b, c.a)):
            if isinstance(a, VarRef) and a.var is v:
                name = _lit_name(v, b)
                return {name} if name else None
    if isinstance(c, VarRef) and c.var is v and isinstance(v.dom, BoolDomain):
        return {"true"}
    if isinstance(c, Not):
        inner = _allowed(v, c.arg, values)
        return set(values) - inner if inner is not None else None
    if isinstance(c, Or):
        parts = [_allowed(v, a, values) for a in c.args]
        if parts and all(p is not None for p in parts):
            return set().union(*parts)  # type: ignore[arg-type]
    return None


def _targets(v: Var, e: Expr, cond: str = "") -> list[tuple[str, str]]:
    """(value, branch label) for what an update of ``v`` to ``e`` may write."""
    name = _lit_name(v, e)
    if name is not None:
        return [(name, cond)]
    if isinstance(e, Ite):
        c = show(e.cond)
        neg = show(e.cond.arg) if isinstance(e.cond, Not) else f"not ({c})"
        pre = f"{cond}, " if cond else ""
        return _targets(v, e.then, f"{pre}{c}") + _targets(v, e.else_, f"{pre}{neg}")
    return [("?", cond)]


_CACHE: dict[tuple[int, str], tuple[Model, dict[str, Any] | None]] = {}


def _diagram(model: Model, machine: str) -> dict[str, Any] | None:
    """The control diagram of ``machine``, computed once per built model."""
    key = (id(model), machine)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not model:
        hit = _CACHE[key] = (model, _compute(model, machine))
    return hit[1]


def _compute(model: Model, machine: str) -> dict[str, Any] | None:
    v = control_var(model, machine)
    if v is None:
        return None
    values = _values(v)
    edges: dict[tuple[str, str], list[str]] = {}
    m = next(x for x in model.machines if x.name == machine)
    for t in m.transitions:
        src = set(values)
        pinned = False
        for c in _conjuncts(t.guard):
            a = _allowed(v, c, values)
            if a is not None:
                src &= a
                pinned = True
        writes = [u for u in t.updates if isinstance(u, Assign) and u.var is v]
        if writes:
            for s in sorted(src, key=values.index):
                for dst, cond in _targets(v, writes[0].value):
                    if dst == "?":
                        continue
                    edges.setdefault((s, dst), []).append(f"{t.name} [{cond}]" if cond else t.name)
        elif pinned:
            for s in sorted(src, key=values.index):
                edges.setdefault((s, s), []).append(t.name)
    return {"machine": machine, "var": v.name, "values": values,
            "edges": [{"src": a, "dst": b, "labels": ls} for (a, b), ls in edges.items()],
            "svg": _svg(machine, v.name, values, edges)}


def _quote(s: str) -> str:
    return '"' + s.replace('"', '\\"') + '"'


def _svg(machine: str, var: str, values: list[str], edges: dict[tuple[str, str], list[str]]) -> str | None:
    """The diagram laid out by Graphviz, if it is installed (else the page lays it out)."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    lines = ["digraph m {", "  graph [rankdir=LR, fontname=Helvetica, fontsize=10, nodesep=0.3, ranksep=0.5];",
             "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica, fontsize=10];",
             "  edge [fontname=Helvetica, fontsize=8, color=\"#777777\"];"]
    for i, val in enumerate(values):
        lines.append(f"  n{i} [id={_quote('cs-' + machine + '-' + str(i))}, label={_quote(val)}];")
    for (a, b), ls in edges.items():
        # short labels on the picture (a branch's condition cut at LABEL_WIDTH), all of it on hover
        short = [x if len(x) <= LABEL_WIDTH else x[:LABEL_WIDTH - 1].rstrip() + "…]" for x in ls[:4]]
        lab = "\\n".join(short) + ("\\n…" if len(ls) > 4 else "")
        lines.append(f"  n{values.index(a)} -> n{values.index(b)} [label={_quote(lab)}, "
                     f"tooltip={_quote(chr(10).join(ls))}];")
    lines.append("}")
    try:
        out = subprocess.run([dot, "-Tsvg"], input="\n".join(lines), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    svg = out.stdout
    return svg[svg.index("<svg"):] if "<svg" in svg else None


def control_views(model: Model, inst: Instance, state: State, prev: State | None) -> list[dict[str, Any]]:
    """Per machine: its control diagram and, per member, the control state now (and before)."""
    out = []
    for m in model.machines:
        diag = _diagram(model, m.name)
        if diag is None:
            continue
        v = model.var(diag["var"])
        members = []
        for idx in inst.index_codes(v):
            slot = inst.slot(v, idx)
            val = fmt_value(inst.decode_slot(slot, state[slot]))
            if isinstance(v.dom, UnionDomain) and "(" in val:
                val = val.split("(", 1)[0] + "(_)"
            before = None
            if prev is not None and prev[slot] != state[slot]:
                before = fmt_value(inst.decode_slot(slot, prev[slot]))
            members.append({"member": inst.slots[slot].name, "value": val, "before": before})
        out.append({**diag, "members": members})
    return out
