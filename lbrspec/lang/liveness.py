"""Liveness properties and the fairness assumptions they rest on, as model data.

A :class:`Liveness` property is a *leads-to* property with explicit assumptions::

    trigger  ~>  goal      under  fairness,  when the quiet actions no longer occur

read as: in every infinite behaviour, whenever ``trigger`` holds, and from then on no *quiet*
action occurs (the environment behaves as the property assumes: "the guest stops using LBR",
"no host LBR user comes back") and every fairness condition is met, ``goal`` holds then or
later.  ``trigger`` and ``goal`` are boolean expressions over the property's parameters (one
instance of the property per value of them: one per vCPU...).

A :class:`Fair` condition names one action of the model and whether it is *weakly* fair (if it
stays enabled from some point on, it is taken) or *strongly* fair (if it is enabled infinitely
often, it is taken infinitely often).  ``per`` splits it into one condition per value of some of
the action's parameters (``per=("v",)``: every vCPU thread is scheduled, not just some); ``bind``
ties action parameters to the property's parameters (the guest *of this vCPU* keeps using LBR);
``when`` restricts the action to the states where a condition over the property's parameters
holds (TLA+'s ``SF(A /\\ P)``: "a thread *holding pass-through* re-enters its guest").

The model states these assumptions; an engine (``lbrspec.analysis.liveness``) checks them.  As
with every other property, the expressions are written with the model's variables and
definitions, so no engine re-states the design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..errors import ModelError
from .domains import BOOL
from .expr import Expr, LangTypeError, Local, coerce
from .machine import ParamSpec, call_body, make_params

WEAK = "weak"
STRONG = "strong"


@dataclass(frozen=True)
class ActionPattern:
    """Instances of one action: ``args`` fixes some of its parameters to expressions over the
    property's parameters (or literals); the others range freely."""

    action: str
    args: tuple[tuple[str, Expr], ...] = ()

    def describe(self) -> str:
        from .pretty import show

        if not self.args:
            return self.action
        return f"{self.action}({', '.join(f'{k}={show(v)}' for k, v in self.args)})"


@dataclass(frozen=True)
class Fair:
    """A fairness condition on one action; see the module docstring."""

    action: str
    kind: str  # WEAK or STRONG
    per: tuple[str, ...] = ()
    bind: tuple[tuple[str, Expr], ...] = ()
    why: str = ""
    when: Expr | None = None

    def __post_init__(self) -> None:
        if self.kind not in (WEAK, STRONG):
            raise ValueError(f"fairness kind must be {WEAK!r} or {STRONG!r}, got {self.kind!r}")

    def describe(self) -> str:
        from .pretty import show

        bits = [f"{k}={show(v)}" for k, v in self.bind] + [f"each {p}" for p in self.per]
        text = f"{'WF' if self.kind == WEAK else 'SF'} {self.action}" + (f" ({', '.join(bits)})" if bits else "")
        return text + (f" when {show(self.when)}" if self.when is not None else "")


@dataclass
class Liveness:
    """``trigger ~> goal`` under ``fairness``, assuming the ``quiet`` actions stop."""

    name: str
    params: tuple[Local, ...]
    trigger: Expr
    goal: Expr
    doc: str
    patch: str = ""
    quiet: tuple[ActionPattern, ...] = ()
    fairness: tuple[Fair, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name


def leads_to(
    name: str,
    params: ParamSpec | None,
    trigger: Callable[..., object] | object,
    goal: Callable[..., object] | object,
    *,
    doc: str,
    patch: str = "",
    quiet: Callable[..., list[tuple[str, Mapping[str, object]]]] | None = None,
    fairness: Callable[..., list[tuple]] | None = None,
) -> Liveness:
    """Build a :class:`Liveness` the way ``Spec.goal`` builds a goal: ``trigger``, ``goal``,
    ``quiet`` and ``fairness`` are functions of the parameters.

    ``quiet(*params)`` returns ``[(action, {param: value}), ...]``; ``fairness(*params)`` returns
    ``[(action, kind, per, {param: value}, why), ...]``, optionally with a sixth item: the
    ``when`` condition.  Values are expressions (usually the
    property's parameters) or Python literals of the parameter's domain.
    """
    where = f"liveness property '{name}'"
    try:
        ps = make_params(params)
        trig = coerce(call_body(trigger, ps), BOOL)
        gl = coerce(call_body(goal, ps), BOOL)
        qs = tuple(ActionPattern(a, _args(args)) for a, args in (quiet(*ps) if quiet else []))
        fs = tuple(_fair(*item) for item in (fairness(*ps) if fairness else []))
    except (LangTypeError, ValueError) as e:
        raise ModelError(str(e), where=where) from None
    for e in (trig, gl):
        if e.dom is not BOOL:
            raise ModelError("trigger and goal must be boolean", where=where)
    return Liveness(name, ps, trig, gl, doc, patch, qs, fs)


def _fair(action: str, kind: str, per: tuple[str, ...], bind: Mapping[str, object], why: str, when: object = None) -> Fair:
    w = None if when is None else coerce(when, BOOL)
    if w is not None and w.dom is not BOOL:
        raise LangTypeError(f"the 'when' condition of the fairness of {action} must be boolean")
    return Fair(action, kind, tuple(per), _args(bind), why, w)


def _args(args: Mapping[str, object]) -> tuple[tuple[str, Expr], ...]:
    out = []
    for k, v in args.items():
        if isinstance(v, Expr):
            out.append((k, v))
        elif isinstance(v, bool):
            out.append((k, coerce(v, BOOL)))
        else:
            raise LangTypeError(f"parameter {k!r}: give an expression or a boolean, got {v!r}")
    return tuple(out)


__all__ = ["STRONG", "WEAK", "ActionPattern", "Fair", "Liveness", "leads_to"]
