"""The guest-LBR model: v8 holds on the default instance, every goal is reached, and every
variant is caught with the property it is declared to break, by a trace that replays in the
reference semantics."""

from __future__ import annotations

import re

import pytest

from conftest import checked_all, explored, model
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec_models.guest_lbr import DOMAIN_TABLE, PATCHES, VARIANTS

BROKEN = [name for name, v in VARIANTS.items() if v.expected]
NON_DEFAULT = BROKEN


@pytest.mark.long
def test_v8_holds_on_the_default_instance_with_every_goal_reached():
    r = explored("v8")
    assert r.verdict == "holds" and r.complete
    assert r.violation is None and r.deadlocks == 0
    assert r.goals and all(g.reached for g in r.goals)
    assert r.states > 10_000  # the instance is not trivial


def test_the_changelog_alternatives_are_exactly_the_six_of_domain_md():
    alts = {n: v.expected for n, v in VARIANTS.items() if v.kind == "alternative"}
    assert alts == DOMAIN_TABLE


def checked(name: str):
    """Every violated property of variant ``name``, each with its own shortest counterexample
    (what ``lbrspec check`` reports)."""
    return checked_all(name)


@pytest.mark.parametrize("name", NON_DEFAULT)
@pytest.mark.long
def test_each_variant_is_caught_with_its_expected_property(name):
    r = checked(name)
    assert r.verdict == "violated"
    assert r.violation_of(VARIANTS[name].expected) is not None, [c.prop for c in r.violations]


@pytest.mark.parametrize("name", NON_DEFAULT)
@pytest.mark.long
def test_each_counterexample_replays_to_the_violation(name):
    r = checked(name)
    expected = VARIANTS[name].expected
    trace = r.violation_of(expected).trace
    inst = Instance(model(name))
    res = replay(inst, trace)
    assert res.ok, res.reason
    assert res.steps_replayed == len(trace)
    assert expected in res.final_violations
    # shortest: no earlier state or step of the trace breaks the expected property
    assert all(i == len(trace) for i, n in res.invariant_failures if n == expected)


@pytest.mark.parametrize("name", NON_DEFAULT)
@pytest.mark.long
def test_a_counterexample_does_not_replay_against_v8_to_the_same_end(name):
    """The variant's trace is a behaviour of the variant, not of v8: replayed against v8 it
    diverges, cannot be read (a variable only the variant has), or ends where the property holds."""
    from lbrspec.errors import InputError

    trace = checked(name).violation_of(VARIANTS[name].expected).trace
    try:
        res = replay(Instance(model("v8")), trace)
    except InputError:
        return
    assert (not res.ok) or VARIANTS[name].expected not in res.final_violations, res.final_violations


HOLDING = [name for name, v in VARIANTS.items() if v.kind != "design" and v.holds]


def test_every_variant_says_what_it_is_expected_to_do():
    """A variant other than the design either breaks a named property or is expected to hold,
    with the reason; nothing is left to be guessed by the tests."""
    props = {i.name for i in model("v8").invariants}
    for v in VARIANTS.values():
        assert v.kind == "design" or (v.expected is None) != (v.holds is None), v.name
        assert v.expected is None or v.expected in props, v.name


@pytest.mark.parametrize("name", HOLDING)
@pytest.mark.long
def test_each_variant_expected_to_hold_holds(name):
    r = explored(name)
    assert r.verdict == "holds", (name, r.violation and r.violation.names)


@pytest.mark.long


def test_every_safety_invariant_can_fail():
    """Each invariant is the expected failure of a variant or a property of a finding, and is
    found violated there (none is vacuous)."""
    from lbrspec_models.guest_lbr import FINDINGS

    invs = {i.name for i in model("v8").invariants}
    claimed = {v.expected: v.name for v in VARIANTS.values() if v.expected}
    for f in FINDINGS:
        for p in f.props:
            if p in invs:  # (a finding may break a liveness property instead)
                claimed.setdefault(p, f.variant)
    assert set(claimed) == invs
    for prop, variant in claimed.items():
        # a finding's later properties may show only where another finding does not stop the path
        found = checked(variant).violation_of(prop) or checked("v8-posted").violation_of(prop)
        assert found is not None, (prop, variant)


def test_every_property_and_variant_cites_a_patch_of_the_series():
    m = model("v8")
    for item in list(m.invariants) + list(m.goals):
        assert re.search(r"patch (\d+)/14", item.patch), item.name
        assert int(re.search(r"patch (\d+)/14", item.patch).group(1)) in PATCHES
        assert item.doc.strip()
    for v in VARIANTS.values():
        if v.kind != "design":
            assert v.patch, v.name


def test_the_model_is_symmetric_in_its_sorts():
    """No expression names a sort element: the model can only be written with parameters and
    quantifiers (a precondition of symmetry reduction and of proofs for every size)."""
    from lbrspec.lang.expr import Lit, walk
    from lbrspec.lang.domains import SortDomain

    m = model("v8")
    exprs = [a.guard_x for a in m.actions] + [x for a in m.actions for u in a.updates_x for x in u.exprs()]
    exprs += [i.body for i in m.invariants]
    for e in exprs:
        assert not any(isinstance(n, Lit) and isinstance(n.dom, SortDomain) for n in walk(e))


@pytest.mark.long
def test_v8_also_holds_on_other_small_instances():
    for sizes in [(1, 1, 1), (1, 2, 1), (2, 1, 1), (1, 1, 2)]:
        r = explored("v8", *sizes)
        assert r.violation is None, (sizes, r.violated)


def test_unknown_variant_is_an_input_error():
    from lbrspec.errors import InputError
    from lbrspec_models.guest_lbr import build

    with pytest.raises(InputError, match="unknown variant 'v9'"):
        build("v9")
