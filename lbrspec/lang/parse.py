"""Reading an expression from text: the syntax :func:`lbrspec.lang.pretty.show` prints.

``parse_expr(text, model)`` turns a line such as ``exists v: vCPU. pc[v] = IDLE and owns(v, p1)``
into an :class:`~lbrspec.lang.expr.Expr` of ``model``, built with the expression constructors
(so it is typed exactly like an expression a model writes), and ``parse_expr(show(e), model)``
rebuilds ``e``.  The text is only ever tokenised and parsed here: nothing of it is executed.

Names are resolved in this order: a quantifier-bound name (innermost first) or one of the
``locals`` given; a state variable; a sort element by its display name (``v0``, ``p1``); an
enum member or union constant, chosen by the domain it is compared with, assigned to or passed
as (``IDLE`` in ``pc[v] = IDLE`` is a member of ``pc``'s domain).  ``first``, ``last``,
``next`` and ``prev`` followed by ``(`` are the built-ins; any other ``name(...)`` is a
definition or a union constructor.

Every mistake is an :class:`~lbrspec.errors.InputError` of one line that gives the column (and
the line, for text of several lines): unknown names (with close matches), wrong arity or index
sorts, type errors, unbalanced parentheses, trailing text.  The text's length and its nesting
depth are bounded, so no input exhausts the stack.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ..errors import InputError
from .domains import BOOL, BoolDomain, Domain, EnumDomain, RangeDomain, Sort, SortDomain, UnionDomain
from .expr import (
    And,
    Arith,
    Cmp,
    Ctor,
    Definition,
    Eq,
    Expr,
    Implies,
    IsTag,
    Ite,
    LangTypeError,
    Lit,
    Local,
    Not,
    Or,
    Quant,
    Shift,
    SortConst,
    Var,
    VarRef,
    walk,
)

#: Longest text accepted (characters).
MAX_LENGTH = 2000
#: Deepest nesting accepted (parentheses, brackets, arguments, ``not``, ``=>``, quantifiers...).
MAX_DEPTH = 64
_MAX_DIGITS = 18

KEYWORDS = frozenset({"true", "false", "not", "and", "or", "if", "then", "else", "forall", "exists", "is"})
BUILTINS = ("first", "last", "next", "prev")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<bad><->|==|&&|\|\||->)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<int>[0-9]+)
  | (?P<op>=>|!=|<=|>=|\.\.|[=<>()\[\],:.+\-*%])
  | (?P<bad1>[!&|~^/])
""", re.VERBOSE)

_HINTS = {
    "==": "write '=' for equality", "&&": "write 'and'", "&": "write 'and'", "||": "write 'or'",
    "|": "write 'or'", "!": "write 'not' (or '!=' for inequality)", "~": "write 'not'",
    "->": "write '=>' for implication", "<->": "write '=' to compare two booleans",
    "^": "there is no exclusive or: write 'a != b' for two booleans",
    "/": "there is no division: '%' takes a constant",
}

_CMP_OPS = ("=", "!=", "<", "<=", ">", ">=")
_BINARY = {"=>": 1, "or": 2, "and": 3, **{c: 5 for c in _CMP_OPS}, "+": 6, "-": 6, "*": 7, "%": 7}


@dataclass(frozen=True)
class _Tok:
    kind: str  # ident, int, op, end
    text: str
    pos: int


@dataclass
class _Name:
    """A bare name whose meaning depends on the domain it meets (an enum member or union
    constant, possibly also a state variable: ``fallback``)."""

    name: str
    pos: int
    fallback: Expr | None = None


@dataclass
class _CtorApp:
    """``c(arg)`` for a constructor ``c`` that several union domains have."""

    name: str
    arg: Expr
    pos: int


_Item = Expr | _Name | _CtorApp


