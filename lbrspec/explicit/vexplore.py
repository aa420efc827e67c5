"""The fast explorer: breadth-first search over batches of packed states with numpy.

Same search and same answers as :func:`lbrspec.explicit.explore.explore` (breadth-first, every
invariant checked on every state as it is discovered, so the first violation is a shortest
one; goals, deadlocks, budgets), organised for speed and memory:

* states are packed into int64 words (:mod:`lbrspec.explicit.packing`) and kept once, in
  discovery order, in a :class:`~lbrspec.explicit.hashset.StateSet` (at most about 15 bytes per
  state for one-word instances; no Python object per state);
* a breadth-first layer is expanded a batch at a time: each action's guard is evaluated over
  the whole batch as one numpy expression and its successors are the parents' words plus a
  per-word delta (:mod:`lbrspec.explicit.vcompile`);
* no parent links are stored: states are numbered layer by layer, so a shortest trace to a state
  is recovered afterwards by finding, layer by layer backwards, a state of the previous layer
  with a step to it (only done for the states a user asks about);
* with ``symmetry=True`` every successor is replaced by its canonical renaming
  (:mod:`lbrspec.explicit.symmetry`) before it is looked up, and traces are turned back into
  concrete ones.

Within a batch successors are ordered by (parent, action), so numbering, verdicts and traces are
deterministic and do not depend on the batch size.
"""

from __future__ import annotations

import bisect
import os
import time
from typing import Callable

import numpy as np

from .. import runctl
from ..runctl import rss_bytes
from ..lang.domains import SortDomain
from ..trace import Trace, trace_from_states
from .compile import compile_instance
from .explore import ExploreResult, GoalStatus, StateStore, Violation, step_trace, goal_statuses, verdict_of
from .hashset import StateSet
from .instance import Instance, State
from .packing import Layout
from .symmetry import Symmetry
from .vcompile import VecCompiled, as_mask, compile_vector
from .workers import _first_occurrences, make_expander, successors

ProgressFn = Callable[[int, int, int, float], None]


class PackedStore(StateStore):
    """States of a vector exploration: packed, numbered by layer, traces recovered on demand."""

    def __init__(self, inst: Instance, vc: VecCompiled, states: StateSet, layers: list[int], sym: Symmetry | None,
                 pruned: np.ndarray | None = None):
        self.inst = inst
        self.vc = vc
        self.set = states
        self.layers = layers  # layer d holds states layers[d] .. layers[d+1]-1
        self.sym = sym
        self.pruned = pruned  # per state: not expanded (it violates a property)
        self._compiled = None

    def state(self, sid: int) -> State:
        return self.vc.layout.unpack(self.set.get(sid))

    def depth(self, sid: int) -> int:
        return bisect.bisect_right(self.layers, sid) - 1

    def _predecessor(self, target: tuple[int, ...], layer: int) -> tuple[int, int]:
        """The first (state, action instance) of ``layer`` with a step to ``target``."""
        lay = self.vc.layout
        lo, hi = self.layers[layer], self.layers[layer + 1]
        for b in range(lo, hi, 1 << 15):
            e = min(hi, b + (1 << 15))
            W = self.set.words(b, e)
            if self.pruned is not None:
                keep = np.nonzero(~self.pruned[b:e])[0]
                W = [x[keep] for x in W]
            else:
                keep = np.arange(e - b)
            if not keep.size:
                continue
            S = lay.unpack_array(W, np.int64)
            best: tuple[int, int] | None = None
            for va, _, idx, words in successors(self.vc, S, W):
                if self.sym is not None:
                    words = self.sym.canonical_words(lay.unpack_array(words, np.int64))
                hit = np.ones(idx.size, dtype=bool)
                for w in range(lay.nwords):
                    hit &= words[w] == target[w]
                if hit.any():
                    cand = (b + int(keep[idx[np.argmax(hit)]]), va.index)
                    if best is None or cand < best:
                        best = cand
            if best is not None:
                return best
        raise AssertionError("no predecessor found: the layer numbering is inconsistent")

    def trace_to(self, sid: int, violation: str | None = None) -> Trace:
        d = self.depth(sid)
        path = [sid]
        acts: list[int] = []
        cur = sid
        for layer in range(d - 1, -1, -1):
            p, aid = self._predecessor(self.set.get(cur), layer)
            path.append(p)
            acts.append(aid)
            cur = p
        path.reverse()
        acts.reverse()
        actions = self.vc.actions
        canon = [self.state(x) for x in path]
        if self.sym is None:
            steps = [(actions[a].instance.action, actions[a].instance.params) for a in acts]
            return trace_from_states(self.inst, canon, steps, violation=violation)
        # turn the canonical path into a concrete one: from a concrete state, take a step whose
        # successor is a renaming of the next canonical state
        if self._compiled is None:
            self._compiled = compile_instance(self.inst)
        comp = self._compiled
        concrete = [canon[0]]
        steps = []
        for nxt in canon[1:]:
            for aid, t in comp.successors(concrete[-1]):
                if self.sym.canonical(t) == nxt:
                    ai = comp.actions[aid]
                    steps.append((ai.action, ai.params))
                    concrete.append(tuple(int(x) for x in t))
                    break
            else:
                raise AssertionError("a canonical step has no concrete counterpart")
        return trace_from_states(self.inst, concrete, steps, violation=violation)


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def _first_true(mask: np.ndarray) -> int:
    return int(np.argmax(mask)) if mask.any() else -1


