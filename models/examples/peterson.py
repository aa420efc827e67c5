"""Peterson's mutual exclusion algorithm for two processes, a PlusCal model.

Each process loops through a non-critical section (label ``a0``), raises its flag
``c[self]`` (``a1``), gives the turn to the other process (``a2``), waits until the other's flag
is down or the turn is its own (``a3``), runs its critical section (``cs``) and lowers its flag
(``a4``).  Mutual exclusion holds because whichever process wrote ``turn`` last waits.

Source: ``specifications/locks_auxiliary_vars/Peterson.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), by Jarod Differdange (from a ULiège course), model
``Peterson.cfg`` (the processes are ``1..2``, fixed in the spec), deadlock checking on.  TLC
finds **42** distinct states.

Modelling notes: TLC counts states of the PlusCal translation, over ``pc``, ``c`` and ``turn``;
the model keeps the three with the same labels.  The processes ``1..2`` are a sort of size 2.
The original's ``Other(p) == IF p = 1 THEN 2 ELSE 1`` is ``p.next()`` around the ring of two
processes, and ``turn = 1`` initially is ``Proc.first()``: the spec does name process 1, so the
sort keeps no symmetry.  The invariant ``Inv`` the original checks is stated as its three
conjuncts.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import BOOL, EnumDomain, Model, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/locks_auxiliary_vars/Peterson.tla, Peterson.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("peterson", "Peterson's algorithm as published.", kind="design"),
        Variant(
            "turn-to-self",
            "Mutant: at a2 a process gives the turn to itself instead of to the other.  It breaks the "
            "invariant's turn conjunct at depth 7, one step before both processes are in their critical sections.",
            kind="mutant",
            expected="turn_guards_cs",
            switches={"polite": False},
        ),
    ]
}

DEFAULT_VARIANT = "peterson"

#: The published configuration: ProcSet = 1..2.
DEFAULT_SIZES = {"Proc": 2}

Proc = Sort("Proc", "p", doc="one of the two processes")
Pc = EnumDomain("pc", ["a0", "a1", "a2", "a3", "cs", "a4"], doc="PlusCal labels of a process")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """Peterson's algorithm for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    polite = var.switches.get("polite", True)
    spec = Spec("peterson", sorts=[Proc], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    m = spec.machine("processes", doc="The two processes and their shared variables.")
    pc = m.var("pc", Pc, index=[Proc], init="a0", doc="each process's PlusCal label")
    c = m.var("c", BOOL, index=[Proc], init=False, doc="the process's flag: it wants to enter, or is inside")
    turn = m.var("turn", Proc, init=Proc.first(), doc="which process waits when both want to enter (process 1 first)")

    other = spec.define("Other", {"p": Proc}, lambda p: p.next(), doc="the other process: the next one around a ring of two")
    lockcs = spec.define("lockcs", {"p": Proc}, lambda p: pc[p].in_(Pc.cs, Pc.a4), doc="p is in its critical section")

    def step(label: str, nxt: str, guard=None, updates=()):
        m.transition(
            label, {"self": Proc},
            guard=lambda p: (pc[p] == getattr(Pc, label)) & (guard(p) if guard else True),
            updates=lambda p: [pc[p].becomes(getattr(Pc, nxt))] + list(updates(p) if updates else []),
            doc=f"label {label}",
        )

    step("a0", "a1")
    step("a1", "a2", updates=lambda p: [c[p].becomes(True)])
    step("a2", "a3", updates=lambda p: [turn().becomes(other(p) if polite else p)])
    step("a3", "cs", guard=lambda p: ~c[other(p)] | (turn() == p))
    step("cs", "a4")
    step("a4", "a0", updates=lambda p: [c[p].becomes(False)])

    spec.invariant(
        "mutual_exclusion",
        forall(Proc, lambda i: forall(Proc, lambda j: implies(i != j, ~(lockcs(i) & lockcs(j))))),
        doc="The two processes are never both in their critical sections (Inv's third conjunct).",
    )
    spec.invariant(
        "flag_follows_pc",
        forall(Proc, lambda p: c[p] == pc[p].in_(Pc.a2, Pc.a3, Pc.cs, Pc.a4)),
        doc="A process's flag is up exactly from a2 to a4 (Inv's first conjunct).",
    )
    spec.invariant(
        "turn_guards_cs",
        forall(Proc, lambda p: implies(lockcs(p), (turn() == p) | pc[other(p)].in_(Pc.a0, Pc.a1, Pc.a2))),
        doc="A process in its critical section has the turn, or the other has not yet reached a3 (Inv's second "
            "conjunct).",
    )
    spec.goal("each_enters", lambda p: pc[p] == Pc.cs, params={"p": Proc}, doc="Every process reaches its critical section.")
    spec.goal("waits_for_the_other", exists(Proc, lambda p: lockcs(p) & (pc[other(p)] == Pc.a3)),
              doc="A process waits at a3 while the other is in its critical section.")
    return spec.build(var)
