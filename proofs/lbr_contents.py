"""Lemmas about what each pCPU's LBR and each thread's saved LBR state hold (patches 10, 11)."""

from __future__ import annotations

from lbrspec.lang import Invariant, forall, implies
from lbrspec_models.guest_lbr import H, P, Tag, V, patch

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "saved_select_is_own",
            forall(V, lambda v: ~m.foreign(v, m.saved_sel[v])),
            "Perf saves LBR_SELECT with the thread only while the vCPU event owns the LBR, when it holds the "
            "guest's value, and a new event starts from the reset value.",
            patch(11),
        ),
        lemma(
            "host_user_sees_host_state",
            forall(H, lambda h: forall(P, lambda p: implies(
                m.host_on(h, p), (m.rec[p] == Tag.host) & (m.sel[p] == Tag.host)))),
            "A host user that takes the LBR programs it at once (A2), and while it holds it no vCPU event owns "
            "that LBR, so nothing else writes it.",
            patch(10),
        ),
    ]
