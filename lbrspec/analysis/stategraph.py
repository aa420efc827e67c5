"""The reachable graph of a complete exploration as compact adjacency arrays.

:class:`StateGraph` wraps an :class:`~lbrspec.explicit.explore.ExploreResult` explored with
``keep_graph=True``: states are the explorer's numbers, ``succ[s]`` lists ``(t, aid)`` pairs in
the explorer's order (``aid`` indexes ``compiled.actions``: one action with its parameters).
Algorithms that visit the graph many times (fair-cycle search, projections) use these arrays;
:mod:`lbrspec.analysis.summary` hands the same graph to networkx.

:meth:`StateGraph.mask` evaluates a model expression on every state with the reference
semantics (:func:`lbrspec.explicit.evaluate.evaluate`), once per distinct value of the slots
the expression reads, so a predicate over ``ev`` and ``hu`` costs a few hundred evaluations,
not one per state.
"""

from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import Iterable, Iterator, Sequence

from ..errors import InputError
from ..explicit.evaluate import evaluate
from ..explicit.explore import ExploreResult, unwind
from ..explicit.instance import Instance, State
from ..lang.expr import Expr, Local, expand, vars_read
from ..trace import Trace, trace_from_states


class StateGraph:
    """See the module docstring."""

    def __init__(self, result: ExploreResult) -> None:
        if result.edges is None or result.compiled is None:
            raise InputError("the reachable graph was not kept; explore with keep_graph=True")
        if not result.complete:
            raise InputError(f"the exploration is incomplete ({result.stop_reason}); graph analysis needs every state")
        self.result = result
        self.instance: Instance = result.instance
        self.n = result.states
        self.states: list[State] = [result.state(i) for i in range(self.n)]
        self.actions = result.compiled.actions
        self.succ: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        for s, t, aid in result.edges:
            self.succ[s].append((t, aid))
        # explore() numbers the distinct initial states first, in order
        n_init = self.instance.initial_count()
        self.initial: list[int] = list(range(min(n_init, self.n)))
        self._parent: list[tuple[int, int]] | None = None
        self._depth: list[int] | None = None

    # -- states ------------------------------------------------------------------------------
    def state(self, sid: int) -> State:
        return self.states[sid]

    def mask(self, e: Expr, env: dict[Local, int] | None = None) -> bytearray:
        """``mask[s] == 1`` iff boolean expression ``e`` holds in state ``s``."""
        return bytearray(1 if v else 0 for v in self.values(e, env))

    def values(self, e: Expr, env: dict[Local, int] | None = None) -> list[int]:
        """The code of ``e`` in every state (reference semantics, memoised on the slots read)."""
        env = env or {}
        x = expand(e)
        inst = self.instance
        slots = sorted(i for v in vars_read(x) for i in range(inst.base[v], inst.base[v] + _n_slots(inst, v)))
        cache: dict[object, int] = {}
        out: list[int] = []
        project = itemgetter(*slots) if slots else (lambda s: ())
        for s in self.states:
            key = project(s)
            val = cache.get(key)
            if val is None:
                val = int(evaluate(x, inst, s, env))
                cache[key] = val
            out.append(val)
        return out

    # -- breadth-first structure ---------------------------------------------------------------
    def _bfs(self) -> None:
        parent = [(-2, -1)] * self.n
        depth = [-1] * self.n
        q: deque[int] = deque()
        for s in self.initial:
            parent[s] = (-1, -1)
            depth[s] = 0
            q.append(s)
        while q:
            s = q.popleft()
            for t, aid in self.succ[s]:
                if depth[t] < 0:
                    depth[t] = depth[s] + 1
                    parent[t] = (s, aid)
                    q.append(t)
        self._parent, self._depth = parent, depth

    @property
    def depth(self) -> list[int]:
        """Length of a shortest path from an initial state to each state."""
        if self._depth is None:
            self._bfs()
        assert self._depth is not None
        return self._depth

    def path_to(self, sid: int) -> list[tuple[int, int]]:
        """A shortest path from an initial state: ``[(s0, -1), (s1, aid1), ..., (sid, aid)]``."""
        if self._parent is None:
            self._bfs()
        assert self._parent is not None
        out = []
        cur = sid
        while cur >= 0:
            p, a = self._parent[cur]
            out.append((cur, a))
            cur = p
        out.reverse()
        return out

    def shortest_path(self, sources: Iterable[int], targets: Sequence[int] | bytearray | set[int],
                      allowed: bytearray, edge_ok: bytearray | None = None) -> list[tuple[int, int]] | None:
        """A shortest path inside ``allowed`` states from some source to some target, as
        ``[(s0, -1), (s1, aid1), ...]``; ``None`` if there is none.  A source that is a target
        gives a path of length 0."""
        is_target = _as_membership(targets, self.n)
        parent: dict[int, tuple[int, int]] = {}
        q: deque[int] = deque()
        for s in sources:
            if allowed[s] and s not in parent:
                parent[s] = (-1, -1)
                if is_target[s]:
                    return [(s, -1)]
                q.append(s)
        while q:
            s = q.popleft()
            for t, aid in self.succ[s]:
                if not allowed[t] or t in parent or (edge_ok is not None and not edge_ok[aid]):
                    continue
                parent[t] = (s, aid)
                if is_target[t]:
                    return unwind(parent, t)
                q.append(t)
        return None

    # -- strongly connected components -----------------------------------------------------------
    def sccs(self, nodes: bytearray | None = None, edge_ok: bytearray | None = None,
             roots: Iterable[int] | None = None) -> Iterator[list[int]]:
        """Strongly connected components of the subgraph on ``nodes`` (all states if ``None``)
        using only edges whose action instance has ``edge_ok[aid]`` (iterative Tarjan).
        ``roots``, if given, lists the states of ``nodes`` (to avoid scanning every state)."""
        n = self.n
        inside = nodes if nodes is not None else bytearray(b"\x01") * n
        index = [-1] * n
        low = [0] * n
        on_stack = bytearray(n)
        stack: list[int] = []
        counter = 0
        succ = self.succ
        for root in (roots if roots is not None else range(n)):
            if not inside[root] or index[root] >= 0:
                continue
            work = [(root, 0)]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = 1
            while work:
                v, i = work[-1]
                out = succ[v]
                advanced = False
                while i < len(out):
                    w, aid = out[i]
                    i += 1
                    if not inside[w] or (edge_ok is not None and not edge_ok[aid]):
                        continue
                    if index[w] < 0:
                        work[-1] = (v, i)
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = 1
                        work.append((w, 0))
                        advanced = True
                        break
                    if on_stack[w] and index[w] < low[v]:
                        low[v] = index[w]
                if advanced:
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = 0
                        comp.append(w)
                        if w == v:
                            break
                    comp.sort()
                    yield comp

    # -- traces ------------------------------------------------------------------------------
    def trace(self, path: Sequence[tuple[int, int]], violation: str | None = None, loop: int | None = None) -> Trace:
        """The :class:`Trace` of a path ``[(s0, -1), (s1, aid1), ...]``."""
        states = [self.state(s) for s, _ in path]
        steps = [(self.actions[aid].action, self.actions[aid].params) for _, aid in path[1:]]
        return trace_from_states(self.instance, states, steps, violation=violation, loop=loop)


def _n_slots(inst: Instance, v) -> int:
    n = 1
    for d in v.index:
        n *= d.size(inst.sizes)
    return n


def _as_membership(targets: Sequence[int] | bytearray | set[int], n: int) -> bytearray:
    if isinstance(targets, bytearray):
        return targets
    m = bytearray(n)
    for t in targets:
        m[t] = 1
    return m
