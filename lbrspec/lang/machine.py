"""Machines: variables a machine owns and the transitions that change them.

A :class:`Machine` is a family of state machines indexed by sorts (one MSR-interception
machine per vCPU, one LBR per pCPU...): its variables are arrays over index sorts, and each
:class:`Transition` has parameters (a vCPU, a pCPU...) and is written as one guard and a list of
updates in the expression language.  A machine may *read* the variables of the machines it
declares in ``reads`` and may *write* only its own; what a transition does not write keeps its
value.  Transitions of different machines that must happen as one atomic step are composed by a
named :class:`~lbrspec.lang.spec.Sync` (see :mod:`lbrspec.lang.spec`).

Type errors in a guard or update are reported with the machine, transition and variable named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from ..errors import ModelError
from .domains import BOOL, Domain, RangeDomain, Sort
from .expr import (
    ANY,
    AbsentVar,
    Assign,
    AssignAll,
    Expr,
    LangTypeError,
    Local,
    Update,
    Var,
    _arg_names,
    _same_domain,
    as_domain,
    coerce,
)

if TYPE_CHECKING:
    from .spec import Spec

ParamSpec = Mapping[str, "Sort | Domain"] | Sequence[tuple[str, "Sort | Domain"]]


def make_params(params: ParamSpec | None) -> tuple[Local, ...]:
    items = list(params.items()) if isinstance(params, Mapping) else list(params or ())
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        raise LangTypeError(f"parameter names repeat: {names}")
    return tuple(Local(n, as_domain(d)) for n, d in items)


def call_body(fn: object, params: tuple[Local, ...]) -> object:
    """Evaluate a guard/update builder: a function of the parameters, or a plain value."""
    if callable(fn) and not isinstance(fn, Expr):
        return fn(*params)
    return fn


class Transition:
    """A guarded, parameterised step of one machine."""

    def __init__(
        self,
        machine: "Machine",
        name: str,
        params: tuple[Local, ...],
        guard: Expr,
        updates: tuple[Update, ...],
        doc: str,
        patch: str,
    ) -> None:
        self.machine = machine
        self.name = name
        self.params = params
        self.guard = guard
        self.updates = updates
        self.doc = doc
        self.patch = patch

    @property
    def qualname(self) -> str:
        return f"{self.machine.name}.{self.name}"

    def __call__(self, *args: object) -> "Call":
        """Bind the parameters, to use this transition as a part of a synchronised step."""
        where = f"transition '{self.name}'"
        if len(args) != len(self.params):
            raise ModelError(
                f"takes {len(self.params)} argument(s), got {len(args)}", machine=self.machine.name, where=where
            )
        bound = []
        for a, p in zip(args, self.params):
            try:
                e = coerce(a, p.dom)
            except LangTypeError as err:
                raise ModelError(f"argument '{p.name}': {err}", machine=self.machine.name, where=where) from None
            if not _same_domain(e.dom, p.dom):
                raise ModelError(
                    f"argument '{p.name}' must be {p.dom.name}, got {e.dom.name}", machine=self.machine.name, where=where
                )
            if isinstance(p.dom, RangeDomain) and not p.dom.contains(e.dom):  # type: ignore[attr-defined]
                raise ModelError(
                    f"argument '{p.name}' may be {e.dom.name}, outside the parameter's range {p.dom.name}; keep it in "
                    "range (a parameter over that range, or arithmetic such as (i % n) + lo)",
                    machine=self.machine.name, where=where,
                )
            bound.append(e)
        return Call(self, tuple(bound))

    def writes(self) -> list[Var]:
        return [u.var for u in self.updates]

    def __repr__(self) -> str:
        return f"Transition({self.qualname})"


class Call:
    """A transition with its parameters bound to expressions: one part of a sync."""

    def __init__(self, transition: Transition, args: tuple[Expr, ...]) -> None:
        self.transition = transition
        self.args = args


class Machine:
    """A named family of state machines; see the module docstring."""

    def __init__(self, spec: "Spec", name: str, doc: str = "", reads: Sequence[str] = (), patch: str = "") -> None:
        self.spec = spec
        self.name = name
        self.doc = doc
        self.patch = patch
        self.reads = tuple(reads)
        self.vars: list[Var] = []
        self.transitions: list[Transition] = []

    # -- declarations ---------------------------------------------------------------------
    def var(
        self,
        name: str,
        dom: Sort | Domain,
        index: Sequence[Sort] = (),
        init: object = None,
        doc: str = "",
        ghost: bool = False,
        when: bool = True,
        why: str = "",
    ) -> Var:
        """Declare a variable owned by this machine.

        ``init``: a value (``False``, ``"ABSENT"``, ``3``), a list of allowed values,
        :data:`~lbrspec.lang.expr.ANY`, or a function of the index elements returning one.
        ``index``: index sorts, or finite domains (a bounded range, an enum, ``BOOL``).
        ``ghost=True`` marks history variables that the design does not have but a property
        needs (what the guest has observed...).  ``when=False`` leaves the variable out of the
        variant being built (it exists only in others; ``why`` says where): what is returned
        then refuses every use with an error naming the variable and the variant.
        """
        if not when:
            return AbsentVar(name, self.name, self.spec.variant_name, why)  # type: ignore[return-value]
        d = as_domain(dom)
        if init is None:
            raise ModelError("needs an initial value (init=...)", machine=self.name, variable=name)
        try:
            v = Var(name, d, tuple(index), init=init, doc=doc, ghost=ghost, machine=self.name)
        except ValueError as e:
            raise ModelError(str(e), machine=self.name, variable=name) from None
        self._check_init(v)
        self.spec._register_var(self, v)
        self.vars.append(v)
        return v

    def _check_init(self, v: Var) -> None:
        init = v.init
        if callable(init) and not isinstance(init, Expr):
            from .expr import Local as _L

            probe = tuple(_L(n, as_domain(s)) for n, s in zip(_arg_names(init, len(v.index)), v.index))
            try:
                init = init(*probe)
            except LangTypeError as e:
                raise ModelError(f"initial value: {e}", machine=self.name, variable=v.name) from None
        if init is ANY:
            return
        from .expr import vars_read

        for val in init if isinstance(init, (list, tuple)) else [init]:
            if isinstance(val, Expr) and vars_read(val):
                other = sorted(x.name for x in vars_read(val))[0]
                raise ModelError(f"an initial value cannot read a state variable (it reads '{other}'); give a value, "
                                 "a list of values, ANY, or a function of the index elements", machine=self.name,
                                 variable=v.name)
        values = init if isinstance(init, (list, tuple)) else [init]
        if not values:
            raise ModelError("empty list of initial values", machine=self.name, variable=v.name)
        for val in values:
            try:
                e = coerce(val, v.dom)
            except LangTypeError as err:
                raise ModelError(f"initial value: {err}", machine=self.name, variable=v.name) from None
            if not _same_domain(e.dom, v.dom):
                raise ModelError(f"initial value has type {e.dom.name}, not {v.dom.name}", machine=self.name, variable=v.name)

    def transition(
        self,
        name: str,
        params: ParamSpec | None = None,
        guard: object = True,
        updates: object = (),
        doc: str = "",
        patch: str = "",
    ) -> Transition:
        """Declare a transition.

        ``guard`` and ``updates`` are expressions, or functions of the parameters returning
        them (``updates`` returns a list of ``x[v].becomes(e)`` / ``x.becomes_all(...)``).
        """
        where = f"transition '{name}'"
        if any(t.name == name for t in self.transitions):
            raise ModelError("declared twice", machine=self.name, where=where)
        try:
            ps = make_params(params)
            g = coerce(call_body(guard, ps), BOOL)
            if g.dom is not BOOL:
                raise LangTypeError(f"the guard must be boolean, got {g.dom.name}")
            us = call_body(updates, ps)
            us = tuple(us if isinstance(us, (list, tuple)) else [us])
        except LangTypeError as e:
            raise ModelError(str(e), machine=self.name, where=where, variable=e.variable) from None
        for u in us:
            if not isinstance(u, (Assign, AssignAll)):
                raise ModelError(
                    f"updates must be var[...].becomes(...) or var.becomes_all(...), got {u!r}",
                    machine=self.name,
                    where=where,
                )
        t = Transition(self, name, ps, g, us, doc, patch)
        self.transitions.append(t)
        return t

    def __repr__(self) -> str:
        return f"Machine({self.name})"
