"""The expression language in which every guard, update, invariant and goal is written.

An expression is an immutable tree of the nodes below, each typed by a
:class:`~lbrspec.lang.domains.Domain` when it is built (a type error is raised at once, and the
machine being built turns it into a :class:`~lbrspec.errors.ModelError` naming the machine,
transition and variable).  The language is deliberately small and declarative, so that one
definition can be

* evaluated on explicit states (``lbrspec.explicit.evaluate``),
* compiled to straight-line Python for the explorer (``lbrspec.explicit.compile``),
* translated to Z3 with the index sorts left unbounded, and
* printed for diagrams and exported to other model checkers.

Nodes: literals, parameters and bound variables (:class:`Local`), state-variable reads with
index arguments (:class:`VarRef`), ``not``/``and``/``or``/``=>``, equality, if-then-else,
bounded-integer ``+ - < <=``, union constructors and tag tests, ``forall``/``exists`` over a
sort or domain, and applications of named definitions (:class:`Apply`, inlined before any
engine sees them).  Python operators build nodes: ``&``, ``|``, ``~``, ``==``, ``!=``, ``+``,
``-``, ``<``, ``<=``; an expression has no Python truth value, so ``if expr:`` is an error.

Updates (:class:`Assign`, :class:`AssignAll`) say what a transition writes; anything a
transition does not write keeps its value (the frame is implicit).
"""

from __future__ import annotations

import inspect
import itertools
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from .domains import (
    BOOL,
    BoolDomain,
    Domain,
    EnumDomain,
    RangeDomain,
    Sort,
    SortDomain,
    UnionDomain,
)


class LangTypeError(ValueError):
    """An ill-typed or ill-formed expression; the builder adds the machine/transition context."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


_ids = itertools.count()


def _same_domain(a: Domain, b: Domain) -> bool:
    if a is b:
        return True
    if isinstance(a, RangeDomain) and isinstance(b, RangeDomain):
        return True  # bounded integers compare and combine across ranges
    return a == b


class Expr:
    """Base class of expression nodes."""

    __slots__ = ("dom",)
    dom: Domain

    def children(self) -> tuple["Expr", ...]:
        return ()

    def rebuild(self, children: Sequence["Expr"]) -> "Expr":
        """A copy of this node with new children (same order as :meth:`children`)."""
        return self

    # -- operators building nodes -------------------------------------------------------
    def __bool__(self) -> bool:
        raise LangTypeError(
            "an lbrspec expression has no Python truth value; "
            "combine expressions with &, |, ~ and implies()"
        )

    __hash__ = object.__hash__

    def __and__(self, other: object) -> "Expr":
        return And(self, coerce(other, BOOL))

    def __rand__(self, other: object) -> "Expr":
        return And(coerce(other, BOOL), self)

    def __or__(self, other: object) -> "Expr":
        return Or(self, coerce(other, BOOL))

    def __ror__(self, other: object) -> "Expr":
        return Or(coerce(other, BOOL), self)

    def __invert__(self) -> "Expr":
        return Not(self)

    def __eq__(self, other: object) -> "Expr":  # type: ignore[override]
        return Eq(self, _operand(other, self))

    def __ne__(self, other: object) -> "Expr":  # type: ignore[override]
        return Not(Eq(self, _operand(other, self)))

    def __add__(self, other: object) -> "Expr":
        return Arith("+", self, _operand(other, self))

    def __radd__(self, other: object) -> "Expr":
        return Arith("+", _operand(other, self), self)

    def __sub__(self, other: object) -> "Expr":
        return Arith("-", self, _operand(other, self))

    def __rsub__(self, other: object) -> "Expr":
        return Arith("-", _operand(other, self), self)

    def __mul__(self, other: object) -> "Expr":
        return Arith("*", self, _constant(other, "*"))

    def __rmul__(self, other: object) -> "Expr":
        return Arith("*", self, _constant(other, "*"))

    def __mod__(self, other: object) -> "Expr":
        return Arith("%", self, _constant(other, "%"))

    def __lt__(self, other: object) -> "Expr":
        return Cmp("<", self, _operand(other, self))

    def __le__(self, other: object) -> "Expr":
        return Cmp("<=", self, _operand(other, self))

    def __gt__(self, other: object) -> "Expr":
        return Cmp("<", _operand(other, self), self)

    def __ge__(self, other: object) -> "Expr":
        return Cmp("<=", _operand(other, self), self)

    def next(self, k: int = 1) -> "Expr":
        """The element ``k`` places after this one around its sort's ring (the last element's
        successor is the first)."""
        return Shift(self, k)

    def prev(self, k: int = 1) -> "Expr":
        """The element ``k`` places before this one around its sort's ring."""
        return Shift(self, -k)

    def is_(self, tag: str) -> "Expr":
        """``x.is_("vcpu")``: the union value ``x`` has tag ``vcpu`` (constant or constructor)."""
        return IsTag(self, tag)

    def in_(self, *values: object) -> "Expr":
        """``x.in_(A, B)``: ``x`` equals one of the given values."""
        return Or(*[Eq(self, coerce(v, self.dom)) for v in values])

    def __repr__(self) -> str:
        from .pretty import show

        return f"<{show(self)}>"


