"""Strengthening lemmas for the merged-design model (``lbrspec_proofs.upstream_lbr``).

The safety invariants of ``models/upstream_lbr.py`` that the merged design keeps are true of
every reachable state but not inductive on their own, for the reasons the guest LBR model's are
not (see :mod:`lbrspec_proofs`): nothing in them says that a vCPU in guest mode is running, that
an active vLBR event's thread is, or that KVM's handler has an event.  The lemmas below are such
facts of the merged design, in the model language over a :class:`~lbrspec_proofs.Vocabulary`
of the built model, each with one sentence on why it holds; ``models/upstream_lbr.py`` names
this module as its ``LEMMAS``, so ``lbrspec prove --model upstream_lbr`` uses them.

The properties the merged design does not give (``MERGED_DESIGN_BREAKS``) get no lemma: they
fail in a reachable state, which ``prove`` shows with a reachable counterexample to induction,
and the rest are proved without them.  A variant that breaks a lemma (undoing the fix it rests
on) has it fail like any property; ``prove`` reports it and proves nothing that depends on it.

The lemmas come in groups, one function per part of the design, in the order ``prove`` lists
them (:data:`GROUPS`).  Two groups depend on the variant: ``lbr_ctxsw`` is about the saved
``LBR_SELECT``, which exists only with 5863702561e6, and ``freeze`` about the records a virtual
PMI's freeze stopped, which only the keep-on-freeze proposal keeps (elsewhere the group is
empty).  On ``upstream`` the 9 lemmas prove the 10 invariants it keeps, for every size; the
keep-on-freeze proposal needs the 4 freeze lemmas for ``records_kept_after_freeze``.
"""

from __future__ import annotations

from lbrspec_models.lbr_common import P, Tag, V
from lbrspec_models.upstream_lbr import Ev, Pc

from lbrspec.lang import Invariant, Model, forall, implies

from . import Vocabulary, lemma
from .scheduling import lemmas as shared_scheduling


def scheduling(m: Vocabulary) -> list[Invariant]:
    """The host scheduler and guest mode: which vCPU thread runs where."""
    return [
        *shared_scheduling(m),  # the scheduler is lbr_common's: its lemma is written once, in scheduling.py
        lemma(
            "guest_mode_runs",
            forall(V, lambda v: implies(m.in_guest[v], m.running[v])),
            "Only vcpu_enter_guest, on the running thread, enters guest mode, and a thread is preempted out of "
            "guest mode before it is switched out, so a vCPU in guest mode is on its pCPU.",
        ),
    ]


def kvm_handler(m: Vocabulary) -> list[Invariant]:
    """KVM's LBR MSR exit handler."""
    return [
        lemma(
            "access_runs",
            forall(V, lambda v: implies(m.pc[v] == Pc.ACCESS, m.running[v])),
            "The handler reaches the physical LBR access only on a running thread, and the access sits inside its "
            "interrupts-off window, where the thread cannot be preempted (the preemption's guard).",
        ),
        lemma(
            "handler_has_event",
            forall(V, lambda v: implies(m.pc[v] != Pc.IDLE, ~m.absent(v))),
            "The exit goes on to the check only with an event (found, or created at that exit: the creation "
            "test of 67b45af946ec), and what releases the event, the PMU request at VM-entry or a reset, runs "
            "only with the handler idle.",
        ),
    ]


def vlbr_event(m: Vocabulary) -> list[Invariant]:
    """The vLBR perf event."""
    return [
        lemma(
            "active_event_runs",
            forall(V, lambda v: implies(m.ev[v] == Ev.ACTIVE, m.running[v])),
            "The event is pinned to the vCPU thread: perf schedules it in only when it is created from the running "
            "thread or at the thread's sched-in, and schedules it out with the thread.",
        ),
        lemma(
            "inactive_event_out",
            forall(V, lambda v: implies(m.ev[v] == Ev.INACTIVE, ~m.running[v])),
            "An event becomes inactive only when perf schedules it out with its thread, and the thread's next "
            "sched-in schedules it in again (active, or in error state where it is outranked).",
        ),
    ]


