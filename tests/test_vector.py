"""The fast explorer (numpy batches over packed states) and symmetry reduction: the same
answers as the reference explorer, compact storage, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import explored, model, token_ring
from lbrspec.explicit.explore import explore
from lbrspec.explicit.hashset import StateSet
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.packing import Layout
from lbrspec.explicit.replay import replay
from lbrspec.explicit.symmetry import Symmetry
from lbrspec.explicit.vexplore import explore_vector
from lbrspec_models.guest_lbr import VARIANTS


@pytest.mark.long
def test_packing_round_trips_every_reachable_state():
    r = explored("v8", 1, 2, 1)
    inst = r.instance
    lay = Layout.of(inst)
    states = [r.state(i) for i in range(r.states)]
    words = [np.array([lay.pack(s)[w] for s in states], dtype=np.int64) for w in range(lay.nwords)]
    mat = lay.unpack_array(words)
    assert [tuple(int(x) for x in mat[:, i]) for i in range(len(states))] == states
    assert all(lay.unpack(lay.pack(s)) == s for s in states)
    assert all((a == b).all() for a, b in zip(lay.pack_array(mat), words))


def test_the_3x2_instance_packs_into_fewer_bits_than_bit_fields():
    inst = Instance(model("v8"), {"vCPU": 3, "pCPU": 2, "host_user": 1})
    lay = Layout.of(inst)
    bitfields = sum(max(1, (int(r) - 1).bit_length()) for r in lay.radix)
    assert lay.nwords == 1 and lay.bits < 63 < bitfields


def test_state_set_finds_exactly_what_was_added():
    rng = np.random.default_rng(3)
    s = StateSet(2, capacity=64)
    seen: dict[tuple[int, int], int] = {}
    for _ in range(30):
        k = rng.integers(0, 50, size=(2, 400))
        pairs = list(dict.fromkeys(zip(k[0].tolist(), k[1].tolist())))
        words = [np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])]
        found = s.lookup(words)
        assert [int(f) for f in found] == [seen.get(p, -1) for p in pairs]
        new = found < 0
        ids = s.add_new([w[new] for w in words])
        for p, i in zip([p for p, n in zip(pairs, new) if n], ids):
            seen[p] = int(i)
    assert s.count == len(seen)
    assert s.nbytes() / s.count < 2 * 8 + 4 / 0.5


SMALL = [(1, 2, 1), (1, 2, 2), (2, 1, 1)]


@pytest.mark.parametrize("sizes", SMALL)
@pytest.mark.long
def test_vector_and_reference_explorers_agree_on_v8(sizes):
    ref = explore(Instance(model("v8"), dict(zip(("vCPU", "pCPU", "host_user"), sizes))))
    inst = ref.instance
    fast = explore_vector(inst, batch_size=4096)
    assert (fast.verdict, fast.states, fast.transitions, fast.depth) == (ref.verdict, ref.states, ref.transitions, ref.depth)
    assert [fast.state(i) for i in range(fast.states)] == [ref.state(i) for i in range(ref.states)]
    assert [(g.name, g.reached) for g in fast.goals] == [(g.name, g.reached) for g in ref.goals]


@pytest.mark.parametrize("sizes", [(1, 2, 1), (2, 1, 1)])
@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.kind != "design"])
@pytest.mark.long
def test_vector_explorer_finds_the_same_shortest_counterexample(name, sizes):
    """On small instances the reference explorer is quick: both engines find the same first
    violation (or none), with the same trace."""
    inst = Instance(model(name), dict(zip(("vCPU", "pCPU", "host_user"), sizes)))
    ref = explore(inst, check_deadlock=False)
    fast = explore_vector(inst, check_deadlock=False)
    assert fast.verdict == ref.verdict
    if ref.violation is None:  # (a run stopped at a violation has seen more or fewer goals, by batch)
        assert fast.goals_unreached == ref.goals_unreached
        assert fast.violation is None and fast.states == ref.states
        return
    assert fast.violation.names == ref.violation.names
    assert fast.violation.trace.states == ref.violation.trace.states
    assert fast.violation.trace.steps == ref.violation.trace.steps


def test_batch_size_does_not_change_the_search():
    inst = Instance(model("no-lbr-select-restore"))
    a = explore_vector(inst, batch_size=1 << 16)
    b = explore_vector(inst, batch_size=97)
    assert a.violation.trace == b.violation.trace


def test_deadlocks_and_unreached_goals_in_the_vector_explorer():
    r = explore_vector(Instance(token_ring(deadlock=True)))
    assert r.verdict == "violated" and r.violation.kind == "deadlock"
    r2 = explore_vector(Instance(token_ring(bug=True)))
    assert r2.violated == "one_token"


@pytest.mark.parametrize("sizes", [(2, 1, 1), (1, 2, 2)])
@pytest.mark.long
def test_symmetry_is_exact(sizes):
    """Every reachable state is a renaming of exactly one canonical state, and the canonical
    states are exactly the renaming classes of the reachable states."""
    inst = Instance(model("v8"), dict(zip(("vCPU", "pCPU", "host_user"), sizes)))
    ref = explore_vector(inst, symmetry=False, check_deadlock=False)
    sym_r = explore_vector(inst, symmetry=True, check_deadlock=False)
    sym = Symmetry(inst, Layout.of(inst))
    classes = {sym.canonical(ref.state(i)) for i in range(ref.states)}
    canon = {sym_r.state(i) for i in range(sym_r.states)}
    assert canon == classes
    assert ref.states / sym_r.states > 1.8


@pytest.mark.long
def test_symmetry_on_the_default_instance_reduces_nearly_fourfold():
    inst = Instance(model("v8"))
    r = explored("v8")
    assert r.symmetry and r.symmetry_group == 4 and r.verdict == "holds" and not r.goals_unreached
    assert 3.5 < 4_141_376 / r.states < 4.0  # the raw count, measured with --no-symmetry (see benchmarks)
    assert len(Symmetry(inst, Layout.of(inst))) == 4


@pytest.mark.long
def test_canonical_forms_agree_between_the_scalar_and_vector_paths():
    inst = Instance(model("v8"), {"vCPU": 3, "pCPU": 2, "host_user": 1})
    lay = Layout.of(inst)
    sym = Symmetry(inst, lay)
    r = explore(inst, max_states=3000)
    states = [r.state(i) for i in range(r.states)]
    words = sym.canonical_words(np.array(states, dtype=np.int64).T)
    assert [tuple(int(w[i]) for w in words) for i in range(len(states))] == [lay.pack(sym.canonical(s)) for s in states]


@pytest.mark.parametrize("name", ["v7-write-path", "no-bit-62", "no-lbr-select-restore"])
@pytest.mark.long
def test_symmetry_keeps_shortest_counterexamples_and_they_replay_concretely(name):
    ref = explore_vector(Instance(model(name)), symmetry=False)
    r = explore_vector(ref.instance, symmetry=True)
    assert r.violation.names[0] == VARIANTS[name].expected
    assert len(r.violation.trace) == len(ref.violation.trace)
    res = replay(ref.instance, r.violation.trace)
    assert res.ok and VARIANTS[name].expected in res.final_violations


def test_budgets_are_undetermined_in_the_vector_explorer():
    inst = Instance(model("v8"))
    assert explore_vector(inst, max_states=1000, batch_size=256).verdict == "undetermined"
    r = explore_vector(inst, max_memory=1)
    assert r.verdict == "undetermined" and "memory" in r.stop_reason


@pytest.mark.long
def test_stored_states_cost_at_most_16_bytes_on_one_word_instances():
    r = explore_vector(Instance(model("v8")))
    assert r.bytes_per_state <= 16