def coerce(value: object, dom: Domain) -> Expr:
    """Turn a Python literal into a :class:`Lit` of ``dom``; expressions pass through."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, Var):
        raise _uncalled(value)
    if isinstance(value, bool):
        if not isinstance(dom, BoolDomain):
            raise LangTypeError(f"boolean {value} used where {dom.name} is expected")
        return Lit(BOOL, int(value))
    if isinstance(value, int):
        if not isinstance(dom, RangeDomain):
            raise LangTypeError(f"integer {value} used where {dom.name} is expected")
        if not dom.lo <= value <= dom.hi:
            raise LangTypeError(f"integer {value} is outside the domain {dom.name}")
        return Lit(dom, value)
    if isinstance(value, str):
        if isinstance(dom, EnumDomain):
            if value not in dom.members:
                raise LangTypeError(dom.missing(value) if value in dom.absent
                                    else f"{value!r} is not a member of {dom.name} {list(dom.members)}")
            return Lit(dom, dom.members.index(value))
        if isinstance(dom, UnionDomain) and value in dom.consts:
            return Lit(dom, dom.consts.index(value))
        raise LangTypeError(f"{value!r} is not a value of {dom.name}")
    raise LangTypeError(f"cannot use {value!r} in an expression of type {dom.name}")


def _operand(value: object, other: Expr) -> Expr:
    """The other operand of a binary operator: an expression, or a Python literal typed by
    ``other``.  An integer literal next to an integer expression gets its own one-value range,
    so ``x + 5`` and ``x < 7`` are fine whatever ``x``'s range (a value out of range is caught
    when it is assigned, not when it is computed)."""
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(other.dom, RangeDomain):
        return Lit(RangeDomain(value, value), value)
    return coerce(value, other.dom)


def _constant(value: object, op: str) -> "Lit":
    """The constant right operand of ``*`` or ``%`` (the language keeps arithmetic linear)."""
    if isinstance(value, Lit) and isinstance(value.dom, RangeDomain):
        value = value.code
    if isinstance(value, bool) or not isinstance(value, int):
        raise LangTypeError(f"'{op}' takes an integer constant on one side (the language stays linear), got {value!r}")
    if op == "%" and value <= 0:
        raise LangTypeError(f"'%' needs a positive constant divisor, got {value}")
    return Lit(RangeDomain(value, value), value)


def _uncalled(var: "Var") -> LangTypeError:
    call = f"{var.name}()" if not var.index else f"{var.name}[...]"
    return LangTypeError(
        f"'{var.name}' is a variable, not a value: read it as {call}"
        + (" (a scalar variable is read with an empty call)" if not var.index else f" with its {len(var.index)} index argument(s)"),
        variable=var.name,
    )


def _need_bool(e: Expr, what: str) -> Expr:
    if isinstance(e, Var):
        raise _uncalled(e)
    if not isinstance(e, Expr):
        e = coerce(e, BOOL)
    if not isinstance(e.dom, BoolDomain):
        raise LangTypeError(f"{what} needs a boolean, got {e.dom.name}")
    return e


class Lit(Expr):
    """A constant: the value with code ``code`` of domain ``dom``."""

    __slots__ = ("code",)

    def __init__(self, dom: Domain, code: int) -> None:
        if isinstance(dom, SortDomain):
            raise LangTypeError("a sort element cannot be written as a literal; use a parameter")
        if isinstance(dom, UnionDomain) and code >= len(dom.consts):
            raise LangTypeError("a union constructor value is built with Ctor, not Lit")
        self.dom = dom
        self.code = code


TRUE = Lit(BOOL, 1)
FALSE = Lit(BOOL, 0)


class Local(Expr):
    """A transition parameter or a quantifier-bound variable (identity matters, not name)."""

    __slots__ = ("name", "uid")

    def __init__(self, name: str, dom: Domain) -> None:
        self.dom = dom
        self.name = name
        self.uid = next(_ids)


class Var:
    """A state variable: a value of ``dom`` for every tuple of index values.

    ``index`` lists what the variable is indexed by: index sorts (one value per vCPU...), or
    finite domains (a bounded range, an enum, ``BOOL``); it is kept as a tuple of domains.
    ``init`` is a Python value, a :class:`Lit`, a list of allowed values, :data:`ANY`, or a
    function of the index elements returning one of these.  Variables are made with
    :meth:`lbrspec.lang.machine.Machine.var`, which records the owning machine.

    A variable is not a value: it is read by calling or indexing it (``flag()``, ``ev[v]``), and
    using it bare in an expression is a type error that says so.
    """

    def __init__(
        self,
        name: str,
        dom: Domain,
        index: Sequence[Sort | Domain] = (),
        init: object = None,
        doc: str = "",
        ghost: bool = False,
        machine: str = "",
    ) -> None:
        self.name = name
        self.dom = dom
        self.index: tuple[Domain, ...] = tuple(as_domain(d) for d in index)
        self.init = init
        self.doc = doc
        self.ghost = ghost
        self.machine = machine

    @property
    def index_sorts(self) -> tuple[Sort, ...]:
        """The index sorts among the variable's index domains (in order, repeats kept)."""
        return tuple(d.sort for d in self.index if isinstance(d, SortDomain))

    def _ref(self, args: tuple[object, ...]) -> "VarRef":
        if len(args) != len(self.index):
            raise LangTypeError(
                f"'{self.name}' takes {len(self.index)} index argument(s), got {len(args)}",
                variable=self.name,
            )
        checked = []
        for a, d in zip(args, self.index):
            a = _index_arg(self.name, a, d)
            checked.append(a)
        return VarRef(self, tuple(checked))

    def __getitem__(self, args: object) -> "VarRef":
        if not isinstance(args, tuple):
            args = (args,)
        return self._ref(args)

    def __call__(self, *args: object) -> "VarRef":
        return self._ref(args)

    def becomes_all(self, fn: Callable[..., object]) -> "AssignAll":
        """Whole-variable update: ``var[x..] := fn(x..)`` for every index tuple at once."""
        bound = tuple(Local(n, d) for n, d in zip(_arg_names(fn, len(self.index)), self.index))
        try:
            value = coerce(fn(*bound), self.dom)
        except LangTypeError as e:
            e.variable = e.variable or self.name
            raise
        _check_assignable(self, value)
        return AssignAll(self, bound, value)

    # A bare variable in an expression is a mistake (``flag == True`` for ``flag() == True``):
    # Python would compare the objects and hand back False, and the guard would never fire.
    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if isinstance(other, Var):
            return self is other
        raise _uncalled(self)

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        if isinstance(other, Var):
            return self is not other
        raise _uncalled(self)

    __hash__ = object.__hash__

    def _misuse(self, *_: object) -> "Expr":
        raise _uncalled(self)

    __and__ = __rand__ = __or__ = __ror__ = __invert__ = __add__ = __radd__ = __sub__ = __rsub__ = _misuse
    __lt__ = __le__ = __gt__ = __ge__ = __mul__ = __rmul__ = __mod__ = _misuse

    def is_(self, *_: object) -> "Expr":
        raise _uncalled(self)

    in_ = is_

    def __repr__(self) -> str:
        return f"Var({self.machine}.{self.name})"


