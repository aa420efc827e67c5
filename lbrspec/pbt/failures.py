"""What a rule machine raises when a run goes wrong, each carrying a :class:`~lbrspec.trace.Trace`.

A Hypothesis failure is an exception raised inside a rule.  The rule machines of
:mod:`lbrspec.pbt.machine` record the encoded states and (action, parameters) pairs of the run as
they go, and raise one of the exceptions below, so that the failure Hypothesis reports after
shrinking *is* the shrunk trace:

* :class:`InvariantViolated`: an invariant is false in the state a step reached (or in the
  initial state);
* :class:`Deadlocked`: no action is enabled (only when deadlocks are not allowed);
* :class:`Nonconformance`: an implementation under test, driven step by step beside the model
  (:mod:`lbrspec.pbt.conformance`), refused a step the model took or reached a different state.

The :class:`~lbrspec.trace.Trace` is built, and the text rendered, only when asked for: during
shrinking Hypothesis raises and discards hundreds of these.  The text of the failure Hypothesis
finally reports (what pytest prints) is the trace after :func:`lbrspec.pbt.minimize.minimize`,
which removes the steps Hypothesis's shrinker could not.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from ..explicit.instance import Instance, State
from ..lang.spec import Action
from ..trace import Trace, trace_from_states
from ..trace.text import render

if TYPE_CHECKING:
    from .machine import ModelMachine


class ModelFailure(AssertionError):
    """A run of a rule machine that went wrong; ``trace`` is the run up to the failure."""

    kind = "failure"

    def __init__(
        self,
        inst: Instance,
        states: Sequence[State],
        steps: Sequence[tuple[Action, tuple[int, ...]]],
        names: Sequence[str],
    ) -> None:
        super().__init__()
        self.instance = inst
        self.states = list(states)
        self.steps = list(steps)
        self.names = list(names)
        self._trace: Trace | None = None
        self.machine: "type[ModelMachine] | None" = None  # set by the machine that raised it
        self._minimized: ModelFailure | None = None
        self.minimize_seconds = 0.0

    @property
    def violation(self) -> str:
        """The name recorded in the trace: the first violated invariant, ``deadlock``..."""
        return self.names[0] if self.names else self.kind

    @property
    def trace(self) -> Trace:
        if self._trace is None:
            self._trace = trace_from_states(self.instance, self.states, self.steps, violation=self.violation)
            self._trace.meta["found_by"] = "lbrspec.pbt"
        return self._trace

    def headline(self) -> str:
        raise NotImplementedError

    def minimized(self) -> "ModelFailure":
        """The same failure with every removable step removed (see :mod:`lbrspec.pbt.minimize`)."""
        if self._minimized is None:
            if self.machine is None:
                self._minimized = self
            else:
                from .minimize import minimize

                t0 = time.perf_counter()
                self._minimized = minimize(self.machine, self)
                self.minimize_seconds = time.perf_counter() - t0
        return self._minimized

    def render(self, note: str = "") -> str:
        """The headline and the trace as text."""
        model = self.instance.model
        what = f"{model.name} (variant {model.variant.name}; {self.instance.describe()})"
        title = f"{self.headline()}\n{note}\nTrace of {what}, {len(self.steps)} steps:"
        return render(self.trace, model, title=title).rstrip("\n")

    def __str__(self) -> str:
        try:
            small = self.minimized()
        except Exception:  # the report must not hide the failure it reports
            small = self
        note = ""
        if len(small.steps) < len(self.steps):
            extra = len(self.steps) - len(small.steps)
            note = f"(Hypothesis's run had {len(self.steps)} steps; {extra} of them are not needed and are left out)\n"
        return small.render(note)

    def __reduce__(self):  # exceptions are pickled by some runners; keep the data
        return (type(self), (self.instance, self.states, self.steps, self.names))


class InvariantViolated(ModelFailure):
    """``names``: every invariant false in the last state, in declaration order."""

    kind = "invariant"

    def headline(self) -> str:
        model = self.instance.model
        parts = []
        for n in self.names:
            inv = model.invariant(n)
            parts.append(f"{n}: {inv.summary}" + (f" [{inv.patch}]" if inv.patch else ""))
        where = f"after step {len(self.steps)}" if self.steps else "in the initial state"
        return f"invariant violated {where}: " + "; ".join(parts)


class Deadlocked(ModelFailure):
    """No action of the model is enabled in the last state."""

    kind = "deadlock"

    def __init__(self, inst: Instance, states: Sequence[State], steps: Sequence[tuple[Action, tuple[int, ...]]]) -> None:
        super().__init__(inst, states, steps, ["deadlock"])

    def __reduce__(self):
        return (type(self), (self.instance, self.states, self.steps))

    def headline(self) -> str:
        return f"deadlock: no action is enabled after step {len(self.steps)}"


class Nonconformance(ModelFailure):
    """The implementation under test disagrees with the model at the last step.

    ``differences`` lists ``(observation, model value, implementation value)``; ``refused`` is
    the implementation's reason when it could not perform the step at all.
    """

    kind = "nonconformance"

    def __init__(
        self,
        inst: Instance,
        states: Sequence[State],
        steps: Sequence[tuple[Action, tuple[int, ...]]],
        differences: Sequence[tuple[str, object, object]] = (),
        refused: str | None = None,
    ) -> None:
        super().__init__(inst, states, steps, ["nonconformance"])
        self.differences = list(differences)
        self.refused = refused

    def __reduce__(self):
        return (type(self), (self.instance, self.states, self.steps, self.differences, self.refused))

    def headline(self) -> str:
        from ..trace.text import fmt_value

        if not self.steps:
            where = "in the initial state"
        else:
            a, p = self.steps[-1]
            label = f"{a.name}({', '.join(f'{k}={v}' for k, v in self.instance.decode_params(a, p).items())})"
            where = f"at step {len(self.steps)}, {label}"
        if self.refused is not None:
            return f"the implementation does not conform {where}: it refuses a step the model takes: {self.refused}"
        diffs = "; ".join(
            f"{k} is {fmt_value(m)} in the model but {fmt_value(i)} in the implementation"  # type: ignore[arg-type]
            for k, m, i in self.differences
        )
        return f"the implementation does not conform {where}: {diffs}"
