"""The one trace type every engine produces and every renderer reads.

A :class:`Trace` is a sequence of states of one model instance: the initial state, then for
each :class:`Step` the action taken, its parameters, and the full state after it.  Values are
display values (``True``, ``"ACTIVE"``, ``"p0"``, ``UnionValue("vcpu", "v0")``) keyed by slot
name (``ev[v0]``), so a trace is independent of any engine's encoding and can be written as ITF
JSON (:mod:`lbrspec.trace.itf`), printed as text (:mod:`lbrspec.trace.text`) and replayed by
the reference semantics (:func:`lbrspec.trace.replay.replay`).

A trace may end in a loop (``loop`` is the index of the state the last step returns to), which
is how liveness counterexamples (lassos) are represented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from ..lang.domains import Value

if TYPE_CHECKING:
    from ..explicit.instance import Instance, State
    from ..lang.spec import Action


@dataclass(frozen=True)
class Step:
    """One step: the action, its parameters (display values, in declaration order)."""

    action: str
    params: dict[str, Value]

    def label(self) -> str:
        return f"{self.action}({', '.join(f'{k}={v}' for k, v in self.params.items())})"


@dataclass
class Trace:
    """``states[0]`` is initial; ``steps[i]`` leads from ``states[i]`` to ``states[i + 1]``."""

    model: str
    variant: str
    sizes: dict[str, int]
    states: list[dict[str, Value]]
    steps: list[Step]
    violation: str | None = None  # the property the last state (or the trace) violates
    loop: int | None = None  # lasso: the last state equals states[loop]
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.states) != len(self.steps) + 1:
            raise ValueError(f"a trace of {len(self.steps)} steps needs {len(self.steps) + 1} states, got {len(self.states)}")

    def __len__(self) -> int:
        """The number of steps."""
        return len(self.steps)

    def changes(self, i: int) -> dict[str, tuple[Value, Value]]:
        """What step ``i`` changed: slot name -> (before, after), in slot order."""
        before, after = self.states[i], self.states[i + 1]
        return {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}


def trace_from_states(
    inst: "Instance",
    states: Sequence["State"],
    steps: Sequence[tuple["Action", tuple[int, ...]]],
    violation: str | None = None,
    loop: int | None = None,
) -> Trace:
    """Build a :class:`Trace` from encoded states and (action, parameter codes) pairs."""
    return Trace(
        model=inst.model.name,
        variant=inst.model.variant.name,
        sizes=inst.sizes_by_name(),
        states=[inst.decode(s) for s in states],
        steps=[Step(a.name, inst.decode_params(a, p)) for a, p in steps],
        violation=violation,
        loop=loop,
    )


__all__ = ["Step", "Trace", "trace_from_states"]
