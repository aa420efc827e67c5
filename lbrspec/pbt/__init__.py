"""Property-based testing of lbrspec models with Hypothesis.

* :func:`rule_machine` turns any model instance into a Hypothesis ``RuleBasedStateMachine``: one
  rule per action with its parameters drawn from the enabled bindings, every invariant checked
  after each step.  In pytest, two lines test a model::

      from lbrspec.pbt import rule_machine
      TestMyModel = rule_machine(my_model).TestCase

* A failure is a :class:`ModelFailure` (:class:`InvariantViolated`, :class:`Deadlocked`,
  :class:`Nonconformance`) carrying the run as a :class:`~lbrspec.trace.Trace`, which replays with
  :func:`lbrspec.explicit.replay.replay` and writes as ITF JSON; :meth:`ModelFailure.minimized`
  removes the steps Hypothesis's shrinker left in (:mod:`lbrspec.pbt.minimize`).
* :func:`simulate` runs seeded random walks on instances too large to explore (``lbrspec simulate``).
* :mod:`lbrspec.pbt.conformance`: the same machine drives an implementation under test through an
  :class:`~lbrspec.pbt.conformance.Adapter` and compares it with the model after every step
  (:func:`~lbrspec.pbt.conformance.drive_graph`: every edge of a small instance's graph instead);
  :mod:`lbrspec.pbt.examples.kvm_lbr` (v8) and :mod:`lbrspec.pbt.examples.upstream_kvm_lbr` (the
  merged design) are worked examples.
* :mod:`lbrspec.pbt.profiles`: the ``ci`` Hypothesis profile.
"""

from .failures import Deadlocked, InvariantViolated, ModelFailure, Nonconformance
from .machine import ModelMachine, RunStats, rule_machine
from .simulate import SimulateResult, simulate

__all__ = [
    "Deadlocked",
    "InvariantViolated",
    "ModelFailure",
    "ModelMachine",
    "Nonconformance",
    "RunStats",
    "SimulateResult",
    "rule_machine",
    "simulate",
]