class AbsentVar:
    """What :meth:`~lbrspec.lang.machine.Machine.var` returns for a variable that does not
    exist in the variant being built (``when=False``): any use of it is a type error naming the
    variable and the variant, instead of a silent wrong model."""

    def __init__(self, name: str, machine: str, variant: str, why: str = "") -> None:
        self.name = name
        self.machine = machine
        self.variant = variant
        self.why = why

    def _error(self, *_: object, **__: object) -> "Expr":
        extra = f" ({self.why})" if self.why else ""
        raise LangTypeError(
            f"variable '{self.name}' of machine '{self.machine}' does not exist in variant '{self.variant}'{extra}",
            variable=self.name,
        )

    __getitem__ = __call__ = becomes_all = _error
    __eq__ = __ne__ = __and__ = __rand__ = __or__ = __ror__ = __invert__ = _error  # type: ignore[assignment]
    __add__ = __sub__ = __lt__ = __le__ = __gt__ = __ge__ = is_ = in_ = _error
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"AbsentVar({self.machine}.{self.name})"


def _index_arg(name: str, a: object, d: Domain) -> "Expr":
    """Check one index argument of variable ``name`` against its index domain ``d``."""
    if isinstance(a, Var):
        raise _uncalled(a)
    if isinstance(d, SortDomain):
        if not isinstance(a, Expr):
            raise LangTypeError(f"index of '{name}' must be an expression of sort {d.sort.name}", name)
        if not (isinstance(a.dom, SortDomain) and a.dom.sort is d.sort):
            raise LangTypeError(f"index of '{name}' must be of sort {d.sort.name}, got {a.dom.name}", name)
        return a
    if isinstance(d, RangeDomain):
        e = Lit(RangeDomain(a, a), a) if isinstance(a, int) and not isinstance(a, bool) else coerce(a, d)
        if not isinstance(e.dom, RangeDomain):
            raise LangTypeError(f"index of '{name}' must be an integer in {d.name}, got {e.dom.name}", name)
        if not d.contains(e.dom):
            raise LangTypeError(
                f"index of '{name}' may be {e.dom.name}, outside its index range {d.name}; keep the index in range "
                f"(a parameter or quantified variable over {d.name}, or arithmetic such as (i % n) + lo)", name)
        return e
    e = coerce(a, d)
    if not _same_domain(e.dom, d):
        raise LangTypeError(f"index of '{name}' must be {d.name}, got {e.dom.name}", name)
    return e


