"""Lamport's "Teaching Concurrency" example (module Simple), a PlusCal model.

N processes, numbered 0 to N-1 and arranged in a ring, share two arrays ``x`` and ``y``, all
zeros.  Each process runs two statements once: ``a``: set its own ``x`` to 1; ``b``: copy the
``x`` of its predecessor on the ring into its own ``y``.  The claim to check: when every
process has finished, some ``y`` is 1 (the last process to execute ``a`` precedes a process
that has not yet read).

Source: ``specifications/TeachingConcurrency/Simple.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), by Leslie Lamport, model ``Simple.cfg`` with
``N = 5``, deadlock checking on.  TLC finds **723** distinct states.

Modelling notes: TLC counts states of the PlusCal translation, over ``x``, ``y`` and ``pc``
(labels ``a``, ``b`` and ``Done``); the model keeps all three, ``x`` and ``y`` as integers 0..1.
The processes are a sort of size N; the original's ``x[(self-1) % N]`` is ``x[self.prev()]``,
so the sort keeps its rotations as symmetries.  The translation adds a step that changes
nothing once every process is done (so that termination is not a deadlock); the model has it
too.  The invariant ``Inv`` the original checks is stated through its second conjunct; its
third is equivalent to ``PCorrect`` (as the original's comments observe).
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import EnumDomain, Model, RangeDomain, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/TeachingConcurrency/Simple.tla, Simple.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("simple", "The algorithm as published.", kind="design"),
        Variant(
            "copy-neighbours-y",
            "Mutant: b copies the predecessor's y instead of its x, so every y stays 0.",
            kind="mutant",
            expected="pc_correct",
            switches={"read_x": False},
        ),
    ]
}

DEFAULT_VARIANT = "simple"

#: The published configuration: N = 5.
DEFAULT_SIZES = {"Proc": 5}

Proc = Sort("Proc", "p", doc="a process on the ring")
Pc = EnumDomain("pc", ["a", "b", "Done"], doc="PlusCal labels of a process")
Bit = RangeDomain(0, 1)


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The Simple algorithm for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    read_x = var.switches.get("read_x", True)
    spec = Spec("teaching_concurrency", sorts=[Proc], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    m = spec.machine("processes", doc="The N processes and the arrays they share.")
    x = m.var("x", Bit, index=[Proc], init=0, doc="set to 1 by the process at a")
    y = m.var("y", Bit, index=[Proc], init=0, doc="what the process read from its predecessor's x at b")
    pc = m.var("pc", Pc, index=[Proc], init="a", doc="each process's PlusCal label")

    m.transition("a", {"self": Proc}, guard=lambda p: pc[p] == Pc.a,
                 updates=lambda p: [x[p].becomes(1), pc[p].becomes(Pc.b)], doc="x[self] := 1")
    m.transition("b", {"self": Proc}, guard=lambda p: pc[p] == Pc.b,
                 updates=lambda p: [y[p].becomes(x[p.prev()] if read_x else y[p.prev()]), pc[p].becomes(Pc.Done)],
                 doc="y[self] := x[(self-1) % N]")
    m.transition("Terminating", guard=forall(Proc, lambda p: pc[p] == Pc.Done),
                 doc="every process is done; the translation lets the system stutter rather than deadlock")

    spec.invariant(
        "pc_correct",
        implies(forall(Proc, lambda p: pc[p] == Pc.Done), exists(Proc, lambda p: y[p] == 1)),
        doc="When every process has finished, some y is 1 (PCorrect).",
    )
    spec.invariant(
        "x_written_before_b",
        forall(Proc, lambda p: implies(pc[p].in_(Pc.b, Pc.Done), x[p] == 1)),
        doc="A process past a has set its x (the second conjunct of the inductive invariant Inv).",
    )
    spec.goal("all_done", forall(Proc, lambda p: pc[p] == Pc.Done), doc="Every process finishes.")
    spec.goal("only_one_y", lambda q: forall(Proc, lambda p: (pc[p] == Pc.Done) & ((y[p] == 1) == (p == q))),
              params={"q": Proc}, doc="For every process, a run in which it alone reads a 1.")
    return spec.build(var)
