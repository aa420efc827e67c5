"""Random small, well-typed lbrspec models, as a new user would write them (a Hypothesis strategy).

:func:`models` draws a whole model and its instance sizes: one or two index sorts of one to
three elements; enum, bool, bounded-integer, sort-valued and tagged-union variables, scalar or
indexed by one or two sorts, with every kind of initial value (a value, a list, ``ANY``, a
function of the index); one to three machines that declare what they read; transitions with
parameters, guards and updates written with every expression construct of the language,
including whole-variable ``becomes_all`` and arithmetic at the edges of a range (so that a
write outside a variable's range happens); named definitions; synchronised steps of several
machines; invariants (some true by construction, some random, so often false) and goals of the
three kinds.  The state space is kept small (a bound on the number of possible states), so every
engine can explore it completely in well under a second.

The generator is a **registry of constructs**.  Every language construct it can produce is
registered with :func:`register` (declarations, initial values, updates, properties) or, for
expressions, with the :func:`expr_rule` decorator, which also records how to build it; each
use is counted in :attr:`GeneratedModel.constructs`, and the differential test fails if a
registered construct is never generated in a run.  Adding a construct is one decorated
function (see the examples below); :data:`EXPR_RULES` picks it up.

Constructs of language features that are not on this branch yet (``/work/LANG_API.md``: sort
order and rings, negative ranges, ``*`` and ``%`` by constants, arrays indexed by ranges, enums
and booleans, variant-only variables) are registered with ``pending=`` set: they are listed in
the report as pending, never generated and never required.  Their hooks are marked
``HOOK(lang)`` below; enabling one means removing ``pending`` and, where the hook says so,
teaching the comparison in :mod:`differential.reference` about it (e.g. the symmetry group of a
sort whose elements a model names).

Why here (``tests/differential``) and not in the installed package: the generator exists to
test lbrspec's engines against each other, reaches into expression nodes for readable names,
and changes with the language's tests; shipping it in ``lbrspec`` would add test-only code and
a public API that nothing outside the test suite needs.

Expressions are built with the language's public operators (``&``, ``|``, ``~``, ``==``,
``!=``, ``+``, ``-``, ``<``, ``<=``, ``>``, ``>=``, ``ite``, ``implies``, ``.is_``, ``.in_``,
constructors, ``Dom.MEMBER``, ``x[i]``, ``x()``, ``becomes``, ``becomes_all``, ``spec.define``,
``spec.sync``) so the trees are exactly those a user's model gives; quantifiers are built as
``Quant`` nodes with numbered variables (``q0``, ``q1``) only so that printed models are readable
(``forall(S, lambda q: ...)`` gives the same tree with every variable named ``q``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from hypothesis import strategies as st

from lbrspec.lang import ANY, BOOL, EnumDomain, RangeDomain, Sort, SortDomain, Spec, UnionDomain, Variant, disj, implies, ite
from lbrspec.lang.domains import BoolDomain, Domain
from lbrspec.lang.expr import TRUE, Apply, Definition, Expr, Local, Quant, Var, _same_domain, coerce, conj, substitute, vars_read
from lbrspec.lang.machine import Machine, Transition
from lbrspec.lang.pretty import show, show_update
from lbrspec.lang.spec import Model

# -- the registry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Construct:
    """One thing the generator can put in a model; ``pending`` names a language feature that
    is not on this branch yet (the construct is then never generated nor required)."""

    name: str
    group: str
    doc: str
    pending: str | None = None


REGISTRY: dict[str, Construct] = {}


def register(name: str, group: str, doc: str, pending: str | None = None) -> str:
    if name in REGISTRY:
        raise ValueError(f"construct {name!r} registered twice")
    REGISTRY[name] = Construct(name, group, doc, pending)
    return name


def active_constructs() -> list[str]:
    """Every construct a run must generate."""
    return [n for n, c in REGISTRY.items() if c.pending is None]


def pending_constructs() -> list[Construct]:
    return [c for c in REGISTRY.values() if c.pending is not None]


#: The kinds of expression: what a domain's values are.
BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K = "bool", "int", "enum", "union", "sort"


def kind_of(dom: Domain) -> str:
    if isinstance(dom, BoolDomain):
        return BOOL_K
    if isinstance(dom, RangeDomain):
        return INT_K
    if isinstance(dom, EnumDomain):
        return ENUM_K
    if isinstance(dom, UnionDomain):
        return UNION_K
    if isinstance(dom, SortDomain):
        return SORT_K
    raise TypeError(f"no kind for domain {dom!r}")


def same_type(a: Domain, b: Domain) -> bool:
    """Values of ``a`` may stand where ``b`` is expected (bounded integers mix across ranges)."""
    return _same_domain(a, b)


@dataclass(frozen=True)
class GenDef:
    """A definition made with ``spec.define`` and what it needs to be usable somewhere."""

    defn: Definition
    reads: frozenset[Var]


@dataclass(frozen=True)
class Ctx:
    """Where an expression is being built: the locals in scope (parameters, quantified and
    bound variables, index variables of an initial value), the variables that may be read
    there, and the definitions usable there."""

    locals: tuple[Local, ...] = ()
    readable: tuple[Var, ...] = ()
    defs: tuple[GenDef, ...] = ()

    def plus(self, *xs: Local) -> "Ctx":
        return replace(self, locals=self.locals + xs)

    def locals_of(self, dom: Domain) -> list[Local]:
        return [x for x in self.locals if same_type(x.dom, dom)]

    def vars_of(self, dom: Domain, scalar: bool | None = None) -> list[Var]:
        return [
            v for v in self.readable
            if same_type(v.dom, dom) and (scalar is None or (not v.index) == scalar)
        ]


Builder = Callable[["ModelGen", Ctx, Domain, int], Expr]
Usable = Callable[["ModelGen", Ctx, Domain, int], bool]


@dataclass(frozen=True)
class ExprRule:
    construct: str
    kinds: frozenset[str]
    weight: int
    leaf: bool  # usable at depth 0: builds sub-expressions only at depth -1 (atoms)
    atom: bool  # usable at depth -1: builds no sub-expression at all
    usable: Usable
    build: Builder


EXPR_RULES: list[ExprRule] = []


def _always(g: "ModelGen", ctx: Ctx, want: Domain, depth: int) -> bool:
    return True


def expr_rule(
    name: str, kinds: Sequence[str], doc: str, *, weight: int = 1, leaf: bool = False, atom: bool = False,
    usable: Usable | None = None, pending: str | None = None,
) -> Callable[[Builder], Builder]:
    """Register an expression construct and the function that builds it.

    ``build(gen, ctx, want, depth)`` returns an expression of ``want``'s type (for integers,
    of any range: ``want`` is then only a hint for literals) and builds its sub-expressions at
    ``depth - 1``; ``usable(gen, ctx, want, depth)`` says whether it can be built here.  Depth
    ``-1`` allows atoms only (literals, locals, scalar reads), depth ``0`` also leaves
    (``x[i]`` with atomic indices, constructors of atoms)."""
    register(name, "expression", doc, pending)

    def deco(fn: Builder) -> Builder:
        EXPR_RULES.append(ExprRule(name, frozenset(kinds), weight, leaf or atom, atom, usable or _always, fn))
        return fn

    return deco


# Declarations, initial values, updates, composition, properties.
for _name, _group, _doc in [
    ("sort.one", "declaration", "a model with one index sort"),
    ("sort.two", "declaration", "a model with two index sorts"),
    ("sort.size.1", "instance", "a sort of one element"),
    ("sort.size.2", "instance", "a sort of two elements"),
    ("sort.size.3", "instance", "a sort of three elements"),
    ("domain.bool", "declaration", "a boolean variable"),
    ("domain.enum", "declaration", "an enum variable"),
    ("domain.range", "declaration", "a bounded-integer variable"),
    ("domain.range.from_nonzero", "declaration", "a bounded-integer variable whose range starts above 0"),
    ("domain.sort", "declaration", "a variable holding a sort element"),
    ("domain.union", "declaration", "a tagged-union variable (constants and constructors over a sort)"),
    ("domain.union.no_const", "declaration", "a union of constructors only"),
    ("var.scalar", "declaration", "a scalar variable"),
    ("var.indexed.1", "declaration", "a variable indexed by one sort"),
    ("var.indexed.2", "declaration", "a variable indexed by two sorts"),
    ("init.value", "initial value", "init=a value"),
    ("init.list", "initial value", "init=[values]"),
    ("init.any", "initial value", "init=ANY"),
    ("init.fn", "initial value", "init=a function of the index"),
    ("init.fn_list", "initial value", "init=a function of the index returning a list"),
    ("machine", "composition", "a machine"),
    ("machine.reads", "composition", "a machine declaring reads=[...] of another machine"),
    ("transition", "composition", "a machine transition"),
    ("transition.no_guard", "composition", "a transition without a guard"),
    ("transition.no_update", "composition", "a transition that writes nothing"),
    ("param.sort", "composition", "a transition parameter over a sort"),
    ("param.range", "composition", "a transition parameter over a bounded range"),
    ("param.enum", "composition", "a transition parameter over an enum"),
    ("param.bool", "composition", "a transition parameter over bool"),
    ("param.union", "composition", "a transition parameter over a union"),
    ("update.point", "update", "x[args].becomes(value)"),
    ("update.all", "update", "x.becomes_all(lambda i..: value)"),
    ("update.all_scalar", "update", "becomes_all on a scalar variable"),
    ("update.edge_inc", "update", "x := x + k on a bounded integer (may leave the range)"),
    ("update.edge_dec", "update", "x := x - k on a bounded integer (may leave the range)"),
    ("guard.edge_protect", "update", "a guard keeping an edge update inside the range"),
    ("define.bool", "definition", "spec.define of a boolean expression"),
    ("define.int", "definition", "spec.define of an integer expression"),
    ("sync", "composition", "a synchronised step of transitions of several machines"),
    ("sync.three_parts", "composition", "a sync of three transitions"),
    ("sync.guard", "composition", "a sync with a glue guard"),
    ("sync.literal_arg", "composition", "a sync passing a literal to a transition parameter"),
    ("sync.shared_param", "composition", "a sync passing one parameter to two parts"),
    ("invariant.true", "property", "an invariant true by construction"),
    ("invariant.random", "property", "a random invariant (often false)"),
    ("goal.state", "property", "a state goal"),
    ("goal.params", "property", "a goal for every value of its parameters"),
    ("goal.step", "property", "a step goal tied to a transition"),
]:
    register(_name, _group, _doc)

# HOOK(lang): declaration-level features of /work/LANG_API.md, not on this branch yet.  To
# enable one, remove ``pending`` and generate it in ModelGen where the comment names.
_LANG = "LANG_API.md, branch lang"
register("domain.range.negative", "declaration", "RangeDomain(lo, hi) with lo < 0 (ModelGen.range_domain)")
register("var.array.range_index", "declaration", "index=[RangeDomain(1, 5)] (ModelGen.variable; reads need a statically in-range index)", pending=_LANG)
register("var.array.enum_index", "declaration", "index=[SomeEnum] (ModelGen.variable)", pending=_LANG)
register("var.array.bool_index", "declaration", "index=[BOOL] (ModelGen.variable)", pending=_LANG)
register("var.variant_only", "declaration", "m.var(..., when=False): absent in this build; any use is a build error", pending=_LANG)
register("enum.absent_member", "declaration", "EnumDomain(..., absent=(X,)); Dom.X is a build error", pending=_LANG)


# -- the generated model ----------------------------------------------------------------------------


@dataclass
class GeneratedModel:
    """A built model, the sizes of its instance, the constructs it uses and a listing."""

    model: Model
    sizes: dict[str, int]
    constructs: Counter[str]
    listing: str

    def __repr__(self) -> str:
        return "\n" + self.listing

    def _repr_pretty_(self, p, cycle: bool) -> None:  # what Hypothesis prints for a falsifying example
        p.text("\n" + self.listing)


@dataclass(frozen=True)
class Limits:
    """How big a generated model may get.  ``max_universe`` bounds the number of possible
    states (the product of every slot's number of values), which bounds the reachable ones."""

    max_sorts: int = 2
    max_size: int = 3
    max_machines: int = 3
    max_vars: int = 3  # per machine
    max_transitions: int = 2  # per machine, besides those made for syncs
    max_params: int = 2
    max_syncs: int = 2
    max_depth: int = 2  # of guards and updates; invariants get one more
    max_universe: int = 3000
    max_invariants: int = 3
    max_goals: int = 2
    max_defs: int = 2


SIMPLE_RANGES = [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (0, 0), (1, 2)]
NEGATIVE_RANGES = [(-1, 1), (-2, 0), (-3, -1)]


class ModelGen:
    """One draw of a model; see the module docstring.  ``draw`` is Hypothesis's draw."""

    def __init__(self, draw: Callable, limits: Limits) -> None:
        self.draw = draw
        self.limits = limits
        self.counts: Counter[str] = Counter()
        self.sorts: list[Sort] = []
        self.sizes: dict[Sort, int] = {}
        self.enums: list[EnumDomain] = []
        self.unions: list[UnionDomain] = []
        self.ranges: list[RangeDomain] = []
        self.vars: list[Var] = []
        self.init_text: dict[Var, str] = {}
        self.defs: list[GenDef] = []
        self.transitions: list[tuple[Transition, "MachineInfo"]] = []
        self.universe = 1
        self._q = 0

    # -- drawing helpers (each shrinks towards the simplest choice) --------------------------------
    def count(self, name: str) -> None:
        c = REGISTRY[name]
        assert c.pending is None, f"construct {name} is pending ({c.pending}) but was generated"
        self.counts[name] += 1

    def pick(self, items: Sequence):
        return self.draw(st.sampled_from(list(items)))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def num(self, lo: int, hi: int) -> int:
        # sampled_from, not integers: uniform (integers() favours its lower bound), shrinking to lo
        return self.draw(st.sampled_from(range(lo, hi + 1)))

    def fresh(self, prefix: str) -> str:
        self._q += 1
        return f"{prefix}{self._q}"

    # -- domains -----------------------------------------------------------------------------------
    def dom_size(self, dom: Domain) -> int:
        if isinstance(dom, RangeDomain):
            return dom.hi - dom.lo + 1
        return dom.size(self.sizes)

    def range_domain(self) -> RangeDomain:
        lo, hi = self.pick(SIMPLE_RANGES + NEGATIVE_RANGES)
        for r in self.ranges:
            if (r.lo, r.hi) == (lo, hi):
                return r
        r = RangeDomain(lo, hi)
        self.ranges.append(r)
        return r

    def enum_domain(self) -> EnumDomain:
        if self.enums and (len(self.enums) >= 2 or not self.chance(30)):
            return self.pick(self.enums)
        k = len(self.enums)
        members = ["RED", "GREEN", "BLUE"][: self.num(2, 3)] if k == 0 else ["LO", "HI"]
        # HOOK(lang) enum.absent_member: EnumDomain(name, members, absent=("X",)).
        e = EnumDomain(f"E{k}", members)
        self.enums.append(e)
        return e

    def union_domain(self) -> UnionDomain:
        if self.unions and (len(self.unions) >= 2 or not self.chance(30)):
            return self.pick(self.unions)
        k = len(self.unions)
        consts = [("none",), ("none", "host"), ()][self.num(0, 2)]
        ctors = [(f"by_{s.prefix}", s) for s in self.sorts]
        if len(ctors) > 1 and not self.chance(40):
            ctors = [self.pick(ctors)]
        u = UnionDomain(f"U{k}", consts=consts, ctors=ctors)
        self.unions.append(u)
        return u

    def value_domain(self) -> Domain:
        kind = self.pick(["bool", "range", "enum", "union", "sort", "range"])
        if kind == "bool":
            return BOOL
        if kind == "range":
            return self.range_domain()
        if kind == "enum":
            return self.enum_domain()
        if kind == "union":
            return self.union_domain()
        return SortDomain(self.pick(self.sorts))

    def literals(self, dom: Domain) -> list[object]:
        """The Python values a user may write for ``dom`` (none for sort elements)."""
        if isinstance(dom, BoolDomain):
            return [False, True]
        if isinstance(dom, RangeDomain):
            return list(range(dom.lo, dom.hi + 1))
        if isinstance(dom, EnumDomain):
            return list(dom.members)
        if isinstance(dom, UnionDomain):
            return list(dom.consts)
        return []

    # -- what can be built where --------------------------------------------------------------------
    def can_make(self, ctx: Ctx, dom: Domain, depth: int) -> bool:
        """Whether an expression of ``dom`` can be built here at ``depth`` (see :func:`expr_rule`)."""
        k = kind_of(dom)
        if k in (BOOL_K, INT_K, ENUM_K):
            return True
        if ctx.locals_of(dom) or ctx.vars_of(dom, scalar=True):
            return True
        if k == UNION_K:
            assert isinstance(dom, UnionDomain)
            if dom.consts:
                return True
            if depth >= 0 and any(self.can_make(ctx, SortDomain(s), depth - 1) for _, s in dom.ctors):
                return True
        return depth >= 0 and bool(self.readable_indexed(ctx, dom, depth))

    def readable_indexed(self, ctx: Ctx, dom: Domain, depth: int) -> list[Var]:
        """Indexed variables of ``dom`` readable here whose indices can be built at ``depth - 1``."""
        return [
            v for v in ctx.vars_of(dom, scalar=False)
            if all(self.can_make(ctx, d, depth - 1) for d in v.index)
        ]

    def usable_defs(self, ctx: Ctx, kind: str, depth: int) -> list[GenDef]:
        return [
            d for d in ctx.defs
            if kind_of(d.defn.body.dom) == kind and d.reads <= set(ctx.readable)
            and all(self.can_make(ctx, p.dom, depth - 1) for p in d.defn.params)
        ]

    # -- expressions ----------------------------------------------------------------------------------
    def expr(self, ctx: Ctx, want: Domain, depth: int) -> Expr:
        """A random expression of ``want``'s type, at most ``depth`` constructs deep."""
        k = kind_of(want)
        rules = [
            r for r in EXPR_RULES
            if k in r.kinds and REGISTRY[r.construct].pending is None
            and (depth > 0 or (r.leaf and depth == 0) or r.atom)
            and r.usable(self, ctx, want, depth)
        ]
        if not rules:
            raise AssertionError(f"nothing can build a {want.name} here (locals {[x.name for x in ctx.locals]})")
        # Atoms first (shrinking goes towards them), but rarer than the rest above depth 0,
        # or most formulas would compare literals.
        weighted = [r for r in rules for _ in range(r.weight * (1 if r.atom or depth <= 0 else 3))]
        weighted.sort(key=lambda r: (not r.atom, not r.leaf))
        rule = self.pick(weighted)
        self.count(rule.construct)
        return rule.build(self, ctx, want, depth - 1)

    def int_hint(self) -> RangeDomain:
        return self.pick(self.ranges) if self.ranges and self.chance(70) else RangeDomain(0, 3)

    def some_kind(self, ctx: Ctx, depth: int) -> Domain:
        """A domain to compare values of: bool, an int range, an enum, a union or a sort."""
        options: list[Domain] = [BOOL, self.int_hint()]
        options += self.enums
        options += [u for u in self.unions if self.can_make(ctx, u, depth)]
        options += [SortDomain(s) for s in self.sorts if self.can_make(ctx, SortDomain(s), depth)]
        return self.pick(options)

    # -- the model ----------------------------------------------------------------------------------
    def build(self) -> GeneratedModel:
        L = self.limits
        nsorts = self.num(1, L.max_sorts)
        self.count("sort.one" if nsorts == 1 else "sort.two")
        for i in range(nsorts):
            name, prefix = [("A", "a"), ("B", "b")][i]
            s = Sort(name, prefix)
            n = self.num(1, L.max_size)
            self.count(f"sort.size.{n}")
            self.sorts.append(s)
            self.sizes[s] = n
        spec = Spec("gen", sorts=self.sorts, default_sizes={s.name: n for s, n in self.sizes.items()})

        nmach = self.num(1, L.max_machines)
        names = [f"m{i}" for i in range(nmach)]
        infos: list[MachineInfo] = []
        for name in names:
            others = [o for o in names if o != name]
            reads = [o for o in others if self.chance(40)]
            self.count("machine")
            if reads:
                self.count("machine.reads")
            infos.append(MachineInfo(spec.machine(name, reads=reads), reads))
        for info in infos:
            for _ in range(self.num(1, L.max_vars)):
                self.variable(info)
        by_name = {i.machine.name: i for i in infos}
        for info in infos:
            info.readable = tuple(info.machine.vars) + tuple(v for r in info.reads for v in by_name[r].machine.vars)

        everything = Ctx(readable=tuple(self.vars))
        for _ in range(self.num(0, L.max_defs)):
            self.definition(spec, replace(everything, defs=tuple(self.defs)))
        everything = replace(everything, defs=tuple(self.defs))

        for info in infos:
            for _ in range(self.num(1, L.max_transitions)):
                self.transition(info)
        if nmach > 1:
            for k in range(self.num(0, L.max_syncs)):
                self.sync(spec, infos, k, everything)

        for k in range(self.num(1, L.max_invariants)):
            self.invariant(spec, k, everything)
        for k in range(self.num(0, L.max_goals)):
            self.goal(spec, k, everything)
        model = spec.build(Variant("gen", "a generated model"))
        sizes = {s.name: n for s, n in self.sizes.items()}
        return GeneratedModel(model, sizes, self.counts, self.listing(model, sizes))

    # -- variables ----------------------------------------------------------------------------------
    def variable(self, info: "MachineInfo") -> None:
        dom = self.value_domain()
        index: tuple[Sort, ...] = ()
        shape = self.pick(["scalar", "one", "two"])
        if shape != "scalar":
            index = (self.pick(self.sorts),)
            if shape == "two":
                index += (self.pick(self.sorts),)
        # HOOK(lang) var.array.*: index=[RangeDomain(..)], [Enum], [BOOL] go here.
        cells = math.prod(self.sizes[s] for s in index)
        if self.universe * self.dom_size(dom) ** cells > self.limits.max_universe:
            dom, index, cells = BOOL, (), 1  # too many states: fall back to a flag
            if self.universe * 2 > self.limits.max_universe:
                return
        self.universe *= self.dom_size(dom) ** cells
        self.count({BOOL_K: "domain.bool", INT_K: "domain.range", ENUM_K: "domain.enum", UNION_K: "domain.union", SORT_K: "domain.sort"}[kind_of(dom)])
        if isinstance(dom, RangeDomain) and dom.lo > 0:
            self.count("domain.range.from_nonzero")
        if isinstance(dom, RangeDomain) and dom.lo < 0:
            self.count("domain.range.negative")
        if isinstance(dom, UnionDomain) and not dom.consts:
            self.count("domain.union.no_const")
        self.count({0: "var.scalar", 1: "var.indexed.1", 2: "var.indexed.2"}[len(index)])
        name = f"x{len(self.vars)}"
        init, text = self.initial(dom, index)
        v = info.machine.var(name, dom, index=list(index), init=init)
        self.vars.append(v)
        self.init_text[v] = text

    def initial(self, dom: Domain, index: tuple[Sort, ...]) -> tuple[object, str]:
        lits = self.literals(dom)
        probe = tuple(Local(f"i{k}", SortDomain(s)) for k, s in enumerate(index))
        ctx = Ctx(locals=probe)  # an initial value reads no variable
        fn_ok = bool(index) and self.can_make(ctx, dom, 0)
        kinds = (["value", "list"] if lits else []) + ["any"] + (["fn", "fn_list"] if fn_ok else [])
        kind = self.pick(kinds)
        if kind == "value":
            self.count("init.value")
            v = self.pick(lits)
            return v, repr(v)
        if kind == "list":
            self.count("init.list")
            vals = [self.pick(lits) for _ in range(self.num(1, 3))]
            return vals, repr(vals)
        if kind == "any":
            self.count("init.any")
            return ANY, "ANY"
        as_list = kind == "fn_list"
        self.count("init.fn_list" if as_list else "init.fn")
        # The body is drawn once, as an expression of the index locals; the function returns it
        # with the locals the instance passes substituted (an init function sees elements).
        # (arithmetic in an integer initial value can leave the range, which no engine checks:
        # a known issue; kept rare so that most models with such values stay comparable)
        depth = 1 if not isinstance(dom, RangeDomain) or self.chance(15) else 0
        bodies = [self.expr(ctx, dom, depth) for _ in range(2 if as_list else 1)]

        def init(*xs: Local) -> object:
            out = [_rebind(b, probe, xs) for b in bodies]
            return out if as_list else out[0]

        text = f"lambda {', '.join(x.name for x in probe)}: " + (
            "[" + ", ".join(show(b) for b in bodies) + "]" if as_list else show(bodies[0])
        )
        return init, text

    # -- definitions --------------------------------------------------------------------------------
    def definition(self, spec: Spec, ctx: Ctx) -> None:
        k = len(self.defs)
        nparams = self.num(0, 2)
        params: dict[str, Domain | Sort] = {}
        for i in range(nparams):
            params[f"d{k}_{i}"] = self.param_domain(count=False)
        int_valued = self.chance(35)
        self.count("define.int" if int_valued else "define.bool")
        want: Domain = self.int_hint() if int_valued else BOOL

        def body(*ps: Local) -> Expr:
            return self.expr(ctx.plus(*ps), want, self.limits.max_depth)

        d = spec.define(f"def{k}", params, body)
        self.defs.append(GenDef(d, frozenset(vars_read(d.body))))

    # -- transitions -------------------------------------------------------------------------------
    def param_domain(self, count: bool = True) -> Domain | Sort:
        kind = self.pick(["sort", "sort", "range", "enum", "bool", "union"])
        if kind == "sort":
            d: Domain | Sort = self.pick(self.sorts)
        elif kind == "range":
            d = self.pick([RangeDomain(0, 1), RangeDomain(0, 2), RangeDomain(1, 3)])
        elif kind == "enum":
            d = self.enum_domain()
        elif kind == "bool":
            d = BOOL
        else:
            d = self.union_domain()
        if count:
            self.count(f"param.{kind}")
        return d

    def transition(self, info: "MachineInfo") -> Transition:
        m = info.machine
        name = f"{m.name}_t{len(m.transitions)}"
        params = {f"p{i}": self.param_domain() for i in range(self.num(0, self.limits.max_params))}
        self.count("transition")
        built: dict[str, object] = {}

        def guard(*ps: Local) -> Expr:
            ctx = Ctx(locals=ps, readable=info.readable, defs=tuple(d for d in self.defs if d.reads <= set(info.readable)))
            updates, protect = self.updates(info, ctx)
            built["updates"] = updates
            if not updates:
                self.count("transition.no_update")
            parts = list(protect)
            if self.chance(65):
                parts.append(self.expr(ctx, BOOL, self.limits.max_depth))
            if not parts:
                self.count("transition.no_guard")
                return TRUE
            return conj(parts)

        t = m.transition(name, params, guard=guard, updates=lambda *ps: built["updates"])
        self.transitions.append((t, info))
        return t

    def updates(self, info: "MachineInfo", ctx: Ctx) -> tuple[list, list[Expr]]:
        """Updates of a random subset of the machine's variables, and guard conjuncts that keep
        some edge updates (``x := x + 1``...) in range."""
        out = []
        protect: list[Expr] = []
        depth = self.limits.max_depth
        own = list(info.machine.vars)
        chosen = [v for v in own if not self.chance(40)]  # the simplest draw writes every variable
        for v in chosen:
            edge = isinstance(v.dom, RangeDomain) and self.chance(60)
            if self.chance(25):  # the whole variable at once
                bound = tuple(Local(f"i{k}", d) for k, d in enumerate(v.index))
                inner = ctx.plus(*bound)
                if not self.can_make(inner, v.dom, depth):
                    continue
                self.count("update.all" if v.index else "update.all_scalar")
                cur = v[bound] if v.index else v()
                if edge:
                    value, up = self.edge_value(v, cur, inner)
                    if self.chance(50):
                        protect.append(self.edge_guard_all(v, up))
                else:
                    value = self.new_value(inner, v, cur)
                fn = _fn(len(v.index), lambda *xs, value=value, bound=bound: _rebind(value, bound, xs))
                out.append(v.becomes_all(fn))
                continue
            if not (all(self.can_make(ctx, d, 0) for d in v.index) and self.can_make(ctx, v.dom, depth)):
                continue  # nothing here names an element of the index sort or a value of the domain
            self.count("update.point")
            cur = v[tuple(self.expr(ctx, d, 0) for d in v.index)] if v.index else v()
            if edge:
                value, up = self.edge_value(v, cur, ctx)
                if self.chance(50):
                    protect.append(self.edge_guard(v, cur, up))
            else:
                value = self.new_value(ctx, v, cur)
            out.append(cur.becomes(value))
        return out, protect

    def new_value(self, ctx: Ctx, v: Var, cur: Expr) -> Expr:
        """What an update writes: often a literal or the negation of the old value (so that
        states change), otherwise a random expression."""
        lits = self.literals(v.dom)
        shape = self.pick(["toggle", "literal", "random", "random"])
        if shape == "toggle" and isinstance(v.dom, BoolDomain):
            self.count("not")
            return ~cur
        if shape in ("literal", "toggle") and lits:
            self.count({BOOL_K: "lit.bool", INT_K: "lit.int", ENUM_K: "lit.enum", UNION_K: "lit.union"}[kind_of(v.dom)])
            return coerce(self.pick(lits), v.dom)
        return self.expr(ctx, v.dom, self.limits.max_depth)

    def edge_value(self, v: Var, cur: Expr, ctx: Ctx) -> tuple[Expr, bool]:
        """``x + k`` or ``x - k`` (and whether it goes up): at an edge of ``x``'s range this
        leaves the range, which every engine must report as an error."""
        assert isinstance(v.dom, RangeDomain)
        up = self.chance(50)
        steps = [k for k in (1, 2) if v.dom.lo <= k <= v.dom.hi] or [v.dom.hi]
        by: Expr = self.expr(ctx, v.dom, 0) if self.chance(20) else coerce(self.pick(steps), v.dom)
        self.count("update.edge_inc" if up else "update.edge_dec")
        return (cur + by if up else cur - by), up

    def edge_guard(self, v: Var, cur: Expr, up: bool) -> Expr:
        """``x < hi`` before an increment, ``lo < x`` before a decrement (enough for a step of 1)."""
        assert isinstance(v.dom, RangeDomain)
        self.count("guard.edge_protect")
        return (cur < v.dom.hi) if up else (cur > v.dom.lo)

    def edge_guard_all(self, v: Var, up: bool) -> Expr:
        """The same for every element of an indexed variable, under ``forall``."""
        qs = tuple(Local(self.fresh("q"), d) for d in v.index)
        body = self.edge_guard(v, v[qs] if v.index else v(), up)
        for q in reversed(qs):
            body = Quant(True, q, body)
        return body

    # -- syncs ------------------------------------------------------------------------------------
    def sync(self, spec: Spec, infos: list["MachineInfo"], k: int, everything: Ctx) -> None:
        """A synchronised step of one new transition of each of two or three machines."""
        n = 3 if len(infos) >= 3 and self.chance(30) else 2
        members = [infos[i] for i in sorted(self.draw(st.permutations(range(len(infos))))[:n])]
        parts = [self.transition(info) for info in members]
        self.count("sync")
        if n == 3:
            self.count("sync.three_parts")
        sparams: dict[str, Domain | Sort] = {}
        plan: list[list[tuple[str, object]]] = []  # per part, per param: ("param", name) or ("lit", value)
        for t in parts:
            args: list[tuple[str, object]] = []
            for p in t.params:
                lits = self.literals(p.dom)
                # a shared integer parameter must fit the range of each transition it is passed to
                shared = [nm for nm, d in sparams.items() if same_type(d if isinstance(d, Domain) else SortDomain(d), p.dom)
                          and not (isinstance(p.dom, RangeDomain) and not p.dom.contains(d))]
                if lits and self.chance(25):
                    self.count("sync.literal_arg")
                    args.append(("lit", self.pick(lits)))
                elif shared and self.chance(40):
                    self.count("sync.shared_param")
                    args.append(("param", self.pick(shared)))
                else:
                    nm = f"s{len(sparams)}"
                    sparams[nm] = p.dom.sort if isinstance(p.dom, SortDomain) else p.dom
                    args.append(("param", nm))
            plan.append(args)
        glue = self.chance(30)

        def make_parts(*ps: Local) -> list:
            env = {x.name: x for x in ps}
            return [t(*[env[a] if how == "param" else a for how, a in args]) for t, args in zip(parts, plan)]

        def guard(*ps: Local) -> Expr:
            if not glue:
                return TRUE
            self.count("sync.guard")
            return self.expr(everything.plus(*ps), BOOL, 1)

        spec.sync(f"sync{k}", sparams, make_parts, guard=guard)

    # -- properties -----------------------------------------------------------------------------------
    def invariant(self, spec: Spec, k: int, ctx: Ctx) -> None:
        if self.chance(60):
            self.count("invariant.true")
            body = self.true_formula(ctx)
        else:
            self.count("invariant.random")
            depth = self.limits.max_depth + 1
            # often an implication (a condition, then a claim): false less often than a bare formula
            if self.chance(50):
                self.count("implies")
                body = implies(self.expr(ctx, BOOL, depth - 1), self.expr(ctx, BOOL, depth - 1))
            else:
                body = self.expr(ctx, BOOL, depth)
        spec.invariant(f"inv{k}", body, doc=f"generated invariant {k}")

    def true_formula(self, ctx: Ctx) -> Expr:
        """A formula true in every state: a tautology over a random formula, or a fact about a
        variable's domain under quantifiers over its index."""
        form = self.pick(["implies", "excluded_middle", "domain"])
        if form == "domain" and self.vars:
            v = self.pick(self.vars)
            qs = tuple(Local(self.fresh("q"), d) for d in v.index)
            cur = v[qs] if v.index else v()
            self.count("read.indexed" if v.index else "read.scalar")
            used: list[str]
            if isinstance(v.dom, RangeDomain):
                body, used = (cur <= v.dom.hi) & (v.dom.lo <= cur), ["le", "and"]
            elif isinstance(v.dom, EnumDomain):
                body, used = cur.in_(*v.dom.members), ["in_"]
            elif isinstance(v.dom, UnionDomain):
                body, used = _disj_tags(cur, v.dom), ["is_", "or"]
            elif isinstance(v.dom, BoolDomain):
                body, used = cur | ~cur, ["or", "not"]
            else:
                body, used = cur == cur, ["eq"]
            for q in reversed(qs):
                body = Quant(True, q, body)
                used.append("forall.sort")
            for c in used:
                self.count(c)
            return body
        e = self.expr(ctx, BOOL, self.limits.max_depth)
        for c in (["implies"] if form == "implies" else ["or", "not"]):
            self.count(c)
        return implies(e, e) if form == "implies" else (e | ~e)

    def goal(self, spec: Spec, k: int, ctx: Ctx) -> None:
        form = self.pick(["state", "params", "step"])
        name = f"goal{k}"
        depth = self.limits.max_depth
        if form == "step" and self.transitions:
            self.count("goal.step")
            t, _ = self.pick(self.transitions)
            spec.goal(name, lambda *ps: self.expr(ctx.plus(*ps), BOOL, depth), doc=f"generated step goal {k}", on=t)
        elif form == "params":
            self.count("goal.params")
            params = {f"g{i}": self.param_domain(count=False) for i in range(self.num(1, 2))}
            spec.goal(name, lambda *ps: self.expr(ctx.plus(*ps), BOOL, depth), doc=f"generated goal {k}", params=params)
        else:
            self.count("goal.state")
            spec.goal(name, self.expr(ctx, BOOL, depth), doc=f"generated goal {k}")

    # -- a readable listing (what a failing test prints) ------------------------------------------------
    def listing(self, model: Model, sizes: dict[str, int]) -> str:
        out = [f"model {model.name}, sizes {sizes}"]
        for d in self.enums:
            out.append(f"  enum {d.name} = {' | '.join(d.members)}")
        for u in self.unions:
            alts = list(u.consts) + [f"{c}({s.name})" for c, s in u.ctors]
            out.append(f"  union {u.name} = {' | '.join(alts)}")
        for m in model.machines:
            out.append(f"  machine {m.name}" + (f" reads {', '.join(m.reads)}" if m.reads else ""))
            for v in m.vars:
                idx = f"[{', '.join(s.name for s in v.index)}]" if v.index else ""
                out.append(f"    var {v.name}{idx}: {v.dom.name}, init {self.init_text[v]}")
        for d in model.definitions:
            ps = ", ".join(f"{p.name}: {p.dom.name}" for p in d.params)
            out.append(f"  define {d.name}({ps}) = {show(d.body)}")
        for a in model.actions:
            ps = ", ".join(f"{p.name}: {p.dom.name}" for p in a.params)
            parts = " + ".join(
                f"{p.transition.qualname}({', '.join(show(x) for x in p.args)})" for p in a.parts
            ) if len(a.parts) > 1 else ""
            out.append(f"  action {a.name}({ps})" + (f" = {parts}" if parts else ""))
            out.append(f"    guard {show(a.guard)}")
            for u in a.updates:
                out.append(f"    {show_update(u)}")
        for i in model.invariants:
            out.append(f"  invariant {i.name}: {show(i.body)}")
        for g in model.goals:
            ps = ", ".join(f"{p.name}: {p.dom.name}" for p in g.params)
            on = f" on {g.on.qualname}({', '.join(p.name for p in g.on.params)})" if g.on is not None else ""
            out.append(f"  goal {g.name}{f'({ps})' if ps else ''}{on}: {show(g.body)}")
        return "\n".join(out)


@dataclass
class MachineInfo:
    machine: Machine
    reads: list[str]
    readable: tuple[Var, ...] = field(default=())


def _fn(arity: int, body: Callable[..., Expr]) -> Callable[..., Expr]:
    """A function of exactly ``arity`` named arguments (``becomes_all`` names its bound
    variables after them)."""
    if arity == 0:
        return lambda: body()
    if arity == 1:
        return lambda i0: body(i0)
    return lambda i0, i1: body(i0, i1)


def _rebind(value: Expr, bound: tuple[Local, ...], xs: Sequence[Expr]) -> Expr:
    """``value`` with the locals ``bound`` replaced by ``xs`` (what a function of the index
    returns for the locals it is called with)."""
    return substitute(value, dict(zip(bound, xs)))


def _disj_tags(cur: Expr, dom: UnionDomain) -> Expr:
    return disj([cur.is_(t) for t in list(dom.consts) + [c for c, _ in dom.ctors]])


# -- expression constructs ---------------------------------------------------------------------------


@expr_rule("lit.bool", [BOOL_K], "true / false", atom=True)
def _lit_bool(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return coerce(g.chance(50), BOOL)


@expr_rule("lit.int", [INT_K], "an integer literal (in the range of what it meets)", atom=True, weight=2)
def _lit_int(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    assert isinstance(want, RangeDomain)
    edges = [want.lo, want.hi] + list(range(want.lo, want.hi + 1))  # edges are likelier
    return coerce(g.pick(edges), want)


@expr_rule("lit.enum", [ENUM_K], "Dom.MEMBER", atom=True)
def _lit_enum(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    assert isinstance(want, EnumDomain)
    return getattr(want, g.pick(want.members))


@expr_rule("lit.union", [UNION_K], "a union constant (Tag.none)", atom=True,
           usable=lambda g, ctx, want, d: bool(getattr(want, "consts", ())))
def _lit_union(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    assert isinstance(want, UnionDomain)
    return getattr(want, g.pick(want.consts))


def _ctors_here(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> list[tuple[str, Sort]]:
    assert isinstance(want, UnionDomain)
    return [(c, s) for c, s in want.ctors if g.can_make(ctx, SortDomain(s), depth - 1)]


@expr_rule("ctor", [UNION_K], "a union constructor applied to a sort element: Tag('by_a', x)", leaf=True, weight=2,
           usable=lambda g, ctx, want, d: bool(_ctors_here(g, ctx, want, d)))
def _ctor(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    assert isinstance(want, UnionDomain)
    c, s = g.pick(_ctors_here(g, ctx, want, depth + 1))
    return want(c, g.expr(ctx, SortDomain(s), depth))


@expr_rule("local", [BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K], "a parameter or bound variable", atom=True, weight=3,
           usable=lambda g, ctx, want, d: bool(ctx.locals_of(want)))
def _local(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return g.pick(ctx.locals_of(want))


@expr_rule("read.scalar", [BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K], "x()", atom=True, weight=3,
           usable=lambda g, ctx, want, d: bool(ctx.vars_of(want, scalar=True)))
def _read_scalar(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return g.pick(ctx.vars_of(want, scalar=True))()


@expr_rule("read.indexed", [BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K], "x[i] / x[i, j]", leaf=True, weight=4,
           usable=lambda g, ctx, want, d: bool(g.readable_indexed(ctx, want, d)))
def _read_indexed(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    v = g.pick(g.readable_indexed(ctx, want, depth + 1))
    return v[tuple(g.expr(ctx, d, depth) for d in v.index)]


@expr_rule("not", [BOOL_K], "~e")
def _not(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return ~g.expr(ctx, BOOL, depth)


@expr_rule("and", [BOOL_K], "a & b (& c)", weight=2)
def _and(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    e = g.expr(ctx, BOOL, depth) & g.expr(ctx, BOOL, depth)
    return e & g.expr(ctx, BOOL, depth) if g.chance(20) else e


@expr_rule("or", [BOOL_K], "a | b", weight=2)
def _or(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return g.expr(ctx, BOOL, depth) | g.expr(ctx, BOOL, depth)


@expr_rule("implies", [BOOL_K], "implies(a, b)")
def _implies(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return implies(g.expr(ctx, BOOL, depth), g.expr(ctx, BOOL, depth))


def _subject(g: ModelGen, ctx: Ctx, depth: int, kinds: Sequence[str]) -> Expr | None:
    """Usually a read of a variable (or a local) of one of ``kinds``: what a comparison is
    about; ``None`` when there is none or the draw says otherwise."""
    vs = [v for v in ctx.readable if kind_of(v.dom) in kinds and all(g.can_make(ctx, d, depth - 1) for d in v.index)]
    ls = [x for x in ctx.locals if kind_of(x.dom) in kinds]
    if not (vs or ls) or not g.chance(70):
        return None
    x = g.pick(vs + ls)
    if isinstance(x, Local):
        g.count("local")
        return x
    g.count("read.indexed" if x.index else "read.scalar")
    return x[tuple(g.expr(ctx, d, depth - 1) for d in x.index)] if x.index else x()


def _pair(g: ModelGen, ctx: Ctx, depth: int) -> tuple[Expr, Expr]:
    """Two expressions of one type (integers: the second in the first's range)."""
    a = _subject(g, ctx, depth, [BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K])
    if a is None:
        a = g.expr(ctx, g.some_kind(ctx, depth), depth)
    # a read x[i] of a union without constants has no atom to compare with: allow a leaf
    return a, g.expr(ctx, a.dom, depth if g.can_make(ctx, a.dom, depth) else depth + 1)


@expr_rule("eq", [BOOL_K], "a == b (any type)", weight=3, leaf=True)
def _eq(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    a, b = _pair(g, ctx, depth)
    return a == b


@expr_rule("ne", [BOOL_K], "a != b (any type)", weight=2, leaf=True)
def _ne(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    a, b = _pair(g, ctx, depth)
    return a != b


@expr_rule("ite", [BOOL_K, INT_K, ENUM_K, UNION_K, SORT_K], "ite(c, a, b)",
           usable=lambda g, ctx, want, d: g.can_make(ctx, want, d - 1))
def _ite(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    c = g.expr(ctx, BOOL, depth)
    a = g.expr(ctx, want, depth)
    b = g.expr(ctx, a.dom if isinstance(a.dom, RangeDomain) else want, depth)
    return ite(c, a, b)


@expr_rule("add", [INT_K], "a + b", weight=2)
def _add(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    a = g.expr(ctx, want, depth)
    return a + g.expr(ctx, a.dom, depth)


@expr_rule("sub", [INT_K], "a - b", weight=2)
def _sub(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    a = g.expr(ctx, want, depth)
    return a - g.expr(ctx, a.dom, depth)


def _cmp(op: str) -> Builder:
    def build(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
        a = _subject(g, ctx, depth, [INT_K])
        if a is None:
            a = g.expr(ctx, g.int_hint(), depth)
        b = g.expr(ctx, a.dom, depth)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    return build


def _has_subject(kinds: Sequence[str]) -> Usable:
    """Usable where a variable or local of one of ``kinds`` can be read (comparing literals
    with literals teaches the engines little)."""

    def usable(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> bool:
        return any(kind_of(x.dom) in kinds for x in ctx.locals) or any(
            kind_of(v.dom) in kinds and all(g.can_make(ctx, d, depth - 2) for d in v.index) for v in ctx.readable
        )

    return usable


for _op, _nm in [("<", "lt"), ("<=", "le"), (">", "gt"), (">=", "ge")]:
    expr_rule(_nm, [BOOL_K], f"a {_op} b on bounded integers", leaf=True, usable=_has_subject([INT_K]))(_cmp(_op))


def _unions_here(g: ModelGen, ctx: Ctx, depth: int) -> list[UnionDomain]:
    return [u for u in g.unions if g.can_make(ctx, u, depth)]


@expr_rule("is_", [BOOL_K], "u.is_(tag)", weight=2, leaf=True, usable=lambda g, ctx, want, d: bool(_unions_here(g, ctx, d - 1)))
def _is(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    u = g.pick(_unions_here(g, ctx, depth))
    return g.expr(ctx, u, depth).is_(g.pick(list(u.consts) + [c for c, _ in u.ctors]))


@expr_rule("in_", [BOOL_K], "x.in_(a, b)", usable=_has_subject([BOOL_K, INT_K, ENUM_K]))
def _in(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    x = _subject(g, ctx, depth, [BOOL_K, INT_K, ENUM_K])
    if x is None:
        x = g.expr(ctx, g.pick([BOOL, g.int_hint()] + g.enums), depth)
    dom = x.dom
    lits = g.literals(dom)
    return x.in_(*[g.pick(lits) for _ in range(g.num(1, 2))])


def _quant(universal: bool, over_sort: bool) -> Builder:
    def build(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
        dom: Domain = SortDomain(g.pick(g.sorts)) if over_sort else g.pick([BOOL, g.int_hint()] + g.enums + g.unions)
        q = Local(g.fresh("q"), dom)
        return Quant(universal, q, g.expr(ctx.plus(q), BOOL, depth))

    return build


for _u, _s, _nm in [(True, True, "forall.sort"), (False, True, "exists.sort"), (True, False, "forall.domain"), (False, False, "exists.domain")]:
    _what = "a sort" if _s else "bool, a range, an enum or a union"
    expr_rule(_nm, [BOOL_K], f"{'forall' if _u else 'exists'} over {_what}", weight=2 if _s else 1)(_quant(_u, _s))


@expr_rule("apply", [BOOL_K, INT_K], "a definition applied to arguments: owns(v, p)", weight=2,
           usable=lambda g, ctx, want, d: bool(g.usable_defs(ctx, kind_of(want), d)))
def _apply(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    d = g.pick(g.usable_defs(ctx, kind_of(want), depth + 1)).defn
    e = d(*[_argument(g, ctx, p.dom, depth) for p in d.params])
    assert isinstance(e, Apply)
    return e


def _argument(g: ModelGen, ctx: Ctx, dom: Domain, depth: int) -> Expr:
    """An argument for a parameter of ``dom``.  An integer argument whose static range is wider
    than the parameter's is a build error, so a wider expression is replaced by a literal."""
    e = g.expr(ctx, dom, depth)
    if isinstance(dom, RangeDomain) and not (isinstance(e.dom, RangeDomain) and dom.contains(e.dom)):
        return coerce(g.pick(list(range(dom.lo, dom.hi + 1))), dom)
    return e


# HOOK(lang): expression constructs of /work/LANG_API.md.  Each builder is written against that
# API and is never called while the construct is pending.  Sorts whose elements a model names
# or orders lose symmetry reduction (rings keep rotations): before enabling the sort.* hooks,
# make differential.reference.renamings() use the group the engine uses.
@expr_rule("sort.first_last_elem", [SORT_K], "S.first(), S.last(), S.elem(i)", atom=True)
def _sort_named(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    assert isinstance(want, SortDomain)
    s = want.sort
    which = g.pick(["first", "last", "elem"])
    if which == "elem":
        return s.elem(g.num(0, g.sizes[s] - 1))  # type: ignore[attr-defined]
    return getattr(s, which)()


@expr_rule("sort.order", [BOOL_K], "x < y, x <= y, x > y, x >= y on elements of one sort",
           usable=lambda g, ctx, want, d: any(g.can_make(ctx, SortDomain(s), d - 1) for s in g.sorts))
def _sort_order(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    s = g.pick([s for s in g.sorts if g.can_make(ctx, SortDomain(s), depth)])
    a, b = g.expr(ctx, SortDomain(s), depth), g.expr(ctx, SortDomain(s), depth)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[g.pick(["<", "<=", ">", ">="])]


@expr_rule("sort.next_prev", [SORT_K], "x.next(), x.prev(), x.next(k) around the ring",
           usable=lambda g, ctx, want, d: g.can_make(ctx, want, d - 1))
def _sort_ring(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    x = g.expr(ctx, want, depth)
    which = g.pick(["next", "prev", "next_k"])
    return x.next(g.num(1, 3)) if which == "next_k" else getattr(x, which)()  # type: ignore[attr-defined]


@expr_rule("mul.const", [INT_K], "x * k, k * x by an integer constant")
def _mul(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    x, k = g.expr(ctx, want, depth), g.num(0, 3)
    return x * k if g.chance(50) else k * x  # type: ignore[operator]


@expr_rule("mod.const", [INT_K], "x % k by a positive constant (mathematical modulo)")
def _mod(g: ModelGen, ctx: Ctx, want: Domain, depth: int) -> Expr:
    return g.expr(ctx, want, depth) % g.num(1, 4)  # type: ignore[operator]


# -- the strategy ---------------------------------------------------------------------------------------


@st.composite
def models(draw: Callable, limits: Limits = Limits()) -> GeneratedModel:
    """A random small model with its instance sizes (see the module docstring)."""
    return ModelGen(draw, limits).build()
