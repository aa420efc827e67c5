"""The reference answers for one instance, from the reference evaluator alone.

:func:`reference_bfs` explores an instance breadth-first with nothing but
:func:`lbrspec.explicit.evaluate.step` (the reference semantics), one action and binding at a
time in declaration order, exactly the order in which both explorers number states.  Unlike the
explorers it does not stop at a write outside a variable's range: it records the failing step
(:class:`StepError`) and goes on, so one run yields everything the engines are compared with:

* every reachable state in discovery order, its breadth-first depth and its outgoing steps;
* the invariants each state violates, the deadlock states, the goals reached;
* every step that writes outside a range (an error every engine must report);
* the first violation a breadth-first explorer reports (:meth:`Reference.first_violation`),
  under the reference explorer's rule (one state at a time) and under a layer-at-a-time rule
  (the vector explorer's batches), see :meth:`Reference.first_violation`;
* the states at the end of runs of exactly ``k`` steps (:meth:`Reference.frontier`), for Z3;
* the renaming classes of states (:func:`renamings`, :meth:`Reference.orbits`), computed by
  brute force over every permutation of every sort, for symmetry reduction.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Sequence

from lbrspec.errors import EvaluationError
from lbrspec.explicit.evaluate import evaluate, holds
from lbrspec.explicit.evaluate import step as eval_step
from lbrspec.explicit.instance import Instance, State
from lbrspec.lang.domains import SortDomain, UnionDomain
from lbrspec.lang.expr import expand


@dataclass(frozen=True)
class Edge:
    """A step of the reachable graph: ``action`` is an index into ``model.actions``."""

    action: int
    params: tuple[int, ...]
    target: int


@dataclass(frozen=True)
class StepError:
    """A step that writes a value outside a variable's range (``EvaluationError``)."""

    source: int
    action: str
    params: tuple[int, ...]
    message: str

    @property
    def value(self) -> int | None:
        m = re.search(r" to (-?\d+), outside (-?\d+)\.\.(-?\d+)", self.message)
        return int(m.group(1)) if m else None

    @property
    def lower_bound(self) -> int | None:
        m = re.search(r", outside (-?\d+)\.\.", self.message)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class FirstViolation:
    """What an explorer reports first: an invariant violation (with every invariant the state
    violates) or a deadlock, and the state (number) and its depth."""

    kind: str
    names: tuple[str, ...]
    state: int
    depth: int


