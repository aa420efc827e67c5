"""Why a formula has its value in a state: the chain down to the conjunct that decides it.

An invariant is usually a universally quantified implication over conjunctions, so "false"
alone says little.  :func:`explain` walks the formula the way a reader would:

* ``forall x. B`` is false because ``B`` is false for some ``x``: the first such value is bound
  and the walk goes on in ``B`` (``exists x. B`` is true for the first witness);
* ``A and B`` is false at its first false conjunct; ``A or B`` is true at its first true
  disjunct;
* ``A => B`` is false when ``A`` holds and ``B`` does not: the walk goes on in ``B`` (the
  premise is kept in the explanation);
* ``not A`` is false when ``A`` is true, and the walk goes on to explain why ``A`` is true;
* a definition (``owns(v, p)``) is opened: its body, with the arguments' values bound;
* anything else (an equality, a comparison, a tag test, a disjunction that is false, a
  conjunction that is true) is an atom: the walk stops there.

The last step of the chain is the *deciding conjunct*: the smallest part of the formula, with
every bound name replaced by its value, whose truth value makes the whole formula false (or
true).  The web explorer marks it, and sequence diagrams end with it.

Everything is computed with the reference semantics (:mod:`lbrspec.explicit.evaluate`), so an
explanation can never disagree with the engines about the formula's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..lang.domains import Domain
from ..lang.expr import And, Apply, Expr, Implies, Local, Not, Or, Quant, substitute
from ..lang.pretty import show
from ..trace.text import fmt_value
from .evaluate import evaluate
from .instance import Instance


@dataclass(frozen=True)
class Step:
    """One step of an explanation: ``text`` (the sub-formula with the values bound so far put
    in) has truth value ``value``; ``why`` says how the walk got here."""

    text: str
    value: bool
    why: str
    raw: str = ""  # the same sub-formula as written, bound names not replaced
    span: tuple[int, int] | None = None  # where the formula, as written, shows it


@dataclass(frozen=True)
class Explanation:
    formula: str  # the whole formula, as written
    value: bool
    steps: tuple[Step, ...]
    bindings: tuple[tuple[str, str], ...] = field(default=())  # bound name -> value, in order
    premises: tuple[str, ...] = field(default=())  # premises of implications that hold

    @property
    def conjunct(self) -> str:
        """The deciding conjunct: the last step's text."""
        return self.steps[-1].text

    def anchor(self) -> tuple[int, int] | None:
        """Where the formula, as written, shows the deepest step of the chain that it contains
        (a definition's body is not in the formula; its application is): ``(start, end)``
        character offsets in :attr:`formula`, or None."""
        for s in reversed(self.steps[1:]):
            if s.span is not None:
                return s.span
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "formula": self.formula,
            "value": self.value,
            "conjunct": self.conjunct,
            "bindings": [list(b) for b in self.bindings],
            "premises": list(self.premises),
            "anchor": list(a) if (a := self.anchor()) else None,
            "steps": [{"text": s.text, "value": s.value, "why": s.why} for s in self.steps],
        }


def _value_text(dom: Domain, code: int, inst: Instance) -> str:
    return fmt_value(dom.decode(code, inst.sizes))


def explain(e: Expr, inst: Instance, state: Sequence[int], env: Mapping[Local, int] | None = None,
            max_steps: int = 64) -> Explanation:
    """Why ``e`` has its value in ``state``; see the module docstring."""
    env = dict(env or {})
    shown: dict[Local, Expr] = {}  # bound local -> a display-only local named by its value
    bindings: list[tuple[str, str]] = []
    premises: list[str] = []

    def text(x: Expr) -> str:
        return show(substitute(x, shown))

    def bind(var: Local, code: int) -> None:
        name = _value_text(var.dom, code, inst)
        env[var] = code
        shown[var] = Local(name, var.dom)
        bindings.append((var.name, name))

    def val(x: Expr) -> bool:
        return bool(evaluate(x, inst, state, env))

    value = val(e)
    formula = show(e)
    steps = [Step(text(e), value, "the formula", formula, (0, len(formula)))]
    span: tuple[int, int] | None = (0, len(formula))

    def child_span(parent: Expr, child: Expr) -> tuple[int, int] | None:
        """Where ``child`` (a child of ``parent``) is shown inside ``parent``'s span: each
        earlier sibling is found first, left to right, so a repeated text is told apart."""
        if span is None or opened:
            return None
        pos, end = span
        for k in parent.children():
            t = show(k)
            at = formula.find(t, pos, end)
            if at < 0:
                return None
            if k is child:
                return at, at + len(t)
            pos = at + len(t)
        return None

    cur, want = e, value
    opened = False  # inside a definition's body: no longer text of the formula itself
    while len(steps) < max_steps:
        nxt: Expr | None = None
        why = ""
        if isinstance(cur, Quant) and cur.universal != want:
            # forall false / exists true: a value of the bound name decides it
            for code in inst.domain_codes(cur.var.dom):
                env[cur.var] = code
                if val(cur.body) == want:
                    bind(cur.var, code)
                    nxt = cur.body
                    why = (f"false for {cur.var.name} = {shown[cur.var].name}" if not want
                           else f"true for {cur.var.name} = {shown[cur.var].name}")
                    break
            else:  # pragma: no cover - the value says a witness exists
                raise AssertionError("no witness for a quantifier's value")
        elif isinstance(cur, And) and not want:
            nxt = next(a for a in cur.args if not val(a))
            why = "its first false conjunct"
        elif isinstance(cur, Or) and want:
            nxt = next(a for a in cur.args if val(a))
            why = "its first true disjunct"
        elif isinstance(cur, Implies) and not want:
            premises.append(text(cur.a))
            nxt = cur.b
            why = f"the premise {text(cur.a)} holds, and the conclusion does not"
        elif isinstance(cur, Not):
            nxt, want = cur.arg, not want
            why = "negated: why this is " + ("true" if want else "false")
        elif isinstance(cur, Apply):
            for p, a in zip(cur.defn.params, cur.args):
                code = int(evaluate(a, inst, state, env))
                env[p] = code
                shown[p] = Local(_value_text(p.dom, code, inst), p.dom)
            nxt = cur.defn.body
            opened = True
            why = f"by the definition of {cur.defn.name}"
        if nxt is None:
            break
        span = None if isinstance(cur, Apply) else child_span(cur, nxt)
        cur = nxt
        steps.append(Step(text(cur), want, why, show(cur) if not opened else "", span))
    return Explanation(formula, value, tuple(steps), tuple(bindings), tuple(premises))