class _Vocabulary:
    """What names mean in a model: variables, definitions, sorts, and the finite domains (with
    their members) that its variables and expressions use."""

    def __init__(self, model: object) -> None:
        self.vars: dict[str, Var] = {v.name: v for v in model.vars}  # type: ignore[attr-defined]
        self.defs: dict[str, Definition] = {d.name: d for d in model.definitions}  # type: ignore[attr-defined]
        self.sorts: dict[str, Sort] = {s.name: s for s in model.sorts}  # type: ignore[attr-defined]
        doms: dict[int, Domain] = {}

        def add(d: Domain) -> None:
            if isinstance(d, (EnumDomain, UnionDomain)):
                doms.setdefault(id(d), d)

        exprs: list[Expr] = []
        for v in model.vars:  # type: ignore[attr-defined]
            for d in (v.dom, *v.index):
                add(d)
        for d in model.definitions:  # type: ignore[attr-defined]
            exprs.append(d.body)
            for p in d.params:
                add(p.dom)
        for a in model.actions:  # type: ignore[attr-defined]
            exprs.append(a.guard)
            for p in a.params:
                add(p.dom)
            for u in a.updates:
                exprs.extend(u.exprs())
        exprs.extend(i.body for i in model.invariants)  # type: ignore[attr-defined]
        exprs.extend(g.body for g in model.goals)  # type: ignore[attr-defined]
        for e in exprs:
            for n in walk(e):
                add(n.dom)
                if isinstance(n, Quant):
                    add(n.var.dom)
        self.domains: list[Domain] = list(doms.values())
        self.by_name: dict[str, list[Domain]] = {}
        for d in self.domains:
            self.by_name.setdefault(d.name, []).append(d)
        self.values: dict[str, list[Domain]] = {}  # member or constant -> its domains
        self.ctors: dict[str, list[UnionDomain]] = {}
        self.absent: dict[str, EnumDomain] = {}
        for d in self.domains:
            if isinstance(d, EnumDomain):
                for m in d.members:
                    self.values.setdefault(m, []).append(d)
                for m in d.absent:
                    self.absent.setdefault(m, d)
            elif isinstance(d, UnionDomain):
                for c in d.consts:
                    self.values.setdefault(c, []).append(d)
                for c, _ in d.ctors:
                    self.ctors.setdefault(c, []).append(d)

    def element(self, name: str) -> tuple[Sort, int] | None:
        """The sort element displayed as ``name`` (``v1``), if any."""
        for s in self.sorts.values():
            if name.startswith(s.prefix):
                tail = name[len(s.prefix):]
                if tail.isascii() and tail.isdigit() and len(tail) <= 6 and s.element(int(tail)) == name:
                    return s, int(tail)
        return None

    def known(self) -> list[str]:
        return [*self.vars, *self.defs, *self.values, *self.ctors, *self.sorts, *BUILTINS]


def parse_expr(
    text: str,
    model: object,
    *,
    locals: Mapping[str, Domain | Sort | Local] | None = None,
    expect_bool: bool = True,
    sizes: Mapping[str, int] | None = None,
    what: str = "query",
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
) -> Expr:
    """Parse ``text`` (the syntax :func:`~lbrspec.lang.pretty.show` prints) into an expression
    of ``model``.

    ``locals`` names free variables the text may use (a transition's parameters, say): each is
    given by its domain (or sort), for which a fresh :class:`Local` is made, or as a
    :class:`Local` that the expression then refers to.  With ``expect_bool`` the result must be
    a boolean.  With ``sizes`` (instance sizes by sort name) a named element the instance lacks
    (``v5`` among 2 vCPUs) is refused.  Errors are :class:`InputError` of one line starting with
    ``what``.
    """
    if not isinstance(text, str):
        raise InputError(f"{what}: expected text, got {type(text).__name__}")
    if len(text) > max_length:
        raise InputError(f"{what}: the text is {len(text)} characters long, more than the {max_length} allowed")
    return _Parser(text, model, locals or {}, sizes, what, max_depth).parse(expect_bool)


