"""The lbrspec model language: sorts, domains, expressions, machines and their composition.

A model is written with this package only (it knows no engine)::

    from lbrspec.lang import BOOL, Sort, Spec, forall

    V = Sort("vCPU", "v")
    spec = Spec("demo", sorts=[V])
    m = spec.machine("m")
    on = m.var("on", BOOL, index=[V], init=False)
    m.transition("switch_on", {"v": V}, guard=lambda v: ~on[v], updates=lambda v: [on[v].becomes(True)])
    spec.invariant("anything", forall(V, lambda v: on[v] | ~on[v]), doc="A tautology.")
    model = spec.build(Variant("default", "the only variant"))
"""

from .domains import BOOL, Domain, EnumDomain, RangeDomain, Sort, SortDomain, UnionDomain, UnionValue, Value
from .expr import (
    ANY,
    FALSE,
    TRUE,
    Expr,
    Local,
    Var,
    conj,
    disj,
    exists,
    forall,
    implies,
    ite,
)
from .machine import Machine, Transition
from .parse import parse_expr
from .pretty import show, show_update
from .spec import Action, Goal, Invariant, Model, Spec, Variant

__all__ = [
    "ANY", "BOOL", "FALSE", "TRUE", "Action", "Domain", "EnumDomain", "Expr", "Goal", "Invariant",
    "Local", "Machine", "Model", "RangeDomain", "Sort", "SortDomain", "Spec", "Transition",
    "UnionDomain", "UnionValue", "Value", "Var", "Variant", "conj", "disj", "exists", "forall",
    "implies", "ite", "parse_expr", "show", "show_update",
]
