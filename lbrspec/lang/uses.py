"""How a model uses each index sort: symmetric, ordered, with named elements, or as a ring.

An index sort is *symmetric* when nothing in the model tells its elements apart: renaming them
maps behaviours to behaviours, which is what symmetry reduction
(:mod:`lbrspec.explicit.symmetry`) and proofs for every size (:mod:`lbrspec.smt`) rest on.
Three constructs break that, each to a different degree:

* **named elements** (``S.first()``, ``S.last()``, ``S.elem(i)``) single some elements out:
  no renaming is safe;
* **order** (``x < y`` on elements) ranks them: no renaming is safe either;
* **ring steps** (``x.next()``, ``x.prev()``) only know each element's neighbours: rotating the
  ring is still safe, any other renaming is not.

:func:`sort_uses` finds, for every sort, which of these the model uses and one place where it
does, so the tools can say why they reduce less than they could.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .domains import Sort, SortDomain
from .expr import Cmp, Expr, Shift, SortConst, walk
from .pretty import show
from .spec import Model

NAMED = "named elements"
ORDER = "order"
RING = "ring steps"


@dataclass
class SortUse:
    """What breaks one sort's symmetry, each with an example from the model."""

    sort: Sort
    uses: dict[str, str] = field(default_factory=dict)  # NAMED/ORDER/RING -> "where: expression"

    @property
    def group(self) -> str:
        """``all`` (every renaming), ``rotations`` (a ring) or ``none``."""
        if NAMED in self.uses or ORDER in self.uses:
            return "none"
        return "rotations" if RING in self.uses else "all"

    def why(self) -> str:
        """One line: why this sort's group is smaller than all renamings ('' if it is not)."""
        if not self.uses:
            return ""
        parts = [f"{k} ({v})" for k, v in self.uses.items()]
        return f"the model uses {'; '.join(parts)}"


def model_expressions(model: Model) -> Iterator[tuple[str, Expr]]:
    """Every expression of a built model with where it comes from: guards, updates,
    invariants, goals, definitions and initial values."""
    from .expr import ANY, Local, _arg_names

    for a in model.actions:
        yield f"action {a.name}", a.guard_x
        for u in a.updates_x:
            for x in u.exprs():
                yield f"action {a.name}", x
    for i in model.invariants:
        yield f"invariant {i.name}", i.body
    for g in model.goals:
        yield f"goal {g.name}", g.body
    for d in model.definitions:
        yield f"definition {d.name}", d.body
    for v in model.vars:
        init = v.init
        if callable(init) and not isinstance(init, Expr):
            init = init(*(Local(n, d) for n, d in zip(_arg_names(init, len(v.index)), v.index)))
        if init is ANY:
            continue
        for val in init if isinstance(init, (list, tuple)) else [init]:
            if isinstance(val, Expr):
                yield f"initial value of {v.name}", val


def sort_uses(model: Model, extra: list[tuple[str, Expr]] | None = None) -> dict[Sort, SortUse]:
    """For every sort of ``model``: the constructs that break its symmetry (see the module
    docstring).  ``extra`` adds expressions that are not part of the model proper (lemmas,
    liveness properties)."""
    out = {s: SortUse(s) for s in model.sorts}

    def note(sort: Sort, kind: str, where: str, node: Expr) -> None:
        use = out.setdefault(sort, SortUse(sort))
        use.uses.setdefault(kind, f"{where}: {show(node)}")

    for where, e in [*model_expressions(model), *(extra or [])]:
        for n in walk(e):
            if isinstance(n, SortConst):
                note(n.sort, NAMED, where, n)
            elif isinstance(n, Shift) and isinstance(n.dom, SortDomain):
                note(n.dom.sort, RING, where, n)
            elif isinstance(n, Cmp) and isinstance(n.a.dom, SortDomain):
                note(n.a.dom.sort, ORDER, where, n)
    return out


__all__ = ["NAMED", "ORDER", "RING", "SortUse", "model_expressions", "sort_uses"]
