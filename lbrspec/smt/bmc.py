"""Bounded model checking of a finite instance.

The formula for depth ``k`` is ``Init(s0) & T(s0, s1) & ... & T(s(k-1), sk) & ~Inv(sk)``,
where ``Inv`` is the conjunction of the properties checked (the model's safety invariants, or
for :mod:`lbrspec.smt.induction` the invariants and lemmas) and, when the model has bounded
integers, the step into ``sk`` writes no value outside its range.  Depths are tried in
increasing order on one incremental solver, so the first violation found has a shortest trace:
its length equals the depth at which breadth-first exploration first meets a violation.  Once
depth ``k`` is refuted, ``Inv(sk)`` is asserted: a shortest violation passes only through
states that satisfy every property, and the pruning makes deeper queries several times faster.

Every violating run is decoded into a :class:`~lbrspec.trace.Trace` and replayed by the
reference semantics (:func:`lbrspec.explicit.replay.replay`) before it is returned; a run the
reference semantics cannot replay, or that does not end in the violation, is an
:class:`~lbrspec.errors.InternalError`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import z3

from ..errors import EvaluationError, InternalError
from ..explicit.evaluate import holds as eval_holds
from ..explicit.evaluate import step as eval_step
from ..explicit.instance import State
from ..explicit.replay import replay
from ..lang.spec import Invariant, Model
from ..trace import Trace, trace_from_states
from .encode import Encoding, StateSyms, StepSyms
from .. import runctl
from .solving import Budget, check


@dataclass
class BmcResult:
    """``verdict``: ``violated`` (``trace`` is set), ``holds`` (no violation up to ``depth``)
    or ``undetermined`` (the solver gave up at depth ``depth_checked + 1``)."""

    model: Model
    sizes: dict[str, int]
    verdict: str
    depth: int
    depth_checked: int  # every depth up to this one was searched completely
    seconds: float
    trace: Trace | None = None
    violated: list[str] = field(default_factory=list)
    per_depth: list[float] = field(default_factory=list)  # solver seconds at depth 0, 1, ...
    reason: str | None = None


@dataclass
class Found:
    """A shortest run (replayed) whose last state violates ``violated`` (declaration order)."""

    trace: Trace
    violated: list[str]


class Unrolling:
    """An incremental unrolling ``Init & T & T ...`` of a finite instance, one depth at a time.

    :meth:`search` asks, depth by depth, for a run whose last state violates one of the
    ``targets`` while every earlier state satisfies every property; it is the engine of both
    ``lbrspec bmc`` (the targets are the invariants) and the search for reachable
    counterexamples to induction (the targets are the properties that are not inductive).
    """

    def __init__(self, model: Model, sizes: dict[str, int] | None, properties: Sequence[Invariant], budget: Budget) -> None:
        self.model = model
        self.enc = Encoding(model, sizes or {})
        self.properties = list(properties)
        self.budget = budget
        self.solver = self.enc.solver()
        self.states: list[StateSyms] = [self.enc.state("0")]
        self.steps: list[StepSyms] = []
        self.solver.add(self.enc.init(self.states[0]))
        check_initial_ranges(self.enc, self.solver, self.states[0])
        self.per_depth: list[float] = []
        self.depth_checked = -1
        self.reason: str | None = None

    def search(self, targets: Sequence[str], depth: int, first_only: bool = True) -> list[Found]:
        """Shortest runs of length at most ``depth`` ending in a violation of a target.

        With ``first_only`` the search stops at the first violation; otherwise it goes on,
        deeper, for the targets not yet violated.  ``reason`` is set if the solver gave up."""
        enc = self.enc
        pending = [p for p in self.properties if p.name in set(targets)]
        found: list[Found] = []
        # a write out of range is an error at any depth, so the search goes on for it even
        # when no target is left to violate (a model without invariants)
        while (pending or enc.has_ranges()) and len(self.states) - 1 <= depth:
            k = len(self.states) - 1
            if k > self.depth_checked + 1:
                break
            bad = [z3.Not(enc.holds(p.body, self.states[k])) for p in pending]
            if k > 0 and enc.has_ranges():
                bad.append(enc.write_errors(self.states[k - 1], self.steps[k - 1]))
            flag = z3.Bool(f"violation@{k}!{len(found)}", enc.ctx)
            self.solver.add(z3.Implies(flag, z3.Or(bad) if bad else z3.BoolVal(False, enc.ctx)))
            ans = check(self.solver, self.budget, flag)
            self.per_depth.append(ans.seconds)
            if ans.sat:
                f = self._violation(self.solver.model(), k, pending)
                found.append(f)
                if first_only:
                    return found
                pending = [p for p in pending if p.name not in f.violated]
                continue  # the same depth again, for the other targets
            if not ans.unsat:
                self.reason = f"at depth {k}: {ans.reason}"
                return found
            self.depth_checked = k
            self.solver.add(*[enc.holds(p.body, self.states[k]) for p in self.properties])
            if k == depth:
                break
            self.steps.append(enc.step(str(k)))
            self.states.append(enc.state(str(k + 1)))
            self.solver.add(enc.transition(self.states[k], self.states[k + 1], self.steps[k]))
        return found

    def _violation(self, m: z3.ModelRef, k: int, pending: list[Invariant]) -> Found:
        """Decode and replay the violating run; raise if the reference semantics disagrees."""
        dec = self.enc.decode(m, self.states[: k + 1], self.steps[:k])
        inst = dec.instance
        # A write outside a bounded integer's range: the reference semantics must raise at the last step.
        if k > 0 and self.enc.has_ranges():
            a, params = dec.steps[-1]
            try:
                eval_step(inst, a, params, dec.states[-2])
            except EvaluationError as e:
                prefix = trace_from_states(inst, dec.states[:-1], dec.steps[:-1])
                res = replay(inst, prefix)
                if not res.ok:
                    raise InternalError(f"bmc: the run leading to a bad write does not replay: {res.reason}") from None
                raise EvaluationError(f"{e} (after {k - 1} steps, found by bmc)") from None
        trace = trace_from_states(inst, dec.states, dec.steps)
        res = replay(inst, trace)
        if not res.ok:
            raise InternalError(f"bmc: the solver's {k}-step trace does not replay in the reference semantics: {res.reason}")
        final = res.states[-1]
        violated = [p.name for p in pending if not eval_holds(p.body, inst, final)]
        if not violated:
            raise InternalError(f"bmc: the solver's {k}-step trace replays but violates no property at its end")
        trace.violation = violated[0]
        inv = next(p for p in pending if p.name == violated[0])
        if getattr(inv, "on", None) is not None:
            # a step invariant: the trace ends with the step that breaks it, as the explorers' do
            from ..explicit.evaluate import with_offending_step

            trace = with_offending_step(inst, trace, inv)
        trace.meta["engine"] = "bmc"
        return Found(trace, violated)


def check_initial_ranges(enc: Encoding, solver: z3.Solver, st0: StateSyms) -> None:
    """Raise the explicit engines' EvaluationError if an initial value can lie outside its
    variable's range (an ``init`` computed by a function can), so that every engine reports it."""
    if not enc.has_ranges():
        return
    solver.push()
    solver.add(z3.Not(enc.domains_ok(st0)))
    bad = solver.check() == z3.sat
    solver.pop()
    if bad:
        assert enc.instance is not None
        enc.instance.initial_choices()  # raises the one wording of this error
        raise InternalError("bmc: an initial value is out of range for the solver but not for the explicit engines")


