"""Lemmas about host LBR users: CPU-pinned events installed by IPI and task events (patch 7)."""

from __future__ import annotations

from lbrspec.lang import Invariant, forall, implies
from lbrspec_models.guest_lbr import H, Hu, Target, V, patch

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    hu, target = m.hu, m.target
    return [
        lemma(
            "closed_has_no_target",
            forall(H, lambda h: (hu[h] == Hu.OFF) == (target[h] == Target.none)),
            "Opening a host user sets what it profiles and closing it clears it, in the same step.",
        ),
        lemma(
            "pinned_states",
            forall(H, lambda h: implies(target[h].is_("cpu"), hu[h].in_(Hu.IPI, Hu.ACTIVE, Hu.FAILED))),
            "A CPU-pinned event waits for its install IPI, then takes the LBR by priority or fails against another "
            "CPU-pinned event; nothing of higher priority ever makes it wait.",
            patch(7),
        ),
        lemma(
            "task_states",
            forall(H, lambda h: implies(target[h].is_("task"), hu[h].in_(Hu.ACTIVE, Hu.INACTIVE, Hu.SHARED))),
            "A task event is created waiting for its thread and only moves between holding, sharing and waiting "
            "for the LBR until it is closed.",
        ),
        lemma(
            "active_task_event_runs",
            forall(H, lambda h: forall(V, lambda v: implies(
                m.host_task_of(h, v) & hu[h].in_(Hu.ACTIVE, Hu.SHARED), m.running[v]))),
            "Perf schedules a task event in only at its thread's sched-in and out with the thread.",
        ),
        lemma(
            "one_task_event_per_thread",
            forall(H, lambda h1: forall(H, lambda h2: forall(V, lambda v: implies(
                (h1 != h2) & m.host_task_of(h1, v), ~m.host_task_of(h2, v))))),
            "Assumption A3: host_open_task opens a task event only on a thread that has none.",
        ),
    ]
