"""What a differential run covered: models, states, engine runs, construct counts, known issues.

One :data:`REPORT` per pytest session; the tests add to it and ``tests/conftest.py`` prints it
in the terminal summary (and writes it as JSON to ``$LBRSPEC_DIFF_REPORT`` if set).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from .genmodel import REGISTRY, active_constructs, pending_constructs


@dataclass
class Report:
    models: Counter[str] = field(default_factory=Counter)  # per test
    constructs: Counter[str] = field(default_factory=Counter)  # over every test's models
    constructs_by_test: dict[str, Counter[str]] = field(default_factory=dict)
    digests: dict[str, list[str]] = field(default_factory=dict)  # per test: a digest of each model's listing
    states: int = 0
    transitions: int = 0
    with_error: int = 0
    with_init_error: int = 0
    with_violation: int = 0
    with_deadlock: int = 0
    orbits: int = 0
    rule_walks: int = 0
    rule_steps: int = 0
    bmc_layers: int = 0
    spin_runs: int = 0
    spin_counts: int = 0  # SPIN runs whose stored-state count was compared
    engine_runs: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    wall: dict[str, float] = field(default_factory=dict)  # per test

    def add_seconds(self, what: str, s: float) -> None:
        self.seconds[what] += s

    def add_model(self, test: str, constructs: Counter[str], listing: str) -> None:
        import hashlib

        self.models[test] += 1
        self.constructs.update(constructs)
        self.constructs_by_test.setdefault(test, Counter()).update(constructs)
        self.digests.setdefault(test, []).append(hashlib.sha1(listing.encode()).hexdigest()[:16])

    def never_generated(self, test: str | None = None) -> list[str]:
        counts = self.constructs if test is None else self.constructs_by_test.get(test, Counter())
        return [c for c in active_constructs() if counts[c] == 0]

    def shared(self, test: str, other: str = "explicit") -> tuple[int, int]:
        """How many of ``test``'s models are also models of ``other``."""
        a, b = self.digests.get(test, []), set(self.digests.get(other, []))
        return sum(1 for x in a if x in b), len(a)

    def lines(self) -> list[str]:
        total = sum(self.models.values())
        out = [f"differential: {total} generated models ("
               + ", ".join(f"{t}: {n}" + (f" in {self.wall[t]:.0f} s" if t in self.wall else "") for t, n in self.models.items()) + ")"]
        if "explicit" in self.digests:
            same = [f"{t} {k}/{n}" for t in self.digests if t != "explicit" for k, n in [self.shared(t)]]
            if same:
                out.append("  models also checked by the explicit-engine test: " + ", ".join(same))
        out.append(f"  reference: {self.states:,} states, {self.transitions:,} transitions; models with a failing write "
                   f"{self.with_error}, an initial value out of range {self.with_init_error}, a violated invariant {self.with_violation}, a deadlock {self.with_deadlock}")
        out.append("  engine checks: " + ", ".join(f"{e} {n}" for e, n in sorted(self.engine_runs.items())))
        out.append(f"  rule machine: {self.rule_walks} walks, {self.rule_steps} steps; symmetry: {self.orbits:,} renaming classes; "
                   f"bmc: {self.bmc_layers} k-step layers; spin: {self.spin_runs} runs, {self.spin_counts} state counts compared")
        out.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.seconds.items())))
        if self.known:
            out.append("  KNOWN DISAGREEMENTS met (each an xfail in tests/differential/test_regressions.py): "
                       + ", ".join(f"{k} x{n}" for k, n in self.known.items() if n))
        groups: dict[str, list[str]] = {}
        for name in active_constructs():
            groups.setdefault(REGISTRY[name].group, []).append(f"{name} {self.constructs[name]}")
        out.append("  constructs generated:")
        for g, items in groups.items():
            out.append(f"    {g}: " + ", ".join(items))
        missing = self.never_generated()
        if missing:
            out.append(f"  NEVER GENERATED: {', '.join(missing)}")
        pend = pending_constructs()
        if pend:
            out.append(f"  pending (language features not on this branch): {', '.join(c.name for c in pend)}")
        return out

    def as_json(self) -> str:
        return json.dumps({
            "models": dict(self.models), "constructs": dict(self.constructs), "states": self.states,
            "transitions": self.transitions, "with_error": self.with_error, "with_init_error": self.with_init_error, "with_violation": self.with_violation,
            "with_deadlock": self.with_deadlock, "orbits": self.orbits, "rule_walks": self.rule_walks,
            "rule_steps": self.rule_steps, "bmc_layers": self.bmc_layers, "spin_runs": self.spin_runs,
            "spin_counts": self.spin_counts, "engine_runs": dict(self.engine_runs), "known": dict(self.known),
            "seconds": dict(self.seconds), "wall": self.wall, "never_generated": self.never_generated(),
        }, indent=1, sort_keys=True)


REPORT = Report()
