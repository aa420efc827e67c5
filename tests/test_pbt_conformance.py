"""Conformance: the imperative rendering of KVM's posted LBR code against the model, the model's
findings reproduced on it, and broken copies.

Bounded: the two renderings run as generated Hypothesis test cases under the ``ci`` profile
(derandomised, bounded examples); the findings' counterexamples come from one vCPU and two pCPUs,
where each is as short as on the default instance; the broken copies are searched with a fixed
seed.
"""

from __future__ import annotations

import pytest

from conftest import model
from lbrspec.errors import InputError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.pbt import Nonconformance, rule_machine, simulate
from lbrspec.pbt.conformance import Refused, drive, unroll
from lbrspec.pbt.examples import check_kvm_lbr
from lbrspec.pbt.examples.kvm_lbr import (
    FIXED,
    FIXES,
    POSTED,
    STEP_PROPERTIES,
    KernelOops,
    Kvm,
    KvmAdapter,
    PostedKvm,
    fixes_of,
)
from lbrspec.pbt.examples.kvm_lbr_broken import BROKEN
from lbrspec.pbt.examples.kvm_lbr_findings import OUTCOMES, counterexamples, prepared, reproduce
from lbrspec_models import guest_lbr

SMALL = {"vCPU": 1, "pCPU": 2, "host_user": 1}

# The two renderings as generated test cases (the 'ci' profile): the code as posted against the
# model of the code as posted (whose invariants it breaks: only the comparison is checked), and
# the code with every fix against v8 (every invariant checked too).
TestPostedCodeConformsToV8Posted = rule_machine(
    model("v8-posted"), adapter=lambda: KvmAdapter(PostedKvm), check_invariants=False).TestCase
TestFixedCodeConformsToV8 = rule_machine(model("v8"), adapter=lambda: KvmAdapter(Kvm)).TestCase
TestPostedCodeConformsToV8Posted = pytest.mark.long(TestPostedCodeConformsToV8Posted)
TestFixedCodeConformsToV8 = pytest.mark.long(TestFixedCodeConformsToV8)


# -- the rendering and the model's switches ---------------------------------------------------------
def test_the_rendering_has_the_models_fix_switches():
    assert set(FIXES) == set(guest_lbr.FIX_SWITCHES)
    assert FIXED == fixes_of(model("v8").variant.switches) == dict(guest_lbr.FIX_SWITCHES)
    assert POSTED == fixes_of(model("v8-posted").variant.switches)
    assert PostedKvm(True, ["v0"], ["p0"]).fixes == POSTED and Kvm(True, ["v0"], ["p0"]).fixes == FIXED
    with pytest.raises(ValueError, match="unknown"):
        Kvm(True, ["v0"], ["p0"], {**FIXED, "no_such_fix": True})


def test_the_adapter_knows_every_action_of_v8_and_v8_posted():
    import inspect

    from lbrspec.pbt.examples import kvm_lbr

    source = inspect.getsource(KvmAdapter._perform)
    for variant in ("v8", "v8-posted"):
        for a in model(variant).actions:
            assert f'"{a.name}"' in source or a.name in kvm_lbr.ENVIRONMENT_ONLY, a.name
    # every step property the adapter reports is a step invariant of both models
    for variant in ("v8", "v8-posted"):
        steps = {i.name for i in model(variant).invariants if i.on is not None}
        assert set(STEP_PROPERTIES) <= steps


@pytest.mark.parametrize("variant", ["v8-posted-release-at-sched-in", "v8-posted-debugctl-refused",
                                     "v8-posted-error-state-sticky", "v8-unfused"])
@pytest.mark.long
def test_the_rendering_with_a_variants_switches_conforms_to_it(variant):
    m = model(variant)
    r = simulate(Instance(m, SMALL), runs=40, seed=0, adapter=lambda: KvmAdapter(Kvm, fixes_of(m.variant.switches)),
                 check_invariants=False)
    assert r.failure is None, str(r.failure)
    assert r.steps > 500


def test_the_two_renderings_differ_from_each_others_model():
    """The check tells the code as posted from the code with the fixes, both ways."""
    r = check_kvm_lbr.check(Kvm, SMALL, variant="v8-posted", runs=200)
    assert isinstance(r.failure, Nonconformance) and len(r.failure.steps) <= 6
    r = check_kvm_lbr.check(PostedKvm, SMALL, variant="v8", runs=200)
    assert isinstance(r.failure, Nonconformance) and len(r.failure.steps) <= 6


