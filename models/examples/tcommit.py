"""Transaction commit (Gray and Lamport): the specification every commit protocol implements.

A transaction has a fixed set of resource managers (RMs).  Each RM starts ``working``; it may
*prepare* (promise to commit if asked), and it may *decide*: commit, but only once every RM
has prepared or committed, or abort, but only while no RM has committed.  Nothing else
happens; there are no messages and no coordinator.  The property that makes this a commit
specification is consistency: no RM commits while another aborts.

Source: ``specifications/transaction_commit/TCommit.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), module ``TCommit`` by Leslie Lamport, model
``TCommit.cfg`` with ``RM = {r1, r2, r3}``, deadlock checking off.  TLC finds **34** distinct
states: every assignment of working/prepared/aborted to three RMs (27) and the seven in which
every RM has prepared or committed and at least one has committed.

Modelling notes: one machine, one variable ``rmState[rm]`` as in the original.  The original's
``Decide(rm)`` is a disjunction of two steps with different guards; here it is two transitions,
``decide_commit`` and ``decide_abort``, which allow exactly the same steps.  An execution ends
when every RM has decided (TLC's configuration turns deadlock checking off for that reason), so
:data:`CHECK_DEADLOCK` is ``False``, and on the command line the model is checked with
``--allow-deadlock``.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import EnumDomain, Model, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/transaction_commit/TCommit.tla, TCommit.cfg"

#: TLC runs this configuration with CHECK_DEADLOCK FALSE: a finished transaction has no step left.
CHECK_DEADLOCK = False

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("tcommit", "The transaction commit specification as published.", kind="design"),
        Variant(
            "commit-when-self-prepared",
            "Mutant: an RM commits as soon as it has prepared itself, without waiting for the others.",
            kind="mutant",
            expected="commit_only_after_all_prepared",
            switches={"commit_needs_all_prepared": False},
        ),
        Variant(
            "abort-after-commit",
            "Mutant: an undecided RM may abort even after another RM has committed.",
            kind="mutant",
            expected="consistent",
            switches={"abort_needs_none_committed": False},
        ),
    ]
}

DEFAULT_VARIANT = "tcommit"

#: The published configuration: RM = {r1, r2, r3}.
DEFAULT_SIZES = {"RM": 3}

RM = Sort("RM", "r", doc="a resource manager taking part in the transaction")
RmState = EnumDomain(
    "rm_state", ["working", "prepared", "committed", "aborted"], doc="where a resource manager is in the transaction"
)


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The transaction commit specification for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    all_prepared_rule = var.switches.get("commit_needs_all_prepared", True)
    none_committed_rule = var.switches.get("abort_needs_none_committed", True)

    spec = Spec("tcommit", sorts=[RM], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)
    rms = spec.machine("rm", doc="The resource managers, each deciding on its own.")
    rm_state = rms.var("rmState", RmState, index=[RM], init="working", doc="the state of each resource manager")

    can_commit = spec.define(
        "canCommit", {}, lambda: forall(RM, lambda r: rm_state[r].in_(RmState.prepared, RmState.committed)),
        doc="every RM has prepared or committed",
    )
    not_committed = spec.define(
        "notCommitted", {}, lambda: forall(RM, lambda r: rm_state[r] != RmState.committed),
        doc="no RM has committed",
    )

    rms.transition(
        "prepare", {"rm": RM},
        guard=lambda rm: rm_state[rm] == RmState.working,
        updates=lambda rm: [rm_state[rm].becomes(RmState.prepared)],
        doc="a working RM prepares: it promises to commit if the transaction commits",
    )
    rms.transition(
        "decide_commit", {"rm": RM},
        guard=lambda rm: (rm_state[rm] == RmState.prepared) & (can_commit() if all_prepared_rule else True),
        updates=lambda rm: [rm_state[rm].becomes(RmState.committed)],
        doc="a prepared RM commits, once every RM has prepared or committed",
    )
    rms.transition(
        "decide_abort", {"rm": RM},
        guard=lambda rm: rm_state[rm].in_(RmState.working, RmState.prepared) & (not_committed() if none_committed_rule else True),
        updates=lambda rm: [rm_state[rm].becomes(RmState.aborted)],
        doc="an undecided RM aborts, as long as no RM has committed",
    )

    spec.invariant(
        "consistent",
        forall(RM, lambda r1: forall(RM, lambda r2: ~((rm_state[r1] == RmState.aborted) & (rm_state[r2] == RmState.committed)))),
        doc="No RM has committed while another has aborted (TCConsistent).",
    )
    spec.invariant(
        "commit_only_after_all_prepared",
        implies(exists(RM, lambda r: rm_state[r] == RmState.committed),
                forall(RM, lambda r: rm_state[r].in_(RmState.prepared, RmState.committed))),
        doc="Once an RM has committed, every RM has prepared or committed (none is working or aborted).",
    )

    spec.goal("all_committed", forall(RM, lambda r: rm_state[r] == RmState.committed),
              doc="The transaction commits at every RM.")
    spec.goal("all_aborted", forall(RM, lambda r: rm_state[r] == RmState.aborted),
              doc="The transaction aborts at every RM.")
    spec.goal("abort_after_prepare",
              exists(RM, lambda r: rm_state[r] == RmState.prepared) & exists(RM, lambda r: rm_state[r] == RmState.aborted),
              doc="An RM aborts while another has prepared (the abort is not only for RMs that never prepared).")
    return spec.build(var)
