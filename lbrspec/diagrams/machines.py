"""Per-machine diagrams: a machine's control states and its labelled transitions.

A machine is a family indexed by sorts (one ``kvm`` machine per vCPU, one ``lbr_hw`` per
pCPU).  Its diagram shows the first member of the family (``v0``, ``p0``, ``h0``) through its
*control variables*, and is read off the reachable graph of the product, so it shows what the
composed design can do, not what a machine could do alone:

* **control variables** are chosen by a rule on the data: the machine's enum variables first,
  then its union variables (by tag: ``vcpu(_)``) and booleans, in declaration order, each kept
  while the number of reachable combinations grows and stays within ``limit`` (12 by default); ghosts
  are used only for a machine that has nothing else, sort-valued variables (``cpu[v]``) never.
  A caller may name the variables instead.
* a **node** is a reachable combination of their values; **initial** nodes are those of initial
  states;
* an **edge** ``a -> b`` labelled ``t`` exists when some reachable step contains this machine's
  transition ``t`` and moves the first member from ``a`` to ``b``.  A step that leaves the
  control state as it was is drawn as a loop only if the transition is about the first member
  (its parameters name ``v0``) and either changes another of the member's variables or changes
  nothing by design (an observation such as the guest's direct access).  Guards are abbreviated
  to the conjuncts on the machine's own variables first (see :func:`abbreviate_guard`).  Each transition is labelled with its guard, abbreviated,
  printed with definitions kept by name (``owns(v, p)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..explicit.evaluate import evaluate
from ..lang.domains import BoolDomain, EnumDomain, SortDomain, UnionDomain
from ..lang.expr import And, Apply, Expr, Lit, Var, expand, vars_read, walk
from ..lang.machine import Machine, Transition
from ..lang.pretty import show
from ..analysis.stategraph import StateGraph
from .figure import Edge, Node, StateDiagram

#: The most control states a machine diagram may have (a screen's worth, with room to spare).
DEFAULT_LIMIT = 12
GUARD_WIDTH = 34


@dataclass
class MachineView:
    """What a machine diagram shows: the machine, its control variables, the member shown."""

    machine: Machine
    control: list[Var]
    element: str  # "v0", "p0", "h0" or "" for an unindexed machine


def abbreviate_guard(guard: Expr, width: int = GUARD_WIDTH, own: set[Var] | None = None) -> str:
    """The guard as text, cut at a conjunct boundary to about ``width`` characters ("" if true).

    With ``own`` (the machine's variables), the conjuncts that read them come first: they say
    what the transition needs of its own machine; then direct reads of other machines'
    variables; then named definitions (``runs_on(v, p)``...), which are what "…" usually stands
    for when the text is cut."""
    if isinstance(guard, Lit) and guard.code == 1:
        return ""
    conj = list(guard.args) if isinstance(guard, And) else [guard]
    if own:
        def rank(c: Expr) -> int:
            if vars_read(expand(c)) & own:
                return 0
            return 2 if any(isinstance(n, Apply) for n in walk(c)) else 1

        conj = sorted(conj, key=rank)  # stable: the model's order within each rank
    parts = [show(a) for a in conj]
    text = parts[0]
    for p in parts[1:]:
        if len(text) + len(p) + 5 > width:
            return text + " and …"
        text += " and " + p
    if len(text) > width + 8:
        return text[: width].rstrip() + "…"
    return text


def transition_label(t: Transition) -> str:
    g = abbreviate_guard(t.guard, own=set(t.machine.vars))
    return f"{t.name} [{g}]" if g else t.name


def _candidates(m: Machine) -> list[Var]:
    own = [v for v in m.vars if not isinstance(v.dom, SortDomain)]
    real = [v for v in own if not v.ghost] or own
    enums = [v for v in real if isinstance(v.dom, EnumDomain)]
    rest = [v for v in real if isinstance(v.dom, (UnionDomain, BoolDomain)) and v not in enums]
    return enums + rest


def _slot(graph: StateGraph, v: Var) -> int:
    return graph.instance.slot_at(v, [0] * len(v.index))


def _value(graph: StateGraph, v: Var, code: int) -> str:
    """``code`` is a stored slot code of ``v``."""
    code = int(code) + v.dom.offset
    val = v.dom.decode(code, graph.instance.sizes)
    if isinstance(v.dom, BoolDomain):
        return v.name if val else f"not {v.name}"
    if isinstance(v.dom, UnionDomain):
        tag = v.dom.decode(code, graph.instance.sizes)
        t = getattr(tag, "tag", str(tag))
        return f"{v.name}={t}" if t in v.dom.consts else f"{v.name}={t}(_)"
    return f"{v.name}={val}"


def _key(graph: StateGraph, v: Var, code: int) -> object:
    if isinstance(v.dom, UnionDomain):
        return getattr(v.dom.decode(code, graph.instance.sizes), "tag")
    return code


def choose_view(graph: StateGraph, machine: str, control: list[str] | None = None, limit: int = DEFAULT_LIMIT) -> MachineView:
    """The machine and its control variables (named, or chosen by the rule of the module docstring)."""
    model = graph.instance.model
    try:
        m = model.machine(machine)
    except KeyError:
        raise InputError(f"unknown machine {machine!r}; machines: {', '.join(x.name for x in model.machines)}") from None
    if control:
        chosen = []
        for name in control:
            v = next((x for x in m.vars if x.name == name), None)
            if v is None:
                raise InputError(f"machine {machine} has no variable {name!r}; its variables: {', '.join(x.name for x in m.vars)}")
            if isinstance(v.dom, SortDomain):
                raise InputError(f"{name} holds a {v.dom.name}, not a control state; choose another variable")
            chosen.append(v)
    else:
        chosen: list[Var] = []
        count = 1
        for v in _candidates(m):
            trial = chosen + [v]
            n = len(_reachable_keys(graph, trial))
            # keep a variable only if it tells states apart and the diagram stays small
            if (n > count and n <= limit) or not chosen:
                chosen, count = trial, n
    sorts = {s for v in chosen for s in v.index_sorts}
    element = ", ".join(s.element(0) for s in graph.instance.model.sorts if s in sorts)
    return MachineView(m, chosen, element)


def _keyer(graph: StateGraph, vs: list[Var]):
    """A function from a state to its control key: a tuple of codes, union values by tag."""
    slots = [_slot(graph, v) for v in vs]
    tables = [[_key(graph, v, c) for c in range(v.dom.size(graph.instance.sizes))] for v in vs]
    pairs = list(zip(slots, tables))
    return lambda s: tuple(t[s[i]] for i, t in pairs)


def _reachable_keys(graph: StateGraph, vs: list[Var]) -> set[tuple[object, ...]]:
    key = _keyer(graph, vs)
    return {key(s) for s in graph.states}


def machine_diagram(graph: StateGraph, view: MachineView) -> StateDiagram:
    """The diagram of ``view`` read off ``graph``; see the module docstring."""
    inst = graph.instance
    vs = view.control
    slots = [_slot(graph, v) for v in vs]
    key = _keyer(graph, vs)

    order: dict[tuple[object, ...], int] = {}
    labels: dict[tuple[object, ...], list[str]] = {}
    initial: set[tuple[object, ...]] = set()
    initial_ids = set(graph.initial)
    kid: list[int] = []
    for sid, s in enumerate(graph.states):
        k = key(s)
        if k not in order:
            order[k] = len(order)
            labels[k] = [_value(graph, v, s[i]) for v, i in zip(vs, slots)]
        if sid in initial_ids:
            initial.add(k)
        kid.append(order[k])
    index_sorts = set(s for v in view.machine.vars for s in v.index_sorts)
    own_slots = [_slot(graph, v) for v in view.machine.vars]
    parts_of = [_machine_parts(graph, aid, view.machine, index_sorts) for aid in range(len(graph.actions))]
    edges: dict[tuple[int, int], list[Transition]] = {}
    for sid in range(graph.n):
        ks = kid[sid]
        for t, aid in graph.succ[sid]:
            parts = parts_of[aid]
            if not parts:
                continue
            kt = kid[t]
            for tr, about_first in parts:
                if ks == kt and not (about_first and (not tr.updates or _changes(graph, sid, t, own_slots))):
                    continue
                lst = edges.setdefault((ks, kt), [])
                if tr not in lst:
                    lst.append(tr)
    nodes = [Node(f"s{i}", labels[k], k in initial) for k, i in sorted(order.items(), key=lambda x: x[1])]
    decl = {t: i for i, t in enumerate(view.machine.transitions)}
    out_edges = [
        Edge(f"s{a}", f"s{b}", [transition_label(t) for t in sorted(ts, key=lambda t: decl[t])])
        for (a, b), ts in sorted(edges.items())
    ]
    names = ", ".join(v.name for v in vs)
    who = f" of {view.element}" if view.element else ""
    title = (f"machine {view.machine.name}: control states{who} ({names}), reachable in "
             f"{inst.model.variant.name} with {inst.describe()}")
    return StateDiagram(title, nodes, out_edges, direction="TB")


def _changes(graph: StateGraph, s: int, t: int, slots: list[int]) -> bool:
    a, b = graph.state(s), graph.state(t)
    return any(a[i] != b[i] for i in slots)


def _machine_parts(graph: StateGraph, aid: int, m: Machine, index_sorts: set) -> list[tuple[Transition, bool]]:
    """This machine's transitions in action instance ``aid``, and whether each is about the
    first member of the family (one of its arguments of an index sort is element 0)."""
    ai = graph.actions[aid]
    env = dict(zip(ai.action.params, ai.params))
    out = []
    for part in ai.action.parts:
        t = part.transition
        if t.machine is not m:
            continue
        about = False
        for arg in part.args:
            if isinstance(arg.dom, SortDomain) and arg.dom.sort in index_sorts:
                if int(evaluate(arg, graph.instance, (), env)) == 0:
                    about = True
        if not index_sorts:
            about = True
        out.append((t, about))
    return out
