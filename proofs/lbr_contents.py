"""Lemmas about what each pCPU's LBR and each thread's saved LBR state hold (patches 10, 11)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import H, P, Tag, V, patch

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "saved_select_is_own",
            forall(V, lambda v: ~m.foreign(v, m.saved_sel[v])),
            "Perf saves LBR_SELECT with the vCPU thread only while its event owns the LBR, when LBR_SELECT holds "
            "the guest's value, and a new event starts from the reset value, so the value restored at sched-in "
            "is never another user's.",
            patch(11),
        ),
        lemma(
            "host_user_sees_host_state",
            forall(H, lambda h: forall(P, lambda p: implies(
                m.host_on(h, p), (m.rec[p] == Tag.host) & (m.sel[p] == Tag.host)))),
            "A host user that takes an LBR programs it and records at once (A2), and while it holds it no vCPU "
            "event owns that LBR (bit 62 forbids sharing), so nothing else writes it.",
            patch(10),
        ),
    ]
