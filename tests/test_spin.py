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
