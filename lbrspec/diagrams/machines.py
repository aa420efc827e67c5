"""Per-machine diagrams: a machine's control states and its labelled transitions.

A machine is a family indexed by sorts (one ``kvm`` machine per vCPU, one ``lbr_hw`` per
pCPU).  Its diagram shows the first member of the family (``v0``, ``p0``, ``h0``) through its
*control variables*, and is read off the reachable graph of the product, so it shows what the
composed design can do, not what a machine could do alone:

* **control variables** are chosen by a rule on the data: the machine's enum variables first,
  then its union variables (by tag: ``vcpu(_)``) and booleans, in declaration order, each kept
  while the number of reachable combinations grows and stays within ``limit`` (12 by default); ghosts
  are used only for a machine that has nothing else, sort-valued variables (``cpu[v]``) never.
  A variable that would only *double* the picture is left out, and the caption says so: one
  whose every value occurs with every combination of the variables chosen before it, and for
  which each value's half of the diagram has the same edges between different states (the
  guest's ``dbg`` bit, in the merged design's diagram of KVM).  A caller may name the variables instead.
* a **node** is a reachable combination of their values; **initial** nodes are those of initial
  states;
* an **edge** ``a -> b`` labelled ``t`` exists when some reachable step contains this machine's
  transition ``t`` and moves the first member from ``a`` to ``b``.  A step that leaves the
  control state as it was is drawn as a loop only if the transition is about the first member
  (its parameters name ``v0``) and either changes another of the member's variables or changes
  nothing by design (an observation such as the guest's direct access).  Guards are abbreviated
  to the conjuncts on the machine's own variables first (see :func:`abbreviate_guard`).  Each transition is labelled with its guard, abbreviated,
  printed with definitions kept by name (``owns(v, p)``).
* a transition whose update of a control variable is conditional (``pc[v] := if owns(v, p)
  then ACCESS else IDLE``) names, on each edge, the **branch** it took there (``when owns(v,
  p)``, ``when not owns(v, p)``), so that its outcomes no longer carry the same label.  The
  branch is computed for every step with the reference semantics; an edge reached by several
  branches names none.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..explicit.evaluate import evaluate
from ..lang.domains import BoolDomain, EnumDomain, SortDomain, UnionDomain
from ..lang.expr import FALSE, TRUE, And, Apply, Assign, Expr, Ite, Lit, Local, Not, Or, Var, expand, vars_read, walk
from ..lang.machine import Machine, Transition
from ..lang.spec import Part
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
    hidden: tuple[Var, ...] = ()  # variables left out because they would only double the picture


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


def transition_label(t: Transition, branch: str = "") -> str:
    g = abbreviate_guard(t.guard, own=set(t.machine.vars))
    text = f"{t.name} [{g}]" if g else t.name
    return f"{text}\nwhen {branch}" if branch else text


def negate(e: Expr) -> Expr:
    """``not e``, pushed through ``and``/``or`` so that it prints the way a reader would say it."""
    if isinstance(e, Not):
        return e.arg
    if isinstance(e, And):
        return Or(*[negate(a) for a in e.args])
    if isinstance(e, Or):
        return And(*[negate(a) for a in e.args])
    if isinstance(e, Lit) and isinstance(e.dom, BoolDomain):
        return FALSE if e.code else TRUE
    return Not(e)


def branches(value: Expr) -> list[tuple[Expr, str]]:
    """The branches of a conditional value (``if c then a else b``, nested anywhere): for each
    leaf of the tree, the condition that leads to it (expanded, for evaluation) and its text,
    ``c`` for the then part and ``not c`` for the else part, joined by ``and``; [] if
    ``value`` is not conditional."""
    out: list[tuple[Expr, str]] = []

    def walk_tree(e: Expr, path: tuple[Expr, ...]) -> None:
        if isinstance(e, Ite):
            walk_tree(e.then, path + (e.cond,))
            walk_tree(e.else_, path + (negate(e.cond),))
        elif path:
            cond = path[0] if len(path) == 1 else And(*path)
            out.append((expand(cond), show(cond)))

    walk_tree(value, ())
    return out


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
        hidden: list[Var] = []
        count = 1
        for v in _candidates(m):
            trial = chosen + [v]
            n = len(_reachable_keys(graph, trial))
            # keep a variable only if it tells states apart and the diagram stays small
            if (n > count and n <= limit) or not chosen:
                if chosen and n == count * len(_reachable_keys(graph, [v])) and _halves_alike(graph, m, chosen, v):
                    hidden.append(v)  # it would only double the picture
                    continue
                chosen, count = trial, n
        sorts = {s for v in chosen for s in v.index_sorts}
        element = ", ".join(s.element(0) for s in graph.instance.model.sorts if s in sorts)
        return MachineView(m, chosen, element, tuple(hidden))
    sorts = {s for v in chosen for s in v.index_sorts}
    element = ", ".join(s.element(0) for s in graph.instance.model.sorts if s in sorts)
    return MachineView(m, chosen, element)


def _halves_alike(graph: StateGraph, m: Machine, chosen: list[Var], v: Var) -> bool:
    """Whether, in the diagram over ``chosen + [v]``, each value of ``v`` has the same edges
    between different values of ``chosen`` (loops, and edges that change ``v``, aside): ``v``
    only doubles the picture."""
    halves: dict[object, set[tuple[object, object, str]]] = {}
    for (ks, kt), trs in _edges(graph, m, chosen + [v]).items():
        halves.setdefault(ks[-1], set())
        halves.setdefault(kt[-1], set())
        if ks[-1] == kt[-1] and ks[:-1] != kt[:-1]:
            halves[ks[-1]].update((ks[:-1], kt[:-1], t.name) for t in trs)
    return len(halves) > 1 and all(h == next(iter(halves.values())) for h in halves.values())


def _keyer(graph: StateGraph, vs: list[Var]):
    """A function from a state to its control key: a tuple of codes, union values by tag."""
    slots = [_slot(graph, v) for v in vs]
    tables = [[_key(graph, v, c) for c in range(v.dom.size(graph.instance.sizes))] for v in vs]
    pairs = list(zip(slots, tables))
    return lambda s: tuple(t[s[i]] for i, t in pairs)


def _reachable_keys(graph: StateGraph, vs: list[Var]) -> set[tuple[object, ...]]:
    key = _keyer(graph, vs)
    return {key(s) for s in graph.states}


def _edges(graph: StateGraph, m: Machine, vs: list[Var]) -> dict[tuple[tuple, tuple], dict[Transition, set[tuple]]]:
    """The diagram's edges over control variables ``vs``: (source key, target key) -> each of the
    machine's transitions on it, with the branches of its conditional control updates taken
    there (see :func:`branches`; empty for a transition without one)."""
    key = _keyer(graph, vs)
    keys = [key(s) for s in graph.states]
    index_sorts = set(s for v in m.vars for s in v.index_sorts)
    own_slots = [_slot(graph, v) for v in m.vars]
    parts_of = [_machine_parts(graph, aid, m, index_sorts) for aid in range(len(graph.actions))]
    chooser = _BranchChooser(graph, set(vs))
    edges: dict[tuple[tuple, tuple], dict[Transition, set[tuple]]] = {}
    for sid in range(graph.n):
        ks = keys[sid]
        for t, aid in graph.succ[sid]:
            parts = parts_of[aid]
            if not parts:
                continue
            kt = keys[t]
            for tr, about_first, part in parts:
                if ks == kt and not (about_first and (not tr.updates or _changes(graph, sid, t, own_slots))):
                    continue
                taken = edges.setdefault((ks, kt), {}).setdefault(tr, set())
                b = chooser.branch(aid, part, sid)
                if b is not None:
                    taken.add(b)
    return edges


class _BranchChooser:
    """Which branch of a transition's conditional update of a control variable a step took."""

    def __init__(self, graph: StateGraph, control: set[Var]) -> None:
        self.graph = graph
        self.control = control
        self.plans: dict[tuple[int, int], tuple | None] = {}  # (action instance, id of the part) -> plan
        self.cache: dict[tuple[int, int, tuple], tuple[int | None, ...]] = {}

    def plan(self, aid: int, part: Part):
        key = (aid, id(part))
        if key not in self.plans:
            self.plans[key] = None
            tr = part.transition
            inst = self.graph.instance
            ai = self.graph.actions[aid]
            ups = conditional_updates(tr, self.control)
            if ups:
                read = [c for _, bs in ups for c, _ in bs] + [expand(a) for a in part.args]
                slots = sorted({i for e in read for v in vars_read(e)
                                for i in range(inst.base[v], inst.base[v] + len(inst.index_codes(v)))})
                self.plans[key] = (ups, dict(zip(ai.action.params, ai.params)), slots)
        return self.plans[key]

    def branch(self, aid: int, part: Part, sid: int) -> tuple[int | None, ...] | None:
        """The branch each conditional control update of ``part`` (action instance ``aid``)
        took from state ``sid`` (``None`` for an update of another member of the family);
        ``None`` if the transition has no conditional control update."""
        plan = self.plan(aid, part)
        if plan is None:
            return None
        ups, aenv, slots = plan
        s = self.graph.state(sid)
        ck = (aid, id(part), tuple(s[i] for i in slots))
        if ck not in self.cache:
            inst = self.graph.instance
            env = {p: int(evaluate(a, inst, s, aenv)) for p, a in zip(part.transition.params, part.args)}
            taken: list[int | None] = []
            for u, bs in ups:
                first = all(int(evaluate(a, inst, s, env)) == d.offset for a, d in zip(u.args, u.var.index))
                taken.append(next(i for i, (c, _) in enumerate(bs) if evaluate(c, inst, s, env)) if first else None)
            self.cache[ck] = tuple(taken)
        return self.cache[ck]


