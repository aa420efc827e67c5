"""Readable text for expressions and updates (docs, diagrams, error messages).

Definitions print by name (``owns(v, p)``), so a guard reads the way the model author wrote
it; :func:`show` with ``expand_defs=True`` prints the inlined form instead.
"""

from __future__ import annotations

from .domains import EnumDomain, UnionDomain, BoolDomain
from .expr import (
    And,
    Apply,
    Arith,
    Assign,
    AssignAll,
    Cmp,
    Ctor,
    Eq,
    Expr,
    Implies,
    IsTag,
    Ite,
    Lit,
    Local,
    Not,
    Or,
    Quant,
    Shift,
    SortConst,
    Update,
    VarRef,
    expand,
)

# Binding strength: higher binds tighter.
_PREC = {Quant: 0, Implies: 1, Or: 2, And: 3, Not: 4, Eq: 5, Cmp: 5, Arith: 6}


def _lit(e: Lit) -> str:
    d = e.dom
    if isinstance(d, BoolDomain):
        return "true" if e.code else "false"
    if isinstance(d, EnumDomain):
        return d.members[e.code]
    if isinstance(d, UnionDomain):
        return d.consts[e.code]
    return str(e.code) if e.code >= 0 else f"({e.code})"


def show(e: Expr, expand_defs: bool = False) -> str:
    """``e`` as one line of text."""
    if expand_defs:
        e = expand(e)
    return _show(e, 0)


def _wrap(text: str, prec: int, outer: int) -> str:
    return f"({text})" if prec < outer else text


def _show(e: Expr, outer: int) -> str:
    if isinstance(e, Lit):
        return _lit(e)
    if isinstance(e, Local):
        return e.name
    if isinstance(e, SortConst):
        if e.from_end:
            return f"last({e.sort.name})" if e.index == 0 else f"last({e.sort.name}) - {e.index}"
        return f"first({e.sort.name})" if e.index == 0 else e.sort.element(e.index)
    if isinstance(e, Shift):
        name = "next" if e.k >= 0 else "prev"
        k = abs(e.k)
        return f"{name}({_show(e.arg, 0)}{'' if k == 1 else f', {k}'})"
    if isinstance(e, VarRef):
        return e.var.name if not e.args else f"{e.var.name}[{', '.join(_show(a, 0) for a in e.args)}]"
    if isinstance(e, Apply):
        return f"{e.defn.name}({', '.join(_show(a, 0) for a in e.args)})"
    if isinstance(e, Ctor):
        return f"{e.ctor}({_show(e.arg, 0)})"
    if isinstance(e, IsTag):
        return f"{_show(e.arg, 7)} is {e.tag}"
    if isinstance(e, Not):
        if isinstance(e.arg, Eq):
            return _wrap(f"{_show(e.arg.a, 6)} != {_show(e.arg.b, 6)}", 5, outer)
        return _wrap(f"not {_show(e.arg, 4)}", 4, outer)
    if isinstance(e, And):
        return _wrap(" and ".join(_show(a, 4) for a in e.args), 3, outer)
    if isinstance(e, Or):
        return _wrap(" or ".join(_show(a, 3) for a in e.args), 2, outer)
    if isinstance(e, Implies):
        return _wrap(f"{_show(e.a, 2)} => {_show(e.b, 1)}", 1, outer)
    if isinstance(e, Eq):
        return _wrap(f"{_show(e.a, 6)} = {_show(e.b, 6)}", 5, outer)
    if isinstance(e, Cmp):
        return _wrap(f"{_show(e.a, 6)} {e.op} {_show(e.b, 6)}", 5, outer)
    if isinstance(e, Arith):
        if e.op in ("*", "%"):
            return _wrap(f"{_show(e.a, 7)} {e.op} {_show(e.b, 8)}", 7, outer)
        return _wrap(f"{_show(e.a, 6)} {e.op} {_show(e.b, 7)}", 6, outer)
    if isinstance(e, Ite):
        return _wrap(f"if {_show(e.cond, 0)} then {_show(e.then, 0)} else {_show(e.else_, 0)}", 0, outer)
    if isinstance(e, Quant):
        q = "forall" if e.universal else "exists"
        return _wrap(f"{q} {e.var.name}: {e.var.dom.name}. {_show(e.body, 0)}", 0, outer)
    raise TypeError(f"cannot print {type(e).__name__}")


def show_update(u: Update) -> str:
    if isinstance(u, Assign):
        lhs = u.var.name if not u.args else f"{u.var.name}[{', '.join(show(a) for a in u.args)}]"
        return f"{lhs} := {show(u.value)}"
    assert isinstance(u, AssignAll)
    idx = ", ".join(b.name for b in u.bound)
    return f"{u.var.name}[{idx}] := {show(u.value)}  (for all {idx})"