def userspace(m: Vocabulary) -> list[Invariant]:
    """What the VMM configured, and when."""
    return [
        lemma(
            "lbr_fmt_only_on_legacy_host",
            forall(V, lambda v: implies(m.caps_lbr[v], ~m.arch_host())),
            "KVM advertises no LBR format on a host with architectural LBR (098f4c061ea1), so a PERF_CAPABILITIES "
            "write with LBR_FMT is refused there.",
        ),
        lemma(
            "passthrough_after_run",
            forall(V, lambda v: implies(m.passthru[v], m.ran[v])),
            "Only VM-entry passes the LBR MSRs through, and the first VM-entry is the first KVM_RUN.",
        ),
        lemma(
            "passthrough_with_lbr_enabled",
            forall(V, lambda v: implies(m.passthru[v] & ~m.bugged(), m.nr[v])),
            "VM-entry decides pass-through only while guest LBR is enabled, and a refresh that would turn it off "
            "while the LBR MSRs are passed through bugs the VM (957d0f70e97b), or comes after the first KVM_RUN and "
            "is refused (0094f62c7eaa, 3a6de51a437f).",
        ),
    ]


def lbr_ctxsw(m: Vocabulary) -> list[Invariant]:
    """Perf's LBR context switch of the vCPU thread (5863702561e6)."""
    if "saved_sel" not in {v.name for v in m.model.vars}:
        return []
    return [
        lemma(
            "kept_select_saved",
            forall(V, lambda v: implies(m.kept_sel[v] & (m.ev[v] == Ev.INACTIVE), m.saved_sel[v] == Tag("vcpu", v))),
            "A switched-out event's saved LBR_SELECT is what its pCPU held at that sched-out, the guest's own filter "
            "if the guest had programmed it, and nothing touches it before the event is scheduled in again.",
        ),
    ]


def freeze(m: Vocabulary) -> list[Invariant]:
    """The records a virtual PMI's freeze stopped, where the cleanup keeps the event while the
    freeze is pending (the keep-on-freeze proposal; elsewhere the event may be released and the
    records lost, so there is nothing to say)."""
    if "frozen" not in {v.name for v in m.model.vars}:
        return []
    own = lambda v: Tag("vcpu", v)
    return [
        lemma(
            "froze_is_pending",
            forall(V, lambda v: implies(m.froze[v], m.frozen[v])),
            "A freeze that stopped the guest's records marks the freeze pending in KVM too, and only a DEBUGCTL write "
            "by the guest or a reset clears KVM's mark, each of which also ends the ghost's.",
        ),
        lemma(
            "froze_after_run",
            forall(V, lambda v: implies(m.froze[v], m.ran[v])),
            "A virtual PMI comes only in guest mode, after the first KVM_RUN, and a refresh after it, which could "
            "release the event, returns at once (3a6de51a437f).",
        ),
        lemma(
            "froze_event_live",
            forall(V, lambda v: implies(m.froze[v], m.ev[v].in_(Ev.ACTIVE, Ev.INACTIVE))),
            "A freeze happens with the event active, the cleanup does not release it while the freeze is pending "
            "(the proposal), and perf switches it only between active and inactive with its thread.",
        ),
        lemma(
            "froze_records_in_lbr",
            forall(V, lambda v: forall(P, lambda p: implies(m.froze[v] & m.owns(v, p), m.rec[p] == own(v)))),
            "While the event holds the pCPU's LBR, no host LBR user is given the LBR (perf stops enabling it for "
            "them), the host DEBUGCTL written back at VM-exit has LBR clear, and the guest, its DEBUGCTL.LBR clear "
            "by the freeze, records nothing, so the records the freeze stopped stay in the LBR.",
        ),
        lemma(
            "froze_records_saved",
            forall(V, lambda v: implies(m.froze[v] & (m.ev[v] == Ev.INACTIVE), m.saved_rec[v] == own(v))),
            "Perf saves the LBR stack of the event at sched-out, when it holds the records the freeze stopped, and "
            "restores them at the next sched-in.",
        ),
    ]


#: The lemma groups, in the order ``lbrspec prove`` lists them.
GROUPS = {
    "scheduling": scheduling,
    "kvm_handler": kvm_handler,
    "vlbr_event": vlbr_event,
    "userspace": userspace,
    "lbr_ctxsw": lbr_ctxsw,
    "freeze": freeze,
}


def groups(model: Model) -> list[tuple[str, list[Invariant]]]:
    """Every group's lemmas, for ``model`` (any variant of the merged-design model)."""
    m = Vocabulary(model)
    return [(name, fn(m)) for name, fn in GROUPS.items()]


def lemmas(model: Model) -> list[Invariant]:
    """Every lemma of every group, for ``model``."""
    return [lem for _, group in groups(model) for lem in group]
