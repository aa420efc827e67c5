"""Lemmas about KVM's vCPU: guest mode and the LBR MSR exit handler (patch 12)."""

from __future__ import annotations

from lbrspec.lang import Invariant, forall, implies
from lbrspec_models.guest_lbr import Pc, V, patch

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "guest_mode_runs",
            forall(V, lambda v: implies(m.in_guest[v], m.running[v])),
            "VM-entry happens on the thread's pCPU and sched-out leaves guest mode first, so a vCPU in guest mode "
            "has its thread running.",
        ),
        lemma(
            "guest_mode_handler_idle",
            forall(V, lambda v: implies(m.in_guest[v], m.pc[v] == Pc.IDLE)),
            "KVM enters the guest only when its LBR handler is idle, and every LBR exit leaves guest mode before "
            "the handler starts.",
            patch(12),
        ),
        lemma(
            "access_runs",
            forall(V, lambda v: implies(m.pc[v] == Pc.ACCESS, m.running[v])),
            "The physical LBR access happens inside the interrupts-off window, where the thread cannot be "
            "preempted (assumption A4).",
            patch(12),
        ),
    ]
