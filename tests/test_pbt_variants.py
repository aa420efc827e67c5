"""Quality tier: Hypothesis must keep finding every known bug, with a short trace that replays.

For each variant known to break a property, a seeded search on the default instance finds a
violation of a property the variant breaks (the one it is known for, where it is the variant's
only one; one of those the explorer reports, where a variant breaks several); the minimized trace
replays in the reference semantics and is no shorter than the explorer's shortest for it.
"""

from __future__ import annotations

import pytest

from conftest import checked_all, model
from lbrspec.explicit.replay import replay
from lbrspec.pbt import InvariantViolated, simulate
from lbrspec_models.guest_lbr import DOMAIN_TABLE, VARIANTS

BROKEN = [v.name for v in VARIANTS.values() if v.expected]


def test_every_alternative_of_domain_section_3_is_covered():
    assert set(DOMAIN_TABLE) <= set(BROKEN)


@pytest.mark.parametrize("variant", BROKEN)
@pytest.mark.long
def test_hypothesis_finds_the_known_violation(variant):
    r = simulate(model(variant), runs=3000, steps=50, seed=0)
    assert r.failure is not None, f"no violation found in {r.runs} walks"
    f, found = r.failure, r.found
    assert isinstance(f, InvariantViolated)
    full = checked_all(variant)
    broken = {c.prop for c in full.violations}
    assert VARIANTS[variant].expected in broken
    hit = [n for n in f.names if n in broken]
    assert hit, (f.names, broken)
    if len(broken) == 1:
        assert VARIANTS[variant].expected in f.names
    # the minimized trace replays in the reference semantics and ends in the violation
    rep = replay(f.instance, f.trace)
    assert rep.ok and hit[0] in rep.final_violations
    # no shorter than breadth-first search's shortest for that property, no longer than what
    # Hypothesis reported
    shortest = full.violation_of(hit[0]).trace
    assert len(shortest) <= len(f.steps) <= len(found.steps)