@dataclass
class Reference:
    inst: Instance
    states: list[State] = field(default_factory=list)
    index: dict[State, int] = field(default_factory=dict)
    depth: list[int] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)  # -1 for initial states
    out: list[list[Edge]] = field(default_factory=list)
    errors: list[StepError] = field(default_factory=list)
    violated: list[tuple[str, ...]] = field(default_factory=list)
    initial: list[int] = field(default_factory=list)
    _goals: dict[str, bool] | None = None

    # -- figures ------------------------------------------------------------------------------------
    @property
    def transitions(self) -> int:
        return sum(len(o) for o in self.out)

    @property
    def max_depth(self) -> int:
        return max(self.depth) if self.depth else 0

    def error_sources(self) -> set[int]:
        return {e.source for e in self.errors}

    def errors_from(self, sid: int) -> list[StepError]:
        return [e for e in self.errors if e.source == sid]

    def deadlocks(self) -> list[int]:
        """States without an enabled step (and without a failing one)."""
        bad = self.error_sources()
        return [s for s in range(len(self.states)) if not self.out[s] and s not in bad]

    def edge_labels(self, sid: int) -> set[tuple[str, tuple[int, ...], State]]:
        acts = self.inst.model.actions
        return {(acts[e.action].name, e.params, self.states[e.target]) for e in self.out[sid]}

    # -- verdicts -----------------------------------------------------------------------------------
    def first_violation(self, per_layer: bool = False) -> FirstViolation | None:
        """The first violation a breadth-first explorer meets.

        Initial states are checked first, in order.  Then, with ``per_layer=False`` (the
        reference explorer, :func:`lbrspec.explicit.explore.explore`), states are expanded one
        at a time: a state without successors is a deadlock, and each new successor is checked
        as it is discovered.  With ``per_layer=True`` a whole breadth-first layer is expanded
        at once (the vector explorer's batch, when a layer fits in one): the layer's first
        deadlock comes before the violations among the states it discovers."""
        for sid in self.initial:
            if self.violated[sid]:
                return FirstViolation("invariant", self.violated[sid], sid, 0)
        dead = set(self.deadlocks())
        layers: dict[int, list[int]] = {}
        for sid, d in enumerate(self.depth):
            layers.setdefault(d, []).append(sid)
        for d in sorted(layers):
            if per_layer:
                for sid in layers[d]:
                    if sid in dead:
                        return FirstViolation("deadlock", ("deadlock",), sid, d)
            for sid in layers[d]:
                if not per_layer and sid in dead:
                    return FirstViolation("deadlock", ("deadlock",), sid, d)
                for t in self.discovered_by(sid):
                    if self.violated[t]:
                        return FirstViolation("invariant", self.violated[t], t, d + 1)
        return None

    def discovered_by(self, sid: int) -> list[int]:
        """The states first discovered by expanding ``sid``, in discovery order."""
        return [t for t in dict.fromkeys(e.target for e in self.out[sid]) if self.parent[t] == sid and self.depth[t] > 0]

    def goals_reached(self) -> dict[str, bool]:
        """Every goal: some reachable state (for every binding of its parameters) or some
        reachable step containing its transition, from a state satisfying its body."""
        if self._goals is None:
            inst = self.inst
            self._goals = {}
            for g in inst.model.goals:
                body = expand(g.body)
                if g.on is None:
                    self._goals[g.name] = all(
                        any(holds(body, inst, s, dict(zip(g.params, b))) for s in self.states) for b in inst.bindings(g.params)
                    )
                else:
                    self._goals[g.name] = any(self._step_reaches(g.on, body, sid, e) for sid in range(len(self.states)) for e in self.out[sid])
        return self._goals

    def _step_reaches(self, transition, body, sid: int, e: Edge) -> bool:
        """Whether step ``e`` from ``sid`` contains ``transition`` and starts where ``body``
        holds with the transition's parameters bound to its arguments in the step."""
        a = self.inst.model.actions[e.action]
        env = dict(zip(a.params, e.params))
        s = self.states[sid]
        for part in a.parts:
            if part.transition is transition:
                args = [int(evaluate(expand(x), self.inst, s, env)) for x in part.args]
                if holds(body, self.inst, s, dict(zip(transition.params, args))):
                    return True
        return False

    def bad_depth(self) -> int | None:
        """The length of a shortest run ending in an invariant violation or a failing step
        (what bounded model checking finds first)."""
        cands = [self.depth[s] for s in range(len(self.states)) if self.violated[s]]
        cands += [self.depth[e.source] + 1 for e in self.errors]
        return min(cands) if cands else None

    # -- runs of exactly k steps --------------------------------------------------------------------
    def frontier(self, k: int) -> set[State]:
        """The states at the end of runs of exactly ``k`` steps (not only the new ones)."""
        return {self.states[s] for s in self.frontier_ids(k)}

    def frontier_ids(self, k: int) -> set[int]:
        cur = set(self.initial)
        for _ in range(k):
            cur = {e.target for s in cur for e in self.out[s]}
        return cur

    # -- symmetry -----------------------------------------------------------------------------------
    def orbit_of(self, state: State) -> State:
        """The least renaming of ``state`` (its renaming class's representative)."""
        return min(rename(self.inst, state, r) for r in renamings(self.inst))

    def orbits(self) -> dict[State, list[int]]:
        """The renaming classes of the reachable states: least renaming -> member states."""
        group = renamings(self.inst)
        classes: dict[State, list[int]] = {}
        for sid, s in enumerate(self.states):
            rep = min(rename(self.inst, s, r) for r in group)
            classes.setdefault(rep, []).append(sid)
        return classes


