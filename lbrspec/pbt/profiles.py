"""Hypothesis settings profiles for testing models.

``ci``: derandomized (the same examples on every run of the same code), a bounded number of
examples, no deadline (the first step of a run compiles nothing, but CI machines are slow and
shared), no example database (nothing carried between runs) and no "too slow" health check.
Load it in a ``conftest.py``::

    from lbrspec.pbt.profiles import register_profiles
    register_profiles()
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

``dev``: the same, randomized, with more examples, for a longer local search.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

CI = "ci"
DEV = "dev"

#: Examples per test in the ci profile: each is one run of up to ``stateful_step_count`` steps.
CI_MAX_EXAMPLES = 100


def register_profiles() -> None:
    """Register the ``ci`` and ``dev`` profiles (idempotent; loads nothing)."""
    common = dict(deadline=None, database=None, print_blob=False, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(CI, derandomize=True, max_examples=CI_MAX_EXAMPLES, **common)
    settings.register_profile(DEV, derandomize=False, max_examples=1000, **common)
