"""An abstract lock shared by two processes (Differdange's Lock), a PlusCal model.

Each process loops: a non-critical section (label ``l0``), acquiring the lock (``l1``: wait
until the lock is free, 1, and take it, 0, in one step), the critical section (``cs``), and
releasing the lock (``l2``).  Mutual exclusion follows because acquiring is atomic.  The spec is
the abstract counterpart of Peterson's algorithm (:mod:`lbrspec_models.examples.peterson`)
in the same directory, which refines it.

Source: ``specifications/locks_auxiliary_vars/Lock.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), by Jarod Differdange, model ``Lock.cfg`` (the
processes are ``1..2``, fixed in the spec), deadlock checking on.  TLC finds **12** distinct
states: the 16 pairs of labels less the 4 with both processes in ``cs`` or ``l2``.

Modelling notes: TLC counts states of the PlusCal translation, over ``pc`` and ``lock``; the
model keeps both, with the same labels, and ``lock`` as the integer 0 or 1.  The two processes
are a sort of size 2: nothing in the spec tells them apart.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import EnumDomain, Model, RangeDomain, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/locks_auxiliary_vars/Lock.tla, Lock.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("lock", "The abstract lock as published.", kind="design"),
        Variant(
            "no-await",
            "Mutant: l1 takes the lock without waiting for it to be free.",
            kind="mutant",
            expected="mutual_exclusion",
            switches={"await_free": False},
        ),
    ]
}

DEFAULT_VARIANT = "lock"

#: The published configuration: ProcSet = 1..2.
DEFAULT_SIZES = {"Proc": 2}

Proc = Sort("Proc", "p", doc="a process competing for the lock")
Pc = EnumDomain("pc", ["l0", "l1", "cs", "l2"], doc="PlusCal labels of a process")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The lock model for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    await_free = var.switches.get("await_free", True)
    spec = Spec("lock", sorts=[Proc], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    m = spec.machine("processes", doc="The two processes and the lock they share.")
    pc = m.var("pc", Pc, index=[Proc], init="l0", doc="each process's PlusCal label")
    lock = m.var("lock", RangeDomain(0, 1), init=1, doc="1 when the lock is free, 0 when it is held")

    lockcs = spec.define("lockcs", {"p": Proc}, lambda p: pc[p].in_(Pc.cs, Pc.l2),
                         doc="p holds the lock: in its critical section or about to release")

    m.transition("l0", {"p": Proc}, guard=lambda p: pc[p] == Pc.l0, updates=lambda p: [pc[p].becomes(Pc.l1)],
                 doc="the non-critical section")
    m.transition(
        "l1", {"p": Proc},
        guard=lambda p: (pc[p] == Pc.l1) & ((lock() == 1) if await_free else True),
        updates=lambda p: [lock().becomes(0), pc[p].becomes(Pc.cs)],
        doc="Lock(lock): await lock = 1; lock := 0",
    )
    m.transition("cs", {"p": Proc}, guard=lambda p: pc[p] == Pc.cs, updates=lambda p: [pc[p].becomes(Pc.l2)],
                 doc="the critical section")
    m.transition("l2", {"p": Proc}, guard=lambda p: pc[p] == Pc.l2,
                 updates=lambda p: [lock().becomes(1), pc[p].becomes(Pc.l0)], doc="Unlock(lock): lock := 1")

    spec.invariant(
        "mutual_exclusion",
        forall(Proc, lambda i: forall(Proc, lambda j: implies(i != j, ~(lockcs(i) & lockcs(j))))),
        doc="No two processes hold the lock at once (the first conjunct of LockInv).",
    )
    spec.invariant(
        "held_lock_is_taken",
        implies(exists(Proc, lambda p: lockcs(p)), lock() == 0),
        doc="While some process holds the lock, the lock reads 0 (the second conjunct of LockInv).",
    )
    spec.goal("each_enters", lambda p: pc[p] == Pc.cs, params={"p": Proc},
              doc="Every process reaches its critical section.")
    spec.goal("contention", exists(Proc, lambda p: lockcs(p)) & exists(Proc, lambda q: pc[q] == Pc.l1),
              doc="A process waits at l1 while the other holds the lock.")
    return spec.build(var)
