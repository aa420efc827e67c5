"""Inductive proofs with Z3: v8 and the variants expected to hold proven for the default instance
and for every size; every other variant violated, with a counterexample to induction the
explorer shows reachable; the lemmas are true and each is needed; the classifier explores the
default instance completely; unknown answers are undetermined; the solver is checked by the
reference semantics.

Proving every violated variant takes minutes: the design alternatives of the v8 changelog are
proved on the default instance in the default run, every violated variant (default instance and
every size) only with ``-m slow``."""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest
from conftest import explored, model
from lbrspec_models.guest_lbr import DOMAIN_TABLE, VARIANTS
from lbrspec_proofs import groups, lemmas

from lbrspec.cli import main
from lbrspec.cli.prove import print_result
from lbrspec.errors import InternalError
from lbrspec.explicit.evaluate import holds
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.lang import ANY, BOOL, Sort, Spec, Variant, exists, forall
from lbrspec.modelref import load_model
from lbrspec.smt import induction
from lbrspec.smt.cti import Reachable
from lbrspec.smt.fragment import analyse
from lbrspec.smt.induction import prove
from lbrspec.smt.solving import Answer
from lbrspec.trace.itf import read_itf

ALTERNATIVES = sorted(DOMAIN_TABLE)
#: variants expected to hold: v8 and those whose ``holds`` says why they should
HOLDING = [n for n, v in VARIANTS.items() if v.expected is None]
#: every variant the explorer shows violating its expected property
VIOLATED = [n for n, v in VARIANTS.items() if v.expected is not None]
#: where the proof shows the violation through another property than the expected one, and why
#: (variant, every size?) -> the property with the reachable counterexample to induction
VIA_ANOTHER_PROPERTY = {
    # host_no_oops follows from free_policy, which rests on created_event_exists; the first thing
    # the release at sched-in breaks is host_no_sleep_in_atomic (F7, at the same step)
    **{("v8-posted-release-at-sched-in", a): "host_no_sleep_in_atomic" for a in (False, True)},
    # guest_sees_only_its_own rests on lbr_select_restored, which the inherited LBR_SELECT breaks first
    **{("v8-posted-lbr-select-inherited", a): "lbr_select_restored" for a in (False, True)},
    # free_policy rests on the release decision reading DEBUGCTL, which this mutant drops
    **{("free-ignores-debugctl", a): "no_free_with_debugctl_lbr" for a in (False, True)},
    # reading another vCPU's VMCS needs two vCPUs, but the CTI of an unbounded proof comes from the
    # smallest instance that has one (1x1x1), where it is unreachable; the release at sched-in is
    # shown there instead
    ("v8-posted-release-reads-current-vmcs", True): "host_no_sleep_in_atomic",
}

def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@functools.cache
def proved(variant: str, all_sizes: bool):
    m = model(variant)
    return prove(m, lemmas(m), all_sizes=all_sizes)


@pytest.mark.parametrize("all_sizes", [False, True])
@pytest.mark.long
def test_v8_every_invariant_is_proven_with_the_lemmas(all_sizes):
    m = model("v8")
    r = proved("v8", all_sizes)
    assert r.verdict == "proven" and r.rounds == 1
    assert [row.name for row in r.rows if row.kind == "invariant"] == [i.name for i in m.invariants]
    assert all(row.proven for row in r.rows)
    assert r.sizes == (None if all_sizes else {"vCPU": 2, "pCPU": 2, "host_user": 1})
    assert r.seconds < 20  # the target for each of `prove` and `prove --all-sizes`


@pytest.mark.long
def test_v8_is_also_proven_on_a_bigger_instance():
    m = model("v8")
    r = prove(m, lemmas(m), {"vCPU": 3, "pCPU": 3, "host_user": 2})
    assert r.verdict == "proven"


@pytest.mark.parametrize("all_sizes", [False, True])
@pytest.mark.parametrize("name", [n for n in HOLDING if n != "v8"])
@pytest.mark.long
def test_the_variants_expected_to_hold_are_proven(name, all_sizes):
    """v8-author-entry-fix (the author's check before VM-entry) and v8-unfused (assumption A10's
    steps kept apart) are proven with the same lemmas; v8-unfused needs created_event_exists,
    the lemma about the WARN_ON step it has."""
    assert VARIANTS[name].holds
    r = proved(name, all_sizes)
    assert r.verdict == "proven" and all(row.proven for row in r.rows)


