"""Lemmas about the vCPU LBR perf event (patches 7, 9)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import Ev, V, patch

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "active_event_runs",
            forall(V, lambda v: implies(m.ev[v] == Ev.ACTIVE, m.running[v])),
            "The event is pinned to the vCPU thread: perf schedules it in only when it is created from the "
            "running thread or at the thread's sched-in, and schedules it out with the thread.",
            patch(9),
        ),
    ]
