"""Differential tests against SPIN on the exported Promela: the same reachable states (SPIN
stores one more, the state before initialisation) and the same verdicts, with no reduction on
either side.  Skipped where SPIN is not installed, unless LBRSPEC_REQUIRE_TOOLS is set (CI)."""

from __future__ import annotations

import os

import pytest

from conftest import explored, model
from lbrspec.explicit.instance import Instance
from lbrspec.export.promela import SPIN_EXTRA_STATES, to_promela
from lbrspec.export.spin import run_spin, spin_available
from lbrspec_models.guest_lbr import VARIANTS

pytestmark = pytest.mark.skipif(
    not spin_available() and not os.environ.get("LBRSPEC_REQUIRE_TOOLS"), reason="spin and gcc are not installed"
)


@pytest.mark.parametrize("sizes", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
@pytest.mark.long
def test_spin_and_lbrspec_reach_the_same_states_on_v8(tmp_path, sizes):
    from lbrspec.explicit.vexplore import explore_vector

    ref = explore_vector(Instance(model("v8"), dict(zip(("vCPU", "pCPU", "host_user"), sizes))), check_deadlock=False)
    r = run_spin(ref.instance, tmp_path, expected_states=ref.states)
    assert r.errors == 0, r.output
    assert r.states == ref.states + SPIN_EXTRA_STATES


@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.expected])
@pytest.mark.long
def test_spin_finds_each_variant_violating_its_expected_property(tmp_path, name):
    inst = Instance(model(name))
    expected = VARIANTS[name].expected
    r = run_spin(inst, tmp_path, invariants=[expected])
    assert r.errors >= 1 and r.violated == expected, r.output[-2000:]


def test_each_invariant_is_checked_by_spin_under_its_own_name(tmp_path):
    text = to_promela(Instance(model("v8")))
    for inv in model("v8").invariants:
        assert f"assert(inv_{inv.name} && " in text


@pytest.mark.long
def test_the_export_runs_in_spins_multi_core_mode(tmp_path):
    import re
    import subprocess

    ref = explored("v8", 1, 2, 1)
    (tmp_path / "m.pml").write_text(to_promela(ref.instance, hidden=False))
    out = subprocess.run(
        ["spin", "-search", "-dfspar", "-DNOREDUCE", "-DSAFETY", "m.pml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    ).stdout
    m = re.search(r"(\d+) states, stored", out)
    assert m and int(m.group(1)) == ref.states + SPIN_EXTRA_STATES, out[-1500:]
    assert "errors: 0" in out


# -- the depth limit: grown after a truncated search, fitted to the depth reached -------------------


@pytest.fixture(scope="module")
def small_v8():
    """v8 at 2 vCPUs, 1 pCPU, 1 host user: tens of thousands of states, a DFS tens of thousands deep."""
    from lbrspec.explicit.vexplore import explore_vector

    return explore_vector(Instance(model("v8"), {"vCPU": 2, "pCPU": 1, "host_user": 1}), symmetry=False)


@pytest.mark.long
def test_a_search_the_depth_limit_truncates_is_run_again_with_a_larger_limit(tmp_path, small_v8):
    from lbrspec.export.spin import needed_depth_limit

    generous = run_spin(small_v8.instance, tmp_path / "generous", depth=10 * small_v8.states)
    assert [a.truncated for a in generous.attempts] == [False]
    assert generous.errors == 0 and generous.states == small_v8.states + SPIN_EXTRA_STATES

    r = run_spin(small_v8.instance, tmp_path / "tiny", depth=50, grow=4, fit=True)
    limits = [a.depth_limit for a in r.attempts]
    assert limits[0] == 50 and r.attempts[0].truncated and r.attempts[0].states < r.states
    grown = [a for a in r.attempts if a.truncated] + [next(a for a in r.attempts if not a.truncated)]
    assert [a.depth_limit for a in grown] == [50 * 4**i for i in range(len(grown))]
    assert len(grown) >= 3, limits  # the DFS needs far more than 50 * 4
    # The fitted run: the depth the complete search reached plus a margin, and the same search.
    assert r.attempts[-1] is not grown[-1] and not r.attempts[-1].truncated
    assert r.depth_limit == needed_depth_limit(generous.depth) < grown[-1].depth_limit
    assert (r.states, r.transitions, r.depth, r.errors) == (generous.states, generous.transitions, generous.depth, 0)
    assert r.stack_mb < generous.stack_mb


def test_a_depth_limit_that_cannot_grow_enough_is_refused(tmp_path):
    from lbrspec.errors import InputError

    with pytest.raises(InputError, match="depth limit 40 was too small"):
        run_spin(Instance(model("v8"), {"vCPU": 1, "pCPU": 1, "host_user": 1}), tmp_path, depth=10, max_depth=40)


@pytest.mark.long
def test_collapse_compression_stores_the_same_states(tmp_path, small_v8):
    plain = run_spin(small_v8.instance, tmp_path / "plain", expected_states=small_v8.states)
    collapsed = run_spin(small_v8.instance, tmp_path / "collapse", expected_states=small_v8.states, collapse=True)
    assert not plain.collapse and collapsed.collapse
    assert "+ Compression" in collapsed.output and "+ Compression" not in plain.output  # pan's banner
    assert collapsed.states == plain.states == small_v8.states + SPIN_EXTRA_STATES
    assert (collapsed.transitions, collapsed.depth, collapsed.errors) == (plain.transitions, plain.depth, 0)
    assert collapsed.states_mb != plain.states_mb  # the compression shows in pan's own figures
    assert 0 < plain.peak_rss_mb and 0 < collapsed.peak_rss_mb
