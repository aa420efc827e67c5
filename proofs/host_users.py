"""Lemmas about host LBR task events (``perf record -b -t`` on a vCPU thread)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import H, Hu, V, patch

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "active_task_event_runs",
            forall(H, lambda h: forall(V, lambda v: implies(
                m.host_task_of(h, v) & m.hu[h].in_(Hu.ACTIVE, Hu.SHARED), m.running[v]))),
            "Perf schedules a task event in only at its thread's sched-in and out with the thread, so a task "
            "event that holds (or shares) an LBR has its thread on that pCPU.",
            patch(7),
        ),
        lemma(
            "one_task_event_per_thread",
            forall(H, lambda h1: forall(H, lambda h2: forall(V, lambda v: implies(
                (h1 != h2) & m.host_task_of(h1, v), ~m.host_task_of(h2, v))))),
            "Assumption A3: a host task event is opened only on a vCPU thread that has none, so two task events "
            "never compete for one thread's LBR (needed from two host users on).",
        ),
    ]
