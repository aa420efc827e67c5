"""Inductive proofs with Z3: v8 proven for the default instance and for every size; every
design alternative fails its property with a reachable counterexample to induction; the lemmas
are true and needed; unknown answers are undetermined; the solver is checked by the reference
semantics."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import explored, model
from lbrspec_models.guest_lbr import DOMAIN_TABLE, VARIANTS
from lbrspec_proofs import groups, lemmas

from lbrspec.cli import main
from lbrspec.errors import InternalError
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.lang import ANY, BOOL, Sort, Spec, Variant, exists, forall
from lbrspec.smt import induction
from lbrspec.smt.fragment import analyse
from lbrspec.smt.induction import prove
from lbrspec.smt.solving import Answer
from lbrspec.trace.itf import read_itf

ALTERNATIVES = sorted(DOMAIN_TABLE)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("all_sizes", [False, True])
def test_v8_every_invariant_is_proven_with_the_lemmas(all_sizes):
    m = model("v8")
    r = prove(m, lemmas(m), all_sizes=all_sizes)
    assert r.verdict == "proven" and r.rounds == 1
    assert [row.name for row in r.rows if row.kind == "invariant"] == [i.name for i in m.invariants]
    assert all(row.proven for row in r.rows)
    assert r.sizes == (None if all_sizes else {"vCPU": 2, "pCPU": 2, "host_user": 1})
    assert r.seconds < 20  # the target for each of `prove` and `prove --all-sizes`


def test_v8_is_also_proven_on_a_bigger_instance():
    m = model("v8")
    r = prove(m, lemmas(m), {"vCPU": 3, "pCPU": 3, "host_user": 2})
    assert r.verdict == "proven"


@pytest.mark.parametrize("name", ALTERNATIVES)
def test_each_design_alternative_fails_its_property_with_a_reachable_cti(name):
    m = model(name)
    expected = VARIANTS[name].expected
    r = prove(m, lemmas(m))
    assert r.verdict == "violated"
    row = r.row(expected)
    assert row.status == "not inductive"
    cti = row.cti
    assert cti is not None and cti.classification == "reachable" and cti.trace_from == "explorer"
    # the explorer's shortest trace to the pre-state, plus the CTI's step, is a shortest violation
    assert len(cti.trace) == len(explored(name).violation.trace)
    res = replay(Instance(m), cti.trace)
    assert res.ok and expected in res.final_violations
    assert cti.trace.states[-2] == cti.instance.decode(cti.pre)
    assert cti.trace.states[-1] == cti.instance.decode(cti.post)


@pytest.mark.parametrize("name", ALTERNATIVES)
def test_each_design_alternative_fails_for_every_size_too(name):
    """With --all-sizes the counterexample comes from the smallest instance that has one."""
    m = model(name)
    r = prove(m, lemmas(m), all_sizes=True)
    assert r.verdict == "violated"
    cti = r.row(VARIANTS[name].expected).cti
    assert cti is not None and cti.classification == "reachable"
    assert all(n <= 2 for n in cti.instance.sizes_by_name().values())
    assert replay(cti.instance, cti.trace).ok


def test_without_lemmas_the_ctis_are_unreachable_and_say_what_is_missing():
    m = model("v8")
    r = prove(m, [], cti_depth=3)
    assert r.verdict == "unproven"
    failing = [row for row in r.rows if row.status == "not inductive"]
    assert failing
    reach = explored("v8")
    states = {reach.state(i) for i in range(reach.states)}
    for row in failing:
        assert row.cti.classification == "unreachable"
        assert row.cti.pre not in states
        assert row.cti.core and row.cti.core_text()
    # the properties that need no lemma are proven all the same (Houdini keeps them)
    assert {row.name for row in r.rows if row.proven} >= {"no_counter", "intercept_at_sched_in"}


def test_every_lemma_holds_in_every_reachable_state():
    """The lemmas are facts of the design, checked by exhaustive exploration as invariants."""
    m = model("v8")
    as_invariants = dataclasses.replace(m, invariants=tuple(lemmas(m)))
    for sizes in ({"vCPU": 2, "pCPU": 2, "host_user": 1}, {"vCPU": 1, "pCPU": 2, "host_user": 2}):
        r = explore(Instance(as_invariants, sizes), check_deadlock=False)
        assert r.complete and r.violation is None


def test_every_lemma_is_needed():
    """Dropping any one lemma breaks the proof on the default instance or for every size."""
    m = model("v8")
    all_lemmas = lemmas(m)
    for lem in all_lemmas:
        rest = [x for x in all_lemmas if x is not lem]
        finite = prove(m, rest, cti_depth=0, explore_states=1)
        if finite.verdict == "proven":  # needed only for bigger instances, then
            unbounded = prove(m, rest, all_sizes=True, cti_depth=0, explore_states=1)
            assert unbounded.verdict != "proven", lem.name


def test_lemma_files_are_documented_groups():
    m = model("v8")
    for group, lems in groups(m):
        assert lems, group
        for lem in lems:
            assert lem.kind == "lemma" and lem.doc.strip().endswith("."), lem.name
            assert lem.name not in {i.name for i in m.invariants}


def test_unknown_solver_answers_are_undetermined_never_proven(monkeypatch):
    real = induction.check

    def unknown_for_consecution(solver, budget, *assumptions, limit=None):
        ans = real(solver, budget, *assumptions, limit=limit)
        return Answer("unknown", ans.seconds, "unknown (test)") if len(assumptions) > 1 else ans

    monkeypatch.setattr(induction, "check", unknown_for_consecution)
    m = model("v8")
    r = prove(m, lemmas(m))
    assert r.verdict == "undetermined"
    assert not any(row.proven for row in r.rows)
    assert all(row.status == "undetermined" for row in r.rows)


def test_an_exhausted_budget_is_undetermined(capsys):
    m = model("v8")
    r = prove(m, lemmas(m), all_sizes=True, timeout=1e-3)
    assert r.verdict == "undetermined" and not any(row.proven for row in r.rows)
    code, out, _ = run(capsys, "prove", "--all-sizes", "--timeout", "0.001")
    assert code == 3 and "UNDETERMINED" in out


def test_a_cti_the_reference_semantics_rejects_is_an_internal_error(monkeypatch, capsys):
    monkeypatch.setattr(induction, "eval_step", lambda inst, action, params, state: None)
    m = model("no-bit-62")
    with pytest.raises(InternalError, match="not a step of the reference semantics"):
        prove(m, lemmas(m), all_sizes=True, cti_depth=0)
    code, _, err = run(capsys, "prove", "--variant", "no-bit-62", "--all-sizes", "--cti-depth", "0")
    assert code == 4 and "internal error" in err


def test_not_initiated_properties_come_with_an_initial_state():
    n = Sort("node", "n")
    spec = Spec("toy", sorts=[n], default_sizes={"node": 2})
    m = spec.machine("m")
    x = m.var("x", BOOL, index=[n], init=[False, True])
    m.transition("flip", {"k": n}, updates=lambda k: [x[k].becomes(~x[k])])
    spec.invariant("all_false", forall(n, lambda k: ~x[k]), doc="No x is set.")
    toy = spec.build(Variant("toy", "toy"))
    for all_sizes in (False, True):
        r = prove(toy, all_sizes=all_sizes)
        row = r.row("all_false")
        assert r.verdict == "violated" and row.status == "not initiated"
        assert True in row.initial.values()


def test_the_unbounded_queries_are_in_the_stratified_fragment():
    m = model("v8")
    rep = analyse(m, list(m.invariants) + lemmas(m))
    assert rep.stratified and rep.cycle is None
    assert {(e.source, e.target) for e in rep.functions} >= {("vCPU", "pCPU"), ("pCPU", "lbr_tag"), ("host_user", "host_target")}


def test_the_fragment_analysis_finds_a_cycle():
    a, b = Sort("a", "a"), Sort("b", "b")
    spec = Spec("cyc", sorts=[a, b])
    m = spec.machine("m")
    f = m.var("f", b, index=[a], init=ANY)
    spec.invariant("onto", forall(b, lambda y: exists(a, lambda i: f[i] == y)), doc="f is onto.")
    built = spec.build(Variant("c", "c"))
    assert analyse(built, []).stratified  # without the property: only the function a -> b
    rep = analyse(built, built.invariants)
    assert not rep.stratified and rep.cycle[0] == rep.cycle[-1]
    assert {"a", "b"} <= set(rep.cycle)


def test_cli_prove_v8_and_all_sizes(capsys):
    code, out, _ = run(capsys, "prove")
    assert code == 0 and "PROVEN: all 10 invariants" in out and "2 vCPUs, 2 pCPUs, 1 host_user" in out
    code, out, _ = run(capsys, "prove", "--all-sizes")
    assert code == 0 and "for every number of vCPUs, pCPUs and host LBR users" in out
    assert "stratified" in out


def test_cli_prove_a_variant_shows_a_reachable_cti_and_writes_its_trace(capsys, tmp_path):
    out_file = tmp_path / "cti.itf.json"
    code, out, _ = run(capsys, "prove", "--variant", "owner-after-event-init", "--trace-out", str(out_file))
    assert code == 1
    assert "NOT INDUCTIVE: no_counter" in out and "REACHABLE" in out and "pre-state" in out and "transition:" in out
    t = read_itf(out_file)
    assert t.violation == "no_counter" and len(t) == 3
    assert replay(Instance(model("owner-after-event-init")), t).ok


def test_cli_prove_json_and_usage_errors(capsys):
    code, out, _ = run(capsys, "prove", "--json", "--all-sizes")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "proven" and data["sizes"] == "all"
    assert data["fragment"]["stratified"] is True
    assert {p["name"] for p in data["properties"]} >= {i.name for i in model("v8").invariants}
    assert {lem["group"] for lem in data["lemmas"]} == {g for g, _ in groups(model("v8"))}
    code, out, _ = run(capsys, "prove", "--no-lemmas", "--all-sizes", "--json")
    data = json.loads(out)
    assert code == 3 and data["verdict"] == "unproven"
    assert any(p["cti"] and p["cti"]["classification"] == "unreachable" for p in data["properties"])
    code, _, err = run(capsys, "prove", "--all-sizes", "--vcpus", "3")
    assert code == 2 and "--all-sizes" in err
    code, _, err = run(capsys, "prove", "--timeout", "0")
    assert code == 2