def _drive_edges(variant: str, kvm_class: type[Kvm], sizes: dict[str, int], sample: int | None = None) -> tuple[int, list]:
    """Drive the rendering along every edge of the model's reachable graph (or a seeded sample):
    the explorer's path to the edge's source, then the edge, compared after every step."""
    import random

    from lbrspec.explicit.explore import explore, unwind
    from lbrspec.pbt.conformance import ModelView, differences, step_judge

    inst = Instance(model(variant), sizes)
    r = explore(inst, keep_graph=True, stop_at_violation=False, check_deadlock=False)
    assert r.complete and r.edges is not None and r.compiled is not None
    states, parent, actions = r._states, r._parent, r.compiled.actions
    edges = r.edges if sample is None else random.Random(0).sample(r.edges, sample)
    bad = []
    for s, t, aid in edges:
        chain = unwind(parent, s)
        root = chain[0][0]
        # the steps (source, action, target): the explorer's path to s, then the edge
        steps = [(chain[i - 1][0], chain[i][1], chain[i][0]) for i in range(1, len(chain))] + [(s, aid, t)]
        adapter = KvmAdapter(kvm_class)
        adapter.start(ModelView(inst, states[root]))
        judge = step_judge(inst, adapter)
        assert judge is not None
        diffs = differences(inst, states[root], adapter.observe())
        for src, a, dst in steps:
            if diffs:
                break
            ai = actions[a]
            adapter.perform(ai.action.name, inst.decode_params(ai.action, ai.params), ModelView(inst, states[src]))
            diffs = differences(inst, states[dst], adapter.observe()) + judge.differences(ai.action, ai.params, states[src], adapter)
        if diffs:
            bad.append(((s, aid, t), diffs))
    return len(edges), bad


@pytest.mark.parametrize("variant, kvm_class, sample", [("v8", Kvm, None), ("v8-posted", PostedKvm, 3000)])
@pytest.mark.long
def test_every_edge_of_the_one_vcpu_one_pcpu_graph_conforms(variant, kvm_class, sample):
    """Not only random walks: at one vCPU, one pCPU and one host user, every edge of v8's reachable
    graph (3,064) and a seeded sample of v8-posted's (16,225 edges), each reached by the explorer's
    path to its source, is taken by the rendering with the same result."""
    n, bad = _drive_edges(variant, kvm_class, {"vCPU": 1, "pCPU": 1, "host_user": 1}, sample)
    assert n >= 3000 and not bad, bad[:3]


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.long
def test_each_broken_copy_fails_on_some_edge_of_that_graph(broken):
    n, bad = _drive_edges("v8", BROKEN[broken], {"vCPU": 1, "pCPU": 1, "host_user": 1})
    assert n == 3064 and bad


# -- the findings ------------------------------------------------------------------------------------
FINDING_KEYS = [f.key for f in guest_lbr.FINDINGS]
#: Where the code as posted, driven along a finding's trace, does not reach that outcome: the other
#: findings strike first (F5's earlier release at sched-in), and what it breaks instead.
POSTED_INSTEAD = {
    ("F2", "host_no_oops"): {"host_no_sleep_in_atomic", "host_no_warn"},
    ("F9", "lbr_regained_after_host_leaves"): {"host_no_sleep_in_atomic", "host_no_oops"},
}


def _finding(key: str) -> guest_lbr.Finding:
    return next(f for f in guest_lbr.FINDINGS if f.key == key)


@pytest.mark.parametrize("key", FINDING_KEYS)
@pytest.mark.long
def test_each_finding_is_reproduced_by_the_code_on_the_models_counterexample(key):
    finding = _finding(key)
    cexs = counterexamples(finding, SMALL)
    assert cexs, f"{key}: no counterexample"
    props = [c.prop for c in cexs]
    assert set(props) == set(finding.props)
    for cex in cexs:
        rep = reproduce(cex)
        trace = rep.trace
        assert replay(cex.instance, trace).ok
        # the code with just this fix undone follows the model's trace, conforms at every step
        # (state and broken step properties) and shows the bad outcome
        own = rep.by("variant")
        assert own.run.conforms, own.run.reason()
        assert own.outcome is not None, f"{key} {cex.prop}: {OUTCOMES[cex.prop].what} not seen"
        step = own.outcome[0]
        if cex.liveness:
            assert trace.meta["laps"] == 2 and step > int(trace.meta["loop"])  # type: ignore[call-overload]
        elif cex.prop == "host_sees_no_guest_branches":
            assert step == len(trace) - 1  # the VM-entry; the host samples at the last step
        else:
            assert step == len(trace)
        # the code as posted, along the same trace
        posted = rep.by("posted")
        if (key, cex.prop) in POSTED_INSTEAD:
            assert posted.outcome is None
            assert POSTED_INSTEAD[key, cex.prop] <= {n for n, hit in STEP_PROPERTIES.items() if any(map(hit, posted.kvm.log))}
        else:
            assert posted.outcome is not None, f"{key} {cex.prop}: the posted code does not reproduce it"


@pytest.mark.parametrize("key", FINDING_KEYS)
@pytest.mark.long
def test_the_fixed_code_departs_from_each_findings_trace(key):
    """Each fix is KVM code that changes what happens on the finding's trace, except F12's, which
    is perf's: the fixed KVM code follows that trace, the LBR_SELECT left by perf is the model's."""
    for cex in counterexamples(_finding(key), SMALL):
        r = drive(cex.instance, prepared(cex), KvmAdapter(Kvm, FIXED))
        assert r.conforms == (key == "F12"), r.reason()


