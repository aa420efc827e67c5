"""Composing machines into one product model, and the built :class:`Model` every engine reads.

A :class:`Spec` collects index sorts, machines (:mod:`lbrspec.lang.machine`), named
definitions, **synchronised steps**, invariants and goals.  :meth:`Spec.build` checks the whole
thing and flattens it into a :class:`Model`: a list of :class:`Action` s, each one atomic step of
the product with its parameters, one guard and one list of updates.

Composition rules (each violation is a :class:`~lbrspec.errors.ModelError` naming the machine,
transition and variable):

* every variable belongs to exactly one machine, and names are unique in the model;
* a transition writes only its own machine's variables, and each at most once;
* a transition reads only its own machine's variables and those of the machines it declares in
  ``reads``;
* a :class:`Sync` runs several machine transitions as one step: its guard is the conjunction of
  theirs (plus an optional glue guard), its updates the union of theirs, and no two parts may
  write the same variable (*conflicting updates*);
* a transition used in some sync fires only as part of its syncs; every other transition is an
  action of its own.

Every back end (explorer, Z3, Hypothesis, diagrams, exporters) reads the :class:`Model`; none
re-states the design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import ModelError
from .domains import BOOL, BoolDomain, EnumDomain, RangeDomain, Sort, SortDomain
from .expr import (
    AssignAll,
    Definition,
    Expr,
    LangTypeError,
    Lit,
    Local,
    Update,
    Var,
    _same_domain,
    coerce,
    define,
    expand,
    free_locals,
    map_update,
    substitute,
    vars_read,
)
from .machine import Call, Machine, ParamSpec, Transition, call_body, make_params


@dataclass
class Invariant:
    """A safety property: a closed boolean expression that must hold in every reachable state.

    A *step invariant* (``on`` set, made by :meth:`Spec.step_invariant`) says something about
    every step that includes machine transition ``on``: ``step_body``, over the pre-state and
    the transition's parameters, holds whenever such a step is taken.  :meth:`Spec.build` turns
    it into the state invariant ``body``: in every reachable state, every such step that is
    enabled satisfies ``step_body``.  Every engine checks ``body`` like any invariant; the
    tools add the offending step to a counterexample.
    """

    name: str
    body: Expr
    doc: str
    patch: str
    kind: str = "safety"
    on: "Transition | None" = None
    step_body: Expr | None = None

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name


@dataclass
class Goal:
    """A reachability goal: a state (or a step) that must be reachable, so that no property
    holds vacuously.

    * ``params`` empty, ``on`` None: some reachable state satisfies ``body``.
    * ``params`` given: for *every* value of the parameters some reachable state satisfies
      ``body`` (e.g. pass-through reached on every pCPU).
    * ``on`` a machine transition: some reachable step that includes that transition starts
      in a state satisfying ``body``, which may use the transition's parameters.
    """

    name: str
    body: Expr
    doc: str
    patch: str
    params: tuple[Local, ...] = ()
    on: Transition | None = None

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name


@dataclass
class Part:
    """One machine transition inside an action, with its parameters bound to expressions over
    the action's parameters."""

    transition: Transition
    args: tuple[Expr, ...]


