"""The merged design (``upstream_lbr``) under Hypothesis and conformance: the kernel-shaped rendering
of its KVM side agrees with ``upstream``; each pre-fix rendering differs from ``upstream`` and
agrees with its ``before-COMMIT`` variant; 6.14's exact code shows the model's one gap; a
Hypothesis run on ``upstream`` finds a violation whose shrunk trace replays.

Bounded for CI: the exhaustive checks take every edge of the 1 vCPU x 1 pCPU x 1 host user graph
(25,286 edges for upstream) only where a row must agree with ``upstream``, or stops early where it
must differ; the pre-fix renderings' agreement is checked on seeded walks here and on every edge
in the slow tier, with the command line and the generated pytest TestCase.
"""

from __future__ import annotations

import functools
import inspect

import pytest

from lbrspec.cli import main as lbrspec_main
from lbrspec.errors import InputError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.pbt import InvariantViolated, rule_machine, simulate
from lbrspec.pbt.conformance import drive_graph
from lbrspec.pbt.examples import check_upstream_kvm_lbr as chk
from lbrspec.pbt.examples import upstream_kvm_lbr as uk
from lbrspec.trace.itf import write_itf
from lbrspec_models import upstream_lbr

GRAPH = {"vCPU": 1, "pCPU": 1, "host_user": 1}
#: What each pre-fix rendering's shortest difference from upstream is: its length and the observation.
PRE_FIX_DIFFERS = {
    "before-1647b52757d5": (5, "kvm_set_cpuid", "absent(v0) is true in the model but false in the implementation"),
    "before-67b45af946ec": (5, "guest_lbr_exit", "pc[v0] is CHECK in the model but IDLE in the implementation"),
    "before-189ecdb3e112": (3, "sched_in", "snap[v0] is false in the model but true in the implementation"),
    "before-b333b8ebb85d": (2, "host_set_debugctl", "dbg[v0] is true in the model but false in the implementation"),
}


@functools.lru_cache(maxsize=None)
def model(variant: str = "upstream"):
    return upstream_lbr.build(variant)


# -- the rendering and the model's switches ---------------------------------------------------------
def test_the_rendering_has_the_models_fix_switches():
    assert set(uk.FIXES) == set(upstream_lbr.FIXES)
    assert uk.UPSTREAM == uk.fixes_of(model().variant.switches)
    for variant, cls in uk.PRE_FIX.items():
        assert cls(False, ["v0"], ["p0"]).fixes == uk.fixes_of(model(variant).variant.switches), variant
    with pytest.raises(InputError, match="none of the 2023 proposals"):
        uk.fixes_of(model("proposal-host-pinned-first").variant.switches)
    with pytest.raises(ValueError, match="unknown"):
        uk.Kvm(False, ["v0"], ["p0"], {**uk.UPSTREAM, "no_such_fix": True})


def test_the_adapter_knows_every_action_and_judges_step_invariants_of_the_model():
    source = inspect.getsource(uk.KvmAdapter._perform)
    for a in model().actions:
        assert f'"{a.name}"' in source or a.name in uk.ENVIRONMENT_ONLY, a.name
    steps = {i.name for i in model().invariants if i.on is not None}
    assert set(uk.STEP_PROPERTIES) <= steps


# -- conformance ------------------------------------------------------------------------------------
@pytest.mark.long
def test_the_faithful_rendering_agrees_with_upstream():
    """Every edge of the 1x1x1 graph, and seeded walks on the model's own 1x2x1 (two pCPUs:
    migrations, which the small graph has not)."""
    g = chk.check_graph(uk.Kvm)
    assert g.failure is None, g.failure.reason()
    assert g.states == 4405 and g.edges == g.edges_total == 25286
    w = chk.check(uk.Kvm, runs=40)
    assert w.failure is None, str(w.failure)
    assert w.steps > 800


@pytest.mark.parametrize("variant", sorted(uk.PRE_FIX))
@pytest.mark.long
def test_each_pre_fix_rendering_differs_from_upstream(variant):
    g = chk.check_graph(uk.PRE_FIX[variant])
    d = g.failure
    assert d is not None, f"{variant}: the fix is not visible"
    length, action, what = PRE_FIX_DIFFERS[variant]
    assert d.stopped_at == len(d.trace) == length and d.trace.steps[-1].action == action
    assert what in d.reason()
    # the model's side of the trace is a run of upstream
    assert replay(d.instance, d.trace).ok


@pytest.mark.parametrize("variant", sorted(uk.PRE_FIX))
@pytest.mark.long
def test_each_pre_fix_rendering_agrees_with_its_variant(variant):
    w = chk.check(uk.PRE_FIX[variant], variant=variant, runs=40)
    assert w.failure is None, str(w.failure)
    assert w.steps > 800


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(uk.PRE_FIX))
def test_each_pre_fix_rendering_agrees_with_its_variant_on_every_edge(variant):
    g = chk.check_graph(uk.PRE_FIX[variant], variant=variant)
    assert g.failure is None, g.failure.reason()
    assert g.edges == g.edges_total > 30000


