"""Engine disagreements the differential tests found, each as its minimal model.

Each test below states what all engines should do on its model; each failed once, because one
engine did otherwise, and passes since the fix.  A disagreement found and not yet fixed gets its
test here as ``xfail(strict=True)`` and an entry in ``engines.KNOWN_ISSUES`` (none today), so
that the random runs can count it; the strict xfail fails once the fix lands.  The last test
checks that the comparison itself can fail.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from lbrspec.errors import EvaluationError
from lbrspec.explicit.evaluate import step
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.export.promela import to_promela
from lbrspec.export.spin import run_spin, spin_available
from lbrspec.lang import ANY, BOOL, TRUE, EnumDomain, RangeDomain, Sort, Spec, Variant, exists, forall, ite
from lbrspec.lang.spec import Model
from lbrspec.pbt import rule_machine
from lbrspec.smt.bmc import bmc

from . import engines
from .engines import Case
from .genmodel import GeneratedModel

A = Sort("A", "a")
COUNT = RangeDomain(0, 3)


def _spec() -> Spec:
    return Spec("minimal", sorts=[A], default_sizes={"A": 1})


def _build(spec: Spec) -> Model:
    return spec.build(Variant("minimal", "a minimal model"))


def _machine_settings() -> settings:
    return settings(max_examples=20, stateful_step_count=5, derandomize=True, database=None, deadline=None,
                    phases=[Phase.generate], report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


# -- 1. n := n - 1 at n = 0 -----------------------------------------------------------------------------


def decrement_below_zero() -> Model:
    """``n`` in 0..3, starting at 0; ``dec`` does ``n := n - 1`` with no guard."""
    spec = _spec()
    m = spec.machine("m")
    n = m.var("n", COUNT, init=0)
    m.transition("dec", updates=[n().becomes(n() - 1)])
    spec.invariant("small", n() <= 3, doc="n stays in its range")
    return _build(spec)


def test_subtraction_below_zero_is_an_error_in_the_reference_vector_explorer_and_bmc():
    inst = Instance(decrement_below_zero())
    with pytest.raises(EvaluationError):
        step(inst, inst.model.action("dec"), (), inst.initial_states()[0])
    with pytest.raises(EvaluationError):
        explore_vector(inst, max_states=50)
    with pytest.raises(EvaluationError):
        bmc(inst.model, inst.sizes_by_name(), depth=3)


def test_subtraction_below_zero_is_an_error_in_every_engine():
    inst = Instance(decrement_below_zero())
    with pytest.raises(EvaluationError):
        explore(inst, max_states=50)
    with pytest.raises(EvaluationError):
        run_state_machine_as_test(rule_machine(inst), settings=_machine_settings())


# -- 2. and 3. an out-of-range write that folds to a constant ------------------------------------------------


def unreachable_constant_write() -> Model:
    """``t(k)`` writes ``y := k + 1`` (4 for k = 3, outside 0..3) but is enabled only for
    ``k = x = 0``: no reachable step writes out of range."""
    spec = _spec()
    m = spec.machine("m")
    x = m.var("x", COUNT, init=0)
    y = m.var("y", COUNT, init=0)
    m.transition("t", {"k": COUNT}, guard=lambda k: x() == k, updates=lambda k: [y().becomes(k + 1)])
    spec.invariant("anything", y() <= 3, doc="y stays in its range")
    return _build(spec)


def reachable_constant_write() -> Model:
    """``t(k)`` writes ``y := k + 1`` for every ``k`` in 0..3: ``k = 3`` writes 4, outside 0..3."""
    spec = _spec()
    m = spec.machine("m")
    y = m.var("y", COUNT, init=0)
    m.transition("t", {"k": COUNT}, updates=lambda k: [y().becomes(k + 1)])
    spec.invariant("anything", y() <= 3, doc="y stays in its range")
    return _build(spec)


def test_unreachable_constant_out_of_range_write_is_no_error():
    inst = Instance(unreachable_constant_write())
    assert explore_vector(inst, check_deadlock=False).states == 2
    r = explore(inst, check_deadlock=False)
    assert r.states == 2 and r.verdict == "holds"
    rule_machine(inst)


def test_reachable_constant_out_of_range_write_is_an_error_in_the_vector_explorer():
    inst = Instance(reachable_constant_write())
    with pytest.raises(EvaluationError):
        explore(inst, check_deadlock=False)
    with pytest.raises(EvaluationError):
        explore_vector(inst, check_deadlock=False, max_states=50)


# -- 4. a deadlock and a violation in one breadth-first layer ----------------------------------------------------


def deadlock_beside_violation() -> Model:
    """Two initial states, ``x = 0`` and ``x = 1``; from 0 the only step leads to ``x = 2``,
    which violates ``not_two``; ``x = 1`` has no step (a deadlock)."""
    spec = _spec()
    m = spec.machine("m")
    x = m.var("x", COUNT, init=[0, 1])
    m.transition("t", guard=lambda: x() == 0, updates=[x().becomes(2)])
    spec.invariant("not_two", x() != 2, doc="x is never 2")
    return _build(spec)


def test_vector_explorer_reports_the_reference_explorers_first_violation():
    inst = Instance(deadlock_beside_violation())
    ref, fast = explore(inst), explore_vector(inst)
    assert (ref.violation.kind, ref.violation.names) == ("invariant", ["not_two"])
    assert (fast.violation.kind, fast.violation.names, len(fast.violation.trace)) == ("invariant", ["not_two"], 1)


# -- 4b. not ite(c, x, False) in numpy -------------------------------------------------------------------------------


def negated_ite_with_constant_branch() -> Model:
    """``x`` starts true; the invariant ``not ite(x, x, False)`` is false in the initial state."""
    spec = _spec()
    m = spec.machine("m")
    x = m.var("x", BOOL, init=True)
    m.transition("idle")
    spec.invariant("not_x", ~ite(x(), x(), False), doc="x is false (it is not)")
    return _build(spec)


def test_vector_explorer_negates_an_ite_with_a_constant_branch():
    inst = Instance(negated_ite_with_constant_branch())
    assert explore(inst).violated == "not_x"
    assert explore_vector(inst).violated == "not_x"


# -- 5. symmetry and a goal over an enum ---------------------------------------------------------------------------

COLOR = EnumDomain("color", ["RED", "GREEN"])


def goal_over_enum() -> Model:
    """A goal for every colour ``c``: some element is painted ``c``."""
    spec = _spec()
    m = spec.machine("m")
    paint = m.var("paint", COLOR, index=[A], init="RED")
    m.transition("repaint", {"a": A, "c": COLOR}, updates=lambda a, c: [paint[a].becomes(c)])
    spec.invariant("painted", forall(A, lambda a: paint[a].in_("RED", "GREEN")), doc="a tautology")
    spec.goal("used", lambda c: exists(A, lambda a: paint[a] == c), doc="every colour is used", params={"c": COLOR})
    return _build(spec)


def test_symmetry_with_a_goal_over_an_enum_parameter():
    inst = Instance(goal_over_enum())
    plain = explore_vector(inst)
    reduced = explore_vector(inst, symmetry=True)
    assert [(g.name, g.reached) for g in reduced.goals] == [(g.name, g.reached) for g in plain.goals] == [("used", True)]


# -- 6. an initial value outside the range -------------------------------------------------------------------------


def initial_value_out_of_range() -> Model:
    """``x`` in 0..3 starts at ``inc(3)`` = 4, through a definition (no literal is out of range)."""
    spec = _spec()
    inc = spec.define("inc", {"n": COUNT}, lambda n: n + 1)
    m = spec.machine("m")
    x = m.var("x", COUNT, index=[A], init=lambda a: inc(3))
    m.transition("t", {"a": A}, guard=lambda a: x[a] < 3, updates=lambda a: [x[a].becomes(x[a] + 1)])
    spec.invariant("in_range", forall(A, lambda a: x[a] <= 3), doc="x stays in its range")
    return _build(spec)


def test_an_initial_value_outside_the_range_is_an_error():
    """The same EvaluationError from the instance, both explorers, bmc and the Promela export."""
    model = initial_value_out_of_range()
    inst = Instance(model)
    message = "the initial value of x[a0] is 4, outside 0..3"
    for run in (inst.initial_states, lambda: explore(inst), lambda: explore_vector(inst),
                lambda: bmc(model, inst.sizes_by_name(), depth=2), lambda: to_promela(inst)):
        with pytest.raises(EvaluationError, match=re.escape(message)):
            run()


# -- 7. SPIN and a model that reads no variable -------------------------------------------------------------------


def reads_no_variable() -> Model:
    """``x`` starts as either boolean; the only step changes nothing and nothing reads ``x``."""
    spec = _spec()
    m = spec.machine("m")
    m.var("x", BOOL, init=ANY)
    m.transition("idle")
    spec.invariant("anything", TRUE, doc="a tautology")
    return _build(spec)


needs_spin = pytest.mark.skipif(not spin_available() and not os.environ.get("LBRSPEC_REQUIRE_TOOLS"),
                                reason="spin and gcc are not installed")


@needs_spin
@pytest.mark.long
def test_spin_counts_states_of_a_model_that_reads_no_variable(tmp_path):
    from lbrspec.export.promela import SPIN_EXTRA_STATES

    inst = Instance(reads_no_variable())
    r = run_spin(inst, tmp_path)
    assert r.errors == 0 and r.states == explore(inst).states + SPIN_EXTRA_STATES


def never_enabled() -> Model:
    """The only action's guard is ``false``: every initial state is a deadlock."""
    spec = _spec()
    m = spec.machine("m")
    x = m.var("x", BOOL, init=True)
    m.transition("never", guard=False, updates=[x().becomes(False)])
    spec.invariant("anything", x() | ~x(), doc="a tautology")
    return _build(spec)