@dataclass
class Action:
    """One atomic step of the product: parameters, one guard, one list of updates.

    ``guard`` and ``updates`` keep definition applications (for printing); ``guard_x`` and
    ``updates_x`` are the same with every definition inlined (for evaluation).
    """

    name: str
    params: tuple[Local, ...]
    guard: Expr
    updates: tuple[Update, ...]
    parts: tuple[Part, ...]
    doc: str
    patch: str
    guard_x: Expr = field(init=False)
    updates_x: tuple[Update, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.guard_x = expand(self.guard)
        self.updates_x = tuple(map_update(u, expand) for u in self.updates)

    @property
    def machines(self) -> tuple[str, ...]:
        seen: list[str] = []
        for p in self.parts:
            if p.transition.machine.name not in seen:
                seen.append(p.transition.machine.name)
        return tuple(seen)

    def writes(self) -> list[Var]:
        return [u.var for u in self.updates]


@dataclass
class Variant:
    """A named design switch of a model (``v7-write-path``...).

    Every variant says what it is expected to do: break the property ``expected`` (a bug the
    model must keep finding), or hold, with ``holds`` giving the reason (an equivalent mutant,
    a fix): the test suite checks both.  ``kind`` says what the variant is: ``design`` (a
    design the model is about), ``alternative`` (a design the series rejected), ``mutant`` (a
    deliberate change that shows a property can fail, or, expected to hold, that it does not
    depend on that detail).
    """

    name: str
    description: str
    kind: str = "design"
    expected: str | None = None  # the property this variant is known to break
    patch: str = ""
    switches: dict[str, bool] = field(default_factory=dict)
    holds: str | None = None  # expected to hold, and why
    changed: tuple[str, ...] = ()  # the switches this variant sets differently from the default design

    def __post_init__(self) -> None:
        if self.expected is not None and self.holds is not None:
            raise ValueError(f"variant {self.name}: expected to break {self.expected} and to hold at once")

    @property
    def expectation(self) -> str:
        """``breaks <property>``, ``holds`` or ``-`` (a design with no stated expectation)."""
        if self.expected is not None:
            return f"breaks {self.expected}"
        if self.holds is not None or self.kind == "design":
            return "holds"
        return "-"


@dataclass
class Model:
    """A built, checked product model: what every engine reads."""

    name: str
    doc: str
    variant: Variant
    sorts: tuple[Sort, ...]
    machines: tuple[Machine, ...]
    vars: tuple[Var, ...]
    actions: tuple[Action, ...]
    invariants: tuple[Invariant, ...]
    goals: tuple[Goal, ...]
    definitions: tuple[Definition, ...]
    default_sizes: dict[str, int]

    def var(self, name: str) -> Var:
        for v in self.vars:
            if v.name == name:
                return v
        raise KeyError(name)

    def action(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def invariant(self, name: str) -> Invariant:
        for i in self.invariants:
            if i.name == name:
                return i
        raise KeyError(name)

    def machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)

    def sort(self, name: str) -> Sort:
        for s in self.sorts:
            if s.name == name:
                return s
        raise KeyError(name)


class Sync:
    """A named synchronised step: several machine transitions executed as one atomic action."""

    def __init__(self, name: str, params: tuple[Local, ...], parts: tuple[Call, ...], guard: Expr, doc: str, patch: str):
        self.name = name
        self.params = params
        self.parts = parts
        self.guard = guard
        self.doc = doc
        self.patch = patch


class _Switches:
    def __init__(self, spec: "Spec") -> None:
        self._spec = spec

    def __getitem__(self, name: str) -> bool:
        return self._spec.switch(name)


class Spec:
    """Builder of a product model; see the module docstring.

    Made with the :class:`Variant` being built (``Spec(..., variant=v)``), it also reads that
    variant's design switches (:meth:`switch`, :meth:`text`) and checks, when built, that every
    switch the variant sets is read somewhere: a misspelt switch is an error, not a variant
    that silently equals the default design.
    """

    def __init__(self, name: str, sorts: Sequence[Sort], doc: str = "", default_sizes: dict[str, int] | None = None,
                 variant: Variant | None = None):
        self.name = name
        self.doc = doc
        self.sorts = tuple(sorts)
        self.default_sizes = dict(default_sizes or {s.name: 2 for s in self.sorts})
        self.variant = variant
        self._switches_read: set[str] = set()
        self.machines: list[Machine] = []
        self.syncs: list[Sync] = []
        self.definitions: list[Definition] = []
        self.invariants: list[Invariant] = []
        self.goals: list[Goal] = []
        self._var_owner: dict[str, Machine] = {}

    # -- variants ---------------------------------------------------------------------------
    @property
    def variant_name(self) -> str:
        return self.variant.name if self.variant is not None else "(none given)"

    def switch(self, name: str) -> bool:
        """The value of design switch ``name`` in the variant being built (``Spec(...,
        variant=...)``); an unknown switch is an error, not a silent ``False``."""
        if self.variant is None:
            raise ModelError(f"reads switch '{name}', but the Spec was made without a variant (Spec(..., variant=...))")
        if name not in self.variant.switches:
            raise ModelError(f"unknown switch '{name}'; variant '{self.variant.name}' has "
                             f"{', '.join(sorted(self.variant.switches)) or 'no switches'}")
        self._switches_read.add(name)
        return bool(self.variant.switches[name])

    @property
    def switches(self) -> "_Switches":
        """``spec.switches["name"]`` reads a switch like :meth:`switch` (so reads are tracked)."""
        return _Switches(self)

    def text(self, switch: str, on: str, off: str) -> str:
        """A description that follows a switch: ``on`` where it is on, ``off`` where it is off
        (so a trace of a variant never describes the other variant's behaviour)."""
        return on if self.switch(switch) else off

    # -- declarations -----------------------------------------------------------------------
    def machine(self, name: str, doc: str = "", reads: Sequence[str] = (), patch: str = "") -> Machine:
        if any(m.name == name for m in self.machines):
            raise ModelError("declared twice", machine=name)
        m = Machine(self, name, doc=doc, reads=reads, patch=patch)
        self.machines.append(m)
        return m

    def _register_var(self, m: Machine, v: Var) -> None:
        if v.name in self._var_owner:
            raise ModelError(
                f"already declared by machine '{self._var_owner[v.name].name}'", machine=m.name, variable=v.name
            )
        for d in v.index:
            if isinstance(d, (BoolDomain, EnumDomain, RangeDomain)):
                continue
            if not isinstance(d, SortDomain):
                raise ModelError(f"indexed by {d.name}: an index is a sort, a bounded range, an enum or bool",
                                 machine=m.name, variable=v.name)
            if d.sort not in self.sorts:
                raise ModelError(f"indexed by sort {d.sort.name}, which the model does not declare", machine=m.name, variable=v.name)
        for s in v.dom.sorts():
            if s not in self.sorts:
                raise ModelError(f"takes values in sort {s.name}, which the model does not declare", machine=m.name, variable=v.name)
        self._var_owner[v.name] = m

    def define(self, name: str, params: ParamSpec, body: Callable[..., Expr], doc: str = "") -> Definition:
        """A named definition (macro) usable in any guard, update, invariant or goal."""
        try:
            d = define(name, params, body, doc)
        except LangTypeError as e:
            raise ModelError(str(e), where=f"definition '{name}'", variable=e.variable) from None
        self.definitions.append(d)
        return d

    def sync(
        self,
        name: str,
        params: ParamSpec | None,
        parts: Callable[..., Sequence[Call]] | Sequence[Call],
        guard: object = True,
        doc: str = "",
        patch: str = "",
    ) -> Sync:
        """Declare a synchronised step made of several machine transitions."""
        where = f"sync '{name}'"
        try:
            ps = make_params(params)
            calls = tuple(call_body(parts, ps))  # type: ignore[arg-type]
            g = coerce(call_body(guard, ps), BOOL)
        except LangTypeError as e:
            raise ModelError(str(e), where=where, variable=e.variable) from None
        if not calls:
            raise ModelError("has no parts", where=where)
        for c in calls:
            if not isinstance(c, Call):
                raise ModelError(f"parts must be machine transitions applied to arguments, got {c!r}", where=where)
        s = Sync(name, ps, calls, g, doc, patch)
        self.syncs.append(s)
        return s

    def invariant(self, name: str, body: object, doc: str, patch: str = "") -> Invariant:
        where = f"invariant '{name}'"
        try:
            b = coerce(call_body(body, ()), BOOL)
        except LangTypeError as e:
            raise ModelError(str(e), where=where, variable=e.variable) from None
        inv = Invariant(name, b, doc, patch)
        self.invariants.append(inv)
        return inv

    def step_invariant(self, name: str, on: Transition, body: object, doc: str, patch: str = "") -> Invariant:
        """A property of every step that includes machine transition ``on`` (see
        :class:`Invariant`): ``body`` is a function of ``on``'s parameters returning a boolean
        expression over the pre-state (``lambda v, p: ~absent(v)``: "the check never finds the
        event gone").  Events a state cannot show, such as a warning or a #GP, are checked this
        way without a ghost variable that would remember them forever."""
        where = f"step invariant '{name}'"
        try:
            b = coerce(call_body(body, on.params), BOOL)
        except LangTypeError as e:
            raise ModelError(str(e), where=where, variable=e.variable) from None
        inv = Invariant(name, b, doc, patch, kind="safety", on=on, step_body=b)
        self.invariants.append(inv)
        return inv

    def goal(
        self,
        name: str,
        body: object,
        doc: str,
        patch: str = "",
        params: ParamSpec | None = None,
        on: Transition | None = None,
    ) -> Goal:
        """A reachability goal; see :class:`Goal` for ``params`` and ``on``."""
        where = f"goal '{name}'"
        if params and on is not None:
            raise ModelError("a goal ranges over parameters or is tied to a transition, not both", where=where)
        try:
            ps = on.params if on is not None else make_params(params)
            b = coerce(call_body(body, ps), BOOL)
        except LangTypeError as e:
            raise ModelError(str(e), where=where, variable=e.variable) from None
        g = Goal(name, b, doc, patch, params=() if on is not None else ps, on=on)
        self.goals.append(g)
        return g

    # -- build ------------------------------------------------------------------------------
    def build(self, variant: Variant | None = None) -> Model:
        """Check every composition rule and flatten to a :class:`Model` (of ``variant``, or of
        the variant the Spec was made with)."""
        if variant is not None and not isinstance(variant, Variant):
            raise ModelError(f"build() takes a Variant, not {type(variant).__name__} {variant!r} "
                             "(look a variant's name up in the module's VARIANTS)")
        variant = variant or self.variant
        if variant is None:
            raise ModelError("build() needs a variant: Spec(..., variant=...) or build(variant)")
        if self.variant is not None and variant is not self.variant:
            raise ModelError(f"built as variant '{variant.name}' but made for variant '{self.variant.name}'")
        if self.variant is not None:
            unknown = sorted(set(self.variant.changed) - set(self.variant.switches))
            unread = sorted(set(self.variant.changed) - self._switches_read)
            if unknown or unread:
                raise ModelError(f"variant '{variant.name}' changes switch(es) the model never reads "
                                 f"(so it would equal the default design): {', '.join(unknown + unread)}")
        self._check_names()
        for m in self.machines:
            self._check_machine(m)
        actions: list[Action] = []
        in_sync: set[Transition] = set()
        for s in self.syncs:
            actions.append(self._flatten_sync(s))
            in_sync.update(c.transition for c in s.parts)
        for m in self.machines:
            for t in m.transitions:
                if t not in in_sync:
                    actions.append(
                        Action(t.name, t.params, t.guard, t.updates, (Part(t, t.params),), t.doc, t.patch)
                    )
        names = [a.name for a in actions]
        for n in names:
            if names.count(n) > 1:
                raise ModelError("two actions have this name (a sync and a standalone transition?)", where=f"action '{n}'")
        for inv in self.invariants:
            if inv.on is not None:
                inv.body = self._step_invariant_body(inv, actions)
            self._check_closed(inv.body, (), f"invariant '{inv.name}'")
        for g in self.goals:
            self._check_closed(g.body, g.params if g.on is None else g.on.params, f"goal '{g.name}'")
            if g.on is not None and not any(p.transition is g.on for a in actions for p in a.parts):
                raise ModelError(f"is tied to transition '{g.on.qualname}', which no action uses", where=f"goal '{g.name}'")
        names_i = [i.name for i in self.invariants] + [g.name for g in self.goals]
        for n in names_i:
            if names_i.count(n) > 1:
                raise ModelError("two properties have this name", where=f"property '{n}'")
        return Model(
            name=self.name,
            doc=self.doc,
            variant=variant,
            sorts=self.sorts,
            machines=tuple(self.machines),
            vars=tuple(v for m in self.machines for v in m.vars),
            actions=tuple(actions),
            invariants=tuple(self.invariants),
            goals=tuple(self.goals),
            definitions=tuple(self.definitions),
            default_sizes=self.default_sizes,
        )

    def _check_names(self) -> None:
        for m in self.machines:
            for r in m.reads:
                if not any(o.name == r for o in self.machines):
                    raise ModelError(f"reads unknown machine '{r}'", machine=m.name)

    def _check_machine(self, m: Machine) -> None:
        readable = {v for v in m.vars}
        for r in m.reads:
            readable.update(self._machine(r).vars)
        for t in m.transitions:
            where = f"transition '{t.name}'"
            exprs = [t.guard] + [x for u in t.updates for x in u.exprs()]
            for e in exprs:
                for v in vars_read(e):
                    if v not in readable:
                        owner = self._var_owner.get(v.name)
                        if owner is None:
                            raise ModelError("reads a variable that is not part of this model", machine=m.name, where=where, variable=v.name)
                        raise ModelError(
                            f"reads a variable of machine '{owner.name}' without declaring reads=['{owner.name}']",
                            machine=m.name,
                            where=where,
                            variable=v.name,
                        )
            written: set[str] = set()
            for u in t.updates:
                owner = self._var_owner.get(u.var.name)
                if owner is not m:
                    who = f"machine '{owner.name}'" if owner else "no machine of this model"
                    raise ModelError(f"writes a variable owned by {who}", machine=m.name, where=where, variable=u.var.name)
                if u.var.name in written:
                    raise ModelError("conflicting updates: the variable is written twice", machine=m.name, where=where, variable=u.var.name)
                written.add(u.var.name)
            allowed = set(t.params)
            for e in exprs:
                extra = free_locals(e) - allowed
                for u in t.updates:
                    if isinstance(u, AssignAll):
                        extra -= set(u.bound)
                if extra:
                    raise ModelError(
                        f"uses '{sorted(x.name for x in extra)[0]}', which is not a parameter of the transition",
                        machine=m.name,
                        where=where,
                    )

    def _machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        raise ModelError(f"unknown machine '{name}'")

    def _flatten_sync(self, s: Sync) -> Action:
        where = f"sync '{s.name}'"
        guards = [] if (isinstance(s.guard, Lit) and s.guard.code == 1) else [s.guard]
        updates: list[Update] = []
        writer: dict[str, Transition] = {}
        parts: list[Part] = []
        for c in s.parts:
            t = c.transition
            if t.machine.spec is not self:
                raise ModelError(f"uses transition '{t.qualname}' of another model", where=where)
            for a, p in zip(c.args, t.params):
                if not _same_domain(a.dom, p.dom):
                    raise ModelError(f"argument '{p.name}' of '{t.qualname}' must be {p.dom.name}, got {a.dom.name}", where=where)
            sub = dict(zip(t.params, c.args))
            guards.append(substitute(t.guard, sub))
            for u in t.updates:
                if u.var.name in writer:
                    raise ModelError(
                        f"conflicting updates: written by both '{writer[u.var.name].qualname}' and '{t.qualname}'",
                        machine=t.machine.name,
                        where=where,
                        variable=u.var.name,
                    )
                writer[u.var.name] = t
                updates.append(map_update(u, lambda e: substitute(e, sub)))
            parts.append(Part(t, c.args))
        allowed = set(s.params)
        for e in guards + [x for u in updates for x in u.exprs()]:
            extra = free_locals(e) - allowed
            for u in updates:
                if isinstance(u, AssignAll):
                    extra -= set(u.bound)
            if extra:
                raise ModelError(f"uses '{sorted(x.name for x in extra)[0]}', which is not a parameter of the sync", where=where)
        from .expr import conj

        return Action(s.name, s.params, conj(guards), tuple(updates), tuple(parts), s.doc, s.patch)

    def _step_invariant_body(self, inv: Invariant, actions: list[Action]) -> Expr:
        """``forall params. guard => step_body[args]`` for every action containing ``inv.on``."""
        from .expr import Quant, conj, implies

        assert inv.on is not None and inv.step_body is not None
        where = f"step invariant '{inv.name}'"
        self._check_closed(inv.step_body, inv.on.params, where)
        parts: list[Expr] = []
        for a in actions:
            for part in a.parts:
                if part.transition is not inv.on:
                    continue
                body = implies(a.guard, substitute(inv.step_body, dict(zip(inv.on.params, part.args))))
                for p in reversed(a.params):
                    body = Quant(True, p, body)
                parts.append(body)
        if not parts:
            raise ModelError(f"is about transition '{inv.on.qualname}', which no action uses", where=where)
        return conj(parts)

    def _check_closed(self, body: Expr, params: tuple[Local, ...], where: str) -> None:
        extra = free_locals(body) - set(params)
        if extra:
            raise ModelError(f"uses '{sorted(x.name for x in extra)[0]}', which is not bound", where=where)
        for v in vars_read(body):
            if v.name not in self._var_owner:
                raise ModelError("reads a variable that is not part of this model", where=where, variable=v.name)
