"""Projections: the product's reachable graph seen through a few terms the user names.

A *term* is a small expression over one instance, written the way lbrspec prints them::

    ev[v0]                 a slot
    rec[cpu[v0]]           a slot indexed by another slot's value (the LBR of v0's pCPU)
    owns(v0, cpu[v0])      a definition of the model applied to elements and slots
    pinned_holds(cpu[v0])  ... "a host CPU-pinned event holds the LBR of v0's pCPU"

The projection is the quotient of the reachable graph by the values of the terms: a node per
reachable combination of values (with the number of states it stands for), an edge ``a -> b``
labelled with every action that takes some state of ``a`` to some state of ``b`` (steps that
keep the values are not drawn).  A projection that would have more than ``max_nodes`` nodes
is *summarised*: the trailing terms are dropped until it fits, and the caption says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import InputError
from ..explicit.instance import Instance
from ..lang.domains import BoolDomain, SortDomain
from ..lang.expr import And, Apply, Eq, Expr, Implies, LangTypeError, Local, Not, Quant, VarRef, substitute
from ..lang.pretty import show
from ..trace.text import fmt_value
from ..analysis.stategraph import StateGraph
from .figure import Edge, Node, StateDiagram

DEFAULT_MAX_NODES = 60
MAX_LABELS = 4
#: The deepest nesting of brackets in a term (``sel[cpu[v0]]`` nests two deep); deeper terms are
#: refused before the parser's recursion gets anywhere near Python's limit.
MAX_TERM_DEPTH = 32

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[\[\](),])")


@dataclass
class Term:
    text: str
    expr: Expr
    env: dict[Local, int]


def parse_term(inst: Instance, text: str) -> Term:
    """Parse one term (see the module docstring); :class:`InputError` names what is wrong."""
    model = inst.model
    tokens = _tokens(text)
    shown = repr(text if len(text) <= 80 else text[:80] + "...")
    defs = {d.name: d for d in model.definitions}
    vars_ = {v.name: v for v in model.vars}
    env: dict[Local, int] = {}
    elements: dict[str, Local] = {}
    pos = 0
    depth = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise InputError(f"term {shown}: expected {expected or 'a name'}" + (f", got {tok!r}" if tok else " at the end"))
        pos += 1
        return tok

    def args(close: str) -> list[Expr]:
        nonlocal depth
        depth += 1
        if depth > MAX_TERM_DEPTH:
            raise InputError(f"term {shown}: nested more than {MAX_TERM_DEPTH} levels deep")
        out = [term()]
        while peek() == ",":
            take(",")
            out.append(term())
        take(close)
        depth -= 1
        return out

    def element(name: str) -> Local | None:
        for s in model.sorts:
            m = re.fullmatch(re.escape(s.prefix) + r"(\d+)", name)
            if m:
                i = int(m.group(1))
                if i >= inst.sizes[s]:
                    raise InputError(f"term {shown}: {name} does not exist with {inst.sizes[s]} {s.name}s")
                if name not in elements:
                    loc = Local(name, SortDomain(s))
                    elements[name] = loc
                    env[loc] = i
                return elements[name]
        return None

    def term() -> Expr:
        name = take()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"term {shown}: expected a name, got {name!r}")
        try:
            if peek() == "[":
                take("[")
                if name not in vars_:
                    raise InputError(f"term {shown}: {name!r} is not a variable of the model")
                return vars_[name][tuple(args("]"))]
            if peek() == "(":
                take("(")
                if name not in defs:
                    raise InputError(f"term {shown}: {name!r} is not a definition of the model "
                                     f"(definitions: {', '.join(sorted(defs))})")
                return defs[name](*args(")"))
            el = element(name)
            if el is not None:
                return el
            if name in vars_:
                return vars_[name][()]
            raise InputError(f"term {shown}: unknown name {name!r}")
        except LangTypeError as e:
            raise InputError(f"term {shown}: {e}") from None

    expr = term()
    if pos != len(tokens):
        raise InputError(f"term {shown}: unexpected {tokens[pos]!r}")
    return Term(text.strip(), expr, env)


def _tokens(text: str) -> list[str]:
    shown = repr(text if len(text) <= 80 else text[:80] + "...")
    out = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise InputError(f"term {shown}: unexpected character {text[i]!r}")
        out.append(m.group(1))
        i = m.end()
    if not out:
        raise InputError("an empty term")
    return out


@dataclass
class Projection:
    diagram: StateDiagram
    terms: list[str]  # the terms shown
    dropped: list[str]  # trailing terms dropped to fit max_nodes
    full_nodes: int  # nodes of the projection on every term asked for


def project(graph: StateGraph, texts: list[str], max_nodes: int = DEFAULT_MAX_NODES,
            highlight: Sequence[int] | None = None, highlight_text: str = "marked") -> Projection:
    """The projection of ``graph`` on the terms ``texts``; see the module docstring.  With
    ``highlight`` (a flag per state), a node that holds a flagged state is highlighted and its
    note counts them (``highlight_text`` says what they are)."""
    if not texts:
        raise InputError("name at least one term to project on (for example ev[v0])")
    inst = graph.instance
    terms = [parse_term(inst, t) for t in texts]
    values = [graph.values(t.expr, t.env) for t in terms]
    full = len(set(zip(*values)))
    k = len(terms)
    while k > 1 and len(set(zip(*values[:k]))) > max_nodes:
        k -= 1
    shown, dropped = terms[:k], terms[k:]
    keys = list(zip(*values[:k]))
    order: dict[tuple[int, ...], int] = {}
    count: dict[tuple[int, ...], int] = {}
    for key in keys:
        if key not in order:
            order[key] = len(order)
        count[key] = count.get(key, 0) + 1
    initial = {keys[s] for s in graph.initial}
    decl = {a.name: i for i, a in enumerate(inst.model.actions)}
    edges: dict[tuple[int, int], set[str]] = {}
    for s, out in enumerate(graph.succ):
        ks = keys[s]
        for t, aid in out:
            kt = keys[t]
            if kt != ks:
                edges.setdefault((order[ks], order[kt]), set()).add(graph.actions[aid].action.name)
    flagged: dict[tuple[int, ...], int] = {}
    if highlight is not None:
        for key, h in zip(keys, highlight):
            if h:
                flagged[key] = flagged.get(key, 0) + 1
    nodes = []
    for key, i in sorted(order.items(), key=lambda x: x[1]):
        lines = [_show(t, code, inst) for t, code in zip(shown, key)]
        n = count[key]
        note = f"{n:,} state{'s' if n != 1 else ''}" + (f", {flagged[key]:,} {highlight_text}" if key in flagged else "")
        nodes.append(Node(f"n{i}", lines, key in initial, note, highlight=key in flagged))
    out_edges = []
    for (a, b), names in sorted(edges.items()):
        ordered = sorted(names, key=lambda x: decl[x])
        if len(ordered) > MAX_LABELS:
            ordered = ordered[: MAX_LABELS - 1] + [f"+{len(ordered) - MAX_LABELS + 1} more"]
        out_edges.append(Edge(f"n{a}", f"n{b}", ordered))
    title = (f"projection on {', '.join(t.text for t in shown)}: {inst.model.variant.name}, {inst.describe()}, "
             f"{graph.n:,} states")
    caption = ""
    if dropped:
        caption = (f"summarised: on all {len(terms)} terms the projection has {full} nodes (more than {max_nodes}); "
                   f"dropped {', '.join(t.text for t in dropped)}")
    d = StateDiagram(title, nodes, out_edges, caption=caption)
    return Projection(d, [t.text for t in shown], [t.text for t in dropped], full)


def _show(t: Term, code: int, inst: Instance) -> str:
    val = t.expr.dom.decode(code, inst.sizes)
    if isinstance(t.expr.dom, BoolDomain):
        return t.text if val else f"not {t.text}"
    return f"{t.text}={fmt_value(val)}"


def property_terms(body: Expr, bindings: Sequence[tuple[str, str]], most: int = 3) -> list[str]:
    """The terms a projection of property ``body`` shows, at the quantifier ``bindings`` of a
    state that breaks it (``[("v", "v0"), ("p", "p0")]``, as :func:`lbrspec.explicit.explain.explain`
    gives them): the slots its premise compares (``pc[v0]``), then the definitions and slots of
    its conclusion (``owns(v0, p0)``); at most ``most``."""
    names = dict(bindings)
    mapping: dict[Local, Expr] = {}
    while isinstance(body, Quant) and body.universal and body.var.name in names:
        mapping[body.var] = Local(names[body.var.name], body.var.dom)
        body = body.body
    premise: list[Expr] = []
    if isinstance(body, Implies):
        premise = list(body.a.args) if isinstance(body.a, And) else [body.a]
        body = body.b
    conclusion = list(body.args) if isinstance(body, And) else [body]

    def slot(e: Expr) -> Expr | None:
        if isinstance(e, Not):
            e = e.arg
        if isinstance(e, VarRef):
            return e
        if isinstance(e, Eq):
            return e.a if isinstance(e.a, VarRef) else e.b if isinstance(e.b, VarRef) else None
        return None

    atoms = [a for a in (slot(e) for e in premise) if a is not None]
    for e in conclusion:
        e = e.arg if isinstance(e, Not) else e
        atoms.append(e if isinstance(e, Apply) else slot(e))
    out: list[str] = []
    for a in atoms:
        if a is None:
            continue
        text = show(substitute(a, mapping))
        if text not in out and not any(x.name in text for x in free_of(a, mapping)):
            out.append(text)
    return out[:most]


def free_of(e: Expr, mapping: dict[Local, Expr]) -> list[Local]:
    """The locals of ``e`` left unbound by ``mapping`` (a term with them cannot be drawn)."""
    from ..lang.expr import free_locals

    return [x for x in free_locals(e) if x not in mapping]
