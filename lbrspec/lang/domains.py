"""Index sorts and finite value domains.

An **index sort** (:class:`Sort`) is a set of interchangeable identities: vCPUs, pCPUs, host
LBR users.  A model never fixes its size; an *instance* does (``--vcpus 2 --pcpus 2``), and the
Z3 back end may leave it unbounded.  Elements are named by the sort's prefix and a number
(``v0``, ``p1``, ``h0``); nothing in a model may depend on that order, which is what makes
symmetry reduction and proofs for every size possible.

A **domain** is the finite set of values a variable, parameter or expression takes:

* :data:`BOOL`;
* :class:`EnumDomain`: named constants (``ABSENT``, ``ACTIVE``...);
* :class:`RangeDomain`: bounded integers ``lo..hi``;
* :class:`SortDomain`: an element of an index sort (the pCPU a thread runs on);
* :class:`UnionDomain`: a tagged union of named constants and constructors that wrap a sort
  element, e.g. ``none | host | vcpu(V)`` (whose records sit in an LBR stack).  This is how a
  variable says "nobody, the host, or vCPU *v*" without a meaningless second field.

The explicit engines encode every value as a small non-negative ``int`` (its *code*); the
encoding of sort-dependent domains depends on the instance sizes, passed as a mapping from
sort to size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:
    from .expr import Expr

Sizes = Mapping["Sort", int]


@dataclass(frozen=True, eq=False)
class Sort:
    """An index sort whose size is chosen by the instance (or left unbounded).

    Elements are interchangeable unless the model says otherwise: :meth:`first`, :meth:`last`
    and :meth:`elem` name an element, ``x < y`` orders two, and ``x.next()`` goes around the
    ring of elements (see :mod:`lbrspec.lang.expr`).  A sort used that way loses (part of) its
    symmetry; :func:`lbrspec.lang.uses.sort_uses` finds how each sort is used.
    """

    name: str
    prefix: str
    doc: str = ""

    def element(self, index: int) -> str:
        """The display name of element ``index`` (``v0``, ``p1``...)."""
        return f"{self.prefix}{index}"

    def first(self) -> "Expr":
        """The first element (``p0``): an expression of this sort."""
        from .expr import SortConst

        return SortConst(self, 0)

    def last(self) -> "Expr":
        """The last element (``p{n-1}`` in an instance of size ``n``)."""
        from .expr import SortConst

        return SortConst(self, 0, from_end=True)

    def elem(self, index: int) -> "Expr":
        """Element number ``index`` counted from 0 (``S.elem(1)`` is the second element).

        An instance in which the sort has ``index`` elements or fewer is refused."""
        from .expr import LangTypeError, SortConst

        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise LangTypeError(f"{self.name}.elem() takes an element number 0, 1, ..., got {index!r}")
        return SortConst(self, index)

    def __repr__(self) -> str:
        return f"Sort({self.name})"


@dataclass(frozen=True)
class UnionValue:
    """A decoded value of a :class:`UnionDomain`: a tag and, for constructors, an element."""

    tag: str
    arg: str | None = None

    def __str__(self) -> str:
        return self.tag if self.arg is None else f"{self.tag}({self.arg})"


#: A decoded (display) value: what traces, ITF files and users see.
Value = Union[bool, int, str, UnionValue]


class Domain:
    """A finite set of values with an integer encoding."""

    name: str

    def size(self, sizes: Sizes) -> int:
        raise NotImplementedError

    def decode(self, code: int, sizes: Sizes) -> Value:
        raise NotImplementedError

    def encode(self, value: Value, sizes: Sizes) -> int:
        raise NotImplementedError

    def sorts(self) -> tuple[Sort, ...]:
        """The index sorts this domain's values mention."""
        return ()

    def codes(self, sizes: Sizes) -> range:
        """The codes of the values, in order (expressions compute with these)."""
        return range(self.size(sizes))

    @property
    def offset(self) -> int:
        """What a state slot stores is ``code - offset`` (non-zero only for ranges below 0 or
        above it); the position of a value among :meth:`codes` is the same number."""
        return 0

    def __repr__(self) -> str:
        return self.name


class BoolDomain(Domain):
    name = "bool"

    def size(self, sizes: Sizes) -> int:
        return 2

    def decode(self, code: int, sizes: Sizes) -> Value:
        return bool(code)

    def encode(self, value: Value, sizes: Sizes) -> int:
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not a boolean")
        return int(value)


