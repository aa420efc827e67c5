"""The explicit explorer: agreement with the reference semantics, shortest traces, goals,
deadlocks, budgets, determinism and the networkx graph."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from conftest import explored, model, token_ring
from lbrspec.explicit.compile import compile_instance
from lbrspec.explicit.evaluate import successors, violated_invariants
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay


def _reference_succ(inst, s):
    return sorted((a.name, p, t) for a, p, t in successors(inst, s))


def _compiled_succ(comp, s):
    return sorted((comp.actions[aid].action.name, comp.actions[aid].params, t) for aid, t in comp.successors(s))


@pytest.mark.parametrize("variant", ["v8", "no-bit-62", "v7-write-path"])
@pytest.mark.long
def test_compiled_successors_agree_with_the_reference_semantics_on_every_state(variant):
    """Every reachable state of a small instance: same successors, same invariant verdicts."""
    inst = Instance(model(variant), {"vCPU": 1, "pCPU": 2, "host_user": 1})
    comp = compile_instance(inst)
    r = explore(inst, stop_at_violation=False, compiled=comp)
    assert r.complete
    for sid in range(r.states):
        s = r.state(sid)
        assert _compiled_succ(comp, s) == _reference_succ(inst, s)
        bad = [model(variant).invariants[k].name for k, f in enumerate(comp.invariant_fns) if not f(s)]
        assert bad == violated_invariants(inst, s)


@pytest.mark.long
def test_compiled_successors_agree_on_a_sample_of_the_default_instance():
    from lbrspec.explicit.vexplore import explore_vector

    r = explore_vector(Instance(model("v8"), {"vCPU": 2, "pCPU": 2, "host_user": 1}), max_states=300_000)
    comp = compile_instance(r.instance)
    rng = random.Random(7)
    for sid in rng.sample(range(r.states), 300):
        s = r.state(sid)
        assert _compiled_succ(comp, s) == _reference_succ(r.instance, s)


@pytest.mark.long
def test_the_first_violation_found_is_a_shortest_one():
    inst = Instance(model("no-vmentry-check"), {"vCPU": 1, "pCPU": 2, "host_user": 1})
    r = explore(inst, keep_graph=True, stop_at_violation=False)
    g = r.graph()
    k = [i.name for i in inst.model.invariants].index("passthrough_implies_ownership")
    bad = [sid for sid in range(r.states) if not r.compiled.invariant_fns[k](r.state(sid))]
    inits = [n for n, d in g.nodes(data=True) if d["initial"]]
    dist = nx.multi_source_dijkstra_path_length(g, inits)
    assert bad and len(r.violation.trace) == min(dist[b] for b in bad)


def test_goals_reached_unreached_and_parameterised():
    r = explore(Instance(token_ring()))
    assert r.verdict == "holds" and not r.goals_unreached
    r1 = explore(Instance(token_ring(deadlock=True)), check_deadlock=False)
    assert r1.goals_unreached == []  # everyone_holds: every node can start with the token
    assert r1.verdict == "holds"


def test_an_unreached_goal_fails_the_check():
    from lbrspec.lang import BOOL, Sort, Spec, Variant

    N = Sort("node", "n")
    spec = Spec("stuck", sorts=[N], default_sizes={"node": 2})
    m = spec.machine("m")
    x = m.var("x", BOOL, index=[N], init=False)
    m.transition("set", {"n": N}, guard=lambda n: ~x[n], updates=lambda n: [x[n].becomes(True)])
    spec.goal("never", lambda n: ~x[n] & x[n], params={"n": N}, doc="impossible")
    r = explore(Instance(spec.build(Variant("d", "d"))), check_deadlock=False)
    assert r.verdict == "violated" and r.goals_unreached == ["never"]
    assert r.goals[0].missing == ["n=n0", "n=n1"]


def test_deadlocks_are_reported_with_a_trace():
    r = explore(Instance(token_ring(deadlock=True)))
    assert r.verdict == "violated" and r.violation.kind == "deadlock"
    assert r.deadlocks >= 1 and len(r.violation.trace) == 1
    r2 = explore(Instance(token_ring(deadlock=True)), check_deadlock=False)
    assert r2.verdict == "holds" and r2.deadlocks == 3


def test_a_state_budget_gives_undetermined_never_holds():
    r = explore(Instance(model("v8")), max_states=500)
    assert r.verdict == "undetermined" and not r.complete
    assert "budget" in r.stop_reason
    r2 = explore(Instance(model("v8")), max_seconds=1e-9)
    assert r2.verdict == "undetermined"


def test_a_budget_does_not_hide_a_violation_found_before_it():
    r = explore(Instance(model("owner-after-event-init")), max_states=100_000)
    assert r.verdict == "violated"


def test_exploration_is_deterministic():
    a = explore(Instance(model("no-lbr-select-restore")))
    b = explore(Instance(model("no-lbr-select-restore")))
    assert a.states == b.states and a.transitions == b.transitions
    assert a.violation.trace == b.violation.trace
    assert [a.state(i) for i in range(a.states)] == [b.state(i) for i in range(b.states)]


@pytest.mark.long


def test_the_reachable_graph_is_a_networkx_digraph():
    r = explore(Instance(model("v8"), {"vCPU": 1, "pCPU": 1, "host_user": 1}), keep_graph=True)
    g = r.graph()
    assert isinstance(g, nx.DiGraph)
    assert g.number_of_nodes() == r.states
    assert sum(len(d["actions"]) for _, _, d in g.edges(data=True)) == r.transitions
    inits = [n for n, d in g.nodes(data=True) if d["initial"]]
    reach = set(inits).union(*(nx.descendants(g, i) for i in inits))
    assert reach == set(g.nodes)
    with pytest.raises(ValueError, match="keep_graph"):
        explored("v8").graph()


@pytest.mark.long
def test_trace_to_any_state_replays():
    from lbrspec.explicit.symmetry import Symmetry

    r = explored("v8")  # symmetry reduction: a state's number names its orbit
    inst = r.instance
    sym = Symmetry(inst, r.store.vc.layout)
    for sid in [1, r.states // 2, r.states - 1]:
        t = r.trace_to(sid)
        res = replay(inst, t)
        assert res.ok and sym.canonical(res.states[-1]) == r.state(sid)