@pytest.mark.long
def test_the_refresh_release_is_what_before_1647b52757d5_undoes():
    """6.14's kvm_pmu_refresh resets the PMU, releasing an event a host DEBUGCTL write created
    before the refresh; the model follows it, and the rendering without that fix differs there."""
    assert uk.Linux614Kvm is uk.Kvm
    d = chk.check_graph(uk.Before1647b52757d5Kvm).failure
    assert d is not None and d.stopped_at == 5
    assert [s.action for s in d.trace.steps] == ["sched_in", "kvm_set_cpuid", "kvm_set_perf_caps",
                                                 "host_set_debugctl", "kvm_set_cpuid"]
    assert "absent(v0) is true in the model but false in the implementation" in d.reason()


@pytest.mark.parametrize("variant", ["before-957d0f70e97b", "before-0094f62c7eaa"])
@pytest.mark.long
def test_the_variants_where_the_model_used_to_differ_now_agree(variant):
    """The model once let a counter overflow without a vPMU and a refresh after KVM_RUN change nr;
    conformance found both, and now every edge agrees."""
    assert not chk.MODEL_GAPS
    fixes = uk.fixes_of(model(variant).variant.switches)
    g = chk.check_graph(uk.Kvm, variant=variant, fixes=fixes)
    assert g.failure is None, g.failure.reason()
    assert g.edges == g.edges_total > 30000


@pytest.mark.long
def test_drive_graph_is_generic_and_finds_the_shortest_difference():
    """The v8 rendering (its adapter has no clone(): deep copies, and re-driving where a handler
    generator is in flight) on every edge of v8's 1x1x1 graph, and a broken copy caught."""
    from lbrspec.pbt.examples.kvm_lbr import Kvm as V8Kvm
    from lbrspec.pbt.examples.kvm_lbr import KvmAdapter as V8Adapter
    from lbrspec.pbt.examples.kvm_lbr_broken import NoVmentryCheckKvm
    from lbrspec_models import guest_lbr

    inst = Instance(guest_lbr.build("v8"), GRAPH)
    g = drive_graph(inst, lambda: V8Adapter(V8Kvm))
    assert g.failure is None and g.edges == g.edges_total == 3064 and g.steps > g.edges
    bad = drive_graph(inst, lambda: V8Adapter(NoVmentryCheckKvm)).failure
    assert bad is not None and "passthru[" in bad.reason()
    assert not bad.conforms and bad.stopped_at == len(bad.trace)


# -- Hypothesis on upstream -------------------------------------------------------------------------
@pytest.mark.long
def test_a_hypothesis_run_on_upstream_finds_a_known_violation_whose_shrunk_trace_replays(tmp_path, capsys):
    inst = Instance(model())
    r = simulate(inst, runs=2000, seed=2)
    f = r.failure
    assert isinstance(f, InvariantViolated) and r.found is not None
    assert set(f.names) <= set(upstream_lbr.MERGED_DESIGN_BREAKS)
    assert len(f.steps) <= min(10, len(r.found.steps))
    rr = replay(inst, f.trace)
    assert rr.ok and f.names[0] in rr.final_violations
    # and through the command line, from the ITF file
    path = tmp_path / "upstream.itf.json"
    write_itf(f.trace, path)
    assert lbrspec_main(["replay", "--model", "upstream_lbr", str(path)]) == 1
    out = capsys.readouterr().out
    assert "the trace replays, and invariants fail" in out and f.names[0] in out


@pytest.mark.slow
def test_the_generated_test_case_fails_on_upstream():
    """The two-line pytest use of the README on the merged design: the ci profile's 100 examples
    find nothing; a larger budget finds a property the design is known to break (the run stops at it)."""
    from hypothesis import Phase, settings

    case_class = rule_machine(model()).TestCase
    case_class.settings = settings(case_class.settings, phases=[Phase.generate], max_examples=2000)
    with pytest.raises(InvariantViolated) as info:
        case_class("runTest").debug()
    assert set(info.value.names) <= set(upstream_lbr.MERGED_DESIGN_BREAKS)
    assert replay(info.value.instance, info.value.minimized().trace).ok


@pytest.mark.slow
def test_the_command_line_check(capsys):
    assert chk.main(["--runs", "60"]) == 0
    out = capsys.readouterr().out
    assert "| Kvm (every later fix) | upstream | agrees | - |" in out
    assert "| Before67b45af946ecKvm | upstream | differs | 5 (guest_lbr_exit) |" in out
    assert "| Before1647b52757d5Kvm | upstream | differs | 5 (kvm_set_cpuid) |" in out
    assert out.rstrip().endswith("OK")
