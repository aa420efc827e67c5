"""Two-phase commit with a backup transaction manager (Demirbas's 2PCwithBTM), a PlusCal model.

Resource managers (RMs) run a loop: while working or prepared, an RM may prepare, commit once
the TM's decision is *commit*, abort if it is still working or the decision is *abort*, or
fail (at most one RM ever fails).  When it has left the loop it is done.  The transaction
manager (TM) waits until it can commit (every RM prepared, or some RM already committed) or
abort (some RM aborted or failed and none committed), records its decision, and then may fail:
its state becomes *hidden*.  A backup TM (BTM) waits for the TM to be hidden and then, by the
same rules, records a decision in its place.

Source: ``specifications/transaction_commit/2PCwithBTM.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), module ``2PCwithBTM`` by Murat Demirbas (after
Lamport's PlusCal two-phase commit), model ``2PCwithBTM.cfg`` with ``RM = {rm1, rm2, rm3}``,
``RMMAYFAIL = TRUE`` and ``TMMAYFAIL = TRUE``, deadlock checking on.  TLC finds **1245**
distinct states.

Modelling notes: TLC counts states of the PlusCal *translation*, whose variables are
``rmState``, ``tmState`` and the program counter ``pc``, one label per process: ``RS`` or
``Done`` for an RM, ``TS``, ``TC``, ``F1``, ``TA``, ``F2`` or ``Done`` for the TM (process 0),
``BTS``, ``BTC``, ``BTA`` or ``Done`` for the BTM (process 10).  The model keeps exactly these
labels, split into ``pc_rm[rm]``, ``pc_tm`` and ``pc_btm`` (one function over the three kinds of
process is the same information), so every TLC state is one state here.  Each label is one or
more transitions, one per branch of the label's ``either``/``if``.  Where the PlusCal code does
nothing (``Fail`` when an RM has already failed, ``F1``/``F2`` without TM failures) the
transition still exists and changes nothing else, as in the translation, so the same states
have a successor.  The translation's ``Terminating`` step (every process done, nothing changes)
is kept for the same reason: TLC checks this configuration for deadlock.
``RMMAYFAIL`` and ``TMMAYFAIL`` are switches of the build, both on in the published model.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import EnumDomain, Model, Sort, Spec, Variant, exists, forall, implies, ite

SOURCE = "tlaplus/Examples specifications/transaction_commit/2PCwithBTM.tla, 2PCwithBTM.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

PUBLISHED_SWITCHES = {"RMMAYFAIL": True, "TMMAYFAIL": True, "abort_needs_none_committed": True}

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("2pc-btm", "The published model: RMs and the TM may fail (RMMAYFAIL = TMMAYFAIL = TRUE).",
                kind="design", switches=dict(PUBLISHED_SWITCHES)),
        Variant(
            "abort-despite-commit",
            "Mutant: canAbort without its second conjunct (the original marks it 'inconsistent if commented'): "
            "the backup TM may abort after an RM has committed.",
            kind="mutant",
            expected="consistency",
            switches={**PUBLISHED_SWITCHES, "abort_needs_none_committed": False},
        ),
    ]
}

DEFAULT_VARIANT = "2pc-btm"

#: The published configuration: RM = {rm1, rm2, rm3}.
DEFAULT_SIZES = {"RM": 3}

RM = Sort("RM", "rm", doc="a resource manager (a PlusCal process RManager)")
RmState = EnumDomain("rm_state", ["working", "prepared", "committed", "aborted", "failed"], doc="a resource manager's state")
TmState = EnumDomain("tm_state", ["init", "commit", "abort", "hidden"], doc="the decision as the RMs can see it")
PcRm = EnumDomain("pc_rm", ["RS", "Done"], doc="PlusCal labels of an RM process")
PcTm = EnumDomain("pc_tm", ["TS", "TC", "F1", "TA", "F2", "Done"], doc="PlusCal labels of the TM process")
PcBtm = EnumDomain("pc_btm", ["BTS", "BTC", "BTA", "Done"], doc="PlusCal labels of the backup TM process")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The 2PCwithBTM model for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    sw = var.switches
    rm_may_fail, tm_may_fail = sw["RMMAYFAIL"], sw["TMMAYFAIL"]
    spec = Spec("twopc_btm", sorts=[RM], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    rms = spec.machine("rm", doc="The RManager processes.", reads=["tm"])
    rm_state = rms.var("rmState", RmState, index=[RM], init="working", doc="each RM's state")
    pc_rm = rms.var("pc_rm", PcRm, index=[RM], init="RS", doc="each RM process's PlusCal label")

    tms = spec.machine("tm", doc="The TManager and BTManager processes and the decision they share.", reads=["rm"])
    tm_state = tms.var("tmState", TmState, init="init", doc="the recorded decision, or hidden once the TM has failed")
    pc_tm = tms.var("pc_tm", PcTm, init="TS", doc="the TM process's PlusCal label")
    pc_btm = tms.var("pc_btm", PcBtm, init="BTS", doc="the backup TM process's PlusCal label")

    can_commit = spec.define(
        "canCommit", {},
        lambda: forall(RM, lambda r: rm_state[r] == RmState.prepared) | exists(RM, lambda r: rm_state[r] == RmState.committed),
        doc="every RM has prepared, or some RM has already committed (for when the BTM takes over)",
    )
    can_abort = spec.define(
        "canAbort", {},
        lambda: exists(RM, lambda r: rm_state[r].in_(RmState.aborted, RmState.failed))
        & (~exists(RM, lambda r: rm_state[r] == RmState.committed) if sw["abort_needs_none_committed"] else True),
        doc="some RM has aborted or failed, and none has committed",
    )
    undecided = spec.define(
        "in_loop", {"r": RM}, lambda r: (pc_rm[r] == PcRm.RS) & rm_state[r].in_(RmState.working, RmState.prepared),
        doc="RM r is at label RS and its loop condition holds",
    )

    # -- RManager: label RS --------------------------------------------------------------------
    rms.transition("RS_prepare", {"r": RM}, guard=lambda r: undecided(r) & (rm_state[r] == RmState.working),
                   updates=lambda r: [rm_state[r].becomes(RmState.prepared)], doc="Prepare(self)")
    rms.transition("RS_commit", {"r": RM}, guard=lambda r: undecided(r) & (tm_state() == TmState.commit),
                   updates=lambda r: [rm_state[r].becomes(RmState.committed)], doc="Decide(self): the decision is commit")
    rms.transition("RS_abort", {"r": RM},
                   guard=lambda r: undecided(r) & ((rm_state[r] == RmState.working) | (tm_state() == TmState.abort)),
                   updates=lambda r: [rm_state[r].becomes(RmState.aborted)],
                   doc="Decide(self): abort while still working, or on an abort decision")
    rms.transition(
        "RS_fail", {"r": RM}, guard=lambda r: undecided(r),
        updates=lambda r: [rm_state[r].becomes(
            ite(~exists(RM, lambda q: rm_state[q] == RmState.failed), RmState.failed, rm_state[r]))] if rm_may_fail else [],
        doc="Fail(self): the RM fails if RMs may fail and none has yet (otherwise the step changes nothing)",
    )
    rms.transition("RS_exit", {"r": RM},
                   guard=lambda r: (pc_rm[r] == PcRm.RS) & ~rm_state[r].in_(RmState.working, RmState.prepared),
                   updates=lambda r: [pc_rm[r].becomes(PcRm.Done)], doc="the loop condition is false: the RM is done")
    rms.transition(
        "Terminating",
        guard=forall(RM, lambda r: pc_rm[r] == PcRm.Done) & (pc_tm() == PcTm.Done) & (pc_btm() == PcBtm.Done),
        doc="every process is done; the translation lets the system stutter rather than deadlock",
    )

    # -- TManager --------------------------------------------------------------------------------
    tms.transition("TS_commit", guard=(pc_tm() == PcTm.TS) & can_commit(), updates=[pc_tm().becomes(PcTm.TC)],
                   doc="TS: the TM can commit")
    tms.transition("TS_abort", guard=(pc_tm() == PcTm.TS) & can_abort(), updates=[pc_tm().becomes(PcTm.TA)],
                   doc="TS: the TM can abort")
    tms.transition("TC", guard=pc_tm() == PcTm.TC, updates=[tm_state().becomes(TmState.commit), pc_tm().becomes(PcTm.F1)],
                   doc="the TM records commit")
    tms.transition("TA", guard=pc_tm() == PcTm.TA, updates=[tm_state().becomes(TmState.abort), pc_tm().becomes(PcTm.F2)],
                   doc="the TM records abort")
    for label in ("F1", "F2"):
        tms.transition(
            label, guard=pc_tm() == getattr(PcTm, label),
            updates=([tm_state().becomes(TmState.hidden)] if tm_may_fail else []) + [pc_tm().becomes(PcTm.Done)],
            doc="the TM fails after deciding if TMs may fail: its decision becomes hidden",
        )

    # -- BTManager -------------------------------------------------------------------------------
    hidden = tm_state() == TmState.hidden
    tms.transition("BTS_commit", guard=(pc_btm() == PcBtm.BTS) & can_commit() & hidden, updates=[pc_btm().becomes(PcBtm.BTC)],
                   doc="BTS: the TM is hidden and the backup can commit")
    tms.transition("BTS_abort", guard=(pc_btm() == PcBtm.BTS) & can_abort() & hidden, updates=[pc_btm().becomes(PcBtm.BTA)],
                   doc="BTS: the TM is hidden and the backup can abort")
    tms.transition("BTC", guard=pc_btm() == PcBtm.BTC, updates=[tm_state().becomes(TmState.commit), pc_btm().becomes(PcBtm.Done)],
                   doc="the backup records commit")
    tms.transition("BTA", guard=pc_btm() == PcBtm.BTA, updates=[tm_state().becomes(TmState.abort), pc_btm().becomes(PcBtm.Done)],
                   doc="the backup records abort")

    # -- properties ----------------------------------------------------------------------------
    spec.invariant(
        "consistency",
        forall(RM, lambda r1: forall(RM, lambda r2: ~((rm_state[r1] == RmState.aborted) & (rm_state[r2] == RmState.committed)))),
        doc="No RM has committed while another has aborted (Consistency).",
    )
    spec.invariant(
        "at_most_one_failure",
        forall(RM, lambda r1: forall(RM, lambda r2: implies(
            r1 != r2, ~((rm_state[r1] == RmState.failed) & (rm_state[r2] == RmState.failed))))),
        doc="At most one RM fails.",
    )

    spec.goal("all_committed", forall(RM, lambda r: rm_state[r] == RmState.committed),
              doc="Every RM commits.")
    spec.goal("backup_commits", (pc_btm() == PcBtm.Done) & (tm_state() == TmState.commit),
              doc="The TM fails after deciding, and the backup TM records commit in its place.")
    spec.goal("backup_aborts", (pc_btm() == PcBtm.Done) & (tm_state() == TmState.abort),
              doc="The TM fails after deciding, and the backup TM records abort in its place.")
    spec.goal("everyone_done",
              forall(RM, lambda r: pc_rm[r] == PcRm.Done) & (pc_tm() == PcTm.Done) & (pc_btm() == PcBtm.Done),
              doc="Every process terminates.")
    return spec.build(var)