class _AnyInit:
    def __repr__(self) -> str:
        return "ANY"


#: ``init=ANY``: every value of the domain is a possible initial value.
ANY = _AnyInit()


class VarRef(Expr):
    """A read of ``var[args]`` in the current (pre-)state."""

    __slots__ = ("var", "args")

    def __init__(self, var: Var, args: tuple[Expr, ...]) -> None:
        self.dom = var.dom
        self.var = var
        self.args = args

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return VarRef(self.var, tuple(children))

    def becomes(self, value: object) -> "Assign":
        """Point update ``var[args] := value``."""
        try:
            v = _operand(value, self) if isinstance(self.var.dom, RangeDomain) else coerce(value, self.var.dom)
        except LangTypeError as e:
            e.variable = e.variable or self.var.name
            raise
        _check_assignable(self.var, v)
        return Assign(self.var, self.args, v)


def _check_assignable(var: Var, value: Expr) -> None:
    if not _same_domain(value.dom, var.dom):
        raise LangTypeError(f"cannot assign a {value.dom.name} to '{var.name}' of type {var.dom.name}", var.name)
    if isinstance(value, Lit) and isinstance(var.dom, RangeDomain):
        if not var.dom.lo <= value.code <= var.dom.hi:
            raise LangTypeError(f"value {value.code} is outside the domain {var.dom.name}", var.name)