def reference_bfs(inst: Instance, max_states: int = 100_000) -> Reference:
    """Explore ``inst`` with the reference semantics; see the module docstring."""
    ref = Reference(inst)
    model = inst.model
    bindings = [(ai, a, inst.bindings(a.params)) for ai, a in enumerate(model.actions)]
    invs = [(i.name, expand(i.body)) for i in model.invariants]

    def add(s: State, parent: int, d: int) -> int:
        sid = len(ref.states)
        ref.index[s] = sid
        ref.states.append(s)
        ref.depth.append(d)
        ref.parent.append(parent)
        ref.out.append([])
        ref.violated.append(tuple(n for n, body in invs if not holds(body, inst, s)))
        return sid

    for s in inst.initial_states():
        if s not in ref.index:
            ref.initial.append(add(s, -1, 0))
    head = 0
    while head < len(ref.states):
        if len(ref.states) > max_states:
            raise AssertionError(f"the reference exploration passed {max_states} states: the generator's bound is wrong")
        sid = head
        head += 1
        s = ref.states[sid]
        for ai, a, bs in bindings:
            for b in bs:
                try:
                    t = eval_step(inst, a, b, s)
                except EvaluationError as e:
                    ref.errors.append(StepError(sid, a.name, b, str(e)))
                    continue
                if t is None:
                    continue
                tid = ref.index.get(t)
                if tid is None:
                    tid = add(t, sid, ref.depth[sid] + 1)
                ref.out[sid].append(Edge(ai, b, tid))
    return ref


# -- renamings -----------------------------------------------------------------------------------------

Renaming = dict  # sort -> tuple: element i becomes perm[i]


def renamings(inst: Instance) -> list[Renaming]:
    """Every renaming of the elements of every sort (the identity first).

    A sort whose elements the model names or orders (``S.first()``, ``x < y``) keeps only the
    identity, and a sort used as a ring (``x.next()``) only its rotations
    (:func:`lbrspec.lang.uses.sort_uses` says which); the permutations are enumerated here."""
    from lbrspec.lang.uses import sort_uses

    uses = sort_uses(inst.model)
    sorts = list(inst.model.sorts)

    def perms(s) -> list[tuple[int, ...]]:
        n = inst.sizes[s]
        group = uses[s].group if s in uses else "all"
        if group == "none":
            return [tuple(range(n))]
        if group == "rotations":
            return [tuple((i + k) % n for i in range(n)) for k in range(n)]
        return list(itertools.permutations(range(n)))

    per = [perms(s) for s in sorts]
    return [dict(zip(sorts, combo)) for combo in itertools.product(*per)]


def rename(inst: Instance, state: Sequence[int], perm: Renaming) -> State:
    """``state`` with every sort element renamed: slots move with their index, and values that
    are sort elements (or union constructors over one) are renamed too."""
    out = [0] * len(state)
    for k, sl in enumerate(inst.slots):
        dest = inst.slot(sl.var, [perm[d.sort][i] if isinstance(d, SortDomain) else i for d, i in zip(sl.var.index, sl.index)])
        out[dest] = _rename_value(inst, sl.var.dom, int(state[k]), perm)
    return tuple(out)


def _rename_value(inst: Instance, dom, code: int, perm: Renaming) -> int:
    if isinstance(dom, SortDomain):
        return perm[dom.sort][code]
    if isinstance(dom, UnionDomain):
        for c, s in dom.ctors:
            off = dom.ctor_offset(c, inst.sizes)
            if off <= code < off + inst.sizes[s]:
                return off + perm[s][code - off]
    return code

