"""Lemmas about what each pCPU's LBR and each thread's saved LBR state hold (patches 10, 11)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import Tag, V, patch

from lbrspec.lang import Invariant, forall

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "saved_select_is_own",
            forall(V, lambda v: m.saved_sel[v] == Tag("vcpu", v)),
            "Perf saves LBR_SELECT with the vCPU thread only while its event owns the LBR, when LBR_SELECT holds "
            "the guest's value or the reset value (which the save records as the guest's own), and a new or "
            "released event starts from nothing saved, so what sched-in restores is always the guest's own.",
            patch(11),
        ),
    ]