def _check_violated(name: str, r, all_sizes: bool = False) -> None:
    """The verdict names a reachable violation, each reachable CTI's trace replays to it, and
    the variant's expected property is not proven."""
    m = model(name)
    expected = VARIANTS[name].expected
    assert r.verdict == "violated"
    assert not r.row(expected).proven
    reachable = [row for row in r.rows if row.cti is not None and row.cti.classification == "reachable"]
    assert reachable
    steps = {i.name for i in m.invariants if i.on is not None}
    lems = {lem.name: lem for lem in lemmas(m)}
    for row in reachable:
        cti = row.cti
        res = replay(cti.instance, cti.trace)
        assert res.ok, row.name
        if row.name in lems:  # a lemma of v8 this variant breaks: its trace ends in a state that violates it
            assert not holds(lems[row.name].body, cti.instance, res.states[-1]), row.name
        else:
            assert row.name in res.final_violations, row.name
        # a step invariant's trace ends with the step it forbids, which the CTI's post-state enables
        end = -2 if row.name in steps else -1
        assert cti.trace.states[end - 1] == cti.instance.decode(cti.pre)
        assert cti.trace.states[end] == cti.instance.decode(cti.post)
    shown = VIA_ANOTHER_PROPERTY.get((name, all_sizes), expected)
    row = r.row(shown)
    assert row.status == "not inductive" and row.cti.classification == "reachable", (name, shown, row.status)
    assert {row.name for row in reachable} <= {i.name for i in m.invariants} | set(lems)


@pytest.mark.parametrize("name", ALTERNATIVES)
@pytest.mark.long
def test_each_design_alternative_fails_its_property_with_a_reachable_cti(name):
    m = model(name)
    expected = VARIANTS[name].expected
    r = proved(name, False)
    _check_violated(name, r)
    row = r.row(expected)
    assert row.status == "not inductive"
    cti = row.cti
    assert cti is not None and cti.classification == "reachable"
    # the shortest trace to the pre-state, plus the CTI's step, is a shortest violation
    first = explored(name).violation
    if expected in first.names:
        assert len(cti.trace) == len(first.trace)
    assert replay(Instance(m), cti.trace).ok


@pytest.mark.slow
@pytest.mark.parametrize("all_sizes", [False, True])
@pytest.mark.parametrize("name", VIOLATED)
def test_every_violated_variant_fails_with_a_reachable_cti(name, all_sizes):
    """On the default instance, and for every size (the CTI then comes from the smallest
    instance that has one)."""
    r = proved(name, all_sizes)
    _check_violated(name, r, all_sizes)
    if all_sizes:
        assert all(n <= 2 for row in r.rows if row.cti is not None for n in row.cti.instance.sizes_by_name().values())


@pytest.mark.long
def test_a_design_alternative_fails_for_every_size_too():
    """With --all-sizes the counterexample comes from the smallest instance that has one."""
    name = "no-bit-62"
    r = proved(name, True)
    _check_violated(name, r, True)
    cti = r.row(VARIANTS[name].expected).cti
    assert cti.instance.sizes_by_name() == {"vCPU": 1, "pCPU": 1, "host_user": 1}


@pytest.mark.long
def test_without_lemmas_the_ctis_are_unreachable_and_say_what_is_missing():
    """The default instance is explored completely within the default budget (about a million
    canonical states), so every CTI is classified, never left unclassified."""
    m = model("v8")
    r = prove(m, [], cti_depth=3)
    assert r.verdict == "unproven"
    failing = [row for row in r.rows if row.status == "not inductive"]
    assert failing
    for row in failing:
        assert row.cti.classification == "unreachable" and "no run of the 2 vCPUs, 2 pCPUs" in row.cti.note
        assert row.cti.core and row.cti.core_text()
    # the properties that need no lemma are proven all the same (Houdini keeps them)
    assert {row.name for row in r.rows if row.proven} >= {"no_counter", "intercept_at_sched_in"}


