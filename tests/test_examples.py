"""Classic protocols from the TLA+ Examples repository (``models/examples``): explored without
symmetry reduction, each has exactly the number of distinct states TLC publishes for the
original specification and configuration, holds with every goal reached, and each of its
mutants is caught with the property it is known to break.

The published counts are written here, not read from the models, so that a model cannot certify
itself; ``models/examples/SOURCES.md`` says where each comes from.  Examples that rely on
language features this checkout lacks (a module's ``NEEDS``) are skipped, naming the features.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import pytest

import lbrspec.lang
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


def missing_features(name: str) -> list[str]:
    """The features named in the module's ``NEEDS`` that :mod:`lbrspec.lang` does not have."""
    missing = []
    for need in getattr(module(name), "NEEDS", ()):
        owner, _, attr = need.partition(".")
        if not hasattr(getattr(lbrspec.lang, owner, None), attr):
            missing.append(need)
    return missing


def skip_if_unsupported(name: str) -> None:
    missing = missing_features(name)
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, which this language does not have yet "
                    "(ordered sorts and rings: /work/LANG_API.md)")


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
    skip_if_unsupported(name)
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
    skip_if_unsupported(name)
    assert explored(name).depth + 1 == TLC_DEPTH[name]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_goal_is_reached(name):
    skip_if_unsupported(name)
    r = explored(name)
    assert r.goals and r.goals_unreached == []
    assert r.verdict == "holds"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_vector_explorer_counts_the_same_states(name):
    """``lbrspec check --no-symmetry`` runs the vector explorer: it must count what the reference does."""
    skip_if_unsupported(name)
    mod = module(name)
    r = explore_vector(Instance(built(name), mod.DEFAULT_SIZES), symmetry=False, check_deadlock=mod.CHECK_DEADLOCK)
    assert r.complete and r.verdict == "holds"
    assert r.states == PUBLISHED[name]
    assert r.transitions == explored(name).transitions


@pytest.mark.parametrize(("name", "variant"), MUTANTS)
def test_each_mutant_is_caught_with_its_expected_property(name, variant):
    skip_if_unsupported(name)
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
