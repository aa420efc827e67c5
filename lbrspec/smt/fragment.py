"""Which logic fragment the unbounded proof queries fall in, and why that matters.

A query of ``lbrspec prove --all-sizes`` is a first-order formula over uninterpreted sorts
(vCPU, pCPU, host user, and one sort per union domain).  If its **sort graph** is acyclic it
lies in the *stratified* extension of EPR (effectively propositional logic; Ivy and mypyvy
keep their models there): skolemisation then leaves finitely many ground terms of each sort,
satisfiability is decidable, and a solver answers every query.  Outside it a proof Z3 does find
is still a proof, but Z3 may search forever.

The sort graph has an edge ``A -> B`` for

* every **function** from ``A`` into ``B``: a state variable indexed by ``A`` whose values are
  in ``B`` (``cpu: vCPU -> pCPU``), or a union constructor (``vcpu: vCPU -> lbr_tag``);
  boolean and enumeration values are predicates and finite sorts, and make no edge;
* every **quantifier alternation**: an existential over ``B`` in the scope of a universal over
  ``A`` (after pushing negations inward) is a skolem function from ``A`` into ``B``.

:func:`analyse` builds the graph from exactly the formulas :mod:`lbrspec.smt.induction` asks
about: every property assumed in the pre-state, every guard, every initial condition, and every
property negated after every action (its post-state substituted, as in
:class:`~lbrspec.smt.encode.AfterAction`).  Quantifiers over booleans and enumerations are
unrolled by the encoding and make no alternation.  Boolean constants are folded first, as the
encoding folds them (:func:`fold`): a step invariant that a variant makes trivially true
(``guard => not FALSE``) sends ``True`` to the solver, and its guard's quantifiers make no
alternation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..lang.domains import BOOL, BoolDomain, Domain, RangeDomain, SortDomain, UnionDomain
from ..lang.expr import (
    ANY,
    And,
    Assign,
    AssignAll,
    Eq,
    Expr,
    Implies,
    Ite,
    Lit,
    Local,
    Not,
    Or,
    Quant,
    Var,
    VarRef,
    coerce,
    conj,
    disj,
    expand,
    substitute,
    transform,
)
from ..lang.spec import Action, Invariant, Model


@dataclass
class Edge:
    source: str
    target: str
    why: str


@dataclass
class FragmentReport:
    """The sort graph of the unbounded queries; ``cycle`` is ``None`` when it is acyclic."""

    functions: list[Edge]
    alternations: list[Edge]
    cycle: list[str] | None
    arithmetic: list[str] = field(default_factory=list)  # variables with bounded-integer values

    @property
    def stratified(self) -> bool:
        return self.cycle is None and not self.arithmetic

    def summary(self) -> str:
        """One paragraph for people: the edges and the conclusion."""
        fn = _group(self.functions)
        alt = _group(self.alternations)
        text = f"functions {fn}" + (f"; quantifier alternations {alt}" if alt else "; no quantifier alternation")
        if self.arithmetic:
            return (f"{text}; bounded-integer arithmetic on {', '.join(self.arithmetic)} takes the queries out of EPR: "
                    "Z3's proofs are sound, but it may not terminate")
        if self.cycle is None:
            return (f"{text}.  The sort graph is acyclic, so every query lies in the stratified (decidable) fragment "
                    "of EPR: it has finitely many ground terms, and Z3 decides it")
        return (f"{text}.  The sort graph has the cycle {' -> '.join(self.cycle)}, so the queries are outside the "
                "stratified fragment: Z3's proofs are sound, but it may not terminate")


def _group(edges: Sequence[Edge]) -> str:
    seen: dict[tuple[str, str], list[str]] = {}
    for e in edges:
        whys = seen.setdefault((e.source, e.target), [])
        if e.why not in whys:
            whys.append(e.why)
    return ", ".join(f"{s}->{t} ({', '.join(w)})" for (s, t), w in seen.items()) or "none"


def _node(dom: Domain) -> str | None:
    """The sort of the unbounded encoding a domain is, if it is one (not finite)."""
    if isinstance(dom, SortDomain):
        return dom.sort.name
    if isinstance(dom, UnionDomain) and dom.ctors:
        return dom.name
    return None


def after(e: Expr, action: Action) -> Expr:
    """``e`` read in the state after ``action``: every state read replaced by the action's
    update (the model-language twin of :class:`~lbrspec.smt.encode.AfterAction`)."""
    writes = {u.var: u for u in action.updates_x}

    def fn(n: Expr) -> Expr | None:
        if not isinstance(n, VarRef) or n.var not in writes:
            return None
        u = writes[n.var]
        if isinstance(u, AssignAll):
            return substitute(u.value, dict(zip(u.bound, n.args)))
        assert isinstance(u, Assign)
        hit = conj([Eq(a, b) for a, b in zip(n.args, u.args)])
        return Ite(hit, u.value, VarRef(n.var, n.args))

    return transform(expand(e), fn)


def _const(e: Expr) -> bool | None:
    """The value of a boolean literal, else ``None``."""
    if isinstance(e, Lit) and isinstance(e.dom, BoolDomain):
        return bool(e.code)
    return None


def _lit(b: bool) -> Expr:
    return Lit(BOOL, int(b))


def fold(e: Expr) -> Expr:
    """``e`` with its boolean constants folded through the connectives, if-then-else and
    quantifiers (every sort and domain has an element, so a quantifier over a constant is that
    constant), as :meth:`lbrspec.smt.encode.Encoding.expr` folds them in the Z3 terms."""
    if isinstance(e, Not):
        a = fold(e.arg)
        c = _const(a)
        return _lit(not c) if c is not None else e if a is e.arg else Not(a)
    if isinstance(e, (And, Or)):
        absorbing = isinstance(e, Or)  # True absorbs a disjunction, False a conjunction
        args = []
        for x in e.args:
            f = fold(x)
            c = _const(f)
            if c is absorbing:
                return _lit(absorbing)
            if c is None:
                args.append(f)
        if not args:
            return _lit(not absorbing)
        return args[0] if len(args) == 1 else type(e)(*args)
    if isinstance(e, Implies):
        a, b = fold(e.a), fold(e.b)
        ca, cb = _const(a), _const(b)
        if ca is False or cb is True:
            return _lit(True)
        if ca is True:
            return b
        if cb is False:
            return fold(Not(a))
        return Implies(a, b)
    if isinstance(e, Ite):
        c = fold(e.cond)
        cc = _const(c)
        if cc is not None:
            return fold(e.then if cc else e.else_)
        return Ite(c, fold(e.then), fold(e.else_))
    if isinstance(e, Quant):
        body = fold(e.body)
        return body if _const(body) is not None else Quant(e.universal, e.var, body)
    return e


def _alternations(e: Expr, polarity: int, universal: tuple[str, ...], why: str, out: list[Edge]) -> None:
    """Skolem edges of ``e`` read with ``polarity`` (+1, -1, 0 for both) under the universals
    ``universal``."""
    if isinstance(e, Not):
        _alternations(e.arg, -polarity, universal, why, out)
    elif isinstance(e, (And, Or)):
        for a in e.args:
            _alternations(a, polarity, universal, why, out)
    elif isinstance(e, Implies):
        _alternations(e.a, -polarity, universal, why, out)
        _alternations(e.b, polarity, universal, why, out)
    elif isinstance(e, Quant):
        node = _node(e.var.dom)
        inner = universal
        if node is not None:
            forall = {+1: e.universal, -1: not e.universal}.get(polarity)
            if forall is not True:  # existential (or both): a skolem function of the universals
                out.extend(Edge(u, node, why) for u in universal)
            if forall is not False:
                inner = universal + (node,)
        _alternations(e.body, polarity, inner, why, out)
    elif isinstance(e, Ite):
        _alternations(e.cond, 0, universal, why, out)
        _alternations(e.then, polarity, universal, why, out)
        _alternations(e.else_, polarity, universal, why, out)
    else:  # an atom: any formula inside (an ite condition in an index, a boolean equality) counts both ways
        for c in e.children():
            _alternations(c, 0, universal, why, out)


def analyse(model: Model, properties: Sequence[Invariant]) -> FragmentReport:
    """The sort graph of the unbounded proof of ``properties`` (module docstring)."""
    functions: list[Edge] = []
    arithmetic: list[str] = []
    for v in model.vars:
        if isinstance(v.dom, RangeDomain):
            arithmetic.append(v.name)
        target = _node(v.dom)
        if target is not None:
            functions.extend(Edge(s.name, target, v.name) for s in v.index_sorts)
    unions = {id(d): d for v in model.vars for d in [v.dom] if isinstance(d, UnionDomain) and d.ctors}
    for d in unions.values():
        functions.extend(Edge(s.name, d.name, f"{c}(.)") for c, s in d.ctors)
    alternations: list[Edge] = []
    for p in properties:
        _alternations(fold(expand(p.body)), +1, (), f"{p.name} assumed", alternations)
        for a in model.actions:
            _alternations(fold(after(p.body, a)), -1, (), f"{p.name} after {a.name}", alternations)
    for a in model.actions:
        _alternations(fold(expand(a.guard)), +1, (), f"guard of {a.name}", alternations)
    for v in model.vars:
        init = _init_condition(v)
        if init is not None:
            _alternations(fold(init), +1, (), f"initial {v.name}", alternations)
    graph: dict[str, set[str]] = {}
    for e in functions + alternations:
        graph.setdefault(e.source, set()).add(e.target)
    return FragmentReport(functions, alternations, _find_cycle(graph), arithmetic)


def _init_condition(v: Var) -> Expr | None:
    """``forall i. v[i] in init(i)`` as an expression (``None`` for ``init=ANY``)."""
    xs = tuple(Local(f"i{k}", d) for k, d in enumerate(v.index))
    init = v.init
    if callable(init) and not isinstance(init, Expr):
        init = init(*xs)
    if init is ANY:
        return None
    values = init if isinstance(init, (list, tuple)) else [init]
    ref = VarRef(v, xs)
    body = disj([Eq(ref, coerce(val, v.dom)) for val in values])
    for x in reversed(xs):
        body = Quant(True, x, body)
    return body


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a closed path (first node repeated at the end), or ``None``."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def dfs(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = dfs(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = dfs(n)
            if found:
                return found
    return None
