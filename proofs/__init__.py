"""Strengthening lemmas for the guest LBR model (``lbrspec_proofs``).

The safety invariants of ``models/guest_lbr.py`` are true of every reachable state but are not
*inductive* on their own: a state can satisfy all of them and still step into a violation,
because they say nothing about, say, whether an ACTIVE event's thread is running.  A lemma is a
further fact about the reachable states of the v8 design that rules such states out.  ``lbrspec
prove`` checks that the invariants and the lemmas together are inductive: every one holds
initially and is kept by every action from any state satisfying all of them, so every one holds
in every reachable state.

Each module below is one group of lemmas about one part of the design; each lemma is written in
the model language, over the variables and definitions of the model being proved, with one
sentence on why it holds in the design.  A lemma is an
:class:`~lbrspec.lang.spec.Invariant` of kind ``"lemma"``.

The lemmas of the merged-design model (``models/upstream_lbr.py``) are in
:mod:`lbrspec_proofs.upstream_lbr`, one module whose groups are its functions; that model names it
as its ``LEMMAS``.  The groups below are the v8 model's.

Lemmas are facts of the v8 design.  When a variant is proved with them, a lemma the variant
breaks fails like any invariant; ``lbrspec prove`` reports it and proves nothing that depends on
it.
"""

from __future__ import annotations

from lbrspec.lang import Expr, Invariant, Model
from lbrspec.lang.expr import Definition, Var


class Vocabulary:
    """The variables and definitions of one built model, by name: ``m.ev[v]``, ``m.owns(v, p)``.

    Each build of the model (one per variant) has its own variable objects, so lemmas are
    written as functions of a vocabulary rather than over module-level variables.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self._vars: dict[str, Var] = {v.name: v for v in model.vars}
        self._defs: dict[str, Definition] = {d.name: d for d in model.definitions}

    def __getattr__(self, name: str) -> Var | Definition:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._vars:
            return self._vars[name]
        if name in self._defs:
            return self._defs[name]
        raise AttributeError(f"model {self.model.name} has no variable or definition named {name!r}")


def lemma(name: str, body: Expr, why: str, patch: str = "") -> Invariant:
    """A lemma: a closed boolean expression and one sentence on why it holds in the design."""
    return Invariant(name, body, why, patch, kind="lemma")


#: The lemma groups (modules of this package), in the order ``lbrspec prove`` lists them.
GROUPS = ("scheduling", "kvm_handler", "vcpu_event", "host_users", "lbr_contents")


def groups(model: Model) -> list[tuple[str, list[Invariant]]]:
    """Every group's lemmas, for ``model`` (any variant of the guest LBR model)."""
    import importlib

    m = Vocabulary(model)
    return [(g, importlib.import_module(f"{__name__}.{g}").lemmas(m)) for g in GROUPS]


def lemmas(model: Model) -> list[Invariant]:
    """Every lemma of every group, for ``model``."""
    return [lem for _, group in groups(model) for lem in group]
