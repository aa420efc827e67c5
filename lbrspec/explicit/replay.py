"""Replaying a :class:`~lbrspec.trace.Trace` with the reference semantics.

This is how engines check each other: a trace from the explorer, from Z3 or from Hypothesis is
accepted only if, step by step, its action is enabled in the reference semantics and produces
exactly the next state of the trace.  A step without an action name (a trace from another tool)
is matched against every action that leads from one state to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..lang.domains import Value
from ..trace import Trace
from .evaluate import step as eval_step
from .evaluate import successors, violated_invariants
from .instance import Instance, State


@dataclass
class ReplayResult:
    """``ok``: every step was enabled and reached the recorded state."""

    ok: bool
    steps_replayed: int
    diverged_at: int | None = None  # 1-based step number, 0 for the initial state
    reason: str | None = None
    #: (state index, name): a state invariant the state violates, or a step invariant the step
    #: leading to it breaks
    invariant_failures: list[tuple[int, str]] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    #: For a lasso (a trace with ``loop``): whether its last state is the state it says it loops
    #: back to; ``None`` for a trace without a loop or one that diverged before its last step.
    loop_closes: bool | None = None

    @property
    def final_violations(self) -> list[str]:
        """What the trace ends in: the invariants its last state violates and the step invariants
        its last step breaks."""
        last = len(self.states) - 1
        return [n for i, n in self.invariant_failures if i == last]


def _diff(inst: Instance, expected: dict[str, Value], got: State) -> str:
    dec = inst.decode(got)
    for k, v in dec.items():
        if expected.get(k) != v:
            return f"{k} is {expected.get(k)} in the trace but {v} by the model"
    return "states differ"


def replay(inst: Instance, trace: Trace) -> ReplayResult:
    """Replay ``trace`` on ``inst``; never raises for a trace that merely diverges.

    Raises :class:`InputError` when a state cannot even be encoded for this instance (missing
    or unknown variables, values outside their domains): the file is not a trace of this model.
    """
    encoded: list[State] = []
    for i, st in enumerate(trace.states):
        extra = set(st) - set(inst.slot_index)
        if extra:
            raise InputError(f"state {i}: '{sorted(extra)[0]}' is not a variable of model {inst.model.name} at this size")
        try:
            encoded.append(inst.encode(st))
        except InputError as e:
            raise InputError(f"state {i}: {e}") from None
    result = ReplayResult(ok=True, steps_replayed=0, states=[encoded[0]])
    steps_props = {i.name for i in inst.model.invariants if i.on is not None}
    for n in violated_invariants(inst, encoded[0]):
        if n not in steps_props:
            result.invariant_failures.append((0, n))
    if not inst.is_initial(encoded[0]):
        return ReplayResult(False, 0, 0, "the first state is not an initial state of the model", result.invariant_failures, result.states)
    actions = {a.name: a for a in inst.model.actions}
    for i, st in enumerate(trace.steps):
        pre, post = encoded[i], encoded[i + 1]
        if st.action:
            act = actions.get(st.action)
            if act is None:
                return _fail(result, i + 1, f"step {i + 1}: the model has no action '{st.action}'")
            try:
                params = inst.encode_params(act, st.params)
            except InputError as e:
                return _fail(result, i + 1, f"step {i + 1}: {e}")
            got = eval_step(inst, act, params, pre)
            if got is None:
                return _fail(result, i + 1, f"step {i + 1}: {st.label()} is not enabled")
            if got != post:
                return _fail(result, i + 1, f"step {i + 1}: {st.label()} leads elsewhere: {_diff(inst, trace.states[i + 1], got)}")
        else:
            if not any(t == post for _, _, t in successors(inst, pre)):
                return _fail(result, i + 1, f"step {i + 1}: no action leads from state {i} to state {i + 1}")
        result.states.append(post)
        result.steps_replayed = i + 1
        broken = broken_step_invariants(inst, act, params, pre) if st.action else []
        for n in violated_invariants(inst, post):
            if n not in steps_props or n in broken:
                result.invariant_failures.append((i + 1, n))
        for n in broken:
            if (i + 1, n) not in result.invariant_failures:
                result.invariant_failures.append((i + 1, n))
    if trace.loop is not None:
        result.loop_closes = encoded[-1] == encoded[trace.loop]
        if not result.loop_closes:
            diff = _loop_diff(inst, encoded[trace.loop], encoded[-1], trace.loop)
            return _fail(result, len(trace.steps), f"the trace says its last state is state {trace.loop} again, "
                                                   f"but it differs from it: {diff}")
    return result


def _loop_diff(inst: Instance, back: State, last: State, loop: int) -> str:
    a, b = inst.decode(back), inst.decode(last)
    for k, v in a.items():
        if b.get(k) != v:
            return f"{k} is {v} in state {loop} but {b.get(k)} in the last state"
    return "states differ"


def broken_step_invariants(inst: Instance, action, params: tuple[int, ...], pre: State) -> list[str]:
    """The step invariants that the step ``action(params)`` from ``pre`` breaks."""
    from ..lang.expr import expand, substitute
    from .evaluate import evaluate

    out = []
    env = dict(zip(action.params, params))
    for inv in inst.model.invariants:
        if inv.on is None:
            continue
        for part in action.parts:
            if part.transition is inv.on:
                body = expand(substitute(inv.step_body, dict(zip(inv.on.params, part.args))))
                if not evaluate(body, inst, pre, env):
                    out.append(inv.name)
                    break
    return out


def _fail(result: ReplayResult, at: int, reason: str) -> ReplayResult:
    result.ok = False
    result.diverged_at = at
    result.reason = reason
    return result
