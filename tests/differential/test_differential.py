"""Differential tests: random small models (``genmodel.models``) on which every engine must give
the reference evaluator's answers (what is compared is listed in ``engines.py``).

Why: each engine re-implements the semantics of the same model data (partial evaluation to
Python and to numpy, symmetry reduction, a Z3 encoding, a Promela translation, a Hypothesis
state machine); the guest-LBR model exercises only the constructs it happens to use, at the
sizes it happens to have.  Random models reach the corners: out-of-range writes, deadlocks next
to violations, unions without constants, whole-variable updates of scalars, syncs passing
literals...  A disagreement fails the test with the (shrunk) model printed as a listing.

Profiles (``LBRSPEC_DIFF_PROFILE``); every test draws the same models, derandomised:

* ``ci`` (default; what ``python -m pytest`` runs): 500 models through the explicit engines,
  the rule machine and Z3; SPIN (a gcc compile per run) on the 128 of them whose listing's
  digest is 0 modulo 4 (at least 100 required);
* ``long``: 10,000 models through every engine, SPIN included; several hours on two cores
  (measured: about 0.3 s per model for the explicit engines and the rule machine, 0.15 s for
  Z3, 0.6 s for SPIN, more on a loaded machine).

``LBRSPEC_DIFF_MODELS=<n>`` draws another number of models; ``LBRSPEC_DIFF_SEED=<int>`` draws
other models (not derandomised); ``LBRSPEC_DIFF_STRICT=1`` fails on the known disagreements
too; ``LBRSPEC_DIFF_REPORT=<file>`` writes the run's report as JSON.  The slow tests are marked
``differential`` (``-m "not differential"`` skips them; ``test_a_few_models_agree_quickly`` stays).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from lbrspec.export.spin import spin_available

from .engines import ALL_EXPLICIT, Case, check_bmc, check_spin
from .genmodel import GeneratedModel, active_constructs, models
from .report import REPORT


@dataclass(frozen=True)
class Profile:
    models: int  # models every differential test draws (the same ones, in the same order)
    spin_every: int  # SPIN checks about one in this many of them (a gcc compile each)
    spin_min: int = 100  # and at least this many


PROFILES = {"ci": Profile(500, 4), "long": Profile(10_000, 1)}
PROFILE_NAME = os.environ.get("LBRSPEC_DIFF_PROFILE", "ci")
PROFILE = PROFILES[PROFILE_NAME]
if os.environ.get("LBRSPEC_DIFF_MODELS"):  # another number of models (SPIN: the profile's share of them)
    PROFILE = Profile(int(os.environ["LBRSPEC_DIFF_MODELS"]), PROFILE.spin_every,
                      min(PROFILE.spin_min, int(os.environ["LBRSPEC_DIFF_MODELS"]) // (2 * PROFILE.spin_every)))
SEED = os.environ.get("LBRSPEC_DIFF_SEED")


def diff_settings(n: int):
    """Settings of a differential test over ``n`` models: derandomised unless a seed is given,
    no deadline, no example database, shrinking on (a failure prints the smallest model)."""
    s = settings(
        max_examples=n, derandomize=SEED is None, database=None, deadline=None, print_blob=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink], report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.nested_given,
                               HealthCheck.large_base_example],
    )

    def apply(fn):
        fn = s(fn)
        return seed(int(SEED))(fn) if SEED is not None else fn

    return apply


def _record(test: str, case: Case) -> None:
    REPORT.add_model(test, case.gm.constructs, case.gm.listing)
    ref = case.ref
    REPORT.states += len(ref.states)
    REPORT.transitions += ref.transitions
    REPORT.with_error += bool(ref.errors)
    REPORT.with_violation += any(ref.violated)
    REPORT.with_deadlock += bool(ref.deadlocks())


def selected(gm: GeneratedModel, every: int) -> bool:
    """One model in about ``every``, chosen by the model itself (so shrinking keeps choosing
    the models it shrinks to, as it would not with a count of the models drawn)."""
    return every == 1 or int(hashlib.sha1(gm.listing.encode()).hexdigest(), 16) % every == 0


def check_models(test: str, checks: Sequence[Callable[[Case], None]], n: int = PROFILE.models, every: int = 1) -> int:
    """Draw ``n`` models and run ``checks`` on about one in ``every`` of them; return how many
    were checked.

    Every test draws through this one function with the same settings, so (derandomised,
    Hypothesis seeds a test by its function's source) every test draws the same models in the
    same order: the models SPIN checks are models of the explicit-engine test."""

    @diff_settings(n)
    @given(models())
    def run(gm: GeneratedModel) -> None:
        if not selected(gm, every):
            return
        case = Case(gm)
        _record(test, case)
        if case.initial_states_agree():
            for check in checks:
                check(case)

    before = REPORT.models[test]
    t0 = time.perf_counter()
    run()
    REPORT.wall[test] = REPORT.wall.get(test, 0.0) + time.perf_counter() - t0
    return REPORT.models[test] - before


@pytest.mark.differential
@pytest.mark.long
def test_explicit_engines_and_rule_machine_agree_with_the_reference():
    """The profile's models through the compiled and vector explorers, symmetry reduction and
    the rule machine; every registered construct must have been generated."""
    n = check_models("explicit", ALL_EXPLICIT)
    assert n >= PROFILE.models, f"only {n} models were checked"
    missing = REPORT.never_generated("explicit")
    assert not missing, f"constructs registered but never generated in {n} models: {missing}"


@pytest.mark.long
def test_a_few_models_agree_quickly():
    """The same checks on a few models (other ones), for a quick tier that skips ``differential``."""
    check_models("quick", ALL_EXPLICIT, n=25)


@pytest.mark.differential
@pytest.mark.long
def test_z3_agrees_with_the_reference():
    """States reachable in exactly k steps and the shortest violation, from Z3, on every model."""
    assert check_models("z3", [check_bmc]) >= PROFILE.models


@pytest.mark.differential
@pytest.mark.skipif(not spin_available() and not os.environ.get("LBRSPEC_REQUIRE_TOOLS"), reason="spin and gcc are not installed")
@pytest.mark.long
def test_spin_agrees_with_the_reference():
    """SPIN on the exported Promela (state counts and first errors), on a fixed share of the
    models (about one in four in the ci profile, every model in the long one)."""
    n = check_models("spin", [check_spin], every=PROFILE.spin_every)
    assert n >= PROFILE.spin_min, f"only {n} models were checked"


@pytest.mark.long
def test_the_generator_alone_uses_every_registered_construct():
    """Generation only (no engine), fast: a construct no model uses shows here first."""
    seen: Counter[str] = Counter()

    @diff_settings(300)
    @given(models())
    def run(gm: GeneratedModel) -> None:
        seen.update(gm.constructs)

    run()
    assert [c for c in active_constructs() if not seen[c]] == []