def conditional_updates(tr: Transition, control: set[Var]) -> list[tuple[Assign, list[tuple[Expr, str]]]]:
    """The updates of ``tr`` that set a control variable conditionally, with their branches."""
    return [(u, branches(u.value)) for u in tr.updates
            if isinstance(u, Assign) and u.var in control and branches(u.value)]


def branch_text(tr: Transition, control: set[Var], taken: tuple[int | None, ...], varying: set[int]) -> str:
    """The conditions of the branches ``taken`` by the updates in ``varying``."""
    ups = conditional_updates(tr, control)
    texts = []
    for k in sorted(varying):
        if taken[k] is not None:
            t = ups[k][1][taken[k]][1]
            t = f"({t})" if " or " in t and len(varying) > 1 else t
            if t not in texts:
                texts.append(t)
    return " and ".join(texts)


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
    for sid, s in enumerate(graph.states):
        k = key(s)
        if k not in order:
            order[k] = len(order)
            labels[k] = [_value(graph, v, s[i]) for v, i in zip(vs, slots)]
        if sid in initial_ids:
            initial.add(k)
    edges = _edges(graph, view.machine, vs)
    # a transition names its branch where its outcomes differ: an update taken with several branches in the diagram
    seen: dict[Transition, set[tuple]] = {}
    for trs in edges.values():
        for tr, bs in trs.items():
            seen.setdefault(tr, set()).update(bs)
    varying = {tr: {k for k in range(len(next(iter(bs)))) if len({b[k] for b in bs if b[k] is not None}) > 1}
               for tr, bs in seen.items() if bs}
    nodes = [Node(f"s{i}", labels[k], k in initial) for k, i in sorted(order.items(), key=lambda x: x[1])]
    decl = {t: i for i, t in enumerate(view.machine.transitions)}
    out_edges = []
    control = set(vs)
    for (a, b), trs in sorted(edges.items(), key=lambda e: (order[e[0][0]], order[e[0][1]])):
        out = []
        for tr in sorted(trs, key=lambda t: decl[t]):
            bs = trs[tr]
            branch = ""
            if varying.get(tr) and len(bs) == 1:
                branch = branch_text(tr, control, next(iter(bs)), varying[tr])
            out.append(transition_label(tr, branch))
        out_edges.append(Edge(f"s{order[a]}", f"s{order[b]}", out))
    names = ", ".join(v.name for v in vs)
    who = f" of {view.element}" if view.element else ""
    title = (f"machine {view.machine.name}: control states{who} ({names}), reachable in "
             f"{inst.model.variant.name} with {inst.describe()}")
    caption = ""
    if view.hidden:
        left = ", ".join(v.name for v in view.hidden)
        caption = (f"left out {left}: every one of {'its' if len(view.hidden) == 1 else 'their'} values occurs with "
                   f"every control state shown, with the same transitions, so it would only double the picture")
        title += f"; left out {left} (it would only double the picture)"
    return StateDiagram(title, nodes, out_edges, caption=caption, direction="TB")


def _changes(graph: StateGraph, s: int, t: int, slots: list[int]) -> bool:
    a, b = graph.state(s), graph.state(t)
    return any(a[i] != b[i] for i in slots)


def _machine_parts(graph: StateGraph, aid: int, m: Machine, index_sorts: set) -> list[tuple[Transition, bool, Part]]:
    """This machine's transitions in action instance ``aid``, whether each is about the first
    member of the family (one of its arguments of an index sort is element 0), and the part."""
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
        out.append((t, about, part))
    return out