def explore_vector(
    inst: Instance,
    *,
    symmetry: bool = False,
    max_states: int | None = None,
    max_seconds: float | None = None,
    max_memory: int | None = None,
    stop_at_violation: bool = True,
    prune_violations: bool = False,
    record_all: bool = False,
    check_deadlock: bool = True,
    progress: ProgressFn | None = None,
    progress_every: float = 1.0,
    batch_size: int = 1 << 16,
    compiled: VecCompiled | None = None,
    workers: int = 1,
    spill: str | None = None,
    spill_at: int | None = None,
) -> ExploreResult:
    """Explore ``inst`` breadth-first; see the module docstring.  ``max_memory`` is in bytes of
    resident memory.  ``prune_violations`` (with ``stop_at_violation=False``): go on after a
    violation without expanding violating states, and record every property's first (shortest)
    violation, as :func:`lbrspec.explicit.explore.explore` does; ``record_all`` records them
    without pruning.  ``workers``: expand batches in that many worker processes (same results;
    :mod:`lbrspec.explicit.workers`).  ``spill``: a directory where the stored states live in
    (unlinked) files; whenever the resident memory passes ``spill_at`` bytes (default: half of
    ``max_memory``, else 70 % of the physical memory), the states before the batch being expanded are
    paged out to them."""
    record_all = record_all or prune_violations
    t0 = time.perf_counter()
    model = inst.model
    # the layout and the symmetry group first: an instance they cannot take is refused
    # (ValueError) before the compilation, which takes seconds on a large instance
    lay = compiled.layout if compiled is not None else Layout.of(inst)
    sym = Symmetry(inst, lay) if symmetry else None
    vc = compiled or compile_vector(inst, lay)
    nw = lay.nwords
    S_set = StateSet(nw, spill=spill)
    if spill is not None and spill_at is None:
        spill_at = int(0.5 * max_memory) if max_memory else int(0.7 * _physical_memory())

    goal_hit: dict[tuple[int, tuple[int, ...]], int] = {}
    step_hit: dict[int, int] = {}
    open_state_goals = list(vc.state_goals)
    open_step_goals = {k: [(pos, gi, f) for pos, (gi, f) in enumerate(v)] for k, v in vc.step_goals.items()}
    violation: tuple[str, list[str], int] | None = None
    first_bad: dict[int, int] = {}  # invariant index -> first violating state
    first_dead: list[int] = []
    pruned = np.zeros(1 << 16, dtype=bool)  # per state id, grown as needed
    n_pruned = 0
    deadlocks = 0
    transitions = 0
    stop_reason: str | None = None

    def check_new(ids: np.ndarray, words: list[np.ndarray]) -> None:
        nonlocal violation, open_state_goals
        if not ids.size:
            return
        S = lay.unpack_array(words, np.int64)
        AR = np.arange(ids.size)
        if violation is None or record_all:
            bad_any = np.zeros(ids.size, dtype=bool)
            masks = []
            for f in vc.invariants:
                bad = ~as_mask(f(S, AR), ids.size)
                masks.append(bad)
                bad_any |= bad
            if bad_any.any():
                i = _first_true(bad_any)
                if violation is None:
                    names = [model.invariants[k].name for k, m in enumerate(masks) if m[i]]
                    violation = ("invariant", names, int(ids[i]))
                if record_all:
                    for k, m in enumerate(masks):
                        if k not in first_bad and m.any():
                            first_bad[k] = int(ids[_first_true(m)])
                if prune_violations:
                    nonlocal pruned, n_pruned
                    # a state that breaks a state invariant ends its path; one from which a step breaks a
                    # step invariant does not (the step is reported, and the run goes on past it)
                    bad_state = np.zeros(ids.size, dtype=bool)
                    for k, m in enumerate(masks):
                        if model.invariants[k].on is None:
                            bad_state |= m
                    top = int(ids.max()) + 1
                    if top > pruned.size:
                        pruned = np.concatenate([pruned, np.zeros(max(top, 2 * pruned.size) - pruned.size, dtype=bool)])
                    pruned[ids[bad_state]] = True
                    n_pruned += int(bad_state.sum())
        if open_state_goals:
            keep = []
            for gi, b, f in open_state_goals:
                m = as_mask(f(S, AR), ids.size)
                if m.any():
                    goal_hit.setdefault((gi, b), int(ids[_first_true(m)]))
                else:
                    keep.append((gi, b, f))
            open_state_goals = keep

    # -- initial states ------------------------------------------------------------------------
    # Decoded, packed and added batch_size at a time (a large instance has millions), in the
    # instance's enumeration order, with the budgets checked between chunks as between the
    # batches of the search; with symmetry, each canonical state is added at its first occurrence.
    n_init = inst.initial_count()
    last_report = t0

    def out_of_budget(now: float) -> str | None:
        """Why to stop before the next batch: a budget of this call, or the command's stop
        request (its budgets, SIGINT, SIGTERM: lbrspec.runctl)."""
        if max_states is not None and S_set.count > max_states:
            return f"state budget of {max_states} states exhausted"
        if max_seconds is not None and now - t0 > max_seconds:
            return f"time budget of {max_seconds:g} s exhausted"
        if max_memory is not None and rss_bytes() > max_memory:
            return f"memory ceiling of {max_memory / 2**20:,.0f} MiB reached"
        return runctl.poll()

    def init_chunks() -> None:
        nonlocal stop_reason, last_report
        lo = 0
        while lo < n_init:
            if lo:
                now = time.perf_counter()
                stop_reason = out_of_budget(now)
                if stop_reason is not None:
                    return
                if progress is not None and now - last_report >= progress_every:
                    last_report = now
                    progress(S_set.count, S_set.count, 0, now - t0)
            hi = min(n_init, lo + batch_size)
            rows = inst.initial_rows(lo, hi)
            words = lay.pack_array(rows)
            if sym is not None:
                words = sym.canonical_words(rows, words)
                fo = _first_occurrences(words)
                words = [x[fo] for x in words]
                new = S_set.lookup(words) < 0
                words = [x[new] for x in words]
            check_new(S_set.add_new(words), words)
            lo = hi

    layers = [0, 0]
    expander = None

    def batch(b: int, hi: int) -> tuple[int, list[np.ndarray], np.ndarray | None]:
        """The batch of parents from state b: its end, its words, and its state numbers
        relative to b when violating states are left out (else None)."""
        e = min(hi, b + batch_size)
        W = S_set.words(b, e)
        cols = None
        if n_pruned and pruned[b:e].any():
            cols = np.nonzero(~pruned[b:min(e, pruned.size)])[0]
            if e > pruned.size:
                cols = np.concatenate([cols, np.arange(pruned.size - b, e - b)])
            W = [x[cols] for x in W]
        return e, W, cols

    def goal_keys() -> list[tuple[int, int]]:
        return [(a, pos) for a, goals in open_step_goals.items() for pos, _, _ in goals]

    try:
        init_chunks()
        layers[1] = S_set.count
        if stop_reason is None:
            expander = make_expander(workers, vc, lay, sym)
        while layers[-1] > layers[-2] and stop_reason is None:
            if violation is not None and stop_at_violation:
                stop_reason = "violation"
                break
            lo, hi = layers[-2], layers[-1]
            nxt = lo
            queue: list[tuple[int, int, np.ndarray | None, object]] = []  # batches handed to the expander
            while nxt < hi or queue:
                # hand over up to two batches ahead, so that expansion overlaps with the lookups
                while nxt < hi and len(queue) < 2:
                    e, W, cols = batch(nxt, hi)
                    queue.append((nxt, e, cols, expander.submit(W, goal_keys()) if W[0].size else None))
                    nxt = e
                if violation is not None and stop_at_violation:
                    break
                if spill is not None and rss_bytes() > spill_at:
                    S_set.page_out(queue[0][0])  # every state before this batch is cold
                stop_reason = out_of_budget(time.perf_counter())
                if stop_reason is not None:
                    break
                b, e, cols, ticket = queue.pop(0)
                if ticket is None:
                    continue
                x = expander.collect(ticket)

                def sid_of(row: int) -> int:
                    return b + (int(cols[row]) if cols is not None else row)

                for a in sorted(open_step_goals):  # in action order, as the successors come
                    keep = []
                    for pos, gi, f in open_step_goals[a]:
                        row = x.hits.get((a, pos))
                        if row is not None:
                            step_hit.setdefault(gi, sid_of(row))
                        else:
                            keep.append((pos, gi, f))
                    if keep:
                        open_step_goals[a] = keep
                    else:
                        del open_step_goals[a]
                dead = ~x.enabled
                dead_row: int | None = None  # a deadlock to report, unless a violation comes first
                if dead.any():
                    deadlocks += int(dead.sum())
                    j = _first_true(dead)
                    if not first_dead:
                        first_dead.append(sid_of(j))
                    if check_deadlock and violation is None:
                        dead_row = j
                transitions += x.transitions
                if x.parent.size:
                    cand, P = x.words, x.parent
                    found = S_set.lookup(cand)
                    new = np.nonzero(found < 0)[0]
                    if new.size:
                        # a state found twice in the batch: its first occurrence is kept, as
                        # if every successor had been looked up in order
                        new = new[_first_occurrences([y[new] for y in cand])]
                        fresh = [y[new] for y in cand]
                        ids = S_set.add_new(fresh)
                        before = violation
                        check_new(ids, fresh)
                        if before is None and violation is not None and dead_row is not None:
                            # breadth-first order decides, as in the compiled explorer: the deadlock
                            # if its state comes before the parent of the violating state
                            k = int(np.nonzero(ids == violation[2])[0][0])
                            if dead_row < int(P[new][k]):
                                violation = ("deadlock", ["deadlock"], sid_of(dead_row))
                            dead_row = None
                if dead_row is not None and violation is None:
                    violation = ("deadlock", ["deadlock"], sid_of(dead_row))
                if progress is not None:
                    now = time.perf_counter()
                    if now - last_report >= progress_every:
                        last_report = now
                        progress(S_set.count, S_set.count - e, len(layers) - 1, now - t0)
            if stop_reason is not None or (violation is not None and stop_at_violation):
                if stop_reason is None:
                    stop_reason = "violation"
                break
            layers.append(S_set.count)
    except KeyboardInterrupt:
        stop_reason = runctl.reason()
    finally:
        if expander is not None:
            expander.close()
    if layers[-1] != S_set.count:
        layers.append(S_set.count)
    complete = stop_reason is None
    seconds = time.perf_counter() - t0

    if sym is not None:
        # a goal reached for one binding is reached for every renaming of it
        for (gi, bnd), sid in list(goal_hit.items()):
            params = model.goals[gi].params
            for r in sym.group:
                img = tuple(
                    r.perm[p.dom.sort][c] if isinstance(p.dom, SortDomain) else c for p, c in zip(params, bnd)
                )
                goal_hit.setdefault((gi, img), sid)
    goals: list[GoalStatus] = goal_statuses(inst, goal_hit, step_hit)
    store = PackedStore(inst, vc, S_set, layers, sym, pruned[:S_set.count].copy() if n_pruned else None)
    viol = None
    if violation is not None:
        kind, names, vsid = violation
        viol = Violation(kind, names, vsid, step_trace(inst, store.trace_to(vsid, names[0]), names[0]))
    per: list[Violation] = []
    if record_all:
        for k in sorted(first_bad):
            vsid = first_bad[k]
            st = np.array(store.state(vsid), dtype=np.int64)[:, None]
            names = [model.invariants[j].name for j, f in enumerate(vc.invariants) if not as_mask(f(st, np.arange(1)), 1)[0]]
            per.append(Violation("invariant", names, vsid, step_trace(inst, store.trace_to(vsid, model.invariants[k].name), model.invariants[k].name),
                                 prop=model.invariants[k].name))
        if check_deadlock and first_dead:
            per.append(Violation("deadlock", ["deadlock"], first_dead[0], store.trace_to(first_dead[0], "deadlock")))
    return ExploreResult(
        instance=inst,
        verdict=verdict_of(viol, complete, goals),
        states=S_set.count,
        transitions=transitions,
        seconds=seconds,
        depth=sum(1 for i in range(len(layers) - 1) if layers[i + 1] > layers[i]) - 1,
        complete=complete,
        violation=viol,
        goals=goals,
        deadlocks=deadlocks,
        stop_reason=stop_reason if not complete else None,
        store=store,
        engine="vector",
        symmetry=sym is not None,
        bytes_per_state=S_set.nbytes() / max(1, S_set.count),
        symmetry_group=len(sym) if sym is not None else 1,
        symmetry_notes=sym.notes() if sym is not None else [],
        violations=per,
        pruned=n_pruned,
    )
