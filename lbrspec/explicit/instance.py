"""A finite instance of a model: sort sizes, the state layout, and value encoding.

An :class:`Instance` fixes the size of every index sort.  A state is then a tuple of small
ints with one *slot* per variable element (``running[v0]``, ``running[v1]``, ``cpu[v0]``...),
laid out in declaration order; each slot holds the code of a value (see
:mod:`lbrspec.lang.domains`) minus the domain's :attr:`~lbrspec.lang.domains.Domain.offset`,
so stored codes start at 0 even for integer ranges that do not (``slot_offset``).  Every engine
that reads a slot adds the offset back and every engine that writes one takes it off; only
bounded ranges other than ``0..n`` have a non-zero offset.  The instance decodes states for
display and traces, and enumerates initial states and parameter bindings.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence as _SequenceABC
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..errors import EvaluationError, InputError
from ..lang.domains import Domain, Sort, Value
from ..lang.expr import ANY, Expr, Local, SortConst, Var, _arg_names, coerce, walk
from ..lang.spec import Action, Model

#: Largest size of one index sort.  Sizes above it cannot be represented in the packed state
#: encoding and, long before that, could not be explored anyway.
MAX_SORT_SIZE = 16

State = tuple[int, ...]


@dataclass(frozen=True)
class Slot:
    var: Var
    index: tuple[int, ...]
    name: str


class Instance:
    """``Instance(model, {"vCPU": 2, "pCPU": 2, "host_user": 1})``."""

    def __init__(self, model: Model, sizes: Mapping[str, int] | None = None) -> None:
        self.model = model
        given = dict(model.default_sizes)
        given.update(sizes or {})
        unknown = set(given) - {s.name for s in model.sorts}
        if unknown:
            raise InputError(f"unknown sort {sorted(unknown)[0]!r}; the model's sorts are {[s.name for s in model.sorts]}")
        self.sizes: dict[Sort, int] = {}
        for s in model.sorts:
            n = given.get(s.name)
            if n is None:
                raise InputError(f"no size given for sort {s.name}")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise InputError(f"the number of {s.name}s must be at least 1, got {n}")
            if n > MAX_SORT_SIZE:
                raise InputError(
                    f"{n} {s.name}s cannot be represented: at most {MAX_SORT_SIZE} per sort"
                )
            self.sizes[s] = n
        self._check_named_elements()
        self.slots: list[Slot] = []
        self.base: dict[Var, int] = {}
        self.strides: dict[Var, tuple[int, ...]] = {}
        for v in model.vars:
            self.base[v] = len(self.slots)
            dims = [d.size(self.sizes) for d in v.index]
            strides = []
            acc = 1
            for d in reversed(dims):
                strides.append(acc)
                acc *= d
            self.strides[v] = tuple(reversed(strides))
            for idx in itertools.product(*[range(d) for d in dims]):
                self.slots.append(Slot(v, idx, self._slot_name(v, idx)))
        self.slot_index: dict[str, int] = {sl.name: i for i, sl in enumerate(self.slots)}
        self.slot_size: list[int] = [sl.var.dom.size(self.sizes) for sl in self.slots]
        #: per slot: what is added to the stored code to get the value's code
        self.slot_offset: list[int] = [sl.var.dom.offset for sl in self.slots]
        self._initial_choices: list[tuple[int, ...]] | None = None

    def _check_named_elements(self) -> None:
        """Refuse sizes too small for the elements the model names (``S.elem(2)`` needs 3)."""
        from ..lang.uses import model_expressions

        need: dict[Sort, int] = {}
        for _, e in model_expressions(self.model):
            for n in walk(e):
                if isinstance(n, SortConst) and not n.from_end:
                    need[n.sort] = max(need.get(n.sort, 0), n.index + 1)
        for s, k in need.items():
            if s in self.sizes and self.sizes[s] < k:
                raise InputError(f"the model names element {s.element(k - 1)} of {s.name}, so {s.name} needs at least "
                                 f"{k} elements, got {self.sizes[s]}")
    # -- naming -----------------------------------------------------------------------------
    def _slot_name(self, v: Var, idx: tuple[int, ...]) -> str:
        """``idx`` holds positions (0, 1, ...) along each index domain."""
        if not idx:
            return v.name
        return f"{v.name}[{','.join(_show_index(d.decode(i + d.offset, self.sizes)) for d, i in zip(v.index, idx))}]"

    def size_of(self, sort: Sort) -> int:
        return self.sizes[sort]

    def describe(self) -> str:
        """``2 vCPUs, 2 pCPUs, 1 host_user``."""
        return ", ".join(f"{n} {s.name}{'s' if n != 1 else ''}" for s, n in self.sizes.items())

    def sizes_by_name(self) -> dict[str, int]:
        return {s.name: n for s, n in self.sizes.items()}

    # -- slots ------------------------------------------------------------------------------
    def slot(self, var: Var, idx: Sequence[int]) -> int:
        """The slot of ``var`` at the index *codes* ``idx`` (values for integer indexes)."""
        return self.base[var] + sum((i - d.offset) * st for i, d, st in zip(idx, var.index, self.strides[var]))

    def slot_at(self, var: Var, positions: Sequence[int]) -> int:
        """The slot of ``var`` at ``positions`` (0, 1, ... along each index domain)."""
        return self.base[var] + sum(i * st for i, st in zip(positions, self.strides[var]))

    def index_codes(self, var: Var) -> list[tuple[int, ...]]:
        """Every index tuple of ``var`` as codes, in slot order."""
        return list(itertools.product(*[self.domain_codes(d) for d in var.index]))

    def domain_codes(self, dom: Domain) -> range:
        return dom.codes(self.sizes)

    def bindings(self, params: Sequence[Local]) -> list[tuple[int, ...]]:
        """Every assignment of codes to ``params``, in lexicographic order."""
        return list(itertools.product(*[self.domain_codes(p.dom) for p in params]))

    # -- initial states ---------------------------------------------------------------------
    # The initial states are the product of every slot's initial choices, in
    # ``itertools.product`` order (the last slot varies fastest).  That product grows
    # exponentially with the instance (millions of states at 8 vCPUs x 8 pCPUs of guest_lbr,
    # about 2**45 at 16 x 16), so nothing here builds it: the choices are kept per slot, and
    # the states are counted, tested, enumerated lazily or decoded by their position.

    def initial_choices(self) -> list[tuple[int, ...]]:
        """Per slot, the stored codes its initial value may take, in the order the model gives
        them (duplicates removed).  Raises :class:`EvaluationError` for an initial value outside
        its variable's domain, whenever asked."""
        if self._initial_choices is None:
            self._initial_choices = self._compute_initial_choices()
        return self._initial_choices

    def _compute_initial_choices(self) -> list[tuple[int, ...]]:
        from .evaluate import evaluate

        choices: list[tuple[int, ...]] = []
        for sl in self.slots:
            v = sl.var
            init = v.init
            env: dict[Local, int] = {}
            if callable(init) and not isinstance(init, Expr):
                locs = tuple(Local(n, d) for n, d in zip(_arg_names(init, len(v.index)), v.index))
                env = {loc: i + d.offset for loc, i, d in zip(locs, sl.index, v.index)}
                init = init(*locs)
            if init is ANY:
                choices.append(tuple(range(v.dom.size(self.sizes))))
                continue
            values = init if isinstance(init, (list, tuple)) else [init]
            codes = []
            for val in values:
                e = coerce(val, v.dom)
                code = int(evaluate(e, self, (), env)) - v.dom.offset
                if not 0 <= code < self.slot_size[self.slot_index[sl.name]]:
                    raise EvaluationError(f"the initial value of {sl.name} is {code + v.dom.offset}, outside {v.dom.name}")
                codes.append(code)
            choices.append(tuple(sorted(set(codes), key=codes.index)))
        return choices

    def initial_count(self) -> int:
        """The number of initial states (distinct by construction), without enumerating them."""
        return math.prod(len(c) for c in self.initial_choices())

    def is_initial(self, state: Sequence[int]) -> bool:
        """Whether ``state`` (stored codes) is an initial state, slot by slot."""
        choices = self.initial_choices()
        if len(state) != len(choices):
            return False
        return all(int(c) in ch for c, ch in zip(state, choices))

    def iter_initial(self) -> Iterator[State]:
        """Every initial state, lazily, in ``itertools.product`` order of the slots' choices."""
        return itertools.product(*self.initial_choices())

    def initial_state(self, i: int) -> State:
        """The ``i``-th initial state of :meth:`iter_initial` (mixed-radix decoding of ``i``)."""
        choices = self.initial_choices()
        n = self.initial_count()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"initial state {i} of {n}")
        out = [0] * len(choices)
        for k in range(len(choices) - 1, -1, -1):
            ch = choices[k]
            if len(ch) == 1:
                out[k] = ch[0]
            else:
                i, d = divmod(i, len(ch))
                out[k] = ch[d]
        return tuple(out)

    def initial_rows(self, lo: int, hi: int) -> np.ndarray:
        """The initial states ``lo .. hi-1`` as a slot matrix (slots x states, int64), the
        numpy counterpart of :meth:`initial_state` for a chunk of consecutive positions."""
        choices = self.initial_choices()
        n = max(0, min(hi, self.initial_count()) - lo)
        out = np.empty((len(choices), n), dtype=np.int64)
        if not n:
            return out
        # Decode lo in Python (the count may pass 2**63), then add 0..n-1 to the low digits in
        # numpy; the carry out of them (0 or 1, as n is small next to their radix) goes to the
        # high digits, which take one of two values.
        low_radix = 1
        k = len(choices) - 1
        low: list[int] = []
        while k >= 0 and low_radix < max(n, 1 << 20) and low_radix * len(choices[k]) < 2**62:
            low.append(k)
            low_radix *= len(choices[k])
            k -= 1
        high_of = list(range(k, -1, -1))  # the slots of the high digits, least significant first
        hi_part, lo_part = divmod(lo, low_radix)
        offs = lo_part + np.arange(n, dtype=np.int64)
        carry = offs // low_radix
        offs %= low_radix
        for k in low:
            ch = choices[k]
            r = len(ch)
            out[k] = np.asarray(ch, dtype=np.int64)[offs % r]
            offs //= r
        if high_of:
            a = list(self._digits(hi_part, high_of))
            b = list(self._digits(hi_part + 1, high_of)) if carry[-1] else a
            for j, k in enumerate(high_of):
                out[k] = np.where(carry > 0, b[j], a[j]) if a[j] != b[j] else a[j]
        return out

    def _digits(self, value: int, slots: list[int]) -> Iterator[int]:
        """The choice (stored code) of each slot in ``slots`` (least significant first) for the
        mixed-radix number ``value`` over those slots (it wraps past the last one)."""
        choices = self.initial_choices()
        for k in slots:
            value, d = divmod(value, len(choices[k]))
            yield choices[k][d]

    def initial_states(self) -> "InitialStates":
        """The initial states as a lazy sequence: ``len``, indexing, iteration and ``in`` work
        without building the product (``list(...)`` or ``set(...)`` of it still does)."""
        self.initial_choices()  # raise a bad initial value now, as the list used to
        return InitialStates(self)

    # -- decoding ---------------------------------------------------------------------------
    def decode_slot(self, i: int, code: int) -> Value:
        """The display value of stored code ``code`` in slot ``i``."""
        return self.slots[i].var.dom.decode(int(code) + self.slot_offset[i], self.sizes)

    def decode(self, state: State) -> dict[str, Value]:
        """Slot name -> display value."""
        return {sl.name: sl.var.dom.decode(int(c) + off, self.sizes)
                for sl, c, off in zip(self.slots, state, self.slot_offset)}

    def encode(self, values: Mapping[str, Value]) -> State:
        """The inverse of :meth:`decode`; every slot must be given."""
        out = []
        for sl in self.slots:
            if sl.name not in values:
                raise InputError(f"the state has no value for {sl.name}")
            try:
                out.append(sl.var.dom.encode(values[sl.name], self.sizes) - sl.var.dom.offset)
            except ValueError as e:
                raise InputError(f"{sl.name}: {e}") from None
        return tuple(out)

    def decode_params(self, action: Action, codes: Sequence[int]) -> dict[str, Value]:
        return {p.name: p.dom.decode(c, self.sizes) for p, c in zip(action.params, codes)}

    def encode_params(self, action: Action, values: Mapping[str, Value]) -> tuple[int, ...]:
        out = []
        for p in action.params:
            if p.name not in values:
                raise InputError(f"action {action.name} needs parameter {p.name!r}")
            try:
                out.append(p.dom.encode(values[p.name], self.sizes))
            except ValueError as e:
                raise InputError(f"action {action.name}, parameter {p.name}: {e}") from None
        extra = set(values) - {p.name for p in action.params}
        if extra:
            raise InputError(f"action {action.name} has no parameter {sorted(extra)[0]!r}")
        return tuple(out)

    def elements(self, sort: Sort) -> Iterator[str]:
        return (sort.element(i) for i in range(self.sizes[sort]))


class InitialStates(_SequenceABC):
    """The initial states of an instance as a read-only sequence computed on demand (see
    :meth:`Instance.initial_states`)."""

    __slots__ = ("instance",)

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def __len__(self) -> int:
        return self.instance.initial_count()

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self.instance.initial_state(j) for j in range(*i.indices(len(self)))]
        return self.instance.initial_state(int(i) if not isinstance(i, int) else i)

    def __iter__(self) -> Iterator[State]:
        return self.instance.iter_initial()

    def __contains__(self, state: object) -> bool:
        return isinstance(state, (tuple, list)) and self.instance.is_initial(state)

    def __repr__(self) -> str:
        return f"<{self.instance.initial_count():,} initial states of {self.instance.model.name}, {self.instance.describe()}>"


def _show_index(value: Value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
