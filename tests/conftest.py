"""Shared fixtures: the guest-LBR model per variant (built once) and small toy models."""

from __future__ import annotations

import functools

import pytest

from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.lang import BOOL, Sort, Spec, Variant, forall
from lbrspec_models import guest_lbr


@functools.lru_cache(maxsize=None)
def model(variant: str = "v8"):
    return guest_lbr.build(variant)


@functools.lru_cache(maxsize=None)
def explored(variant: str = "v8", vcpus: int = 2, pcpus: int = 2, hosts: int = 1, keep_graph: bool = False):
    """The first violation (shortest counterexample) of ``variant``, or its full exploration.

    The default instance (2x2x1, about four million states for v8) is explored with the vector
    engine and symmetry reduction; the reference engine is used for small instances and where
    the graph is kept (its agreement with the vector engine is tested on those)."""
    inst = Instance(model(variant), {"vCPU": vcpus, "pCPU": pcpus, "host_user": hosts})
    if keep_graph or vcpus * pcpus <= 2:
        return explore(inst, keep_graph=keep_graph)
    return explore_vector(inst, symmetry=True)


@functools.lru_cache(maxsize=None)
def checked_all(variant: str = "v8", vcpus: int = 2, pcpus: int = 2, hosts: int = 1):
    """Every violated property of ``variant`` with its own shortest counterexample, as ``lbrspec
    check`` reports them (vector engine, symmetry reduction, states breaking a state invariant
    not expanded)."""
    inst = Instance(model(variant), {"vCPU": vcpus, "pCPU": pcpus, "host_user": hosts})
    return explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)


def token_ring(bug: bool = False, deadlock: bool = False):
    """A toy: nodes pass one token around; ``bug`` lets a node mint a second token;
    ``deadlock`` removes passing, so the system stops after the start."""
    N = Sort("node", "n")
    spec = Spec("ring", sorts=[N], default_sizes={"node": 3})
    m = spec.machine("ring")
    has = m.var("has", BOOL, index=[N], init=False)
    started = m.var("started", BOOL, init=False)
    m.transition("start", {"n": N}, guard=lambda n: ~started(),
                         updates=lambda n: [has[n].becomes(True), started().becomes(True)])
    give = None
    if not deadlock:
        give = m.transition(
            "give", {"a": N, "b": N},
            guard=lambda a, b: has[a] & (a != b),
            updates=lambda a, b: [has.becomes_all(lambda n: (n == b) | (has[n] & (n != a)))],
        )
    if bug:
        m.transition("mint", {"n": N}, guard=lambda n: started() & ~has[n], updates=lambda n: [has[n].becomes(True)])
    spec.invariant("one_token", implies_one(N, has), doc="At most one node holds the token.")
    spec.goal("token_moved", lambda a, b: has[a], on=give, doc="The token moves.") if give else None
    spec.goal("everyone_holds", lambda n: has[n], params={"n": N}, doc="Every node holds the token at some time.")
    return spec.build(Variant("bug" if bug else "ok", "toy"))


def implies_one(N, has):
    return forall(N, lambda a: forall(N, lambda b: ~(has[a] & has[b]) | (a == b)))


@pytest.fixture
def v8():
    return model("v8")


# Hypothesis tests run under the 'ci' profile (derandomized, bounded examples, no deadline, no
# example database) unless HYPOTHESIS_PROFILE names another one (e.g. 'dev' for a longer search).
def _load_hypothesis_profile() -> None:
    import os

    from hypothesis import settings

    from lbrspec.pbt.profiles import register_profiles

    register_profiles()
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_load_hypothesis_profile()


# -- the quick tier ---------------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test that is not ``long``, ``slow`` or ``fuzz`` is ``quick``: ``python -m pytest -m
    quick`` is the everyday tier (under a minute); the default run (and CI) runs all but slow."""
    for item in items:
        if not any(item.get_closest_marker(m) is not None for m in ("long", "slow", "fuzz")):
            item.add_marker(pytest.mark.quick)


# -- the differential tests' report (tests/differential) ----------------------------------------------
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print what the differential tests covered: models, engines, construct counts, known
    disagreements (and write it as JSON to $LBRSPEC_DIFF_REPORT); and what the fuzz tests ran
    (tests/test_fuzz.py: cases and exit codes per test)."""
    import os
    import sys

    _fuzz_summary(terminalreporter)

    mod = sys.modules.get("differential.report")
    if mod is None or not mod.REPORT.models:
        return
    terminalreporter.section("differential testing")
    for line in mod.REPORT.lines():
        terminalreporter.write_line(line)
    path = os.environ.get("LBRSPEC_DIFF_REPORT")
    if path:
        with open(path, "w") as f:
            f.write(mod.REPORT.as_json())


def _fuzz_summary(terminalreporter) -> None:
    """One line per fuzz test that ran: cases, exit codes, seconds (from its user_properties,
    which reach the controller under pytest-xdist too)."""
    rows = []
    for kind in ("passed", "failed"):
        for rep in terminalreporter.stats.get(kind, []):
            if getattr(rep, "when", "") != "call":
                continue
            for key, value in getattr(rep, "user_properties", ()):
                if key == "fuzz":
                    rows.append((rep.nodeid.split("::", 1)[-1], value))
    if not rows:
        return
    terminalreporter.section("fuzz")
    for name, v in sorted(rows):
        codes = ", ".join(f"{k}: {n}" for k, n in v["exit"].items())
        terminalreporter.write_line(f"{name}: {v['cases']} cases in {v['seconds']} s (slowest {v['slowest']} s); "
                                    f"exit {codes}")
    total = sum(v["cases"] for _, v in rows)
    terminalreporter.write_line(f"{total} cases in all")