class _Parser:
    def __init__(self, text: str, model: object, locals: Mapping[str, Domain | Sort | Local],
                 sizes: Mapping[str, int] | None, what: str, max_depth: int) -> None:
        self.text = text
        self.what = what
        self.max_depth = max_depth
        self.depth = 0
        self.voc = _Vocabulary(model)
        self.sizes = dict(sizes) if sizes is not None else None
        self.scope: list[tuple[str, Local]] = []
        for name, d in locals.items():
            if isinstance(d, Local):
                self.scope.append((name, d))
            elif isinstance(d, (Domain, Sort)):
                self.scope.append((name, Local(name, SortDomain(d) if isinstance(d, Sort) else d)))
            else:
                raise InputError(f"{what}: local '{name}' must be given a domain, a sort or a Local, got {type(d).__name__}")
        self.toks = self._tokenise()
        self.i = 0

    # -- errors ---------------------------------------------------------------------------
    def error(self, pos: int, message: str) -> InputError:
        message = " ".join(message.split())
        if "\n" in self.text:
            line = self.text.count("\n", 0, pos) + 1
            col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
            return InputError(f"{self.what}: at line {line}, column {col}: {message}")
        return InputError(f"{self.what}: at column {pos + 1}: {message}")

    def build(self, pos: int, fn: Callable[..., Expr], *args: object) -> Expr:
        try:
            return fn(*args)
        except (LangTypeError, ValueError) as e:
            raise self.error(pos, str(e)) from None

    @staticmethod
    def _quote(text: str) -> str:
        return repr(text if len(text) <= 30 else text[:30] + "...")

    def _suggest(self, name: str, choices: Iterable[str]) -> str:
        close = difflib.get_close_matches(name, sorted(set(choices)), n=3)
        return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""

    # -- tokens ---------------------------------------------------------------------------
    def _tokenise(self) -> list[_Tok]:
        toks: list[_Tok] = []
        pos, text = 0, self.text
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.error(pos, f"unexpected character {text[pos]!r}")
            kind = m.lastgroup
            if kind in ("bad", "bad1"):
                raise self.error(pos, f"unexpected {m.group()!r}: {_HINTS[m.group()]}")
            if kind != "ws":
                toks.append(_Tok(kind, m.group(), pos))  # type: ignore[arg-type]
            pos = m.end()
        toks.append(_Tok("end", "", len(text)))
        if len(toks) == 1:
            raise self.error(0, "empty expression")
        return toks

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, *texts: str) -> bool:
        t = self.tok
        return t.kind in ("op", "ident") and t.text in texts

    def take(self) -> _Tok:
        t = self.tok
        if t.kind != "end":
            self.i += 1
        return t

    def describe(self, t: _Tok) -> str:
        return "the end of the text" if t.kind == "end" else self._quote(t.text)

    def expect(self, text: str, context: str = "") -> _Tok:
        if not self.at(text):
            t = self.tok
            extra = f" {context}" if context else ""
            raise self.error(t.pos, f"expected '{text}'{extra}, got {self.describe(t)}")
        return self.take()

    def ident(self, what: str) -> _Tok:
        t = self.tok
        if t.kind != "ident" or t.text in KEYWORDS:
            raise self.error(t.pos, f"expected {what}, got {self.describe(t)}")
        return self.take()

    def integer(self) -> tuple[int, int]:
        """An integer literal, with an optional minus sign: (value, position)."""
        pos = self.tok.pos
        neg = self.at("-")
        if neg:
            self.take()
        t = self.tok
        if t.kind != "int":
            raise self.error(t.pos, f"expected an integer, got {self.describe(t)}")
        if len(t.text) > _MAX_DIGITS:
            raise self.error(t.pos, f"integer {self._quote(t.text)} is too large")
        self.take()
        return (-int(t.text) if neg else int(t.text)), pos

    # -- nesting --------------------------------------------------------------------------
    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error(pos, f"the expression is nested more than {self.max_depth} deep")

    # -- resolution of bare names ---------------------------------------------------------
    def resolve(self, item: _Item, dom: Domain | None) -> Expr:
        """``item`` as an expression, bare names taken from ``dom`` when they can be."""
        if isinstance(item, Expr):
            return item
        if isinstance(item, _CtorApp):
            if isinstance(dom, UnionDomain) and item.name in [c for c, _ in dom.ctors]:
                return self.build(item.pos, Ctor, dom, item.name, item.arg)
            cands = self.voc.ctors[item.name]
            if len(cands) == 1:
                return self.build(item.pos, Ctor, cands[0], item.name, item.arg)
            raise self.error(item.pos, f"constructor '{item.name}' belongs to "
                             f"{' and '.join(d.name for d in cands)}: compare it with a value of one of them")
        name = item.name
        if isinstance(dom, EnumDomain) and name in dom.members:
            if item.fallback is not None and item.fallback.dom == dom:
                return item.fallback
            return Lit(dom, dom.members.index(name))
        if isinstance(dom, UnionDomain) and name in dom.consts:
            if item.fallback is not None and item.fallback.dom == dom:
                return item.fallback
            return Lit(dom, dom.consts.index(name))
        if item.fallback is not None:
            return item.fallback
        if isinstance(dom, EnumDomain) and name in dom.absent:
            raise self.error(item.pos, dom.missing(name))
        cands = self.voc.values.get(name, [])
        if isinstance(dom, (EnumDomain, UnionDomain)):
            values = dom.members if isinstance(dom, EnumDomain) else dom.consts
            raise self.error(item.pos, f"{name!r} is not a value of {dom.name} ({', '.join(values) or 'no constants'})"
                             + self._suggest(name, values))
        if len(cands) == 1:
            d = cands[0]
            return Lit(d, d.members.index(name) if isinstance(d, EnumDomain) else d.consts.index(name))  # type: ignore[union-attr]
        raise self.error(item.pos, f"{name!r} is a value of {' and of '.join(d.name for d in cands)}: "
                         "compare it with a value of one of them to say which")

    def pair(self, a: _Item, b: _Item) -> tuple[Expr, Expr]:
        """Two operands that meet (``a = b``): a bare name takes the other's domain."""
        if isinstance(a, Expr):
            return a, self.resolve(b, a.dom)
        if isinstance(b, Expr):
            return self.resolve(a, b.dom), b
        ea = self.resolve(a, None)
        return ea, self.resolve(b, ea.dom)

    def boolean(self, item: _Item, pos: int, what: str) -> Expr:
        e = self.resolve(item, BOOL)
        if not isinstance(e.dom, BoolDomain):
            raise self.error(pos, f"{what} needs a boolean, got {e.dom.name}")
        return e

    # -- grammar --------------------------------------------------------------------------
    def parse(self, expect_bool: bool) -> Expr:
        start = self.tok.pos
        item = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            raise self.error(t.pos, f"unexpected {self.describe(t)} after a complete expression"
                             + (" (unbalanced parentheses?)" if t.text in (")", "]") else ""))
        if expect_bool:
            e = self.resolve(item, BOOL)
            if not isinstance(e.dom, BoolDomain):
                raise self.error(start, f"expected a condition (a boolean), got a value of {e.dom.name}")
            return e
        return self.resolve(item, None)

    def expr(self) -> _Item:
        self.enter(self.tok.pos)
        try:
            return self.climb(0)
        finally:
            self.depth -= 1

    def climb(self, min_prec: int) -> _Item:
        """Precedence climbing over the binary operators (few stack frames per nesting level):
        ``=>`` 1 (right-associative), ``or`` 2, ``and`` 3, ``not`` 4 (prefix), comparisons 5
        (not associative), ``+ -`` 6, ``* %`` 7 (left-associative)."""
        if self.at("not") and min_prec <= 4:
            pos = self.take().pos
            self.enter(pos)
            try:
                arg = self.climb(4)
            finally:
                self.depth -= 1
            left: _Item = self.build(pos, Not, self.boolean(arg, pos, "'not'"))
        else:
            left = self.postfix()
        while True:
            t = self.tok
            prec = _BINARY.get(t.text) if t.kind in ("op", "ident") else None
            if prec is None or prec < min_prec:
                return left
            op = self.take()
            if op.text == "=>":
                self.enter(op.pos)
                try:
                    right = self.climb(1)
                finally:
                    self.depth -= 1
                left = self.build(op.pos, Implies, self.boolean(left, op.pos, "'=>'"), self.boolean(right, op.pos, "'=>'"))
            elif op.text in ("or", "and"):
                a = self.boolean(left, op.pos, f"'{op.text}'")
                b = self.boolean(self.climb(prec + 1), op.pos, f"'{op.text}'")
                left = self.build(op.pos, Or if op.text == "or" else And, a, b)
            elif prec == 5:
                left = self.comparison(op, left, self.climb(6))
                if self.at(*_CMP_OPS):
                    raise self.error(self.tok.pos, f"'{op.text}' and '{self.tok.text}' chained: add parentheses")
            else:
                x, y = self.pair(left, self.climb(prec + 1))
                if op.text == "*" and isinstance(x, Lit) and not isinstance(y, Lit):
                    x, y = y, x  # 3 * n is n * 3
                left = self.build(op.pos, Arith, op.text, x, y)

    def comparison(self, op: _Tok, a: _Item, b: _Item) -> Expr:
        x, y = self.pair(a, b)
        if op.text == "=":
            return self.build(op.pos, Eq, x, y)
        if op.text == "!=":
            return self.build(op.pos, lambda: Not(Eq(x, y)))
        if op.text in ("<", "<="):
            return self.build(op.pos, Cmp, op.text, x, y)
        return self.build(op.pos, Cmp, "<" if op.text == ">" else "<=", y, x)

    def postfix(self) -> _Item:
        a = self.primary()
        if self.at("is"):
            pos = self.take().pos
            t = self.tok
            if t.kind != "ident":
                raise self.error(t.pos, f"expected a tag after 'is', got {self.describe(t)}")
            self.take()
            x = self.resolve(a, None)
            if not isinstance(x.dom, UnionDomain):
                raise self.error(pos, f"'is' tests the tag of a union value, got a value of {x.dom.name}")
            if isinstance(x.dom, UnionDomain) and t.text not in x.dom.consts + tuple(c for c, _ in x.dom.ctors):
                tags = list(x.dom.consts) + [c for c, _ in x.dom.ctors]
                raise self.error(t.pos, f"{t.text!r} is not a tag of {x.dom.name} ({', '.join(tags)})"
                                 + self._suggest(t.text, tags))
            return self.build(pos, IsTag, x, t.text)
        return a

    def primary(self) -> _Item:
        t = self.tok
        if t.kind == "int" or (self.at("-") and self.peek().kind == "int"):
            value, _ = self.integer()
            return Lit(RangeDomain(value, value), value)
        if self.at("-"):
            raise self.error(t.pos, "a minus sign in front of a value is only allowed before an integer: write '0 - x'")
        if self.at("("):
            self.take()
            item = self.expr()
            if not self.at(")"):
                raise self.error(self.tok.pos, f"expected ')' to close the '(' at column {t.pos + 1}, got {self.describe(self.tok)}")
            self.take()
            return item
        if t.kind == "ident":
            if t.text in ("true", "false"):
                self.take()
                return Lit(BOOL, int(t.text == "true"))
            if t.text == "if":
                return self.ite()
            if t.text in ("forall", "exists"):
                return self.quant()
            if t.text in KEYWORDS:
                raise self.error(t.pos, f"expected a value, got the keyword {t.text!r}")
            return self.name()
        if t.kind == "end":
            raise self.error(t.pos, "unexpected end of the text: a value is missing")
        raise self.error(t.pos, f"expected a value, got {self.describe(t)}")

    def ite(self) -> _Item:
        pos = self.take().pos
        cond = self.boolean(self.expr(), pos, "if-then-else condition")
        self.expect("then", "after the condition of 'if'")
        then = self.expr()
        self.expect("else", "after the 'then' branch")
        else_ = self.expr()
        x, y = self.pair(then, else_)
        return self.build(pos, Ite, cond, x, y)

    def quant(self) -> _Item:
        q = self.take()
        name = self.ident("the name of a bound variable").text
        self.expect(":", f"after '{q.text} {name}'")
        dom = self.domain()
        self.expect(".", f"after the domain of '{name}'")
        x = Local(name, dom)
        self.scope.append((name, x))
        try:
            body = self.boolean(self.expr(), q.pos, f"'{q.text}'")
        finally:
            self.scope.pop()
        return self.build(q.pos, Quant, q.text == "forall", x, body)

    def domain(self) -> Domain:
        t = self.tok
        if t.kind == "int" or self.at("-"):
            lo, _ = self.integer()
            self.expect("..", "in a range lo..hi")
            hi, _ = self.integer()
            if lo > hi:
                raise self.error(t.pos, f"empty range {lo}..{hi}")
            return RangeDomain(lo, hi)
        if t.kind != "ident":
            raise self.error(t.pos, f"expected a sort or domain name, got {self.describe(t)}")
        self.take()
        if t.text in self.voc.sorts:
            return SortDomain(self.voc.sorts[t.text])
        if t.text == "bool":
            return BOOL
        doms = self.voc.by_name.get(t.text)
        if doms:
            return doms[0]
        names = [*self.voc.sorts, *self.voc.by_name, "bool"]
        raise self.error(t.pos, f"unknown sort or domain {t.text!r} (known: {', '.join(names)})"
                         + self._suggest(t.text, names))

    def args(self, open_: str, close: str, owner: str) -> list[_Item]:
        opened = self.take()
        items: list[_Item] = []
        if not self.at(close):
            items.append(self.expr())
            while self.at(","):
                self.take()
                items.append(self.expr())
        if not self.at(close):
            raise self.error(self.tok.pos, f"expected ',' or '{close}' to close the '{open_}' of {owner} "
                             f"at column {opened.pos + 1}, got {self.describe(self.tok)}")
        self.take()
        return items

    def name(self) -> _Item:
        t = self.take()
        name = t.text
        if not self.at("(", "["):
            for n, loc in reversed(self.scope):
                if n == name:
                    return loc
        if self.at("(") and name in BUILTINS:
            return self.builtin(t)
        if self.at("["):
            return self.var_ref(t)
        if self.at("("):
            return self.call(t)
        if name in self.voc.vars:
            v = self.voc.vars[name]
            if v.index:
                raise self.error(t.pos, f"'{name}' takes {self._index_desc(v)}, got 0: write {name}[...]")
            ref = VarRef(v, ())
            return _Name(name, t.pos, ref) if name in self.voc.values else ref
        el = self.voc.element(name)
        if el is not None:
            return self.sort_const(t.pos, el[0], el[1])
        if name in self.voc.values:
            return _Name(name, t.pos)
        if name in self.voc.defs:
            raise self.error(t.pos, f"'{name}' is a definition: write {name}(...)")
        if name in self.voc.ctors:
            raise self.error(t.pos, f"'{name}' is a constructor: write {name}(...) with an element")
        if name in self.voc.absent:
            raise self.error(t.pos, self.voc.absent[name].missing(name))
        if name in self.voc.sorts:
            raise self.error(t.pos, f"'{name}' is a sort, not a value: name an element or quantify over it")
        raise self.error(t.pos, self._unknown(name))

    def _unknown(self, name: str) -> str:
        known = self.voc.known() + [n for n, _ in self.scope]
        hint = self._suggest(name, known)
        if not hint:
            hint = f"; the variables are {', '.join(list(self.voc.vars)[:12])}" + (", ..." if len(self.voc.vars) > 12 else "")
        return f"unknown name {name!r}" + hint

    @staticmethod
    def _index_desc(v: Var) -> str:
        n = len(v.index)
        kinds = ", ".join(("a " if isinstance(d, SortDomain) else "") + d.name for d in v.index)
        return f"{n} {'index' if n == 1 else 'indexes'} ({kinds})"

    def sort_const(self, pos: int, sort: Sort, index: int, from_end: bool = False) -> Expr:
        if self.sizes is not None and sort.name in self.sizes and index >= self.sizes[sort.name]:
            n = self.sizes[sort.name]
            shown = f"last({sort.name}) - {index}" if from_end else sort.element(index)
            raise self.error(pos, f"{shown} is not an element of {sort.name} in this instance "
                             f"({n} element{'s' if n != 1 else ''}: {', '.join(sort.element(i) for i in range(min(n, 4)))}"
                             f"{', ...' if n > 4 else ''})")
        return SortConst(sort, index, from_end)

    def builtin(self, t: _Tok) -> _Item:
        name = t.text
        if name in ("first", "last"):
            self.take()
            s = self.ident("a sort name")
            if s.text not in self.voc.sorts:
                raise self.error(s.pos, f"{name}() takes a sort, and {s.text!r} is not one (sorts: "
                                 f"{', '.join(self.voc.sorts)})" + self._suggest(s.text, self.voc.sorts))
            self.expect(")", f"to close {name}(")
            sort = self.voc.sorts[s.text]
            if name == "first":
                return self.sort_const(t.pos, sort, 0)
            k = 0
            if self.at("-") and self.peek().kind == "int":
                self.take()
                k, _ = self.integer()
            return self.sort_const(t.pos, sort, k, from_end=True)
        items = self.args("(", ")", f"{name}()")
        if len(items) not in (1, 2):
            raise self.error(t.pos, f"{name}() takes an element and an optional step, got {len(items)} argument(s)")
        arg = self.resolve(items[0], None)
        k = 1
        if len(items) == 2:
            step = self.resolve(items[1], None)
            if not (isinstance(step, Lit) and isinstance(step.dom, RangeDomain)):
                raise self.error(t.pos, f"the step of {name}() must be an integer constant")
            k = step.code
        return self.build(t.pos, Shift, arg, k if name == "next" else -k)

    def var_ref(self, t: _Tok) -> Expr:
        name = t.text
        v = self.voc.vars.get(name)
        if v is None:
            what = ("a definition: call it with (...)" if name in self.voc.defs
                    else "a constructor: call it with (...)" if name in self.voc.ctors else None)
            raise self.error(t.pos, f"'{name}' is {what}" if what else self._unknown(name) + " (only variables take [...])")
        items = self.args("[", "]", f"'{name}'")
        if not v.index:
            raise self.error(t.pos, f"'{name}' has no index: write {name} without [...]")
        if len(items) != len(v.index):
            raise self.error(t.pos, f"'{name}' takes {self._index_desc(v)}, got {len(items)}")
        args = tuple(self.resolve(a, d) for a, d in zip(items, v.index))
        return self.build(t.pos, v._ref, args)

    def call(self, t: _Tok) -> _Item:
        name = t.text
        d = self.voc.defs.get(name)
        if d is not None:
            items = self.args("(", ")", f"{name}()")
            if len(items) != len(d.params):
                params = ", ".join(f"{p.name}: {p.dom.name}" for p in d.params)
                raise self.error(t.pos, f"{name} takes {len(d.params)} argument(s) ({params}), got {len(items)}")
            args = [self.resolve(a, p.dom) for a, p in zip(items, d.params)]
            return self.build(t.pos, d, *args)
        if name in self.voc.ctors:
            items = self.args("(", ")", f"{name}()")
            if len(items) != 1:
                raise self.error(t.pos, f"constructor '{name}' takes one element, got {len(items)} argument(s)")
            arg = self.resolve(items[0], None)
            cands = self.voc.ctors[name]
            if len(cands) == 1:
                return self.build(t.pos, Ctor, cands[0], name, arg)
            return _CtorApp(name, arg, t.pos)
        if name in self.voc.vars:
            v = self.voc.vars[name]
            raise self.error(t.pos, f"'{name}' is a variable: write "
                             + (f"{name}[...] with {self._index_desc(v)}" if v.index else f"{name} without (...)"))
        raise self.error(t.pos, self._unknown(name) + " (a call names a definition or a constructor)")


__all__ = ["MAX_DEPTH", "MAX_LENGTH", "parse_expr"]
