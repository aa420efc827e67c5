"""Lemmas about the host scheduler (``lbr_common``, shared by both guest LBR models): which vCPU
thread runs where."""

from __future__ import annotations

from lbrspec_models.lbr_common import V

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return [
        lemma(
            "one_thread_per_pcpu",
            forall(V, lambda v1: forall(V, lambda v2: implies(
                (v1 != v2) & m.running[v1] & m.running[v2], m.cpu[v1] != m.cpu[v2]))),
            "The scheduler puts a thread only on a pCPU where no other vCPU thread runs (switch_in's guard), "
            "so two running vCPU threads never share a pCPU, nor, therefore, its LBR.",
        ),
    ]
