"""Lemmas about KVM's LBR MSR exit handler (patch 12)."""

from __future__ import annotations

from lbrspec_models.guest_lbr import V, patch

from lbrspec.lang import Invariant, forall, implies

from . import Vocabulary, lemma


def lemmas(m: Vocabulary) -> list[Invariant]:
    return _warn_step(m) + [
        lemma(
            "access_runs",
            forall(V, lambda v: implies(m.pc[v] == m.pc.dom.ACCESS, m.running[v])),
            "The handler reaches the physical LBR access only on a running thread, and the access sits inside "
            "its interrupts-off window, where the thread cannot be preempted (assumption A4).",
            patch(12),
        ),
        lemma(
            "guest_mode_handler_idle",
            forall(V, lambda v: implies(m.in_guest[v], m.pc[v] == m.pc.dom.IDLE)),
            "The handler runs between a VM-exit and the next VM-entry, which waits for it to finish (vmenter's "
            "guard), so a vCPU in guest mode has no LBR MSR handler in flight, and the pass-through the handler "
            "grants at its end is checked at the next VM-entry (patch 13).",
            patch(12),
        ),
    ]


def _warn_step(m: Vocabulary) -> list[Invariant]:
    """Where the WARN_ON is a step of its own (``CREATED`` is a handler state: the posted release
    at sched-in, or ``v8-unfused``): what that step finds.  Elsewhere the WARN_ON is part of the
    exit step that creates the event (assumption A10) and there is nothing to say."""
    if "CREATED" not in m.pc.dom.members:
        return []
    return [
        lemma(
            "created_event_exists",
            forall(V, lambda v: implies(m.pc[v] == m.pc.dom.CREATED, ~m.absent(v))),
            "The exit step creates the event (or finds it) as it enters the handler, and with the release "
            "deferred to vcpu_enter_guest nothing releases it before the WARN_ON, which comes before any "
            "VM-entry.",
            patch(12),
        ),
    ]
