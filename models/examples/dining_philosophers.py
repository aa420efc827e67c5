"""Dining philosophers, Chandy and Misra's solution (Hemphill's DiningPhilosophers), a PlusCal model.

Philosophers sit around a table with one fork between each pair of neighbours; philosopher
``p``'s left fork is fork ``p`` and its right fork is fork ``p + 1`` (around the table).  A fork
is held by one of its two philosophers and is clean or dirty; all start dirty, each held by the
lower-numbered of its philosophers (so philosopher 1 holds forks 1 and 2 and philosopher 2
none).  A philosopher loops: it hands a dirty fork it holds, cleaned, to the neighbour who
shares it (its left one if it can, else its right one), then, if hungry and holding both forks
clean, goes to eat; eating dirties both forks and ends the hunger, and a philosopher that is
not hungry thinks and becomes hungry again.  Neighbours never eat at the same time.

Source: ``specifications/DiningPhilosophers/DiningPhilosophers.tla`` in the TLA+ Examples
repository (github.com/tlaplus/Examples, MIT licence), by Jeff Hemphill, model
``DiningPhilosophers.cfg``.  TLC finds **67** distinct states.  The configuration file is not
in the index we searched; ``NP = 5`` is the value in the repository's Apalache configuration
of the same spec (``APDiningPhilosophers.cfg``) and the only one giving 67 (a direct
enumeration of the translation's semantics gives 5, 11, 19, 35, 67, 131 states for NP = 1..6).

Modelling notes: TLC counts states of the PlusCal translation, over ``forks``, ``hungry`` and
``pc`` (labels ``Loop``, ``Eat``, ``Think``); the model keeps them, each fork's record
``[holder, clean]`` as two variables indexed by fork.  Forks and philosophers are both numbered
``1..NP``, here one sort ``Phil`` of size NP, fork ``p`` being philosopher ``p``'s left fork.
``RightFork(p)`` and ``RightPhilosopher(p)`` are ``p.next()``, ``LeftPhilosopher(p)`` is
``p.prev()``, and the initial holders name elements (``Phil.elem(1)``, fork 2, is held by
``Phil.first()``).  ``Loop`` evaluates ``CanEat`` on the state before the fork it hands over
leaves, as the translation does.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import BOOL, EnumDomain, Model, Sort, Spec, Variant, forall, implies, ite

SOURCE = "tlaplus/Examples specifications/DiningPhilosophers/DiningPhilosophers.tla, DiningPhilosophers.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("chandy-misra", "The Chandy-Misra solution as published.", kind="design"),
        Variant(
            "eat-with-any-clean-forks",
            "Mutant: a hungry philosopher eats when both its forks are clean, without checking that it holds them.",
            kind="mutant",
            expected="exclusive_access",
            switches={"check_holder": False},
        ),
    ]
}

DEFAULT_VARIANT = "chandy-misra"

#: NP = 5 philosophers.
DEFAULT_SIZES = {"Phil": 5}

Phil = Sort("Phil", "p", doc="a philosopher, and its left fork (fork p lies between p and p.prev())")
Pc = EnumDomain("pc", ["Loop", "Eat", "Think"], doc="PlusCal labels of a philosopher")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The dining philosophers for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    check_holder = var.switches.get("check_holder", True)
    spec = Spec("dining_philosophers", sorts=[Phil], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    forks = spec.machine("forks", doc="The forks on the table: who holds each, and whether it is clean.")
    holder = forks.var(
        "holder", Phil, index=[Phil], init=lambda f: ite(f == Phil.elem(1), Phil.first(), f),
        doc="the philosopher holding fork f: initially the lower-numbered of its two (fork 2 starts with philosopher 1)",
    )
    clean = forks.var("clean", BOOL, index=[Phil], init=False, doc="fork f is clean (all start dirty)")

    phil = spec.machine("philosophers", doc="The philosopher processes.", reads=["forks"])
    hungry = phil.var("hungry", BOOL, index=[Phil], init=True, doc="the philosopher wants to eat")
    pc = phil.var("pc", Pc, index=[Phil], init="Loop", doc="each philosopher's PlusCal label")

    holds_both = spec.define("IsHoldingBothForks", {"p": Phil}, lambda p: (holder[p] == p) & (holder[p.next()] == p),
                             doc="p holds its left and its right fork")
    both_clean = spec.define("BothForksAreClean", {"p": Phil}, lambda p: clean[p] & clean[p.next()],
                             doc="p's two forks are clean")
    can_eat = spec.define("CanEat", {"p": Phil}, lambda p: (holds_both(p) if check_holder else True) & both_clean(p),
                          doc="p holds both its forks, and both are clean")
    gives_left = spec.define("gives_left", {"p": Phil}, lambda p: (holder[p] == p) & ~clean[p],
                             doc="p holds its left fork dirty: it hands it to its left neighbour")
    gives_right = spec.define(
        "gives_right", {"p": Phil}, lambda p: ~gives_left(p) & (holder[p.next()] == p) & ~clean[p.next()],
        doc="otherwise, p holds its right fork dirty: it hands it to its right neighbour",
    )
    share_fork = spec.define(
        "ShareFork", {"p": Phil, "q": Phil},
        lambda p, q: (p == q) | (p == q.next()) | (p.next() == q) | (p.next() == q.next()),
        doc="p and q have a fork in common",
    )

    # -- the forks --------------------------------------------------------------------------------
    hand_over = forks.transition(
        "hand_over", {"p": Phil},
        updates=lambda p: [
            holder.becomes_all(lambda f: ite(gives_left(p) & (f == p), p.prev(),
                                             ite(gives_right(p) & (f == p.next()), p.next(), holder[f]))),
            clean.becomes_all(lambda f: ite((gives_left(p) & (f == p)) | (gives_right(p) & (f == p.next())), True, clean[f])),
        ],
        doc="p hands a dirty fork it holds, cleaned, to the neighbour sharing it (left first), if it has one",
    )
    dirty = forks.transition(
        "dirty", {"p": Phil},
        updates=lambda p: [clean.becomes_all(lambda f: ite((f == p) | (f == p.next()), False, clean[f]))],
        doc="eating dirties both of p's forks",
    )

    # -- the philosophers -------------------------------------------------------------------------
    loop = phil.transition(
        "loop", {"p": Phil},
        guard=lambda p: pc[p] == Pc.Loop,
        updates=lambda p: [pc[p].becomes(ite(hungry[p], ite(can_eat(p), Pc.Eat, Pc.Loop), Pc.Think))],
        doc="Loop: a hungry philosopher able to eat goes to Eat, a sated one to Think (CanEat read before the hand-over)",
    )
    eat = phil.transition(
        "eat", {"p": Phil},
        guard=lambda p: pc[p] == Pc.Eat,
        updates=lambda p: [hungry[p].becomes(False), pc[p].becomes(Pc.Loop)],
        doc="Eat: p eats and is no longer hungry",
    )
    phil.transition(
        "Think", {"p": Phil},
        guard=lambda p: pc[p] == Pc.Think,
        updates=lambda p: [hungry[p].becomes(True), pc[p].becomes(Pc.Loop)],
        doc="Think: p thinks and becomes hungry again",
    )
    spec.sync("Loop", {"p": Phil}, lambda p: [loop(p), hand_over(p)], doc="label Loop of philosopher p")
    spec.sync("Eat", {"p": Phil}, lambda p: [eat(p), dirty(p)], doc="label Eat of philosopher p")

    # -- properties ---------------------------------------------------------------------------------
    spec.invariant(
        "exclusive_access",
        forall(Phil, lambda p: forall(Phil, lambda q: implies((p != q) & share_fork(p, q),
                                                              ~((pc[p] == Pc.Eat) & (pc[q] == Pc.Eat))))),
        doc="Two philosophers sharing a fork never eat at the same time (ExclusiveAccess).",
    )
    spec.invariant(
        "forks_stay_between_their_philosophers",
        forall(Phil, lambda f: (holder[f] == f) | (holder[f] == f.prev())),
        doc="Fork f is always held by one of the two philosophers it lies between.",
    )
    spec.goal("each_eats", lambda p: pc[p] == Pc.Eat, params={"p": Phil}, doc="Every philosopher gets to eat.")
    spec.goal("all_forks_clean", forall(Phil, lambda f: clean[f]),
              doc="Every fork is clean at once: each has been handed over since it was last used.")
    return spec.build(var)
