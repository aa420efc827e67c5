"""explain(): the chain from a formula down to the conjunct that decides its value."""

from __future__ import annotations

import pytest

from lbrspec.cli.common import instance_of
from lbrspec.explicit.evaluate import holds
from lbrspec.explicit.explain import explain
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.modelref import load_model


def _counterexample(variant: str):
    src = load_model()
    model = src.build(variant)
    inst = instance_of(src, model, {})
    res = explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)
    return inst, model, res


@pytest.mark.long
def test_v7_write_path_ends_at_the_event_that_is_no_longer_active():
    inst, model, res = _counterexample("v7-write-path")
    v = res.violation_of("no_kvm_access_after_reclaim")
    state = inst.encode(v.trace.states[-1])
    inv = next(i for i in model.invariants if i.name == "no_kvm_access_after_reclaim")
    ex = explain(inv.body, inst, state)
    assert ex.value is False
    assert ex.bindings == (("v", "v0"), ("p", "p0"))
    assert ex.premises == ("runs_on(v0, p0) and pc[v0] = ACCESS and is_msr_access(v0)",)
    assert [s.text for s in ex.steps][-2:] == ["ev[v0] = ACTIVE and cpu[v0] = p0", "ev[v0] = ACTIVE"]
    assert ex.conjunct == "ev[v0] = ACTIVE"
    # the state before the IPI satisfies it: the explanation of a true forall is the formula
    before = inst.encode(v.trace.states[-2])
    ok = explain(inv.body, inst, before)
    assert ok.value is True and len(ok.steps) == 1


@pytest.mark.long
@pytest.mark.parametrize("variant", ["v8-posted", "no-bit-62", "guest-first-come"])
def test_every_counterexample_is_explained_down_to_a_false_atom(variant):
    inst, model, res = _counterexample(variant)
    assert res.violations, "the variant is known to break properties"
    by_name = {i.name: i for i in model.invariants}
    for v in res.violations:
        if v.kind != "invariant":
            continue
        inv = by_name[v.prop]
        # a step invariant's trace ends with the offending step: its pre-state breaks the body
        state = inst.encode(v.trace.states[-1 if inv.on is None else -2])
        ex = explain(inv.body, inst, state)
        assert ex.value is False and holds(inv.body, inst, state) is False
        # a negation flips the value the walk explains; nothing else does
        flips = [i for i, s in enumerate(ex.steps) if s.why.startswith("negated")]
        for i, s in enumerate(ex.steps):
            assert s.value is (sum(1 for f in flips if f <= i) % 2 == 1)
        # the chain only narrows: each step's text is no longer than the formula it came from
        # once the bound values are put in, and the last one is not a conjunction or a forall
        assert not ex.conjunct.startswith("forall ")
        assert len(ex.steps) >= 2


@pytest.mark.long
def test_the_anchor_is_the_occurrence_the_chain_went_through_not_the_first_equal_text():
    inst, model, res = _counterexample("v7-write-path")
    v = res.violation_of("no_kvm_access_after_reclaim")
    state = inst.encode(v.trace.states[-1])
    inv = next(i for i in model.invariants if i.name == "guest_sees_only_its_own")
    ex = explain(inv.body, inst, state)
    a, b = ex.anchor()
    marked = ex.formula[a:b]
    # the same text is in both conjuncts; the second one (the access KVM makes) is false here
    assert ex.formula.count(marked) == 2 and ex.formula.find(marked) < a
    assert ex.steps[1].why == "its first false conjunct" and ex.steps[1].span[0] > ex.formula.index(") and (")
