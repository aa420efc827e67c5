"""Two-phase commit (Gray and Lamport's TwoPhase): a transaction manager coordinates the RMs.

Resource managers (RMs) and one transaction manager (TM) exchange messages.  An RM that is
working either prepares, sending the TM a *Prepared* message, or aborts on its own (the abort
message such an RM would send is left out: the TM may abort at any time anyway).  The TM
collects Prepared messages; once it has one from every RM it may commit and broadcast
*Commit*; while it has not decided it may instead abort and broadcast *Abort*.  An RM that
receives a decision adopts it.  Messages are never lost or removed: the network is the set of
messages ever sent, and receiving one twice changes nothing.

Source: ``specifications/transaction_commit/TwoPhase.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), module ``TwoPhase`` by Leslie Lamport, model
``TwoPhase.cfg`` with ``RM = {r1, r2, r3}`` and deadlock checking on.  TLC finds **288**
distinct states.

Modelling notes: the original's ``msgs`` is a set of records drawn from
``[type: {"Prepared"}, rm: RM] \\cup [type: {"Commit", "Abort"}]``.  Here the ``net`` machine
holds one boolean per possible message (``prepared_msg[rm]``, ``commit_msg``, ``abort_msg``),
which is the same information, so states correspond one to one and the count is unchanged.
``tmPrepared`` (a subset of RM) is a boolean per RM.  A step that changes an RM or the TM
and also sends a message is a synchronised step of two machines.  As in the original, an RM
adopts a Commit or Abort it finds in the network whatever its own state (the protocol ensures
this never contradicts what it did on its own; :data:`VARIANTS` has mutants where it does).
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import BOOL, EnumDomain, Model, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/transaction_commit/TwoPhase.tla, TwoPhase.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("twophase", "Two-phase commit as published.", kind="design"),
        Variant(
            "commit-without-all-prepared",
            "Mutant: the TM commits without waiting for a Prepared message from every RM.",
            kind="mutant",
            expected="tm_commits_only_when_all_prepared",
            switches={"commit_needs_all_prepared": False},
        ),
        Variant(
            "abort-after-prepare",
            "Mutant: an RM that has prepared may still abort on its own.",
            kind="mutant",
            expected="consistent",
            switches={"abort_only_while_working": False},
        ),
    ]
}

DEFAULT_VARIANT = "twophase"

#: The published configuration: RM = {r1, r2, r3}.
DEFAULT_SIZES = {"RM": 3}

RM = Sort("RM", "r", doc="a resource manager taking part in the transaction")
RmState = EnumDomain("rm_state", ["working", "prepared", "committed", "aborted"], doc="a resource manager's state")
TmState = EnumDomain("tm_state", ["init", "committed", "aborted"], doc="the transaction manager's state")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The two-phase commit model for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    sw = var.switches
    spec = Spec("twophase", sorts=[RM], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    # -- machines and variables -----------------------------------------------------------------
    net = spec.machine("net", doc="The messages sent so far: never lost, never removed.")
    prepared_msg = net.var("prepared_msg", BOOL, index=[RM], init=False, doc="RM rm has sent Prepared to the TM")
    commit_msg = net.var("commit_msg", BOOL, init=False, doc="the TM has broadcast Commit")
    abort_msg = net.var("abort_msg", BOOL, init=False, doc="the TM has broadcast Abort")

    rm = spec.machine("rm", doc="The resource managers.", reads=["net"])
    rm_state = rm.var("rmState", RmState, index=[RM], init="working", doc="the state of each resource manager")

    tm = spec.machine("tm", doc="The transaction manager.", reads=["net"])
    tm_state = tm.var("tmState", TmState, init="init", doc="the TM's decision, if any")
    tm_prepared = tm.var("tmPrepared", BOOL, index=[RM], init=False, doc="the TM has received Prepared from rm")

    # -- messages ---------------------------------------------------------------------------------
    send_prepared = net.transition("send_prepared", {"r": RM}, updates=lambda r: [prepared_msg[r].becomes(True)],
                                   doc="a Prepared message from r enters the network")
    send_commit = net.transition("send_commit", updates=[commit_msg().becomes(True)], doc="Commit is broadcast")
    send_abort = net.transition("send_abort", updates=[abort_msg().becomes(True)], doc="Abort is broadcast")

    # -- the TM ----------------------------------------------------------------------------------
    tm.transition(
        "TMRcvPrepared", {"r": RM},
        guard=lambda r: (tm_state() == TmState.init) & prepared_msg[r],
        updates=lambda r: [tm_prepared[r].becomes(True)],
        doc="the undecided TM receives a Prepared message from r",
    )
    tm_commit = tm.transition(
        "commit",
        guard=(tm_state() == TmState.init)
        & (forall(RM, lambda r: tm_prepared[r]) if sw.get("commit_needs_all_prepared", True) else True),
        updates=[tm_state().becomes(TmState.committed)],
        doc="the TM commits, once every RM has told it that it is prepared",
    )
    tm_abort = tm.transition(
        "abort", guard=tm_state() == TmState.init, updates=[tm_state().becomes(TmState.aborted)],
        doc="the undecided TM aborts, whenever it likes",
    )

    # -- the RMs ---------------------------------------------------------------------------------
    rm_prepare = rm.transition(
        "prepare", {"r": RM},
        guard=lambda r: rm_state[r] == RmState.working,
        updates=lambda r: [rm_state[r].becomes(RmState.prepared)],
        doc="a working RM prepares",
    )
    rm.transition(
        "RMChooseToAbort", {"r": RM},
        guard=lambda r: rm_state[r] == RmState.working if sw.get("abort_only_while_working", True)
        else rm_state[r].in_(RmState.working, RmState.prepared),
        updates=lambda r: [rm_state[r].becomes(RmState.aborted)],
        doc="a working RM decides on its own to abort (it sends nothing)",
    )
    rm.transition(
        "RMRcvCommitMsg", {"r": RM}, guard=lambda r: commit_msg(),
        updates=lambda r: [rm_state[r].becomes(RmState.committed)],
        doc="r receives the TM's Commit and commits",
    )
    rm.transition(
        "RMRcvAbortMsg", {"r": RM}, guard=lambda r: abort_msg(),
        updates=lambda r: [rm_state[r].becomes(RmState.aborted)],
        doc="r receives the TM's Abort and aborts",
    )

    # -- steps that also send a message ----------------------------------------------------------
    spec.sync("RMPrepare", {"r": RM}, lambda r: [rm_prepare(r), send_prepared(r)],
              doc="a working RM prepares and sends Prepared to the TM")
    spec.sync("TMCommit", None, [tm_commit(), send_commit()], doc="the TM commits and broadcasts Commit")
    spec.sync("TMAbort", None, [tm_abort(), send_abort()], doc="the TM aborts and broadcasts Abort")

    # -- properties ---------------------------------------------------------------------------------
    spec.invariant(
        "consistent",
        forall(RM, lambda r1: forall(RM, lambda r2: ~((rm_state[r1] == RmState.aborted) & (rm_state[r2] == RmState.committed)))),
        doc="No RM has committed while another has aborted (TCommit's TCConsistent, which TwoPhase implements).",
    )
    spec.invariant(
        "tm_commits_only_when_all_prepared",
        implies(tm_state() == TmState.committed, forall(RM, lambda r: tm_prepared[r] & prepared_msg[r])),
        doc="The TM has committed only after receiving a Prepared message from every RM.",
    )
    spec.invariant(
        "messages_match_states",
        (commit_msg() == (tm_state() == TmState.committed)) & (abort_msg() == (tm_state() == TmState.aborted))
        & forall(RM, lambda r: implies(tm_prepared[r], prepared_msg[r]))
        & forall(RM, lambda r: implies(rm_state[r] == RmState.committed, commit_msg())),
        doc="Commit and Abort are in the network exactly when the TM has so decided; the TM counts only Prepared "
            "messages that were sent; an RM commits only on the TM's word.",
    )

    spec.goal("all_committed", forall(RM, lambda r: rm_state[r] == RmState.committed) & (tm_state() == TmState.committed),
              doc="The transaction commits everywhere.")
    spec.goal("aborted_after_every_prepare",
              forall(RM, lambda r: prepared_msg[r]) & forall(RM, lambda r: rm_state[r] == RmState.aborted),
              doc="Every RM prepared, and yet the TM aborted and every RM learnt it.")
    spec.goal("lone_abort",
              exists(RM, lambda r: ~prepared_msg[r] & (rm_state[r] == RmState.aborted)) & (tm_state() == TmState.init),
              doc="An RM aborts on its own before the TM decides.")
    return spec.build(var)