@needs_spin
@pytest.mark.long
def test_spin_runs_a_model_whose_actions_are_never_enabled(tmp_path):
    inst = Instance(never_enabled())
    assert explore(inst).violation.kind == "deadlock"
    r = run_spin(inst, tmp_path)
    assert r.errors >= 1 and "invalid end state" in r.output


# -- the differential checks find each of them -----------------------------------------------------------------------


def _gm(model: Model) -> GeneratedModel:
    from collections import Counter

    return GeneratedModel(model, dict(model.default_sizes), Counter(), f"minimal model {model.name}")


def test_a_disagreement_fails_the_differential_check():
    """The comparison can fail: with the reference's figures tampered with, each explicit engine's
    check reports the disagreement (so the random runs would report a real one)."""
    for check in engines.ALL_EXPLICIT[:3]:
        case = Case(_gm(deadlock_beside_violation()))
        edges = next(out for out in case.ref.out if out)
        edges.append(edges[0])  # one transition more than the engines take
        with pytest.raises(AssertionError, match="disagrees with the reference"):
            check(case)


def two_failing_walks() -> Model:
    """Two vCPU-like rows; ``t(p)`` flips ``x[p, first]`` and the invariant reads the last row:
    one walk fails after one step, another after two (found by the long profile)."""
    spec = Spec("minimal", sorts=[A], default_sizes={"A": 2})
    m = spec.machine("m")
    x = m.var("x", BOOL, index=[A, A], init=True)
    m.transition("t", {"p": A}, guard=lambda p: x[p, p], updates=lambda p: [x[p, A.first()].becomes(~x[p, A.first()])])
    m.transition("idle")
    spec.invariant("last_row", forall(A, lambda q: x[A.last(), q]), doc="the last row stays true")
    return _build(spec)


def test_the_rule_machine_check_accepts_every_failing_walk_hypothesis_meets():
    """Hypothesis meets more than one failing walk before it reports one: each ends where the
    reference fails, and none is a disagreement (this was a false alarm of the differential check)."""
    engines.check_rule_machine(Case(_gm(two_failing_walks())))