def test_a_null_dereference_is_a_real_one():
    (cex,) = [c for c in counterexamples(_finding("F2"), SMALL) if c.prop == "host_no_oops"]
    r = drive(cex.instance, cex.trace, KvmAdapter(Kvm, fixes_of(cex.instance.model.variant.switches), panic_on_oops=True))
    assert r.stopped_at == len(cex.trace) and isinstance(r.raised, KernelOops)
    assert "'NoneType' object has no attribute 'oncpu'" in str(r.raised)


class _QuietWarn(PostedKvm):
    def WARN_ON(self, cond, vcpu, what):
        return cond  # prints nothing


def test_a_step_property_is_compared_like_an_observation():
    (cex,) = [c for c in counterexamples(_finding("F2"), SMALL) if c.prop == "host_no_warn"]
    r = drive(cex.instance, cex.trace, KvmAdapter(_QuietWarn, fixes_of(cex.instance.model.variant.switches)))
    assert r.stopped_at == len(cex.trace)
    assert r.differences == [("step breaks host_no_warn", True, False)]
    assert "step breaks host_no_warn is true in the model but false in the implementation" in r.reason()


def test_unroll_takes_the_loop_again():
    (cex,) = counterexamples(_finding("F9"), SMALL)
    t = cex.trace
    assert t.loop is not None
    u = unroll(t, 3)
    assert u.loop is None and len(u) == len(t) + 2 * (len(t) - t.loop)
    assert replay(cex.instance, u).ok


def test_a_trace_of_another_variant_is_refused_by_drive():
    # F12's variant has v8's variables; its last step resets LBR_SELECT in v8, not in the variant
    (cex,) = counterexamples(_finding("F12"), SMALL)
    with pytest.raises(InputError, match="not a run of guest_lbr .variant v8.: step 4"):
        drive(Instance(model("v8"), SMALL), cex.trace, KvmAdapter(Kvm))


# -- broken copies -----------------------------------------------------------------------------------
@pytest.mark.parametrize("broken, observations, seed", [
    ("v7-write-path", ("irqs_off(",), 0),
    ("no-vmentry-check", ("passthru[",), 0),
    ("free-ignores-debugctl", ("absent(", "records_at_entry(", "step breaks no_free_with_debugctl_lbr"), 1),
])
@pytest.mark.long
def test_each_broken_copy_fails_with_a_readable_trace(broken, observations, seed):
    r = check_kvm_lbr.check(BROKEN[broken], runs=1000, seed=seed)
    f = r.failure
    assert isinstance(f, Nonconformance), f"{broken} not caught in {r.runs} runs"
    assert f.differences and all(k.startswith(observations) for k, _, _ in f.differences)
    # short: 4 steps for the v7 write path, 8 or 9 for the others (the pass-through the VM-entry
    # check must cancel, or the slice the release must not follow, takes that long to set up)
    assert len(f.steps) <= 10
    text = f.render()
    assert "the implementation does not conform at step" in text
    assert "in the model but" in text and "  1  " in text
    # the model's side of the trace is a run of the model
    assert replay(f.instance, f.trace).ok
    assert len(f.steps) <= len(r.found.steps)


# -- the command line -------------------------------------------------------------------------------
@pytest.mark.long
def test_the_command_line_check(capsys):
    assert check_kvm_lbr.main(["--runs", "30", "--findings-size", "1x2x1"]) == 0
    out = capsys.readouterr().out
    assert out.count("CONFORMS") == 2 and "v8-posted" in out
    assert "findings reproduced 12/12: properties reproduced with the fix undone 14/14, by the code as posted 12/14" in out
    assert check_kvm_lbr.main(["--broken", "no-vmentry-check"]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT CONFORM" in out and "passthru[" in out


# -- the conformance machinery with a misbehaving implementation ----------------------------------
class _RefusesVmentry(Kvm):
    def vcpu_enter_guest(self, vcpu, cpu):
        raise Refused("VM-entry is broken")


def test_a_refused_step_is_a_nonconformance():
    r = simulate(model("v8"), runs=200, adapter=lambda: KvmAdapter(_RefusesVmentry))
    f = r.failure
    assert isinstance(f, Nonconformance) and f.refused == "VM-entry is broken"
    assert f.steps[-1][0].name == "vmenter" and "refuses a step the model takes" in f.headline()


class _Crashes(Kvm):
    def handle_ipi(self, cpu):
        raise ZeroDivisionError("oops")


def test_an_implementation_that_raises_is_a_nonconformance():
    r = simulate(model("v8"), runs=500, adapter=lambda: KvmAdapter(_Crashes))
    f = r.failure
    assert isinstance(f, Nonconformance) and "ZeroDivisionError: oops" in (f.refused or "")
    assert f.steps[-1][0].name == "host_ipi"


class _UnknownObservation(KvmAdapter):
    def observe(self):
        return {**super().observe(), "no_such_thing(v0)": True}


def test_an_observation_the_model_cannot_evaluate_is_an_input_error():
    with pytest.raises(InputError, match="no definition 'no_such_thing'"):
        simulate(Instance(model("v8")), runs=5, adapter=_UnknownObservation)
