"""Breadth-first explicit-state exploration.

:func:`explore` visits every reachable state of an :class:`~lbrspec.explicit.instance.Instance`
in breadth-first order, checking every invariant on every state as it is discovered, so the
first violation found has a shortest trace.  It records one parent link per state (never a
stored trace), reports goals reached or unreached and deadlocks, and, when asked, keeps the
edges to build the reachable graph as a ``networkx.DiGraph``.  Output is deterministic: states
are numbered in discovery order and successors come in action-declaration order.

Budgets (``max_states``, ``max_seconds``, ``max_memory``) and Ctrl-C end the run as
*undetermined*, with the figures so far, never as *holds*.

This is the reference explorer, one state at a time; :mod:`lbrspec.explicit.vexplore` is the
fast one (numpy batches, packed states, symmetry reduction) that ``lbrspec check`` uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .. import runctl
from ..lang.spec import Model
from ..trace import Trace, trace_from_states
from .compile import Compiled, compile_instance
from .instance import Instance, State

#: The reference explorer checks its budgets every INIT_CHUNK initial states while it adds them
#: (an instance with fewer is explored exactly as if they were added at once).
INIT_CHUNK = 1 << 10

ProgressFn = Callable[[int, int, int, float], None]  # states, queue length, depth, seconds


@dataclass
class GoalStatus:
    name: str
    reached: bool
    state_id: int | None = None  # a state where it holds (or where the step starts)
    missing: list[str] = field(default_factory=list)  # parameter bindings never reached
    summary: str = ""


@dataclass
class Violation:
    kind: str  # "invariant" or "deadlock"
    names: list[str]  # invariants violated in that state (declaration order), or ["deadlock"]
    state_id: int
    trace: Trace
    prop: str = ""  # the property this is the shortest counterexample of (default: names[0])

    def __post_init__(self) -> None:
        self.prop = self.prop or self.names[0]


@dataclass
class ExploreResult:
    """What an exploration found; ``verdict`` is ``holds``, ``violated`` or ``undetermined``."""

    instance: Instance
    verdict: str
    states: int
    transitions: int
    seconds: float
    depth: int
    complete: bool
    violation: Violation | None
    goals: list[GoalStatus]
    deadlocks: int
    stop_reason: str | None = None  # why an incomplete run stopped
    edges: list[tuple[int, int, int]] | None = None  # (source, target, action instance), if kept
    compiled: Compiled | None = None
    store: "StateStore | None" = field(default=None, repr=False)
    engine: str = "python"
    symmetry: bool = False
    bytes_per_state: float | None = None  # the visited set's bytes per stored state, if measured
    symmetry_group: int = 1  # number of renamings when symmetry reduction is on
    symmetry_notes: list[str] = field(default_factory=list)  # sorts reduced less, and why
    #: with ``prune_violations``: the shortest counterexample of every property violated (invariants
    #: in declaration order, then a deadlock), each through states that violate nothing
    violations: list[Violation] = field(default_factory=list)
    pruned: int = 0  # states not expanded because they violate a property

    @property
    def _states(self) -> list[State]:
        assert isinstance(self.store, ListStore)
        return self.store.states

    @property
    def _parent(self) -> list[tuple[int, int]]:
        assert isinstance(self.store, ListStore)
        return self.store.parent

    @property
    def goals_unreached(self) -> list[str]:
        return [g.name for g in self.goals if not g.reached]

    @property
    def violated(self) -> str | None:
        return self.violation.names[0] if self.violation else None

    def violation_of(self, prop: str) -> Violation | None:
        """The shortest counterexample found for ``prop`` (an invariant name or ``deadlock``)."""
        for v in self.violations or ([self.violation] if self.violation else []):
            if v.prop == prop or (not self.violations and prop in v.names):
                return v
        return None

    def state(self, sid: int) -> State:
        """State number ``sid`` (numbered in discovery order)."""
        assert self.store is not None
        return self.store.state(sid)

    def trace_to(self, sid: int, violation: str | None = None) -> Trace:
        """The (shortest, breadth-first) trace from an initial state to state ``sid``."""
        assert self.store is not None
        return self.store.trace_to(sid, violation)

    def graph(self):
        """The reachable graph as a ``networkx.DiGraph``: nodes are state numbers (attribute
        ``state``: the state tuple; ``initial``: bool), edges carry ``actions``: the labels of
        every action leading from one state to the other."""
        import networkx as nx

        if self.edges is None:
            raise ValueError("the exploration did not keep its edges; call explore(..., keep_graph=True)")
        assert self.compiled is not None
        g = nx.DiGraph()
        for sid, s in enumerate(self._states):
            g.add_node(sid, state=s, initial=self._parent[sid][0] < 0)
        labels = [_label(self.instance, ai.action, ai.params) for ai in self.compiled.actions]
        for src, dst, aid in self.edges:
            if g.has_edge(src, dst):
                g[src][dst]["actions"].append(labels[aid])
            else:
                g.add_edge(src, dst, actions=[labels[aid]])
        return g


class StateStore:
    """Where an exploration keeps its states: numbered states and shortest traces to them."""

    def state(self, sid: int) -> State:
        raise NotImplementedError

    def trace_to(self, sid: int, violation: str | None = None) -> Trace:
        raise NotImplementedError


class ListStore(StateStore):
    """States as tuples in a list, with one parent link per state (the Python engine)."""

    def __init__(self, inst: Instance, compiled: Compiled, states: list[State], parent: list[tuple[int, int]]) -> None:
        self.inst = inst
        self.compiled = compiled
        self.states = states
        self.parent = parent

    def state(self, sid: int) -> State:
        return self.states[sid]

    def trace_to(self, sid: int, violation: str | None = None) -> Trace:
        return _trace(self.inst, self.compiled, self.states, self.parent, sid, violation)


def _label(inst: Instance, action, params) -> str:
    vals = inst.decode_params(action, params)
    return f"{action.name}({', '.join(str(v) for v in vals.values())})"


def unwind(parent: Mapping[int, tuple[int, int]] | Sequence[tuple[int, int]], sid: int) -> list[tuple[int, int]]:
    """The path to ``sid`` by parent links ``parent[t] = (source, action)``, a source below 0
    marking an initial state: ``[(initial, -1), (s1, a1), ..., (sid, ak)]``."""
    path: list[tuple[int, int]] = []
    cur = sid
    while cur >= 0:
        p, aid = parent[cur]
        path.append((cur, aid))
        cur = p
    path.reverse()
    return path


def _trace(inst: Instance, compiled: Compiled | None, states: list[State], parent: list[tuple[int, int]], sid: int, violation: str | None) -> Trace:
    assert compiled is not None
    path = unwind(parent, sid)
    seq = [states[path[0][0]]]
    steps = []
    for s_id, aid in path[1:]:
        ai = compiled.actions[aid]
        steps.append((ai.action, ai.params))
        seq.append(states[s_id])
    return trace_from_states(inst, seq, steps, violation=violation)


def _rss() -> int:
    from .vexplore import rss_bytes

    return rss_bytes()


def verdict_of(violation: Violation | None, complete: bool, goals: list[GoalStatus]) -> str:
    """``violated`` (an invariant or a deadlock, or a goal unreached by a complete run),
    ``undetermined`` (the run stopped early without a violation) or ``holds``."""
    if violation is not None:
        return "violated"
    if not complete:
        return "undetermined"
    return "violated" if any(not g.reached for g in goals) else "holds"


def goal_statuses(
    inst: Instance,
    goal_hit: dict[tuple[int, tuple[int, ...]], int],
    step_hit: dict[int, int],
) -> list[GoalStatus]:
    """Goal verdicts from the witnesses found: ``goal_hit`` maps (goal, binding) to a state,
    ``step_hit`` maps a step goal to the state its step starts from."""
    goals: list[GoalStatus] = []
    for gi, g in enumerate(inst.model.goals):
        if g.on is not None:
            hit = step_hit.get(gi)
            goals.append(GoalStatus(g.name, hit is not None, hit, summary=g.summary))
        else:
            missing = []
            wit = None
            for b in inst.bindings(g.params):
                h = goal_hit.get((gi, b))
                if h is None:
                    missing.append(", ".join(f"{p.name}={p.dom.decode(c, inst.sizes)}" for p, c in zip(g.params, b)))
                elif wit is None:
                    wit = h
            goals.append(GoalStatus(g.name, not missing, wit, missing if g.params else [], summary=g.summary))
    return goals


def explore(
    inst: Instance,
    *,
    max_states: int | None = None,
    max_seconds: float | None = None,
    max_memory: int | None = None,
    stop_at_violation: bool = True,
    check_deadlock: bool = True,
    keep_graph: bool = False,
    progress: ProgressFn | None = None,
    progress_every: float = 1.0,
    compiled: Compiled | None = None,
    prune_violations: bool = False,
    record_all: bool = False,
) -> ExploreResult:
    """Explore ``inst`` breadth-first; see the module docstring.

    ``record_all`` (with ``stop_at_violation=False``): go on after a violation and record the
    first (so shortest) violation of every property in :attr:`ExploreResult.violations`.
    ``prune_violations`` also leaves unexpanded every state that breaks a state invariant, so each
    counterexample runs through states that satisfy every state invariant (a property broken only
    after another one is missed, and the report says so); a step that breaks a step invariant is
    reported and the run goes on past it.
    """
    record_all = record_all or prune_violations
    t0 = time.perf_counter()
    comp = compiled or compile_instance(inst)
    model: Model = inst.model
    succ = comp.successors
    first_violation = comp.first_violation
    inv_fns = comp.invariant_fns
    states: list[State] = []
    parent: list[tuple[int, int]] = []
    index: dict[State, int] = {}
    edges: list[tuple[int, int, int]] | None = [] if keep_graph else None

    [g.name for g in model.goals]
    state_goals = list(comp.goal_fns)  # (goal index, binding, fn) still unreached
    goal_hit: dict[tuple[int, tuple[int, ...]], int] = {}
    step_goals = {k: list(v) for k, v in comp.step_goal_fns.items()}
    step_hit: dict[int, int] = {}

    violation: tuple[str, list[str], int] | None = None
    first_bad: dict[int, int] = {}  # invariant index -> first violating state
    pruned: set[int] = set()
    deadlocks = 0
    first_deadlock: int | None = None
    transitions = 0
    stop_reason: str | None = None
    depth_of: list[int] = []

    def add(s: State, p: int, aid: int, d: int) -> int:
        sid = len(states)
        index[s] = sid
        states.append(s)
        parent.append((p, aid))
        depth_of.append(d)
        return sid

    def check_state(sid: int, s: State) -> None:
        nonlocal violation, state_goals
        if violation is None or not stop_at_violation:
            k = first_violation(s)
            if k >= 0:
                bad = [j for j, f in enumerate(inv_fns) if not f(s)]
                if violation is None:
                    violation = ("invariant", [model.invariants[j].name for j in bad], sid)
                if prune_violations and any(model.invariants[j].on is None for j in bad):
                    pruned.add(sid)  # a step invariant's violation is reported, and the run goes on past it
                if record_all:
                    for j in bad:
                        first_bad.setdefault(j, sid)
        if state_goals:
            keep = []
            for gi, b, f in state_goals:
                if f(s):
                    goal_hit[(gi, b)] = sid
                else:
                    keep.append((gi, b, f))
            state_goals = keep

    def out_of_budget(check_memory: bool) -> str | None:
        if max_states is not None and len(states) > max_states:
            return f"state budget of {max_states} states exhausted"
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            return f"time budget of {max_seconds:g} s exhausted"
        if max_memory is not None and check_memory and _rss() > max_memory:
            return f"memory ceiling of {max_memory / 2**20:,.0f} MiB reached"
        return runctl.poll()  # the command's budgets, SIGINT, SIGTERM

    head = 0
    last_report = t0
    try:
        # The initial states are enumerated lazily (a large instance has millions), with the
        # budgets checked every INIT_CHUNK of them, as between the batches of the search.
        for k, s in enumerate(inst.iter_initial()):
            if k and k % INIT_CHUNK == 0:
                stop_reason = out_of_budget(True)
                if stop_reason is not None:
                    break
                if progress is not None:
                    now = time.perf_counter()
                    if now - last_report >= progress_every:
                        last_report = now
                        progress(len(states), len(states), 0, now - t0)
            if s not in index:
                sid = add(s, -1, -1, 0)
                check_state(sid, s)
        while head < len(states) and stop_reason is None:
            if violation is not None and stop_at_violation:
                stop_reason = "violation"
                break
            stop_reason = out_of_budget(head & 4095 == 0)
            if stop_reason is not None:
                break
            sid = head
            s = states[sid]
            head += 1
            if sid in pruned:
                continue
            out = succ(s)
            if not out:
                deadlocks += 1
                if first_deadlock is None:
                    first_deadlock = sid
                    if check_deadlock and violation is None:
                        violation = ("deadlock", ["deadlock"], sid)
            transitions += len(out)
            d = depth_of[sid] + 1
            for aid, t in out:
                if step_goals:
                    fns = step_goals.get(aid)
                    if fns:
                        keep = []
                        for gi, f in fns:
                            if f(s):
                                step_hit.setdefault(gi, sid)
                            else:
                                keep.append((gi, f))
                        if keep:
                            step_goals[aid] = keep
                        else:
                            del step_goals[aid]
                tid = index.get(t)
                if tid is None:
                    tid = add(t, sid, aid, d)
                    check_state(tid, t)
                if edges is not None:
                    edges.append((sid, tid, aid))
            if progress is not None and head & 1023 == 0:
                now = time.perf_counter()
                if now - last_report >= progress_every:
                    last_report = now
                    progress(len(states), len(states) - head, depth_of[sid], now - t0)
    except KeyboardInterrupt:
        stop_reason = runctl.reason()
    complete = head >= len(states) and stop_reason is None
    seconds = time.perf_counter() - t0

    goals = goal_statuses(inst, goal_hit, step_hit)

    viol = None
    if violation is not None:
        kind, names, vsid = violation
        viol = Violation(kind, names, vsid, step_trace(inst, _trace(inst, comp, states, parent, vsid, names[0]), names[0]))
    per: list[Violation] = []
    if record_all:
        for j in sorted(first_bad):
            vsid = first_bad[j]
            names = [model.invariants[i].name for i, f in enumerate(inv_fns) if not f(states[vsid])]
            per.append(Violation("invariant", names, vsid, step_trace(inst, _trace(inst, comp, states, parent, vsid, model.invariants[j].name), model.invariants[j].name),
                                 prop=model.invariants[j].name))
        if check_deadlock and first_deadlock is not None:
            per.append(Violation("deadlock", ["deadlock"], first_deadlock,
                                 _trace(inst, comp, states, parent, first_deadlock, "deadlock")))
    return ExploreResult(
        instance=inst,
        verdict=verdict_of(viol, complete, goals),
        states=len(states),
        transitions=transitions,
        seconds=seconds,
        depth=max(depth_of) if depth_of else 0,
        complete=complete,
        violation=viol,
        goals=goals,
        deadlocks=deadlocks,
        stop_reason=stop_reason if not complete else None,
        edges=edges,
        compiled=comp,
        violations=per,
        pruned=len(pruned),
        store=ListStore(inst, comp, states, parent),
    )


def step_trace(inst: Instance, trace: Trace, prop: str) -> Trace:
    """A counterexample of a step invariant ends with the step that breaks it."""
    from .evaluate import with_offending_step

    if prop == "deadlock":
        return trace
    inv = inst.model.invariant(prop)
    return with_offending_step(inst, trace, inv) if inv.on is not None else trace
