"""Lemmas about KVM's LBR MSR exit handler (patch 12)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import V, patch

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "access_runs",
            forall(V, lambda v: implies(m.pc[v] == m.pc.dom.ACCESS, m.running[v])),
            "The handler reaches the physical LBR access only on a running thread, and the access sits inside "
            "its interrupts-off window, where the thread cannot be preempted (assumption A4).",
            patch(12),
        ),
    ]