BOOL = BoolDomain()


class EnumDomain(Domain):
    """Named constants.  ``Dom.MEMBER`` is the literal expression for a member.

    ``absent`` names members that exist only in other variants of the model (the variant being
    built leaves them out, so its states do not pay for them); using one is a build error that
    says so, rather than an unknown-name error.  ``EnumDomain.variant`` builds such a domain
    from a list of members each with the condition under which it exists.
    """

    def __init__(self, name: str, members: tuple[str, ...] | list[str], doc: str = "",
                 absent: tuple[str, ...] | list[str] = ()) -> None:
        if not members:
            raise ValueError(f"enum {name} has no members")
        if len(set(members)) != len(members):
            raise ValueError(f"enum {name} repeats a member")
        if set(members) & set(absent):
            raise ValueError(f"enum {name}: a member cannot be both present and absent")
        self.name = name
        self.members = tuple(members)
        self.absent = tuple(absent)
        self.doc = doc

    @classmethod
    def variant(cls, name: str, members: list["str | tuple[str, bool]"], doc: str = "") -> "EnumDomain":
        """``EnumDomain.variant("pc", ["IDLE", ("PREEMPTED", sw["preemptible"])])``: a member
        given with a condition exists only where the condition is true."""
        present = [m if isinstance(m, str) else m[0] for m in members if isinstance(m, str) or m[1]]
        gone = [m[0] for m in members if not isinstance(m, str) and not m[1]]
        return cls(name, present, doc, absent=gone)

    def size(self, sizes: Sizes) -> int:
        return len(self.members)

    def decode(self, code: int, sizes: Sizes) -> Value:
        return self.members[code]

    def encode(self, value: Value, sizes: Sizes) -> int:
        if value not in self.members:
            raise ValueError(f"{value!r} is not a member of {self.name} {list(self.members)}")
        return self.members.index(value)  # type: ignore[arg-type]

    def code_of(self, member: str) -> int:
        if member not in self.members:
            raise ValueError(f"{member!r} is not a member of {self.name} {list(self.members)}")
        return self.members.index(member)

    def missing(self, member: str) -> str:
        """Why ``member`` is not a value of this domain, in one line."""
        if member in self.absent:
            return f"member {member!r} of {self.name} does not exist in this variant of the model"
        return f"unknown member {member!r} of {self.name} {list(self.members)}"

    def __getattr__(self, member: str):  # Dom.ACTIVE -> literal expression
        if member.startswith("_") or "members" not in self.__dict__:
            raise AttributeError(member)
        from .expr import LangTypeError, Lit

        if member not in self.members:
            raise LangTypeError(self.missing(member))
        return Lit(self, self.members.index(member))


class RangeDomain(Domain):
    """Bounded integers ``lo..hi`` (inclusive; negative bounds allowed).

    A value's code in expressions is the integer itself, so arithmetic on codes is arithmetic
    on values; a *state slot* stores ``value - lo`` (see :attr:`offset`), so stored codes are
    always ``0..hi-lo``.
    """

    def __init__(self, lo: int, hi: int) -> None:
        for b in (lo, hi):
            if isinstance(b, bool) or not isinstance(b, int):
                raise ValueError(f"range bounds must be integers, got {b!r}")
        if lo > hi:
            raise ValueError(f"empty range {lo}..{hi}")
        self.lo, self.hi = lo, hi
        self.name = f"{lo}..{hi}"

    @property
    def offset(self) -> int:
        return self.lo

    def size(self, sizes: Sizes) -> int:
        return self.hi - self.lo + 1

    def codes(self, sizes: Sizes) -> range:
        return range(self.lo, self.hi + 1)

    def decode(self, code: int, sizes: Sizes) -> Value:
        return code

    def encode(self, value: Value, sizes: Sizes) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            raise ValueError(f"{value!r} is not in {self.name}")
        return value

    def contains(self, other: "RangeDomain") -> bool:
        return self.lo <= other.lo and other.hi <= self.hi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeDomain) and (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self) -> int:
        return hash(("range", self.lo, self.hi))


