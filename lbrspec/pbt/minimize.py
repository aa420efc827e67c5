"""Minimizing a failing run step by step, after Hypothesis has shrunk it.

Hypothesis shrinks the *choice sequence* behind a run.  In a rule machine whose later choices
are read relative to the state (which rules are enabled, which bindings), deleting a few steps
often changes how every later choice is read, so the shrinker keeps steps that do nothing for
the failure (a host user opened and closed three times before the one that matters).

:func:`minimize` removes such steps directly on the run: it re-executes the same machine
without Hypothesis on candidate runs (the initial state and a subsequence of the (action,
parameters) steps), and keeps a candidate when the run still fails the same way (the same
violated invariant, a deadlock, a non-conformance).  Removing a step may disable later ones
(closing a host user that was never opened): those are dropped too, which removes a whole
open/install/close chain at once.  Blocks of steps are tried from large to small, then single
steps; when nothing can be removed, each step is tried earlier in the run, which may make it
fail sooner.  A candidate that fails earlier than its last step is cut there.  The result is a
local minimum: removing any one step (with what it enabled) or moving one earlier no longer
gives a shorter run that fails the same way.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..explicit.instance import State
from ..lang.spec import Action
from .failures import Deadlocked, ModelFailure
from .machine import ModelMachine

Step = tuple[Action, tuple[int, ...]]


def rerun(
    machine_cls: type[ModelMachine], initial: State, steps: Sequence[Step], skip_disabled: bool = False
) -> ModelFailure | None:
    """Run ``steps`` from ``initial`` on a fresh machine; the failure it raises, if any.

    A step that is not enabled where it comes is dropped with ``skip_disabled``; otherwise the
    candidate is not a run and the result is ``None``.
    """
    m = machine_cls(counted=False)
    pos_of = {id(a): k for k, a in enumerate(machine_cls._actions)}
    try:
        m._arrive(initial)
        m._start_conformance(initial)
        for action, params in steps:
            pos = pos_of[id(action)]
            choice = next((c for c in m._enabled.get(pos, ()) if c.params == params), None)
            if choice is None:
                if skip_disabled:
                    continue
                return None
            m._take(pos, choice)
        if not m._enabled and not m.allow_deadlock:
            m._fail(Deadlocked(m.instance, m.states, m.steps))
    except ModelFailure as failure:
        return failure
    finally:
        m.teardown()
    return None


def _same(a: ModelFailure, b: ModelFailure) -> bool:
    return a.kind == b.kind and a.violation == b.violation


def minimize(
    machine_cls: type[ModelMachine],
    failure: ModelFailure,
    *,
    max_reruns: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> ModelFailure:
    """A failure of the same kind whose run has no removable step (or the one given)."""
    runs = 0
    best = failure
    if not best.states:
        return best

    def attempt(steps: list[Step]) -> ModelFailure | None:
        nonlocal runs
        runs += 1
        if progress is not None:
            progress(runs)
        got = rerun(machine_cls, best.states[0], steps, skip_disabled=True)
        return got if got is not None and _same(got, failure) else None

    changed = True
    while changed and runs < max_reruns:
        changed = False
        n = len(best.steps)
        size = n // 2
        while size >= 1 and runs < max_reruns:
            i = 0
            while i + size <= len(best.steps) and runs < max_reruns:
                cand = best.steps[:i] + best.steps[i + size:]
                got = attempt(cand)
                if got is not None and len(got.steps) < len(best.steps):
                    best = got
                    changed = True
                else:
                    i += 1
            size //= 2
        if changed:
            continue
        # No step can go: try taking one earlier.  The run may then fail sooner (a host user
        # opened before the vCPU event is created, rather than after), and is cut there.
        for i in range(1, len(best.steps)):
            for j in range(i):
                if runs >= max_reruns:
                    break
                steps = best.steps
                got = attempt(steps[:j] + [steps[i]] + steps[j:i] + steps[i + 1:])
                if got is not None and len(got.steps) < len(best.steps):
                    best = got
                    changed = True
                    break
            if changed:
                break
    return best
