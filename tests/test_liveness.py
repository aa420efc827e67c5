"""Liveness under weak and strong fairness: the fair-cycle search on toy models with known
answers, the design's liveness properties on v8 (hold) and on the never-free mutant (caught with a
lasso), lassos checked independently with the reference semantics, and the refusal of
reductions."""

from __future__ import annotations

import dataclasses
import functools

import networkx as nx
import pytest

from conftest import explored, model
from lbrspec.analysis.liveness import check_liveness, refuse_reductions
from lbrspec.analysis.stategraph import StateGraph
from lbrspec.errors import InputError
from lbrspec.explicit.evaluate import holds, successors
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.lang import BOOL, Spec, Variant
from lbrspec.lang.liveness import STRONG, WEAK, Liveness, leads_to
from lbrspec.trace.itf import from_itf, to_itf
from lbrspec_models.guest_lbr import LIVENESS_VARIANTS, VARIANTS, liveness


# -- an independent judge of lassos (reference semantics only) ----------------------------------------
def _matches(action, codes, fixed: dict[str, int]) -> bool:
    names = [p.name for p in action.params]
    return all(codes[names.index(k)] == v for k, v in fixed.items())


def assert_fair_lasso(inst: Instance, prop: Liveness, env: dict, trace) -> None:
    """The lasso replays; the trigger holds where it says and the goal never from there on; no
    quiet action occurs after the trigger; and the loop meets every fairness condition."""
    res = replay(inst, trace)
    assert res.ok, res.reason
    assert trace.loop is not None
    states = res.states
    k = trace.meta["trigger_state"]
    assert holds(prop.trigger, inst, states[k], env)
    assert not any(holds(prop.goal, inst, s, env) for s in states[k:])
    actions = {a.name: a for a in inst.model.actions}
    steps = [(actions[st.action], inst.encode_params(actions[st.action], st.params)) for st in trace.steps]
    for q in prop.quiet:
        fixed = {n: int(e.code) if hasattr(e, "code") else env[e] for n, e in q.args}
        assert not any(a.name == q.action and _matches(a, c, fixed) for a, c in steps[k:]), q.describe()
    loop_states = states[trace.loop:-1] if trace.loop < len(states) - 1 else [states[-1]]
    loop_steps = list(zip(states[trace.loop:-1], steps[trace.loop:]))
    for f in prop.fairness:
        act = actions[f.action]
        fixed = {n: int(e.code) if hasattr(e, "code") else env[e] for n, e in f.bind}
        per = [p for p in act.params if p.name in f.per]
        for values in inst.bindings(per):
            key = dict(fixed, **{p.name: c for p, c in zip(per, values)})

            def counts(s, a, c) -> bool:
                return a.name == f.action and _matches(a, c, key) and (f.when is None or holds(f.when, inst, s, env))

            enabled = [any(counts(s, a, c) for a, c, _ in successors(inst, s)) for s in loop_states]
            taken = any(counts(s, a, c) for s, (a, c) in loop_steps)
            if f.kind == WEAK:
                assert taken or not all(enabled), f"weak fairness broken on the loop: {f.describe()} {key}"
            else:
                assert taken or not any(enabled), f"strong fairness broken on the loop: {f.describe()} {key}"


# -- toy models with known answers ----------------------------------------------------------------------
def toy(gated: bool):
    """``work`` sets ``done``; ``idle`` does nothing; with ``gated``, ``flip`` toggles ``on`` and
    ``work`` needs ``on``, so work is enabled only now and then."""
    spec = Spec("toy", sorts=[], default_sizes={})
    m = spec.machine("m")
    done = m.var("done", BOOL, init=False)
    on = m.var("on", BOOL, init=False)
    m.transition("work", guard=(on() & ~done()) if gated else ~done(), updates=[done().becomes(True)])
    m.transition("idle")
    if gated:
        m.transition("flip", updates=[on().becomes(~on())])
    return spec.build(Variant("toy", "toy")), done


def toy_result(gated: bool, *fair: tuple[str, str], quiet: tuple[str, ...] = ()):
    mdl, done = toy(gated)
    prop = leads_to("gets_done", None, True, done(), doc="Work gets done.",
                    quiet=lambda: [(q, {}) for q in quiet],
                    fairness=lambda: [(a, kind, (), {}, "") for a, kind in fair])
    inst = Instance(mdl, {})
    graph = StateGraph(explore(inst, keep_graph=True))
    res = check_liveness(graph, prop)
    assert len(res) == 1
    if res[0].lasso is not None:
        assert_fair_lasso(inst, prop, {}, res[0].lasso)
    return res[0]


def test_without_fairness_idling_forever_is_a_lasso():
    r = toy_result(False)
    assert r.verdict == "violated" and r.loop_length >= 1
    assert r.lasso.steps[-1].action == "idle"


def test_weak_fairness_of_an_always_enabled_action_makes_it_hold():
    assert toy_result(False, ("work", WEAK)).verdict == "holds"


def test_weak_fairness_is_not_enough_for_an_action_enabled_only_now_and_then():
    r = toy_result(True, ("work", WEAK), ("flip", WEAK))
    assert r.verdict == "violated"
    assert "flip" in [s.action for s in r.lasso.steps[r.lasso.loop:]]


def test_strong_fairness_is_enough_for_it():
    assert toy_result(True, ("work", STRONG), ("flip", WEAK)).verdict == "holds"