@pytest.mark.long
def test_a_cti_beyond_the_state_budget_is_unclassified_and_nothing_is_proven():
    m = model("v8")
    r = prove(m, [], cti_depth=0, explore_states=1_000)
    assert r.verdict == "unproven"
    ctis = [row.cti for row in r.rows if row.status == "not inductive"]
    assert ctis and all(c.classification == "unclassified" and "stopped after" in c.note for c in ctis)


@pytest.mark.long
def test_the_classifier_sees_every_renaming_of_a_state():
    """The classifier's explorer stores one state per renaming of vCPUs and pCPUs: a trace to a
    state is renamed to end in that very state, and an unreachable core is unreachable under
    every renaming (checked against every concrete state of the reference explorer, 1 vCPU and
    2 pCPUs)."""
    inst = Instance(model("v8"), {"vCPU": 1, "pCPU": 2, "host_user": 1})
    reach = Reachable(inst, None)
    full = explore(inst, check_deadlock=False)
    assert reach.complete and full.complete and reach.sym is not None and len(reach.sym.group) == 2
    concrete = [full.state(i) for i in range(full.states)]
    assert reach.states < len(concrete) and all(s in reach for s in concrete)
    renamed = [s for s in concrete if reach.sym.canonical(s) != s]
    index = {s: i for i, s in enumerate(concrete)}
    for s in renamed[:: max(1, len(renamed) // 10)]:
        t = reach.trace_to(s)
        assert inst.encode(t.states[-1]) == s and replay(inst, t).ok
        assert len(t) == len(full.trace_to(index[s]))  # a shortest one
    # v0's event owns p1's LBR while v0 is not running: no renaming of that is reachable
    s = dict(inst.decode(concrete[0]))
    s.update({"ev[v0]": "ACTIVE", "cpu[v0]": "p1", "cap": True})
    pre = inst.encode(s)
    assert pre not in reach
    core = reach.unreachable_core(pre)
    assert inst.slot_index["ev[v0]"] in core

    def matched(slots):
        return any(all(c[i] == pre[i] for i in slots) for c in concrete)

    assert not matched(core)
    assert all(matched([k for k in core if k != i]) for i in core)  # irredundant


@pytest.mark.long
def test_every_lemma_holds_in_every_reachable_state():
    """The lemmas are facts of the design, checked by exhaustive exploration as invariants (the
    default instance, and smaller ones with two host users)."""
    for name, sizes_list in (
        ("v8", ({"vCPU": 2, "pCPU": 2, "host_user": 1}, {"vCPU": 1, "pCPU": 2, "host_user": 2},
                {"vCPU": 2, "pCPU": 1, "host_user": 2})),
        ("v8-unfused", ({"vCPU": 2, "pCPU": 1, "host_user": 1}, {"vCPU": 1, "pCPU": 2, "host_user": 2})),
        ("v8-author-entry-fix", ({"vCPU": 2, "pCPU": 1, "host_user": 1}, {"vCPU": 1, "pCPU": 2, "host_user": 2})),
    ):
        m = model(name)
        as_invariants = dataclasses.replace(m, invariants=tuple(lemmas(m)))
        for sizes in sizes_list:
            r = explore_vector(Instance(as_invariants, sizes), symmetry=True, check_deadlock=False)
            assert r.complete and r.violation is None, (name, sizes, r.violated)


def _breaks(m, rest) -> bool:
    """The proof without a lemma: not proven on the default instance, or else not for every size."""
    finite = prove(m, rest, cti_depth=0, explore_states=1)
    if finite.verdict != "proven":
        return True
    return prove(m, rest, all_sizes=True, cti_depth=0, explore_states=1).verdict != "proven"


@pytest.mark.long
def test_every_lemma_is_needed():
    """Dropping any one lemma breaks the proof on the default instance or for every size (the
    lemma about two host task events, from two host users on, only the latter)."""
    m = model("v8")
    all_lemmas = lemmas(m)
    for lem in all_lemmas:
        assert _breaks(m, [x for x in all_lemmas if x is not lem]), lem.name


@pytest.mark.parametrize("dropped, broken, slot", [
    ("saved_select_is_own", "guest_sees_only_its_own", "saved_sel"),
    ("guest_mode_handler_idle", "passthrough_implies_ownership", "in_guest"),
])
@pytest.mark.long
def test_without_a_lemma_the_proof_fails_with_an_unreachable_cti_that_points_at_it(dropped, broken, slot):
    """The proof without the lemma is not a proof: the property it supported gets a CTI the
    explorer classifies unreachable (not a bug), whose core names the variable the lemma is about."""
    m = model("v8")
    r = prove(m, [x for x in lemmas(m) if x.name != dropped], cti_depth=0)
    assert r.verdict == "unproven"
    row = r.row(broken)
    assert row.status == "not inductive" and row.cti.classification == "unreachable"
    assert slot in row.cti.core_text()
    lem = next(x for x in lemmas(m) if x.name == dropped)
    assert not holds(lem.body, row.cti.instance, row.cti.pre)  # the lemma rules the pre-state out


@pytest.mark.long
def test_the_warn_step_lemma_exists_where_the_step_does_and_is_needed_there():
    assert "created_event_exists" not in {lem.name for lem in lemmas(model("v8"))}
    m = model("v8-unfused")
    all_lemmas = lemmas(m)
    assert "created_event_exists" in {lem.name for lem in all_lemmas}
    assert _breaks(m, [x for x in all_lemmas if x.name != "created_event_exists"])


def test_lemma_files_are_documented_groups():
    m = model("v8")
    for group, lems in groups(m):
        assert lems, group
        for lem in lems:
            assert lem.kind == "lemma" and lem.doc.strip().endswith("."), lem.name
            assert lem.name not in {i.name for i in m.invariants}


@pytest.mark.long
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


@pytest.mark.long
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
    # v8's step invariant on sched-in is trivially true (nothing is released there): its guard's
    # "no thread on p" makes no alternation, because the constant formula is folded away
    assert not any("host_no_sleep_in_atomic" in e.why for e in rep.alternations)


def test_a_step_invariant_on_sched_in_leaves_the_fragment_where_it_says_something():
    """Where sched-in releases the event (the posted code), the step invariants about that
    release read sched-in's guard 'no vCPU thread runs on p' negated: a pCPU -> vCPU skolem
    function, and with cpu: vCPU -> pCPU a cycle.  The finite proof is unaffected."""
    m = model("v8-posted-release-at-sched-in")
    rep = analyse(m, list(m.invariants) + lemmas(m))
    assert not rep.stratified and {"vCPU", "pCPU"} <= set(rep.cycle)
    assert any(e.source == "pCPU" and e.target == "vCPU" and "host_no_sleep_in_atomic" in e.why for e in rep.alternations)


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


@pytest.mark.long
def test_cli_prove_v8_and_all_sizes(capsys):
    code, out, _ = run(capsys, "prove")
    assert code == 0 and "PROVEN: all 20 invariants" in out and "2 vCPUs, 2 pCPUs, 1 host_user" in out
    # the text of --all-sizes, from the same proof as the API test above
    m = model("v8")
    source = load_model(None)
    lemma_groups = source.lemma_groups(m)
    print_result(source, proved("v8", True), lemma_groups, analyse(m, list(m.invariants) + lemmas(m)), None)
    out = capsys.readouterr().out
    assert "PROVEN: all 20 invariants hold for every number of vCPUs, pCPUs and host LBR users" in out
    assert "stratified" in out


@pytest.mark.long
def test_cli_prove_a_variant_shows_a_reachable_cti_and_writes_its_trace(capsys, tmp_path):
    out_file = tmp_path / "cti.itf.json"
    code, out, _ = run(capsys, "prove", "--variant", "owner-after-event-init", "--trace-out", str(out_file))
    assert code == 1
    assert "NOT INDUCTIVE: no_counter" in out and "REACHABLE" in out and "pre-state" in out and "transition:" in out
    t = read_itf(out_file)
    assert t.violation == "no_counter" and len(t) == 3
    assert replay(Instance(model("owner-after-event-init")), t).ok


@pytest.mark.long
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
