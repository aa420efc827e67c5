"""The canonical labelling of symmetry reduction (lbrspec.explicit.symmetry.canonical_words) is
exact: one canonical state per orbit, the same orbit count as a brute-force canonical form (the
least renaming over the whole group), and the same verdicts and shortest counterexample lengths
as the unreduced search."""

from __future__ import annotations

import numpy as np
import pytest

from lbrspec.explicit.instance import Instance
from lbrspec.explicit.packing import Layout
from lbrspec.explicit import symmetry
from lbrspec.explicit.symmetry import Symmetry
from lbrspec.explicit.vexplore import _first_occurrences, explore_vector, successors
from lbrspec.modelref import load_model


def instance(name: str, **sizes: int) -> Instance:
    src = load_model(name)
    m = src.build(None)
    return Instance(m, {**src.default_sizes(m), **sizes})


def distinct(words: list[np.ndarray]) -> int:
    return len(_first_occurrences(words))


CASES = [
    ("guest_lbr", {"vCPU": 2, "pCPU": 1}),
    ("guest_lbr", {"vCPU": 1, "pCPU": 2}),
    ("guest_lbr", {"vCPU": 1, "pCPU": 3}),
    ("upstream_lbr", {"vCPU": 1, "pCPU": 2}),
    ("models/examples/simple_allocator.py", {}),
    ("models/examples/twophase.py", {}),
    ("models/examples/tcommit.py", {"RM": 4}),
    ("models/examples/teaching_concurrency.py", {}),
    ("models/examples/lock.py", {"Proc": 3}),
]


@pytest.mark.parametrize("name,sizes", CASES, ids=[f"{n.split('/')[-1]}-{s}" for n, s in CASES])
@pytest.mark.long
def test_orbit_count_equals_brute_force(name, sizes, monkeypatch):
    """Every reachable state (unreduced search) canonicalised both ways: the labelling is a
    function of the brute-force orbit and tells orbits apart, and the reduced search stores
    exactly one state per orbit."""
    monkeypatch.setattr(symmetry, "LABELLING_MIN_GROUP", 2)  # the labelling, even on these small groups
    inst = instance(name, **sizes)
    full = explore_vector(inst, symmetry=False, check_deadlock=False, stop_at_violation=False)
    assert full.complete
    lay = Layout.of(inst)
    sym = Symmetry(inst, lay)
    assert sym.fast or len(sym) == 1
    assert distinct(sym.canonical_words_by_signature(S := lay.unpack_array(full.store.set.words(), np.int64))) \
        == distinct(sym.canonical_words_brute(S))
    W = full.store.set.words()
    S = lay.unpack_array(W, np.int64)
    brute = sym.canonical_words_brute(S)
    canon = sym.canonical_words(S, W)
    orbits = distinct(brute)
    assert distinct(canon) == orbits
    # canon is a function of the orbit: each (brute, canon) pair appears once per orbit
    assert distinct(brute + canon) == orbits
    reduced = explore_vector(inst, symmetry=True, check_deadlock=False, stop_at_violation=False)
    assert reduced.complete and reduced.states == orbits
    if len(sym) > 1:
        assert orbits < full.states
    assert reduced.verdict == full.verdict and reduced.depth == full.depth
    assert [v.prop for v in reduced.violations] == [v.prop for v in full.violations]
    assert [len(v.trace) for v in reduced.violations] == [len(v.trace) for v in full.violations]


@pytest.mark.parametrize("name", ["guest_lbr", "upstream_lbr"])
@pytest.mark.parametrize("v,p", [(3, 3), (4, 4)])
@pytest.mark.long
def test_canonical_form_is_invariant_under_every_renaming_on_large_instances(name, v, p):
    """On instances too large for the brute force: reachable states and their successors, each
    renamed at random, keep their canonical form; the canonical form is one of the renamings."""
    inst = instance(name, vCPU=v, pCPU=p)
    r = explore_vector(inst, symmetry=True, max_states=3000, check_deadlock=False, stop_at_violation=False)
    sym = r.store.sym
    lay = r.store.vc.layout
    assert sym.fast  # 36 and 576 renamings: the canonical labelling
    W = r.store.set.words()
    S = lay.unpack_array(W, np.int64)
    parts = [list(W)]
    for _, _, _, words in successors(r.store.vc, S, W):
        parts.append(words)
    W = [np.concatenate([q[w] for q in parts]) for w in range(lay.nwords)]
    S = lay.unpack_array(W, np.int64)
    canon = sym.canonical_words(S, W)
    rng = np.random.default_rng(14)
    n = S.shape[1]
    for _ in range(4):
        gi = rng.integers(0, len(sym), n)
        flat = S + sym.row_off
        renamed = sym._apply(gi, flat)
        again = sym.canonical_words(lay.unpack_array(renamed, np.int64), renamed)
        assert all((a == b).all() for a, b in zip(canon, again))
    # the canonical form of a state is a renaming of it: canonical again, it stays put
    CS = lay.unpack_array(canon, np.int64)
    assert all((a == b).all() for a, b in zip(sym.canonical_words(CS, canon), canon))


@pytest.mark.parametrize("v,p", [(3, 2), (3, 3)])
def test_single_state_and_batch_canonical_forms_agree(v, p):
    inst = instance("guest_lbr", vCPU=v, pCPU=p)
    r = explore_vector(inst, symmetry=True, max_states=2000, check_deadlock=False)
    sym = r.store.sym
    lay = r.store.vc.layout
    states = [r.state(i) for i in range(0, r.states, 7)]
    words = sym.canonical_words(np.array(states, dtype=np.int64).T)
    assert [tuple(int(w[i]) for w in words) for i in range(len(states))] == [lay.pack(sym.canonical(s)) for s in states]
    # every state the reduced search stores is canonical
    assert all(sym.canonical(s) == s for s in states)