def test_assumptions_that_contradict_each_other_make_the_property_vacuous():
    """work may not occur, yet weak fairness forces it: no behaviour meets both, so the property
    holds only vacuously, and the result says so."""
    r = toy_result(False, ("work", WEAK), quiet=("work",))
    assert r.verdict == "holds" and r.vacuous
    assert not toy_result(False, ("work", WEAK)).vacuous
    assert toy_result(False, quiet=("work",)).verdict == "violated"


def test_a_behaviour_that_stops_is_a_lasso_with_an_empty_loop():
    """With work and idle quiet and nothing fair, nothing may happen: the behaviour stutters
    forever (and with work weakly fair, no behaviour is left at all: vacuous)."""
    assert toy_result(False, ("work", WEAK), quiet=("work", "idle")).vacuous
    r = toy_result(False, quiet=("work", "idle"))
    assert r.verdict == "violated"
    assert r.lasso.meta.get("stutter") is True and r.loop_length == 0


# -- the guest-LBR properties ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def graph(variant: str = "v8", vcpus: int = 1, pcpus: int = 2, hosts: int = 1) -> StateGraph:
    r = explored(variant, vcpus, pcpus, hosts, keep_graph=True)
    return StateGraph(r)


@pytest.mark.long
def test_v8_satisfies_every_liveness_property_for_every_vcpu():
    g = graph("v8", 2, 1, 1)
    props = liveness(model("v8"))
    assert [p.name for p in props] == ["passthrough_without_host_user", "unused_event_is_freed",
                                      "lbr_regained_after_host_leaves"]
    results = [r for p in props for r in check_liveness(g, p)]
    assert len(results) == 6
    assert all(r.verdict == "holds" for r in results), [r.label for r in results if r.verdict != "holds"]
    assert all(r.trigger_states > 0 and not r.vacuous for r in results)  # none holds vacuously


def test_every_fairness_condition_names_an_action_of_the_model():
    m = model("v8")
    names = {a.name for a in m.actions}
    for p in liveness(m):
        assert {f.action for f in p.fairness} <= names and {q.action for q in p.quiet} <= names
        assert all(f.why for f in p.fairness)


@pytest.mark.long
def test_never_free_is_caught_with_a_fair_lasso_that_replays():
    m = model("never-free")
    assert "never-free" in LIVENESS_VARIANTS and "never-free" not in VARIANTS
    prop = {p.name: p for p in liveness(m)}[LIVENESS_VARIANTS["never-free"].expected]
    g = graph("never-free", 2, 1, 1)
    results = check_liveness(g, prop)
    assert [r.verdict for r in results] == ["violated", "violated"]
    for r in results:
        env = {prop.params[0]: int(str(r.binding["v"])[1:])}
        assert_fair_lasso(g.instance, prop, env, r.lasso)
        # the same lasso is not a behaviour of v8 (v8 frees the event): it diverges there
        assert not replay(Instance(model("v8"), g.instance.sizes_by_name()), r.lasso).ok


@pytest.mark.long
def test_never_free_breaks_only_its_own_property():
    g = graph("never-free", 1, 2, 1)
    verdicts = {p.name: {r.verdict for r in check_liveness(g, p)} for p in liveness(model("never-free"))}
    assert verdicts == {"passthrough_without_host_user": {"holds"}, "unused_event_is_freed": {"violated"},
                        "lbr_regained_after_host_leaves": {"holds"}}


@pytest.mark.long
def test_with_weak_fairness_only_v8_fails_and_the_lasso_is_weakly_fair():
    """The strong-fairness assumptions are needed: with weak fairness only, the scheduler may
    preempt the vCPU thread at the same point forever."""
    m = model("v8")
    prop = liveness(m)[0]
    weak = dataclasses.replace(prop, fairness=tuple(dataclasses.replace(f, kind=WEAK) for f in prop.fairness))
    g = graph("v8", 1, 2, 1)
    (r,) = check_liveness(g, weak)
    assert r.verdict == "violated"
    assert_fair_lasso(g.instance, weak, {weak.params[0]: 0}, r.lasso)
    assert check_liveness(g, prop)[0].verdict == "holds"


def test_a_lasso_survives_itf_with_its_loop():
    g = graph("never-free", 1, 2, 1)
    prop = liveness(model("never-free"))[1]
    (r,) = check_liveness(g, prop)
    back = from_itf(to_itf(r.lasso))
    assert back.loop == r.lasso.loop and back.steps == r.lasso.steps
    assert replay(g.instance, back).ok


def test_liveness_refuses_reductions_with_a_reason():
    g = graph("v8", 1, 2, 1)
    with pytest.raises(InputError, match="full state graph only, not with symmetry reduction"):
        check_liveness(g, liveness(model("v8"))[0], reduction="symmetry")

    class Reduced:
        symmetry = True

    with pytest.raises(InputError, match="symmetry"):
        refuse_reductions(Reduced())
    refuse_reductions(g.result)  # the full graph is fine
    from lbrspec.analysis.report import graph_report

    with pytest.raises(InputError, match="symmetry"):
        graph_report(g.instance, analysis=False, liveness=liveness(model("v8")), reduction="symmetry")


def test_an_incomplete_exploration_is_refused():
    r = explore(Instance(model("v8")), keep_graph=True, max_states=100)
    with pytest.raises(InputError, match="incomplete"):
        StateGraph(r)


def test_our_strongly_connected_components_agree_with_networkx():
    g = graph("v8", 1, 2, 1)
    ours = sorted(tuple(c) for c in g.sccs())
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(g.n))
    nxg.add_edges_from((s, t) for s, out in enumerate(g.succ) for t, _ in out)
    theirs = sorted(tuple(sorted(c)) for c in nx.strongly_connected_components(nxg))
    assert ours == theirs
