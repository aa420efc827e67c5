"""The translator: model data to Z3 terms, mirroring :mod:`lbrspec.explicit.evaluate`.

An :class:`Encoding` fixes how the model's index sorts are read by Z3:

* **finite** (``sizes`` given): each :class:`~lbrspec.lang.domains.Sort` is a Z3 enumeration
  sort with exactly ``n`` elements (``v0``, ``v1``...), and every quantifier is unrolled over
  them, exactly as the reference evaluator iterates over ``Instance.domain_codes``;
* **unbounded** (``sizes`` is ``None``, for ``--all-sizes``): each sort is an uninterpreted
  Z3 sort (``DeclareSort``), which may have any number of elements, and quantifiers over sorts
  stay quantifiers.

Domains become Z3 sorts: ``BOOL`` is Bool; an ``EnumDomain`` an enumeration sort; a
``RangeDomain`` is Int, with ``lo..hi`` asserted for every state and checked after every
write (a write outside the range is an error, as in the explicit engine, never a silently
disabled step); a ``SortDomain`` the sort itself; a ``UnionDomain`` such as
``none | host | vcpu(V)``, in a finite encoding, a Z3 algebraic datatype with one nullary
constructor per constant and one single-field constructor per sort constructor (not recursive,
so its values are exactly the union's values), and in an unbounded encoding an uninterpreted
sort with constructor functions and universal axioms (see :class:`_Union`, which says why).

A **state copy** (:class:`StateSyms`) holds one Z3 symbol per variable: a constant for a
scalar, a function from the index sorts for an indexed variable.  A **step** (:class:`StepSyms`)
holds the action that fires (a constant of an enumeration of the action names) and, per action,
one constant per parameter: the parameters are existentially bound per step.

The **transition relation** (:meth:`Encoding.transition`) is, for every action ``a``:
``act = a  =>  guard_a(pre)``; and for every variable ``x`` one equation
``forall i. x'(i) = case act of a: update_a(i) ... else x(i)``, where a point update
``x[args] := e`` contributes ``if i = args then e else x(i)`` and a whole update
``x[i] := e(i)`` contributes ``e(i)``.  The last case is the frame: generated for every
variable an action does not write, never written by hand.  All right-hand sides read the
pre-state (parallel assignment), as :func:`lbrspec.explicit.evaluate.step` does.  For one given
action, :class:`AfterAction` gives the same post-state as terms over the pre-state (no new
symbols), which is how :mod:`lbrspec.smt.induction` asks consecution queries.

A satisfying Z3 model of a finite encoding is decoded (:meth:`Encoding.decode`) into the
explicit engine's encoded states of its :class:`~lbrspec.explicit.instance.Instance`, so the
result can be replayed by the reference semantics and shown as a
:class:`~lbrspec.trace.Trace`.  Models of an unbounded encoding are not decoded: they may hold
union elements that no state has (see :class:`_Union`); counterexamples for every size are
looked for in finite instances instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import z3

from ..errors import InputError, InternalError
from ..explicit.instance import Instance, State
from ..lang.domains import BoolDomain, Domain, EnumDomain, RangeDomain, Sort, SortDomain, UnionDomain
from ..lang.expr import (
    ANY,
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
    Var,
    VarRef,
    _arg_names,
    arith,
    coerce,
)
from ..lang.spec import Action, Model

Env = Mapping[Local, z3.ExprRef]


@dataclass
class StateSyms:
    """One copy of the state variables: a Z3 constant or function per model variable."""

    name: str
    syms: dict[Var, z3.ExprRef | z3.FuncDeclRef]

    def read(self, var: Var, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        s = self.syms[var]
        if isinstance(s, z3.FuncDeclRef):
            return s(*args)
        return s


class AfterAction:
    """The state after one given action, as terms over the pre-state (no new symbols).

    Reading ``var(args)`` gives the action's update of ``var`` at ``args``, or the pre-state
    value if the action does not write ``var``: the frame, generated.  Substituting these terms
    into a property gives its weakest precondition for the action, which keeps a consecution
    query over the pre-state alone (as Ivy's update triples do).
    """

    def __init__(self, enc: Encoding, action: Action, pre: StateSyms, step: StepSyms) -> None:
        self.enc = enc
        self.action = action
        self.pre = pre
        self.step = step
        self.name = f"{pre.name}+{action.name}"
        self._reads: dict[tuple[Var, tuple[int, ...]], z3.ExprRef] = {}

    def read(self, var: Var, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        # Z3 shares terms, so equal arguments have equal ids and the same value after the action.
        key = (var, tuple(a.get_id() for a in args))
        out = self._reads.get(key)
        if out is None:
            upd = self.enc.update_value(self.action, var, self.pre, self.step, tuple(args))
            out = self._reads[key] = self.pre.read(var, args) if upd is None else upd
        return out


@dataclass
class StepSyms:
    """One step: which action fires, and that action's parameters."""

    name: str
    act: z3.ExprRef
    params: dict[str, tuple[z3.ExprRef, ...]]  # action name -> parameter constants


@dataclass
class Decoded:
    """A Z3 model read back: the instance it lives in, encoded states and the steps between."""

    instance: Instance
    states: list[State]
    steps: list[tuple[Action, tuple[int, ...]]]


class _Union:
    """A union domain in Z3: its sort, constants, constructors and tag tests.

    Finite encodings use a Z3 algebraic datatype (exact).  Unbounded encodings use an
    uninterpreted sort with constant symbols and constructor functions, related by universal
    axioms only (distinct constants, injective constructors with disjoint ranges, constructor
    tests as predicates) and *without* the datatype's exhaustiveness axiom ``forall t. t = none
    | t = host | exists v. t = vcpu(v)``, whose alternation would map the union sort back to
    the sort it wraps.  So the only functions are from a wrapped sort into the union sort, the
    sort graph stays acyclic, and the formulas stay in the stratified (decidable) fragment.
    Dropping an axiom only adds models (union elements that are no constant and no
    constructor value); every real state is still a model, so a proof (``unsat``) holds for the
    real semantics; a counterexample is never read from such a model (see
    :mod:`lbrspec.smt.induction`).
    """

    def __init__(self, enc: Encoding, dom: UnionDomain, name: str) -> None:
        self.dom = dom
        ctx = enc.ctx
        self.axioms: list[z3.BoolRef] = []
        n_consts = len(dom.consts)
        if enc.finite:
            dt = z3.Datatype(name, ctx=ctx)
            for c in dom.consts:
                dt.declare(f"{name}!{c}")
            for c, srt in dom.ctors:
                dt.declare(f"{name}!{c}", (f"{name}!{c}!arg", enc._sorts[srt]))
            zs = dt.create()
            self.sort: z3.SortRef = zs
            self.consts = [zs.constructor(i)() for i in range(n_consts)]
            self.ctors = [zs.constructor(n_consts + k) for k in range(len(dom.ctors))]
            self.tests = [zs.recognizer(n_consts + k) for k in range(len(dom.ctors))]
            return
        us = z3.DeclareSort(name, ctx)
        self.sort = us
        self.consts = [z3.Const(f"{name}!{c}", us) for c in dom.consts]
        self.ctors = [z3.Function(f"{name}!{c}", enc._sorts[srt], us) for c, srt in dom.ctors]
        self.tests = [z3.Function(f"{name}!is_{c}", us, z3.BoolSort(ctx)) for c, _ in dom.ctors]
        if len(self.consts) > 1:
            self.axioms.append(z3.Distinct(*self.consts))
        for k, ((c, srt), f) in enumerate(zip(dom.ctors, self.ctors)):
            x = z3.Const(f"x!{name}!{c}", enc._sorts[srt])
            y = z3.Const(f"y!{name}!{c}", enc._sorts[srt])
            self.axioms.append(z3.ForAll([x, y], z3.Implies(f(x) == f(y), x == y)))
            for j, test in enumerate(self.tests):
                self.axioms.append(z3.ForAll([x], test(f(x)) if j == k else z3.Not(test(f(x)))))
            for cst in self.consts:
                self.axioms.append(z3.ForAll([x], f(x) != cst))
            for j, (c2, srt2) in enumerate(dom.ctors):
                if j > k:
                    y2 = z3.Const(f"y!{name}!{c2}", enc._sorts[srt2])
                    self.axioms.append(z3.ForAll([x, y2], f(x) != self.ctors[j](y2)))
        for test in self.tests:
            for cst in self.consts:
                self.axioms.append(z3.Not(test(cst)))

    def const(self, i: int) -> z3.ExprRef:
        return self.consts[i]

    def ctor(self, tag: str, arg: z3.ExprRef) -> z3.ExprRef:
        return self.ctors[[c for c, _ in self.dom.ctors].index(tag)](arg)

    def is_tag(self, tag: str, term: z3.ExprRef) -> z3.BoolRef:
        if tag in self.dom.consts:
            return term == self.consts[self.dom.consts.index(tag)]
        return self.tests[[c for c, _ in self.dom.ctors].index(tag)](term)


class Encoding:
    """The Z3 reading of one model, finite (``sizes``) or for every size (``sizes=None``)."""

    def __init__(self, model: Model, sizes: Mapping[str, int] | None = None) -> None:
        self.model = model
        self.ctx = z3.Context()
        self.finite = sizes is not None
        self.instance: Instance | None = Instance(model, sizes) if sizes is not None else None
        self._sorts: dict[Sort, z3.SortRef] = {}
        self._elems: dict[Sort, list[z3.ExprRef]] = {}
        for s in model.sorts:
            if self.instance is not None:
                names = [f"{s.name}!{s.element(i)}" for i in range(self.instance.sizes[s])]
                zs, consts = z3.EnumSort(s.name, names, ctx=self.ctx)
                self._sorts[s] = zs
                self._elems[s] = list(consts)
            else:
                self._sorts[s] = z3.DeclareSort(s.name, ctx=self.ctx)
        self._doms: dict[int, tuple[Domain, z3.SortRef, list[z3.ExprRef]]] = {}
        self._unions: dict[int, _Union] = {}
        #: Background axioms every solver of this encoding needs (unbounded union sorts).
        self.axioms: list[z3.BoolRef] = []
        self._used_names: set[str] = set()
        names = [a.name for a in model.actions]
        self.action_sort, consts = z3.EnumSort("action", [f"action!{n}" for n in names], ctx=self.ctx)
        self.action_const: dict[str, z3.ExprRef] = dict(zip(names, consts))
        self._bound: set[str] = set()
        self._order: dict[Sort, _Order] = {}
        self._solvers_made = False
        self.prepare()

    def solver(self) -> z3.Solver:
        """A fresh solver for this encoding, with its background axioms asserted."""
        self._solvers_made = True
        sol = z3.Solver(ctx=self.ctx)
        sol.add(*self.axioms)
        return sol

    # -- sorts and values ---------------------------------------------------------------------
    def sort(self, dom: Domain) -> z3.SortRef:
        """The Z3 sort of a domain."""
        if isinstance(dom, BoolDomain):
            return z3.BoolSort(self.ctx)
        if isinstance(dom, RangeDomain):
            return z3.IntSort(self.ctx)
        if isinstance(dom, SortDomain):
            return self._sorts[dom.sort]
        return self._dom_entry(dom)[1]

    def _dom_entry(self, dom: Domain) -> tuple[Domain, z3.SortRef, list[z3.ExprRef]]:
        """Enumeration sort or datatype for an enum or union domain (made once per domain)."""
        key = id(dom)
        hit = self._doms.get(key)
        if hit is not None:
            return hit
        name = self._fresh_name(dom.name)
        if isinstance(dom, EnumDomain):
            zs, consts = z3.EnumSort(name, [f"{name}!{m}" for m in dom.members], ctx=self.ctx)
            entry = (dom, zs, list(consts))
        elif isinstance(dom, UnionDomain):
            u = _Union(self, dom, name)
            self._unions[key] = u
            self.axioms.extend(u.axioms)
            entry = (dom, u.sort, [])
        else:
            raise TypeError(f"no Z3 sort for domain {dom!r}")
        self._doms[key] = entry
        return entry

    def union(self, dom: UnionDomain) -> _Union:
        self._dom_entry(dom)
        return self._unions[id(dom)]

    def prepare(self) -> None:
        """Create the sorts of every domain the model uses, and the order of every sort whose
        elements it names or compares, so :attr:`axioms` is complete before a solver is set up."""
        from ..lang.uses import NAMED, ORDER, RING, sort_uses

        for v in self.model.vars:
            self.sort(v.dom)
        for a in self.model.actions:
            for p in a.params:
                self.sort(p.dom)
        for s, use in sort_uses(self.model).items():
            if RING in use.uses and not self.finite:
                raise RingNotFirstOrder(s, use.uses[RING])
            if NAMED in use.uses or ORDER in use.uses:
                self.order(s)
        # every named element now, so the axioms are complete before any solver is made
        from ..lang.expr import walk
        from ..lang.uses import model_expressions

        for _, e in model_expressions(self.model):
            for n in walk(e):
                if isinstance(n, SortConst):
                    self.order(n.sort).named(n)

    def _fresh_name(self, base: str) -> str:
        name, n = base, 1
        while name in self._used_names:
            n += 1
            name = f"{base}#{n}"
        self._used_names.add(name)
        return name

    def elements(self, sort: Sort) -> list[z3.ExprRef]:
        """The elements of a sort in a finite encoding, in code order."""
        if not self.finite:
            raise TypeError(f"sort {sort.name} has no fixed elements in an encoding for every size")
        return self._elems[sort]

    def value(self, dom: Domain, code: int) -> z3.ExprRef:
        """The Z3 term for the value with code ``code`` (finite encodings for sort values)."""
        if isinstance(dom, BoolDomain):
            return z3.BoolVal(bool(code), self.ctx)
        if isinstance(dom, RangeDomain):
            return z3.IntVal(code, self.ctx)
        if isinstance(dom, EnumDomain):
            return self._dom_entry(dom)[2][code]
        if isinstance(dom, SortDomain):
            return self.elements(dom.sort)[code]
        if isinstance(dom, UnionDomain):
            u = self.union(dom)
            if code < len(dom.consts):
                return u.const(code)
            assert self.instance is not None, "constructor values need a finite encoding"
            off = len(dom.consts)
            for c, srt in dom.ctors:
                n = self.instance.sizes[srt]
                if code < off + n:
                    return u.ctor(c, self._elems[srt][code - off])
                off += n
        raise ValueError(f"code {code} is not a value of {dom.name}")

    def values(self, dom: Domain) -> list[z3.ExprRef]:
        """Every value of a domain that does not depend on an unbounded sort, in code order."""
        if isinstance(dom, BoolDomain):
            return [z3.BoolVal(False, self.ctx), z3.BoolVal(True, self.ctx)]
        if isinstance(dom, RangeDomain):
            return [z3.IntVal(i, self.ctx) for i in range(dom.lo, dom.hi + 1)]
        if isinstance(dom, EnumDomain):
            return list(self._dom_entry(dom)[2])
        if isinstance(dom, SortDomain):
            return list(self.elements(dom.sort))
        if isinstance(dom, UnionDomain):
            u = self.union(dom)
            out = list(u.consts)
            for c, srt in dom.ctors:
                out.extend(u.ctor(c, e) for e in self.elements(srt))
            return out
        raise TypeError(f"no values for domain {dom!r}")

    def symbolic(self, dom: Domain) -> bool:
        """Whether quantifiers over ``dom`` stay quantifiers (unbounded encodings, sort values)."""
        return not self.finite and bool(dom.sorts())

    def in_domain(self, dom: Domain, term: z3.ExprRef) -> z3.BoolRef:
        """The range constraint of a bounded integer; every other sort is exact."""
        if isinstance(dom, RangeDomain):
            return z3.And(term >= dom.lo, term <= dom.hi)
        return z3.BoolVal(True, self.ctx)

    # -- symbols ---------------------------------------------------------------------------
    def state(self, name: str) -> StateSyms:
        """A fresh copy of the state variables, named ``var@name``."""
        syms: dict[Var, z3.ExprRef | z3.FuncDeclRef] = {}
        for v in self.model.vars:
            vs = self.sort(v.dom)
            if v.index:
                syms[v] = z3.Function(f"{v.name}@{name}", *[self.sort(d) for d in v.index], vs)
            else:
                syms[v] = z3.Const(f"{v.name}@{name}", vs)
        return StateSyms(name, syms)

    def step(self, name: str) -> StepSyms:
        """Fresh symbols for one step: the action and its parameters."""
        act = z3.Const(f"action@{name}", self.action_sort)
        params = {
            a.name: tuple(z3.Const(f"{a.name}.{p.name}@{name}", self.sort(p.dom)) for p in a.params)
            for a in self.model.actions
        }
        return StepSyms(name, act, params)

    def _index_values(self, d: Domain) -> list[z3.ExprRef] | None:
        """The values of an index domain to unroll over, or ``None`` to quantify over it (a
        sort in an encoding for every size)."""
        if isinstance(d, SortDomain) and not self.finite:
            return None
        return self.values(d)

    def forall_index(self, doms: Sequence[Domain], fn: Callable[[tuple[z3.ExprRef, ...]], z3.BoolRef]) -> z3.BoolRef:
        """``fn`` for every tuple of values of the index domains ``doms``: unrolled, or one
        ``ForAll`` over the sorts left unbounded."""
        return self._index_quant(True, list(doms), (), fn)

    def exists_index(self, doms: Sequence[Domain], fn: Callable[[tuple[z3.ExprRef, ...]], z3.BoolRef]) -> z3.BoolRef:
        return self._index_quant(False, list(doms), (), fn)

    def _index_quant(self, universal: bool, doms: list[Domain], done: tuple[z3.ExprRef, ...],
                     fn: Callable[[tuple[z3.ExprRef, ...]], z3.BoolRef]) -> z3.BoolRef:
        if len(done) == len(doms):
            return fn(done)
        k = len(done)
        d = doms[k]
        vals = self._index_values(d)
        if vals is not None:
            parts = [self._index_quant(universal, doms, done + (v,), fn) for v in vals]
            return _and(parts, self.ctx) if universal else _or(parts, self.ctx)
        assert isinstance(d, SortDomain)
        x = z3.Const(f"i{k}!{d.sort.name}", self._sorts[d.sort])
        body = self._index_quant(universal, doms, done + (x,), fn)
        return z3.ForAll([x], body) if universal else z3.Exists([x], body)

    # -- order and named elements -------------------------------------------------------------
    def order(self, sort: Sort) -> "_Order":
        """The element order of ``sort`` (made once, with its axioms when the sort is unbounded)."""
        o = self._order.get(sort)
        if o is None:
            o = _Order(self, sort)
            self._order[sort] = o
            self.axioms.extend(o.axioms)
        return o

    # -- expressions (the cases of lbrspec.explicit.evaluate.evaluate, in its order) ----------
    def expr(self, e: Expr, st: StateSyms | AfterAction, env: Env) -> z3.ExprRef:
        """The Z3 term of ``e`` read in state copy ``st`` with locals bound by ``env``."""
        if isinstance(e, Lit):
            return self.value(e.dom, e.code)
        if isinstance(e, Local):
            try:
                return env[e]
            except KeyError:
                raise TypeError(f"'{e.name}' is not bound") from None
        if isinstance(e, VarRef):
            return st.read(e.var, [self.expr(a, st, env) for a in e.args])
        if isinstance(e, Not):
            return _not(self.expr(e.arg, st, env), self.ctx)
        if isinstance(e, And):
            return _and([self.expr(a, st, env) for a in e.args], self.ctx)
        if isinstance(e, Or):
            return _or([self.expr(a, st, env) for a in e.args], self.ctx)
        if isinstance(e, Implies):
            return _implies(self.expr(e.a, st, env), self.expr(e.b, st, env), self.ctx)
        if isinstance(e, Eq):
            return self.expr(e.a, st, env) == self.expr(e.b, st, env)
        if isinstance(e, Ite):
            c = self.expr(e.cond, st, env)
            k = _const(c, self.ctx)
            if k is not None:
                return self.expr(e.then if k else e.else_, st, env)
            return z3.If(c, self.expr(e.then, st, env), self.expr(e.else_, st, env))
        if isinstance(e, Arith):
            a, b = self.expr(e.a, st, env), self.expr(e.b, st, env)
            if e.op == "+":
                return a + b
            if e.op == "-":
                return a - b
            if e.op == "*":
                return a * b
            return a % b  # Z3's integer mod is the mathematical one for a positive divisor
        if isinstance(e, Cmp):
            a, b = self.expr(e.a, st, env), self.expr(e.b, st, env)
            if isinstance(e.a.dom, SortDomain):
                o = self.order(e.a.dom.sort)
                return o.lt(a, b) if e.op == "<" else z3.Or(a == b, o.lt(a, b))
            return a < b if e.op == "<" else a <= b
        if isinstance(e, SortConst):
            return self.order(e.sort).named(e)
        if isinstance(e, Shift):
            assert isinstance(e.dom, SortDomain)
            if not self.finite:
                raise RingNotFirstOrder(e.dom.sort, str(e))
            elems = self._elems[e.dom.sort]
            a = self.expr(e.arg, st, env)
            out = elems[(len(elems) - 1 + e.k) % len(elems)]
            for i in reversed(range(len(elems) - 1)):
                out = z3.If(a == elems[i], elems[(i + e.k) % len(elems)], out)
            return out
        if isinstance(e, Ctor):
            assert isinstance(e.dom, UnionDomain)
            return self.union(e.dom).ctor(e.ctor, self.expr(e.arg, st, env))
        if isinstance(e, IsTag):
            d = e.arg.dom
            assert isinstance(d, UnionDomain)
            return self.union(d).is_tag(e.tag, self.expr(e.arg, st, env))
        if isinstance(e, Quant):
            return self._quant(e, st, env)
        if isinstance(e, Apply):
            inner = {p: self.expr(a, st, env) for p, a in zip(e.defn.params, e.args)}
            return self.expr(e.defn.body, st, {**env, **inner})
        raise TypeError(f"cannot translate {type(e).__name__}")

    def _quant(self, e: Quant, st: StateSyms | AfterAction, env: Env) -> z3.ExprRef:
        if not self.symbolic(e.var.dom):
            parts = [self.expr(e.body, st, {**env, e.var: v}) for v in self.values(e.var.dom)]
            return _and(parts, self.ctx) if e.universal else _or(parts, self.ctx)
        # A bound name is reused (so equal quantified formulas are one Z3 term) unless an
        # enclosing quantifier of the same term already uses it.
        name = f"{e.var.name}!{e.var.uid}"
        k = 1
        while name in self._bound:
            k += 1
            name = f"{e.var.name}!{e.var.uid}#{k}"
        x = z3.Const(name, self.sort(e.var.dom))
        self._bound.add(name)
        try:
            body = self.expr(e.body, st, {**env, e.var: x})
        finally:
            self._bound.discard(name)
        if _const(body, self.ctx) is not None:
            return body  # every sort has an element
        return z3.ForAll([x], body) if e.universal else z3.Exists([x], body)

    # -- the transition system ---------------------------------------------------------------
    def init(self, st: StateSyms) -> z3.BoolRef:
        """The initial-state predicate: each variable's ``init`` (value, list, ANY, function)."""
        return _and([self.forall_index(v.index, lambda xs, v=v: self._init_var(v, st, xs)) for v in self.model.vars], self.ctx)

    def _init_var(self, v: Var, st: StateSyms, xs: tuple[z3.ExprRef, ...]) -> z3.BoolRef:
        init = v.init
        env: dict[Local, z3.ExprRef] = {}
        if callable(init) and not isinstance(init, Expr):
            locs = tuple(Local(n, d) for n, d in zip(_arg_names(init, len(v.index)), v.index))
            env = dict(zip(locs, xs))
            init = init(*locs)
        cur = st.read(v, xs)
        if init is ANY:
            return self.in_domain(v.dom, cur)
        values = init if isinstance(init, (list, tuple)) else [init]
        return _or([cur == self.expr(coerce(val, v.dom), st, env) for val in values], self.ctx)

    def domains_ok(self, st: StateSyms | AfterAction) -> z3.BoolRef:
        """Every bounded-integer variable holds a value of its range."""
        parts = [
            self.forall_index(v.index, lambda xs, v=v: self.in_domain(v.dom, st.read(v, xs)))
            for v in self.model.vars
            if isinstance(v.dom, RangeDomain)
        ]
        return _and(parts, self.ctx)

    def has_ranges(self) -> bool:
        return any(isinstance(v.dom, RangeDomain) for v in self.model.vars)

    def params_env(self, a: Action, step: StepSyms) -> dict[Local, z3.ExprRef]:
        return dict(zip(a.params, step.params[a.name]))

    def guard(self, a: Action, pre: StateSyms, step: StepSyms) -> z3.BoolRef:
        env = self.params_env(a, step)
        ranges = [self.in_domain(p.dom, x) for p, x in zip(a.params, step.params[a.name])]
        return _and(ranges + [self.expr(a.guard_x, pre, env)], self.ctx)

    def transition(self, pre: StateSyms, post: StateSyms, step: StepSyms) -> z3.BoolRef:
        """One step from ``pre`` to ``post``: see the module docstring."""
        parts: list[z3.BoolRef] = [
            z3.Implies(step.act == self.action_const[a.name], self.guard(a, pre, step)) for a in self.model.actions
        ]
        for v in self.model.vars:
            parts.append(self.forall_index(v.index, lambda xs, v=v: post.read(v, xs) == self.next_value(v, pre, step, xs)))
        return _and(parts, self.ctx)

    def next_value(self, v: Var, pre: StateSyms, step: StepSyms, xs: tuple[z3.ExprRef, ...]) -> z3.ExprRef:
        """``v(xs)`` after the step: the firing action's update, or the old value (the frame)."""
        value = pre.read(v, xs)
        for a in reversed(self.model.actions):
            upd = self.update_value(a, v, pre, step, xs)
            if upd is not None:
                value = z3.If(step.act == self.action_const[a.name], upd, value)
        return value

    def update_value(self, a: Action, v: Var, pre: StateSyms, step: StepSyms, xs: tuple[z3.ExprRef, ...]) -> z3.ExprRef | None:
        """What action ``a`` writes to ``v(xs)``, or ``None`` if ``a`` leaves ``v`` alone."""
        writes = [u for u in a.updates_x if u.var is v]
        if not writes:
            return None
        assert len(writes) == 1, f"action {a.name} writes {v.name} twice"
        u = writes[0]
        env = self.params_env(a, step)
        if isinstance(u, Assign):
            hit = _and([x == self.expr(arg, pre, env) for x, arg in zip(xs, u.args)], self.ctx)
            return z3.If(hit, self.expr(u.value, pre, env), pre.read(v, xs))
        assert isinstance(u, AssignAll)
        return self.expr(u.value, pre, {**env, **dict(zip(u.bound, xs))})

    def after(self, a: Action, pre: StateSyms, step: StepSyms) -> AfterAction:
        """The state after action ``a`` fires in ``pre`` with ``step``'s parameters."""
        return AfterAction(self, a, pre, step)

    def write_errors(self, pre: StateSyms, step: StepSyms) -> z3.BoolRef:
        """The firing action writes a bounded integer outside its range (an error in the
        explicit engine too: :func:`lbrspec.explicit.evaluate.step` raises)."""
        bad: list[z3.BoolRef] = []
        for a in self.model.actions:
            for u in a.updates_x:
                if not isinstance(u.var.dom, RangeDomain):
                    continue
                env = self.params_env(a, step)
                if isinstance(u, Assign):
                    out = z3.Not(self.in_domain(u.var.dom, self.expr(u.value, pre, env)))
                else:
                    out = self.exists_index(
                        u.var.index,
                        lambda xs, u=u, env=env: z3.Not(self.in_domain(u.var.dom, self.expr(u.value, pre, {**env, **dict(zip(u.bound, xs))}))),
                    )
                bad.append(z3.And(step.act == self.action_const[a.name], self.guard(a, pre, step), out))
        return _or(bad, self.ctx)

    def holds(self, body: Expr, st: StateSyms | AfterAction, env: Env | None = None) -> z3.BoolRef:
        """A closed boolean expression (invariant, lemma) in state copy ``st``."""
        return self.expr(body, st, env or {})

    def pin(self, st: StateSyms, state: State, slots: Sequence[int] | None = None) -> z3.BoolRef:
        """``st`` equals the explicit (encoded) state ``state`` of this finite encoding (in the
        given ``slots`` only, if given)."""
        assert self.instance is not None
        parts = []
        for k, (sl, code) in enumerate(zip(self.instance.slots, state)):
            if slots is not None and k not in slots:
                continue
            idx = [self.values(d)[i] for d, i in zip(sl.var.index, sl.index)]
            parts.append(st.read(sl.var, idx) == self.value(sl.var.dom, code + sl.var.dom.offset))
        return _and(parts, self.ctx)

    # -- decoding ------------------------------------------------------------------------
    def decode(self, m: z3.ModelRef, states: Sequence[StateSyms | AfterAction], steps: Sequence[StepSyms]) -> Decoded:
        """Read states and steps out of a Z3 model (see the module docstring)."""
        elems: dict[Sort, list[z3.ExprRef]] = {}
        if self.instance is not None:
            inst = self.instance
            elems = {s: list(self._elems[s]) for s in self.model.sorts}
        else:
            sizes: dict[str, int] = {}
            for s in self.model.sorts:
                uni = m.get_universe(self._sorts[s])
                if uni is None or len(uni) == 0:
                    uni = [m.eval(z3.Const(f"any!{s.name}", self._sorts[s]), model_completion=True)]
                elems[s] = list(uni)
                sizes[s.name] = len(uni)
            inst = Instance(self.model, sizes)
        index = {s: {e.sexpr(): i for i, e in enumerate(es)} for s, es in elems.items()}
        out_states: list[State] = []
        for st in states:
            codes = []
            for sl in inst.slots:
                args = [elems[d.sort][i] if isinstance(d, SortDomain) else self.values(d)[i]
                        for d, i in zip(sl.var.index, sl.index)]
                zv = m.eval(st.read(sl.var, args), model_completion=True)
                codes.append(self.code_of(sl.var.dom, zv, inst, index) - sl.var.dom.offset)
            out_states.append(tuple(codes))
        out_steps: list[tuple[Action, tuple[int, ...]]] = []
        by_const = {c.sexpr(): self.model.action(n) for n, c in self.action_const.items()}
        for sp in steps:
            a = by_const[m.eval(sp.act, model_completion=True).sexpr()]
            codes = tuple(
                self.code_of(p.dom, m.eval(x, model_completion=True), inst, index) for p, x in zip(a.params, sp.params[a.name])
            )
            out_steps.append((a, codes))
        return Decoded(inst, out_states, out_steps)

    def read_code(self, m: z3.ModelRef, term: z3.ExprRef, dom: Domain) -> int:
        """The explicit code of ``term``'s value (of domain ``dom``) in the model ``m`` of a
        finite encoding."""
        assert self.instance is not None, "reading codes needs a finite encoding"
        index = {s: {e.sexpr(): i for i, e in enumerate(es)} for s, es in self._elems.items()}
        return self.code_of(dom, m.eval(term, model_completion=True), self.instance, index)

    def code_of(self, dom: Domain, zv: z3.ExprRef, inst: Instance, index: Mapping[Sort, Mapping[str, int]]) -> int:
        """The explicit code of a Z3 model value."""
        try:
            return self._code_of(dom, zv, inst, index)
        except (ValueError, KeyError, IndexError, z3.Z3Exception) as e:
            raise InternalError(f"the solver's model gives {dom.name} a value lbrspec cannot read: {zv} ({e})") from None

    def _code_of(self, dom: Domain, zv: z3.ExprRef, inst: Instance, index: Mapping[Sort, Mapping[str, int]]) -> int:
        if isinstance(dom, BoolDomain):
            if z3.is_true(zv):
                return 1
            if z3.is_false(zv):
                return 0
            raise ValueError(f"not a boolean value: {zv}")
        if isinstance(dom, RangeDomain):
            return zv.as_long()  # type: ignore[attr-defined]
        if isinstance(dom, EnumDomain):
            consts = [c.sexpr() for c in self._dom_entry(dom)[2]]
            return consts.index(zv.sexpr())
        if isinstance(dom, SortDomain):
            return index[dom.sort][zv.sexpr()]
        if isinstance(dom, UnionDomain):
            u = self.union(dom)
            names = [c.decl().name() for c in u.consts] + [f.name() for f in u.ctors]
            k = names.index(zv.decl().name())
            if k < len(dom.consts):
                return k
            c, srt = dom.ctors[k - len(dom.consts)]
            return dom.ctor_offset(c, inst.sizes) + index[srt][zv.arg(0).sexpr()]
        raise TypeError(f"cannot decode a value of {dom!r}")


class RingNotFirstOrder(InputError):
    """A sort used as a ring (``x.next()``) in a proof for every size: the ring's closure
    ("every element is reached from the first by steps") is not first-order, and a successor
    function from a sort into itself leaves the decidable fragment, so lbrspec refuses rather
    than prove something about a different structure."""

    def __init__(self, sort: Sort, where: str) -> None:
        super().__init__(
            f"sort {sort.name} is used as a ring ({where}); a ring of every size cannot be axiomatised in first-order "
            f"logic, so proofs for every size are refused: prove on finite instances instead (without --all-sizes)"
        )
        self.sort = sort


class _Order:
    """The order of a sort's elements and its named elements, in Z3.

    In a finite encoding the elements are an enumeration and ``x < y`` compares their numbers.
    For every size, ``lt`` is an uninterpreted relation with the axioms of a strict total order
    (irreflexive, transitive, total), the named elements ``e0, e1, ...`` are constants, each
    the immediate successor of the one before, ``e0`` the least element and ``last`` the greatest.
    Every axiom is universal and there is no function from the sort into itself, so the queries
    stay in the decidable fragment; they hold in every size that has the named elements.
    """

    def __init__(self, enc: "Encoding", sort: Sort) -> None:
        self.enc = enc
        self.sort = sort
        self.axioms: list[z3.BoolRef] = []
        self._named: list[z3.ExprRef] = []
        self._last: z3.ExprRef | None = None
        ctx = enc.ctx
        zs = enc._sorts[sort]
        if enc.finite:
            self._lt = None
            return
        self._lt = z3.Function(f"lt!{sort.name}", zs, zs, z3.BoolSort(ctx))
        x, y, z = (z3.Const(f"{n}!{sort.name}", zs) for n in "xyz")
        lt = self._lt
        self.axioms += [
            z3.ForAll([x], z3.Not(lt(x, x))),
            z3.ForAll([x, y, z], z3.Implies(z3.And(lt(x, y), lt(y, z)), lt(x, z))),
            z3.ForAll([x, y], z3.Or(x == y, lt(x, y), lt(y, x))),
        ]

    def lt(self, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        if self._lt is not None:
            return self._lt(a, b)
        elems = self.enc._elems[self.sort]
        return _or([z3.And(a == elems[i], b == elems[j]) for i in range(len(elems)) for j in range(i + 1, len(elems))],
                   self.enc.ctx)

    def named(self, e: SortConst) -> z3.ExprRef:
        if self.enc.finite:
            elems = self.enc._elems[self.sort]
            return elems[e.code(len(elems))]
        if e.from_end:
            if e.index != 0:
                raise InputError(f"{self.sort.name}: only the last element can be named from the end in proofs for every size")
            return self._last_elem()
        while len(self._named) <= e.index:
            self._add_named()
        return self._named[e.index]

    def _add_named(self) -> None:
        if self.enc._solvers_made:
            raise InternalError(f"element {self.sort.element(len(self._named))} of {self.sort.name} is named only outside "
                                "the model (a lemma?); name it in the model so its axioms exist before solving")
        zs = self.enc._sorts[self.sort]
        k = len(self._named)
        c = z3.Const(f"{self.sort.name}!e{k}", zs)
        x = z3.Const(f"x!{self.sort.name}", zs)
        lt = self._lt
        assert lt is not None
        if k == 0:
            self.enc.axioms.append(z3.ForAll([x], z3.Not(lt(x, c))))
        else:
            prev = self._named[-1]
            self.enc.axioms.append(lt(prev, c))
            self.enc.axioms.append(z3.ForAll([x], z3.Not(z3.And(lt(prev, x), lt(x, c)))))
        self._named.append(c)

    def _last_elem(self) -> z3.ExprRef:
        if self._last is None:
            if self.enc._solvers_made:
                raise InternalError(f"the last element of {self.sort.name} is named only outside the model (a lemma?)")
            zs = self.enc._sorts[self.sort]
            self._last = z3.Const(f"{self.sort.name}!last", zs)
            x = z3.Const(f"x!{self.sort.name}", zs)
            assert self._lt is not None
            self.enc.axioms.append(z3.ForAll([x], z3.Not(self._lt(self._last, x))))
        return self._last


# Boolean constants are folded as terms are built (lbrspec.smt.fragment.fold does the same on
# expressions), so that a formula a variant makes constant reaches the solver as a constant.
# Z3 shares terms, so a term is the constant true (false) when its id is that constant's id
# (kept on the context, whose terms the ids number).


def _const(a: z3.ExprRef, ctx: z3.Context) -> bool | None:
    """True or False if ``a`` is that boolean constant, else None."""
    ids = getattr(ctx, "_lbrspec_const_ids", None)
    if ids is None:
        ids = (z3.BoolVal(True, ctx).get_id(), z3.BoolVal(False, ctx).get_id())
        ctx._lbrspec_const_ids = ids  # type: ignore[attr-defined]
    i = a.get_id()
    return True if i == ids[0] else False if i == ids[1] else None


def _and(parts: Sequence[z3.BoolRef], ctx: z3.Context) -> z3.BoolRef:
    kept = []
    for p in parts:
        c = _const(p, ctx)
        if c is False:
            return z3.BoolVal(False, ctx)
        if c is None:
            kept.append(p)
    if not kept:
        return z3.BoolVal(True, ctx)
    return kept[0] if len(kept) == 1 else z3.And(kept)


def _or(parts: Sequence[z3.BoolRef], ctx: z3.Context) -> z3.BoolRef:
    kept = []
    for p in parts:
        c = _const(p, ctx)
        if c is True:
            return z3.BoolVal(True, ctx)
        if c is None:
            kept.append(p)
    if not kept:
        return z3.BoolVal(False, ctx)
    return kept[0] if len(kept) == 1 else z3.Or(kept)


def _not(a: z3.BoolRef, ctx: z3.Context) -> z3.BoolRef:
    c = _const(a, ctx)
    return z3.Not(a) if c is None else z3.BoolVal(not c, ctx)


def _implies(a: z3.BoolRef, b: z3.BoolRef, ctx: z3.Context) -> z3.BoolRef:
    ca, cb = _const(a, ctx), _const(b, ctx)
    if ca is False or cb is True:
        return z3.BoolVal(True, ctx)
    if ca is True:
        return b
    if cb is False:
        return _not(a, ctx)
    return z3.Implies(a, b)


__all__ = ["AfterAction", "Decoded", "Encoding", "StateSyms", "StepSyms"]