class Not(Expr):
    __slots__ = ("arg",)

    def __init__(self, arg: Expr) -> None:
        self.arg = _need_bool(arg, "not")
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Not(children[0])


class And(Expr):
    __slots__ = ("args",)

    def __init__(self, *args: Expr) -> None:
        flat: list[Expr] = []
        for a in args:
            a = _need_bool(a, "and")
            flat.extend(a.args if isinstance(a, And) else (a,))
        self.args = tuple(flat)
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return And(*children)


class Or(Expr):
    __slots__ = ("args",)

    def __init__(self, *args: Expr) -> None:
        flat: list[Expr] = []
        for a in args:
            a = _need_bool(a, "or")
            flat.extend(a.args if isinstance(a, Or) else (a,))
        self.args = tuple(flat)
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Or(*children)


class Implies(Expr):
    __slots__ = ("a", "b")

    def __init__(self, a: Expr, b: Expr) -> None:
        self.a = _need_bool(a, "implies")
        self.b = _need_bool(b, "implies")
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Implies(children[0], children[1])


class Eq(Expr):
    __slots__ = ("a", "b")

    def __init__(self, a: Expr, b: Expr) -> None:
        if not _same_domain(a.dom, b.dom):
            raise LangTypeError(f"cannot compare {a.dom.name} with {b.dom.name}")
        self.a, self.b = a, b
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Eq(children[0], children[1])


class Ite(Expr):
    __slots__ = ("cond", "then", "else_")

    def __init__(self, cond: Expr, then: Expr, else_: Expr) -> None:
        self.cond = _need_bool(cond, "if-then-else condition")
        if not _same_domain(then.dom, else_.dom):
            raise LangTypeError(f"if-then-else branches differ: {then.dom.name} and {else_.dom.name}")
        self.then, self.else_ = then, else_
        self.dom = then.dom if not isinstance(then.dom, RangeDomain) else _join_range(then.dom, else_.dom)

    def children(self) -> tuple[Expr, ...]:
        return (self.cond, self.then, self.else_)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Ite(children[0], children[1], children[2])


def _join_range(a: Domain, b: Domain) -> RangeDomain:
    assert isinstance(a, RangeDomain) and isinstance(b, RangeDomain)
    return RangeDomain(min(a.lo, b.lo), max(a.hi, b.hi))


class Arith(Expr):
    """Bounded-integer ``+``, ``-``, ``*`` (by a constant) or ``%`` (by a positive constant).

    The result's range is computed from the operands' ranges (it may go below zero); a value
    outside the target's range is an error when assigned (every engine reports it).  ``%`` is
    the mathematical modulo: ``x % n`` is in ``0..n-1`` for every ``x``, negative ones too.
    """

    __slots__ = ("op", "a", "b")

    def __init__(self, op: str, a: Expr, b: Expr) -> None:
        if op not in ("+", "-", "*", "%"):
            raise LangTypeError(f"unknown arithmetic operator {op!r}")
        if not (isinstance(a.dom, RangeDomain) and isinstance(b.dom, RangeDomain)):
            raise LangTypeError(f"'{op}' needs bounded integers, got {a.dom.name} and {b.dom.name}")
        if op in ("*", "%") and not (isinstance(b, Lit)):
            raise LangTypeError(f"'{op}' takes an integer constant as its right operand (the language stays linear)")
        self.op, self.a, self.b = op, a, b
        alo, ahi, blo, bhi = a.dom.lo, a.dom.hi, b.dom.lo, b.dom.hi
        if op == "+":
            self.dom = RangeDomain(alo + blo, ahi + bhi)
        elif op == "-":
            self.dom = RangeDomain(alo - bhi, ahi - blo)
        elif op == "*":
            c = b.code  # type: ignore[attr-defined]
            self.dom = RangeDomain(min(alo * c, ahi * c), max(alo * c, ahi * c))
        else:
            c = b.code  # type: ignore[attr-defined]
            if c <= 0:
                raise LangTypeError(f"'%' needs a positive constant divisor, got {c}")
            self.dom = RangeDomain(alo, ahi) if 0 <= alo and ahi < c else RangeDomain(0, c - 1)

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Arith(self.op, children[0], children[1])


