"""Checking liveness properties on the explicit reachable graph, under weak and strong fairness.

A :class:`~lbrspec.lang.liveness.Liveness` property ``trigger ~> goal`` fails exactly when
some reachable state satisfies ``trigger`` and not ``goal``, and from it an infinite fair
behaviour that avoids ``goal`` and takes no quiet action starts.  On a finite graph such a
behaviour ends in a *lasso*: a path into a strongly connected component and a cycle in it.  So
the check is a fair-cycle search over strongly connected components (after Emerson and Lei):

1. ``R``: the states where ``goal`` is false; the edges between them whose action is not quiet.
2. For each strongly connected component ``C`` of ``R`` (with at least one edge): a weakly fair
   action group that is enabled in every state of ``C`` but taken on no edge inside ``C`` rules
   out every cycle in ``C``, so ``C`` is dropped; a strongly fair group enabled somewhere in
   ``C`` but never taken inside it rules out the states where it is enabled, so those are
   removed and the rest is split into components again.  A component that passes is *fair*:
   one cycle through it can take every group it must and visit a state where every other weakly
   fair group is disabled.
3. A state of ``R`` where no fairness group is enabled may also stutter forever (the behaviour
   stops, as TLA+ allows when nothing fair is pending): a lasso with an empty loop.
4. A shortest path inside ``R`` from a ``trigger`` state to a fair component (or stutter
   state) gives the counterexample: the explorer's shortest prefix to that trigger state, the
   path, and a cycle built greedily to meet every fairness group.  It is a
   :class:`~lbrspec.trace.Trace` with ``loop`` set, and replays in the reference semantics.

A property that holds is also checked for **vacuity**, as goals guard safety properties: if no
reachable state where the trigger holds and the goal does not has any fair continuation at all
(the same search with the goal states left in), the assumptions contradict each other (a quiet
action that fairness would force) or the trigger never waits for the goal, and "holds" says
nothing; the result says so.

Liveness needs the *full* graph: a reduction that merges states (symmetry) or prunes
interleavings (partial order) can hide or invent cycles, so :func:`check_liveness` refuses any
reduction with a message rather than answer unsoundly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import InputError, ModelError
from ..explicit.evaluate import evaluate
from ..explicit.explore import ExploreResult, unwind
from ..lang.domains import Value
from ..lang.expr import Local
from ..lang.liveness import STRONG, WEAK, ActionPattern, Fair, Liveness
from ..trace import Trace
from .stategraph import StateGraph

#: Reductions known to lbrspec's explorers (or planned) and why liveness refuses each.
UNSOUND_FOR_LIVENESS = {
    "symmetry": "symmetry reduction merges states that differ only by a permutation of vCPUs/pCPUs, and a "
                "liveness property about one vCPU (v0) is not symmetric, so a lasso may be lost or invented",
    "partial-order": "partial-order reduction prunes interleavings, which changes which actions stay enabled "
                     "along a cycle, so weak and strong fairness can no longer be judged",
}


@dataclass
class Group:
    """One fairness condition: a set of action instances, weakly or strongly fair."""

    label: str
    kind: str
    fair: Fair
    aids: list[int] = field(default_factory=list)


@dataclass
class LivenessResult:
    """The verdict on one instance of a liveness property (one value of its parameters)."""

    name: str
    binding: dict[str, Value]
    verdict: str  # "holds" or "violated"
    lasso: Trace | None
    trigger_states: int  # reachable states where the trigger holds and the goal does not
    fair_components: int  # fair strongly connected components found in R
    seconds: float
    vacuous: bool = False  # holds only because no behaviour meets the assumptions

    @property
    def label(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.binding.items())})" if self.binding else self.name

    @property
    def prefix_length(self) -> int | None:
        return None if self.lasso is None or self.lasso.loop is None else self.lasso.loop

    @property
    def loop_length(self) -> int | None:
        return None if self.lasso is None or self.lasso.loop is None else len(self.lasso) - self.lasso.loop


def refuse_reductions(result: ExploreResult | None = None, reduction: str | None = None) -> None:
    """Raise :class:`InputError` if liveness would run on a reduced graph.

    ``reduction`` names a reduction a caller asks for (``"symmetry"``...); a result that says it
    was reduced (an attribute ``reduction`` or ``symmetry`` that is set) is refused too.
    """
    asked = reduction
    if asked is None and result is not None:
        for attr in ("reduction", "symmetry"):
            val = getattr(result, attr, None)
            if val:
                asked = attr if val is True else str(val)
                break
    if asked:
        why = UNSOUND_FOR_LIVENESS.get(asked, "a reduced graph does not have the cycles of the full one")
        raise InputError(f"liveness is checked on the full state graph only, not with {asked} reduction: {why}")


def check_liveness(graph: StateGraph, prop: Liveness, *, reduction: str | None = None,
                   only: dict[str, str] | None = None) -> list[LivenessResult]:
    """Check every instance of ``prop`` (one per value of its parameters) on ``graph``, or only
    those matching ``only`` (parameter name to element, e.g. ``{"v": "v0"}``)."""
    refuse_reductions(graph.result, reduction)
    inst = graph.instance
    out = []
    for binding in inst.bindings(prop.params):
        if only and any(str(p.dom.decode(c, inst.sizes)) != only[p.name]
                        for p, c in zip(prop.params, binding) if p.name in only):
            continue
        t0 = time.perf_counter()
        env = dict(zip(prop.params, binding))
        shown = {p.name: p.dom.decode(c, inst.sizes) for p, c in zip(prop.params, binding)}
        verdict, lasso, n_trig, n_fair, vacuous = _check_one(graph, prop, env)
        out.append(LivenessResult(prop.name, shown, verdict, lasso, n_trig, n_fair, time.perf_counter() - t0, vacuous))
    return out


def check_all(graph: StateGraph, props: tuple[Liveness, ...] | list[Liveness], *, reduction: str | None = None) -> list[LivenessResult]:
    refuse_reductions(graph.result, reduction)
    return [r for p in props for r in check_liveness(graph, p, reduction=reduction)]


# -- building the fairness groups and the restricted graph -----------------------------------------
def _const(e, env: dict[Local, int]) -> int:
    return int(evaluate(e, None, (), env))  # type: ignore[arg-type]  # literals and parameters only


def _matches(graph: StateGraph, aid: int, action: str, fixed: dict[str, int]) -> bool:
    ai = graph.actions[aid]
    if ai.action.name != action:
        return False
    names = [p.name for p in ai.action.params]
    return all(ai.params[names.index(k)] == v for k, v in fixed.items())


def _fixed(graph: StateGraph, action: str, args, env: dict[Local, int], what: str) -> dict[str, int]:
    try:
        act = graph.instance.model.action(action)
    except KeyError:
        raise ModelError(f"names action '{action}', which the model does not have", where=what) from None
    names = [p.name for p in act.params]
    fixed = {}
    for k, e in args:
        if k not in names:
            raise ModelError(f"action '{action}' has no parameter '{k}'", where=what)
        fixed[k] = _const(e, env)
    return fixed


def quiet_mask(graph: StateGraph, prop: Liveness, env: dict[Local, int]) -> bytearray:
    """``ok[aid] == 1`` for every action instance that may still occur (is not quiet)."""
    ok = bytearray(b"\x01") * len(graph.actions)
    for q in prop.quiet:
        fixed = _fixed(graph, q.action, q.args, env, f"liveness property '{prop.name}', quiet action")
        for aid in range(len(graph.actions)):
            if _matches(graph, aid, q.action, fixed):
                ok[aid] = 0
    return ok


def fairness_groups(graph: StateGraph, prop: Liveness, env: dict[Local, int]) -> list[Group]:
    """One :class:`Group` per fairness condition and value of its ``per`` parameters."""
    inst = graph.instance
    groups: list[Group] = []
    for f in prop.fairness:
        what = f"liveness property '{prop.name}', fairness"
        fixed = _fixed(graph, f.action, f.bind, env, what)
        act = inst.model.action(f.action)
        per_params = []
        for name in f.per:
            match = [p for p in act.params if p.name == name]
            if not match:
                raise ModelError(f"action '{f.action}' has no parameter '{name}'", where=what)
            per_params.append(match[0])
        for values in inst.bindings(per_params):
            key = dict(fixed)
            key.update({p.name: c for p, c in zip(per_params, values)})
            shown = ", ".join(f"{p.name}={p.dom.decode(c, inst.sizes)}" for p, c in zip(per_params, values))
            bound = ", ".join(f"{k}={_show_code(act, k, v, inst)}" for k, v in fixed.items())
            label = f"{'WF' if f.kind == WEAK else 'SF'} {f.action}" + (f"({', '.join(x for x in (bound, shown) if x)})" if (bound or shown) else "")
            g = Group(label, f.kind, f)
            g.aids = [aid for aid in range(len(graph.actions)) if _matches(graph, aid, f.action, key)]
            groups.append(g)
    return groups


def _show_code(act, name: str, code: int, inst) -> str:
    p = [x for x in act.params if x.name == name][0]
    return str(p.dom.decode(code, inst.sizes))


# -- the search -----------------------------------------------------------------------------------
class _Fairness:
    """The fairness groups of one property instance, evaluated on the graph: which groups each
    edge counts for, and where each group is enabled."""

    def __init__(self, graph: StateGraph, groups: list[Group], whens: list[bytearray | None]) -> None:
        self.groups = groups
        self.whens = whens
        self.aid_groups: list[list[int]] = [[] for _ in graph.actions]
        for gi, g in enumerate(groups):
            for aid in g.aids:
                self.aid_groups[aid].append(gi)
        self.enabled = [bytearray(graph.n) for _ in groups]
        # groups without a 'when' condition are enabled wherever one of their actions is
        plain = [[gi for gi in gs if whens[gi] is None] for gs in self.aid_groups]
        cond = [[gi for gi in gs if whens[gi] is not None] for gs in self.aid_groups]
        enabled = self.enabled
        for s, out in enumerate(graph.succ):
            for _, aid in out:
                for gi in plain[aid]:
                    enabled[gi][s] = 1
                for gi in cond[aid]:
                    if whens[gi][s]:  # type: ignore[index]
                        enabled[gi][s] = 1

    def of_edge(self, s: int, aid: int) -> list[int]:
        """The groups an edge from ``s`` by action instance ``aid`` counts for."""
        gs = self.aid_groups[aid]
        if not gs:
            return gs
        return [gi for gi in gs if self.whens[gi] is None or self.whens[gi][s]]  # type: ignore[index]

    def any_enabled(self, s: int) -> bool:
        return any(e[s] for e in self.enabled)


def _fair_search(graph: StateGraph, region: bytearray, edge_ok: bytearray, fair: _Fairness
                 ) -> tuple[list[int], list[list[int]], bytearray]:
    """The fair strongly connected components inside ``region`` (Emerson-Lei refinement, see the
    module docstring) and the states of ``region`` that may stutter forever."""
    n = graph.n
    groups, enabled = fair.groups, fair.enabled
    fair_of = [-1] * n  # index of the fair component a state belongs to
    components: list[list[int]] = []
    work: list[tuple[bytearray, list[int] | None]] = [(region, None)]
    while work:
        nodes, roots = work.pop()
        for comp in graph.sccs(nodes, edge_ok, roots):
            inside = set(comp)
            taken: set[int] = set()
            has_edge = False
            for s in comp:
                for t, aid in graph.succ[s]:
                    if t in inside and edge_ok[aid]:
                        has_edge = True
                        taken.update(fair.of_edge(s, aid))
            if not has_edge:
                continue
            rejected = False
            strong_bad: list[int] = []
            for gi, g in enumerate(groups):
                if gi in taken:
                    continue
                en = enabled[gi]
                if g.kind == WEAK and all(en[s] for s in comp):
                    rejected = True
                    break
                if g.kind == STRONG and any(en[s] for s in comp):
                    strong_bad.append(gi)
            if rejected:
                continue
            if strong_bad:
                keep = [s for s in comp if not any(enabled[gi][s] for gi in strong_bad)]
                if keep:
                    sub = bytearray(n)
                    for s in keep:
                        sub[s] = 1
                    work.append((sub, keep))
                continue
            for s in comp:
                fair_of[s] = len(components)
            components.append(comp)
    stutter = bytearray(1 if region[s] and not fair.any_enabled(s) else 0 for s in range(n))
    return fair_of, components, stutter


def _check_one(graph: StateGraph, prop: Liveness, env: dict[Local, int]) -> tuple[str, Trace | None, int, int, bool]:
    n = graph.n
    trig = graph.mask(prop.trigger, env)
    goal = graph.mask(prop.goal, env)
    region = bytearray(0 if goal[s] else 1 for s in range(n))
    sources = [s for s in range(n) if trig[s] and region[s]]
    edge_ok = quiet_mask(graph, prop, env)
    groups = fairness_groups(graph, prop, env)
    fair = _Fairness(graph, groups, [None if g.fair.when is None else graph.mask(g.fair.when, env) for g in groups])
    if not sources:
        return "holds", None, 0, 0, True
    fair_of, components, stutter = _fair_search(graph, region, edge_ok, fair)
    targets = bytearray(1 if (fair_of[s] >= 0 or stutter[s]) else 0 for s in range(n))
    depth = graph.depth
    sources.sort(key=lambda s: (depth[s], s))
    path = graph.shortest_path(sources, targets, region, edge_ok)
    if path is None:
        return "holds", None, len(sources), len(components), _vacuous(graph, sources, edge_ok, fair)
    start = path[0][0]
    prefix = graph.path_to(start)
    full = prefix + path[1:]
    entry = path[-1][0]
    loop_at = len(full) - 1
    if fair_of[entry] >= 0:
        full = full + _fair_cycle(graph, components[fair_of[entry]], fair, edge_ok, entry)[1:]
    lasso = graph.trace(full, violation=prop.name, loop=loop_at)
    lasso.meta["trigger_state"] = len(prefix) - 1  # the trigger holds here; the goal never again
    if fair_of[entry] < 0:
        lasso.meta["stutter"] = True  # the loop is empty: the behaviour stops in the last state
    return "violated", lasso, len(sources), len(components), False


def _vacuous(graph: StateGraph, sources: list[int], edge_ok: bytearray, fair: _Fairness) -> bool:
    """True if no state where the trigger holds and the goal does not has any fair infinite
    continuation without the quiet actions: the assumptions contradict each other, so "holds"
    says nothing.  The same search as for a counterexample, with the goal states left in."""
    n = graph.n
    everything = bytearray(b"\x01") * n
    fair_of, _components, stutter = _fair_search(graph, everything, edge_ok, fair)
    targets = bytearray(1 if (fair_of[s] >= 0 or stutter[s]) else 0 for s in range(n))
    return graph.shortest_path(sources, targets, everything, edge_ok) is None


def _fair_cycle(graph: StateGraph, comp: list[int], fair: _Fairness, edge_ok: bytearray, entry: int) -> list[tuple[int, int]]:
    """A cycle from ``entry`` back to it inside the fair component ``comp`` that meets every
    fairness group: a weak group is taken or disabled in some state of the cycle; a strong group
    enabled in some state of the cycle is taken on it.  Built greedily, nearest obligation
    first, and extended until no obligation is left."""
    n = graph.n
    inside = bytearray(n)
    for s in comp:
        inside[s] = 1
    groups, enabled = fair.groups, fair.enabled
    cycle: list[tuple[int, int]] = [(entry, -1)]
    taken: set[int] = set()
    off_seen: set[int] = set()  # weak groups disabled in some state of the cycle
    on_seen: set[int] = set()  # strong groups enabled in some state of the cycle

    def visit(s: int, prev: int, aid: int) -> None:
        if aid >= 0:
            taken.update(fair.of_edge(prev, aid))
        for gi, g in enumerate(groups):
            if g.kind == WEAK and not enabled[gi][s]:
                off_seen.add(gi)
            elif g.kind == STRONG and enabled[gi][s]:
                on_seen.add(gi)

    def pending() -> tuple[set[int], set[int]]:
        """(groups to take, weak groups that a disabled state would also settle)"""
        weak = {gi for gi, g in enumerate(groups) if g.kind == WEAK and gi not in taken and gi not in off_seen}
        strong = {gi for gi in on_seen if gi not in taken}
        return weak | strong, weak

    def extend(hop: list[tuple[int, int]]) -> None:
        for (s, aid) in hop[1:]:
            visit(s, cycle[-1][0], aid)
            cycle.append((s, aid))

    visit(entry, -1, -1)
    while True:
        need_edge, need_off = pending()
        while need_edge:
            hop = _nearest(graph, cycle[-1][0], inside, edge_ok, fair, need_edge, need_off)
            assert hop is not None, "a fair component lets a cycle meet every fairness group"
            extend(hop)
            need_edge, need_off = pending()
        cur = cycle[-1][0]
        if cur == entry and len(cycle) > 1:
            break
        if cur == entry:  # nothing was needed: any cycle through the entry will do
            for t, aid in graph.succ[entry]:
                if inside[t] and edge_ok[aid]:
                    extend([(entry, -1), (t, aid)])
                    break
            cur = cycle[-1][0]
        if cur != entry:
            back = graph.shortest_path([cur], {entry}, inside, edge_ok)
            assert back is not None
            extend(back)
        if not pending()[0]:
            break
    return cycle


def _nearest(graph: StateGraph, start: int, inside: bytearray, edge_ok: bytearray, fair: _Fairness,
             need_edge: set[int], need_off: set[int]) -> list[tuple[int, int]] | None:
    """Breadth-first from ``start`` to the nearest place meeting a pending group: a state where a
    pending weak group is disabled, or an edge of a pending group (taken as the last step)."""
    from collections import deque

    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    q = deque([start])
    enabled = fair.enabled
    while q:
        u = q.popleft()
        if u != start and any(not enabled[gi][u] for gi in need_off):
            return unwind(parent, u)
        for t, aid in graph.succ[u]:
            if not inside[t] or not edge_ok[aid]:
                continue
            if need_edge.intersection(fair.of_edge(u, aid)):
                return unwind(parent, u) + [(t, aid)]
            if t not in parent:
                parent[t] = (u, aid)
                q.append(t)
    return None


def describe_fairness(prop: Liveness) -> list[str]:
    """One line per fairness condition: ``WF sched_in (each v): why``."""
    return [f"{f.describe()}: {f.why}" if f.why else f.describe() for f in prop.fairness]


def describe_quiet(prop: Liveness) -> list[str]:
    return [q.describe() for q in prop.quiet]


__all__ = [
    "UNSOUND_FOR_LIVENESS", "ActionPattern", "Group", "LivenessResult", "check_all", "check_liveness",
    "describe_fairness", "describe_quiet", "fairness_groups", "quiet_mask", "refuse_reductions",
]