class SortDomain(Domain):
    """An element of an index sort; the code of element ``i`` is ``i``."""

    def __init__(self, sort: Sort) -> None:
        self.sort = sort
        self.name = sort.name

    def size(self, sizes: Sizes) -> int:
        return sizes[self.sort]

    def decode(self, code: int, sizes: Sizes) -> Value:
        return self.sort.element(code)

    def encode(self, value: Value, sizes: Sizes) -> int:
        if isinstance(value, str) and value.startswith(self.sort.prefix):
            tail = value[len(self.sort.prefix):]
            if tail.isascii() and tail.isdigit() and len(tail) <= 6 and int(tail) < sizes[self.sort]:
                return int(tail)
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
        raise ValueError(f"{shown} is not an element of {self.sort.name} (size {sizes[self.sort]})")

    def sorts(self) -> tuple[Sort, ...]:
        return (self.sort,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SortDomain) and other.sort is self.sort

    def __hash__(self) -> int:
        return hash(("sort", id(self.sort)))


class UnionDomain(Domain):
    """A tagged union: constants first, then one block of codes per constructor.

    ``UnionDomain("tag", consts=("none", "host"), ctors=(("vcpu", V),))`` has the values
    ``none``, ``host`` and ``vcpu(v)`` for every element ``v`` of ``V``.
    """

    def __init__(
        self,
        name: str,
        consts: tuple[str, ...] | list[str] = (),
        ctors: tuple[tuple[str, Sort], ...] | list[tuple[str, Sort]] = (),
        doc: str = "",
    ) -> None:
        tags = list(consts) + [c for c, _ in ctors]
        if not tags:
            raise ValueError(f"union {name} has no alternatives")
        if len(set(tags)) != len(tags):
            raise ValueError(f"union {name} repeats a tag")
        self.name = name
        self.consts = tuple(consts)
        self.ctors = tuple((c, s) for c, s in ctors)
        self.doc = doc

    def ctor_sort(self, ctor: str) -> Sort:
        for c, s in self.ctors:
            if c == ctor:
                return s
        raise ValueError(f"{ctor!r} is not a constructor of {self.name}")

    def ctor_offset(self, ctor: str, sizes: Sizes) -> int:
        offset = len(self.consts)
        for c, s in self.ctors:
            if c == ctor:
                return offset
            offset += sizes[s]
        raise ValueError(f"{ctor!r} is not a constructor of {self.name}")

    def size(self, sizes: Sizes) -> int:
        return len(self.consts) + sum(sizes[s] for _, s in self.ctors)

    def decode(self, code: int, sizes: Sizes) -> Value:
        if code < len(self.consts):
            return UnionValue(self.consts[code])
        offset = len(self.consts)
        for c, s in self.ctors:
            if code < offset + sizes[s]:
                return UnionValue(c, s.element(code - offset))
            offset += sizes[s]
        raise ValueError(f"code {code} out of range for {self.name}")

    def encode(self, value: Value, sizes: Sizes) -> int:
        if isinstance(value, str):
            value = UnionValue(value)
        if isinstance(value, UnionValue):
            if value.arg is None and value.tag in self.consts:
                return self.consts.index(value.tag)
            if value.arg is not None:
                for c, s in self.ctors:
                    if c == value.tag:
                        return self.ctor_offset(c, sizes) + SortDomain(s).encode(value.arg, sizes)
        raise ValueError(f"{value!s} is not a value of {self.name}")

    def sorts(self) -> tuple[Sort, ...]:
        return tuple(s for _, s in self.ctors)

    def __getattr__(self, const: str):  # Tag.none -> literal expression
        if const.startswith("_") or "consts" not in self.__dict__:
            raise AttributeError(const)
        from .expr import LangTypeError, Lit

        if const not in self.consts:
            raise LangTypeError(f"unknown constant {const!r} of {self.name} {list(self.consts)}")
        return Lit(self, self.consts.index(const))

    def __call__(self, ctor: str, arg):  # Tag("vcpu", v) -> constructor expression
        from .expr import Ctor

        return Ctor(self, ctor, arg)


def parse_display_value(dom: Domain, text: str, sizes: Sizes) -> int:
    """Encode a value written as it is displayed (``true``, ``ACTIVE``, ``vcpu(v0)``, ``3``)."""
    if isinstance(dom, BoolDomain):
        if text in ("true", "True"):
            return 1
        if text in ("false", "False"):
            return 0
        raise ValueError(f"{text!r} is not a boolean")
    if isinstance(dom, RangeDomain):
        return dom.encode(int(text), sizes)
    if isinstance(dom, UnionDomain):
        if text.endswith(")") and "(" in text:
            tag, arg = text[:-1].split("(", 1)
            return dom.encode(UnionValue(tag, arg), sizes)
        return dom.encode(UnionValue(text), sizes)
    return dom.encode(text, sizes)