def arith(op: str, a: int, b: int) -> int:
    """The value of ``a op b``: the one definition every engine's constant folding uses."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "%":
        return a % b  # Python's % is the mathematical modulo for a positive divisor
    raise ValueError(op)


class Cmp(Expr):
    """``<`` or ``<=`` between two integers, or between two elements of one sort (by element
    number: using it makes the sort ordered, which costs its symmetry)."""

    __slots__ = ("op", "a", "b")

    def __init__(self, op: str, a: Expr, b: Expr) -> None:
        ints = isinstance(a.dom, RangeDomain) and isinstance(b.dom, RangeDomain)
        elems = isinstance(a.dom, SortDomain) and isinstance(b.dom, SortDomain) and a.dom.sort is b.dom.sort
        if not (ints or elems):
            raise LangTypeError(f"'{op}' needs two bounded integers or two elements of one sort, "
                                f"got {a.dom.name} and {b.dom.name}")
        self.op, self.a, self.b = op, a, b
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Cmp(self.op, children[0], children[1])


class SortConst(Expr):
    """A named element of a sort: element ``index`` counted from the first (``S.first()``,
    ``S.elem(i)``), or from the last when ``from_end`` (``S.last()``).  Naming elements makes
    the sort asymmetric: symmetry reduction leaves it alone."""

    __slots__ = ("sort", "index", "from_end")

    def __init__(self, sort: Sort, index: int, from_end: bool = False) -> None:
        self.sort = sort
        self.index = index
        self.from_end = from_end
        self.dom = SortDomain(sort)

    def code(self, size: int) -> int:
        """The element's number in a sort of ``size`` elements (``size > index`` is checked
        when the instance is made)."""
        return size - 1 - self.index if self.from_end else self.index


class Shift(Expr):
    """``x.next(k)``: the element ``k`` places after ``x`` around its sort's ring (``k < 0``
    goes backwards).  The sort keeps only its rotations as symmetries."""

    __slots__ = ("arg", "k")

    def __init__(self, arg: Expr, k: int) -> None:
        if not isinstance(arg.dom, SortDomain):
            raise LangTypeError(f"next()/prev() need an element of a sort, got {arg.dom.name}")
        if isinstance(k, bool) or not isinstance(k, int):
            raise LangTypeError(f"next()/prev() take an integer step, got {k!r}")
        self.arg = arg
        self.k = k
        self.dom = arg.dom

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Shift(children[0], self.k)


class Ctor(Expr):
    """A union value built by a constructor: ``Tag("vcpu", v)``."""

    __slots__ = ("ctor", "arg")

    def __init__(self, dom: UnionDomain, ctor: str, arg: object) -> None:
        try:
            sort = dom.ctor_sort(ctor)
        except ValueError as e:
            raise LangTypeError(str(e)) from None
        if not (isinstance(arg, Expr) and isinstance(arg.dom, SortDomain) and arg.dom.sort is sort):
            raise LangTypeError(f"constructor {dom.name}.{ctor} takes an element of {sort.name}")
        self.dom = dom
        self.ctor = ctor
        self.arg = arg

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        assert isinstance(self.dom, UnionDomain)
        return Ctor(self.dom, self.ctor, children[0])


class IsTag(Expr):
    """``x.is_(tag)``: the union value ``x`` is the constant ``tag`` or built by constructor ``tag``."""

    __slots__ = ("arg", "tag")

    def __init__(self, arg: Expr, tag: str) -> None:
        d = arg.dom
        if not isinstance(d, UnionDomain):
            raise LangTypeError(f"is_({tag!r}) needs a union value, got {d.name}")
        if tag not in d.consts and tag not in [c for c, _ in d.ctors]:
            raise LangTypeError(f"{tag!r} is not a tag of {d.name}")
        self.arg, self.tag = arg, tag
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return IsTag(children[0], self.tag)


class Quant(Expr):
    """``forall``/``exists`` over every value of a domain (usually an index sort)."""

    __slots__ = ("universal", "var", "body")

    def __init__(self, universal: bool, var: Local, body: Expr) -> None:
        self.universal = universal
        self.var = var
        self.body = _need_bool(body, "forall" if universal else "exists")
        self.dom = BOOL

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Quant(self.universal, self.var, children[0])


class Definition:
    """A named, parameterised expression (a macro): ``owns(v, p)``.

    Applying a definition gives an :class:`Apply` node, which printing keeps (so diagrams show
    ``owns(v, p)``) and :func:`expand` inlines before any engine evaluates it.
    """

    def __init__(self, name: str, params: tuple[Local, ...], body: Expr, doc: str = "") -> None:
        self.name = name
        self.params = params
        self.body = body
        self.doc = doc

    def __call__(self, *args: object) -> "Apply":
        if len(args) != len(self.params):
            raise LangTypeError(f"{self.name} takes {len(self.params)} argument(s), got {len(args)}")
        cargs = tuple(_operand(a, p) if isinstance(p.dom, RangeDomain) else coerce(a, p.dom) for a, p in zip(args, self.params))
        for a, p in zip(cargs, self.params):
            if not _same_domain(a.dom, p.dom):
                raise LangTypeError(f"argument '{p.name}' of {self.name} must be {p.dom.name}, got {a.dom.name}")
            if isinstance(p.dom, RangeDomain) and not p.dom.contains(a.dom):  # type: ignore[attr-defined]
                raise LangTypeError(f"argument '{p.name}' of {self.name} may be {a.dom.name}, outside its range {p.dom.name}")
        return Apply(self, cargs)


def define(name: str, params: Mapping[str, Sort | Domain] | Sequence[tuple[str, Sort | Domain]],
           body: Callable[..., Expr], doc: str = "") -> Definition:
    """Make a :class:`Definition` from a function of its parameters."""
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    locals_ = tuple(Local(n, as_domain(d)) for n, d in items)
    b = body(*locals_)
    return Definition(name, locals_, b if isinstance(b, Expr) else coerce(b, BOOL), doc)


class Apply(Expr):
    __slots__ = ("defn", "args")

    def __init__(self, defn: Definition, args: tuple[Expr, ...]) -> None:
        self.defn = defn
        self.args = args
        self.dom = defn.body.dom

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def rebuild(self, children: Sequence[Expr]) -> Expr:
        return Apply(self.defn, tuple(children))


class Assign:
    """Point update ``var[args] := value`` (``args`` and ``value`` read the pre-state)."""

    __slots__ = ("var", "args", "value")

    def __init__(self, var: Var, args: tuple[Expr, ...], value: Expr) -> None:
        self.var, self.args, self.value = var, args, value

    def exprs(self) -> tuple[Expr, ...]:
        return self.args + (self.value,)

    def rebuild(self, exprs: Sequence[Expr]) -> "Assign":
        return Assign(self.var, tuple(exprs[:-1]), exprs[-1])


class AssignAll:
    """Whole-variable update ``var[x..] := value(x..)`` for every index tuple ``x..``."""

    __slots__ = ("var", "bound", "value")

    def __init__(self, var: Var, bound: tuple[Local, ...], value: Expr) -> None:
        self.var, self.bound, self.value = var, bound, value

    def exprs(self) -> tuple[Expr, ...]:
        return (self.value,)

    def rebuild(self, exprs: Sequence[Expr]) -> "AssignAll":
        return AssignAll(self.var, self.bound, exprs[0])


Update = Assign | AssignAll


# -- builders -------------------------------------------------------------------------------


def as_domain(d: Sort | Domain) -> Domain:
    return SortDomain(d) if isinstance(d, Sort) else d


def _arg_names(fn: Callable[..., object], n: int) -> list[str]:
    try:
        names = list(inspect.signature(fn).parameters)[:n]
    except (TypeError, ValueError):
        names = []
    return names + [f"x{i}" for i in range(len(names), n)]


def _quant(universal: bool, over: Sort | Domain, fn: Callable[[Local], object]) -> Expr:
    (name,) = _arg_names(fn, 1)
    x = Local(name, as_domain(over))
    return Quant(universal, x, _need_bool(coerce(fn(x), BOOL), "forall" if universal else "exists"))


def forall(over: Sort | Domain, fn: Callable[[Local], object]) -> Expr:
    """``forall(V, lambda w: ...)``."""
    return _quant(True, over, fn)


def exists(over: Sort | Domain, fn: Callable[[Local], object]) -> Expr:
    """``exists(V, lambda w: ...)``."""
    return _quant(False, over, fn)


def implies(a: object, b: object) -> Expr:
    return Implies(coerce(a, BOOL), coerce(b, BOOL))


def ite(cond: object, then: object, else_: object) -> Expr:
    c = coerce(cond, BOOL)
    if isinstance(then, bool) and isinstance(else_, bool):
        return Ite(c, coerce(then, BOOL), coerce(else_, BOOL))
    if isinstance(then, Expr):
        return Ite(c, then, _operand(else_, then))
    if isinstance(else_, Expr):
        return Ite(c, _operand(then, else_), else_)
    if isinstance(then, int) and isinstance(else_, int):
        return Ite(c, Lit(RangeDomain(then, then), then), Lit(RangeDomain(else_, else_), else_))
    raise LangTypeError("if-then-else needs at least one branch that is an expression")


def conj(items: Iterable[object]) -> Expr:
    args = [coerce(i, BOOL) for i in items]
    return TRUE if not args else args[0] if len(args) == 1 else And(*args)


def disj(items: Iterable[object]) -> Expr:
    args = [coerce(i, BOOL) for i in items]
    return FALSE if not args else args[0] if len(args) == 1 else Or(*args)


# -- traversals -----------------------------------------------------------------------------


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of ``e``, parents before children (definitions not entered)."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))


def transform(e: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Bottom-up rewrite: ``fn`` sees each node (children already rewritten) and returns a
    replacement or ``None`` to keep it."""
    kids = e.children()
    if kids:
        new = tuple(transform(k, fn) for k in kids)
        if any(a is not b for a, b in zip(new, kids)):
            e = e.rebuild(new)
    r = fn(e)
    return e if r is None else r


