"""Classic protocols from the TLA+ Examples repository (``models/examples``): explored without
symmetry reduction, each has exactly the number of distinct states TLC publishes for the
original specification and configuration, holds with every goal reached, and each of its
mutants is caught with the property it is known to break.

The published counts are written here, not read from the models, so that a model cannot certify
itself; ``models/examples/SOURCES.md`` says where each comes from.  Each example is also
checked through the command line, as ``lbrspec check --model models/examples/NAME.py
--no-symmetry`` runs it.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path

import pytest

from lbrspec.cli import main
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec_models.examples import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent

#: TLC's ``distinctStates`` for each example's published configuration (tlaplus/Examples manifests).
PUBLISHED = {
    "tcommit": 34,  # transaction_commit/TCommit.cfg, RM = {r1, r2, r3}
    "twophase": 288,  # transaction_commit/TwoPhase.cfg, RM = {r1, r2, r3}
    "twopc_btm": 1245,  # transaction_commit/2PCwithBTM.cfg, RM = {rm1, rm2, rm3}, RMMAYFAIL = TMMAYFAIL = TRUE
    "lock": 12,  # locks_auxiliary_vars/Lock.cfg, processes 1..2
    "simple_allocator": 400,  # allocator/SimpleAllocator.cfg, 3 clients, 2 resources
    "peterson": 42,  # locks_auxiliary_vars/Peterson.cfg, processes 1..2
    "dining_philosophers": 67,  # DiningPhilosophers/DiningPhilosophers.cfg, NP = 5
    "teaching_concurrency": 723,  # TeachingConcurrency/Simple.cfg, N = 5
}


#: TLC's ``stateDepth`` (states on the longest breadth-first path), where the model's steps are
#: the spec's one for one.  SimpleAllocator's are finer (one resource per step), so its depth differs.
TLC_DEPTH = {
    "tcommit": 7,
    "twophase": 11,
    "twopc_btm": 15,
    "lock": 5,
    "peterson": 11,
    "dining_philosophers": 29,
    "teaching_concurrency": 11,
}


def module(name: str):
    return importlib.import_module(f"lbrspec_models.examples.{name}")


@functools.lru_cache(maxsize=None)
def built(name: str, variant: str | None = None):
    mod = module(name)
    return mod.build(variant or mod.DEFAULT_VARIANT)


@functools.lru_cache(maxsize=None)
def explored(name: str, variant: str | None = None):
    mod = module(name)
    return explore(Instance(built(name, variant), mod.DEFAULT_SIZES), check_deadlock=mod.CHECK_DEADLOCK)


MUTANTS = [(name, v) for name in EXAMPLES for v, var in module(name).VARIANTS.items() if var.kind == "mutant"]


def test_every_example_has_a_published_count():
    assert set(EXAMPLES) == set(PUBLISHED)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_module_follows_the_example_protocol(name):
    mod = module(name)
    assert callable(mod.build)
    assert mod.DEFAULT_VARIANT in mod.VARIANTS
    assert mod.VARIANTS[mod.DEFAULT_VARIANT].kind == "design"
    assert isinstance(mod.CHECK_DEADLOCK, bool)
    assert mod.SOURCE.startswith("tlaplus/Examples ")
    assert f"**{PUBLISHED[name]}**" in (mod.__doc__ or ""), "the docstring states the published count"
    assert any(v.kind == "mutant" and v.expected for v in mod.VARIANTS.values()), "at least one mutant"


@pytest.mark.parametrize("name", EXAMPLES)
def test_reachable_states_equal_tlc_distinct_states(name):
    mod = module(name)
    m = built(name)
    assert {s.name for s in m.sorts} == set(mod.DEFAULT_SIZES)
    r = explored(name)
    assert r.complete and r.violation is None
    if mod.CHECK_DEADLOCK:
        assert r.deadlocks == 0
    assert r.states == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(TLC_DEPTH))
def test_breadth_first_depth_equals_tlc_state_depth(name):
    assert explored(name).depth + 1 == TLC_DEPTH[name]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_goal_is_reached(name):
    r = explored(name)
    assert r.goals and r.goals_unreached == []
    assert r.verdict == "holds"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_vector_explorer_counts_the_same_states(name):
    """``lbrspec check --no-symmetry`` runs the vector explorer: it must count what the reference does."""
    mod = module(name)
    r = explore_vector(Instance(built(name), mod.DEFAULT_SIZES), symmetry=False, check_deadlock=mod.CHECK_DEADLOCK)
    assert r.complete and r.verdict == "holds"
    assert r.states == PUBLISHED[name]
    assert r.transitions == explored(name).transitions


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_command_line_counts_tlc_s_states(name, capsys):
    """``lbrspec check --model models/examples/NAME.py --no-symmetry --json``, as the README shows
    it, with ``--allow-deadlock`` where TLC's configuration turns deadlock checking off (TCommit:
    a finished transaction has no step left)."""
    path = ROOT / "models" / "examples" / f"{name}.py"
    args = ["check", "--model", str(path), "--no-symmetry", "--json"]
    if not module(name).CHECK_DEADLOCK:
        args.append("--allow-deadlock")
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == built(name).name and report["variant"] == module(name).DEFAULT_VARIANT
    assert report["verdict"] == "holds" and report["complete"] and not report["symmetry"]
    assert report["states"] == PUBLISHED[name]
    assert report["goals_unreached"] == []
    if name in TLC_DEPTH:
        assert report["depth"] + 1 == TLC_DEPTH[name]


def test_tcommit_stops_without_allow_deadlock(capsys):
    """Why the test above adds ``--allow-deadlock`` for TCommit: with deadlock checking on, a
    decided transaction is a deadlock."""
    assert main(["check", "--model", str(ROOT / "models" / "examples" / "tcommit.py"), "--no-symmetry", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["violated"] == "deadlock"


@pytest.mark.parametrize(("name", "variant"), MUTANTS)
def test_each_mutant_is_caught_with_its_expected_property(name, variant):
    expected = module(name).VARIANTS[variant].expected
    r = explored(name, variant)
    assert r.verdict == "violated"
    assert r.violation is not None and r.violation.kind == "invariant"
    assert r.violation.names[0] == expected
    res = replay(Instance(built(name, variant), module(name).DEFAULT_SIZES), r.violation.trace)
    assert res.ok, res.reason
    assert expected in res.final_violations


@pytest.mark.parametrize("name", EXAMPLES)
def test_sources_md_records_the_spec_and_its_count(name):
    text = (ROOT / "models" / "examples" / "SOURCES.md").read_text()
    section = re.search(rf"^## .*`{name}\.py`.*?(?=^## |\Z)", text, re.S | re.M)
    assert section, f"SOURCES.md has no section for {name}.py"
    spec_path = module(name).SOURCE.split()[1].rstrip(",")
    assert spec_path in section.group(0)
    assert re.search(rf"\b{PUBLISHED[name]:,}\b|\b{PUBLISHED[name]}\b", section.group(0))