def states_at_depth(model: Model, sizes: dict[str, int] | None, k: int, limit: int = 100_000) -> set[State]:
    """Every state at the end of a run of exactly ``k`` steps, enumerated by the solver (each
    found state is excluded and the solver asked again); at most ``limit`` states."""
    enc = Encoding(model, sizes or {})
    solver = enc.solver()
    states = [enc.state("0")]
    solver.add(enc.init(states[0]))
    check_initial_ranges(enc, solver, states[0])
    for i in range(k):
        states.append(enc.state(str(i + 1)))
        solver.add(enc.transition(states[i], states[i + 1], enc.step(str(i))))
    found: set[State] = set()
    while len(found) < limit and solver.check() == z3.sat:
        s = enc.decode(solver.model(), [states[-1]], []).states[0]
        found.add(s)
        solver.add(z3.Not(enc.pin(states[-1], s)))
    return found


def bmc(model: Model, sizes: dict[str, int] | None = None, depth: int = 10, timeout: float | None = None) -> BmcResult:
    """Search for an invariant violation in at most ``depth`` steps (see the module docstring)."""
    t0 = time.perf_counter()
    u = Unrolling(model, sizes, model.invariants, Budget(timeout))
    assert u.enc.instance is not None
    try:
        found = u.search([i.name for i in model.invariants], depth)
    except z3.Z3Exception:
        # a stop request (a budget, SIGINT, SIGTERM) interrupted Z3, which may refuse the next
        # operation rather than answer unknown
        stopped = runctl.poll()
        if stopped is None:
            raise
        found, u.reason = [], f"at depth {u.depth_checked + 1}: {stopped}"
    result = BmcResult(model, u.enc.instance.sizes_by_name(), "holds", depth, u.depth_checked, 0.0, per_depth=u.per_depth)
    if found:
        result.verdict, result.trace = "violated", found[0].trace
        # Report every invariant the last state violates, in declaration order.
        inst = u.enc.instance
        trace = found[0].trace
        # the state the violation was found in: the last one, or the one a breaking step starts from
        k = -2 if trace.meta.get("violated_by_last_step") else -1
        last = inst.encode(trace.states[k])
        result.violated = [i.name for i in model.invariants if not eval_holds(i.body, inst, last)]
    elif u.reason is not None:
        result.verdict, result.reason = "undetermined", u.reason
    result.seconds = time.perf_counter() - t0
    return result