def substitute(e: Expr, mapping: Mapping[Local, Expr]) -> Expr:
    """Replace free :class:`Local` nodes (by identity)."""
    if not mapping:
        return e
    return transform(e, lambda n: mapping.get(n) if isinstance(n, Local) else None)


def expand(e: Expr) -> Expr:
    """Inline every definition application, recursively."""

    def fn(n: Expr) -> Expr | None:
        if isinstance(n, Apply):
            return expand(substitute(n.defn.body, dict(zip(n.defn.params, n.args))))
        return None

    return transform(e, fn)


def vars_read(e: Expr) -> set[Var]:
    """State variables read by ``e`` (after expanding definitions)."""
    return {n.var for n in walk(expand(e)) if isinstance(n, VarRef)}


def free_locals(e: Expr) -> set[Local]:
    bound: set[Local] = set()
    out: set[Local] = set()

    def go(n: Expr) -> None:
        if isinstance(n, Quant):
            bound.add(n.var)
        if isinstance(n, Local) and n not in bound:
            out.add(n)
        for k in n.children():
            go(k)

    go(expand(e))
    return out


def update_exprs(u: Update) -> tuple[Expr, ...]:
    return u.exprs()


def map_update(u: Update, fn: Callable[[Expr], Expr]) -> Update:
    return u.rebuild([fn(x) for x in u.exprs()])
