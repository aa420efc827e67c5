"""Running Z3 queries under a time budget, and re-checking what Z3 claims.

A :class:`Budget` is the wall-clock time a command may spend in the solver; each query gets
what is left as Z3's ``timeout``.  :func:`check` returns ``"sat"``, ``"unsat"`` or
``"unknown"`` (with Z3's reason); an exhausted budget is ``"unknown"`` too.  Callers turn
``unknown`` into *undetermined*, never into a proof.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from .. import runctl

# SIGINT goes to lbrspec's handler (lbrspec.runctl), which stops Z3 through Context.interrupt;
# with Z3's own handler, Z3 would take the signal and answer "canceled" unnoticed
z3.set_param("ctrl_c", False)


@dataclass
class Answer:
    """A solver answer: ``result`` is ``sat``, ``unsat`` or ``unknown``; ``seconds`` spent."""

    result: str
    seconds: float
    reason: str = ""
    #: unsat under assumptions: the names of the assumed properties the answer used, where the
    #: caller records them (``None``: not recorded)
    core: frozenset[str] | None = None

    @property
    def sat(self) -> bool:
        return self.result == "sat"

    @property
    def unsat(self) -> bool:
        return self.result == "unsat"


class Budget:
    """Wall-clock budget shared by the queries of one command (``None``: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def remaining(self) -> float | None:
        """Seconds left: of this budget, or of the command's (:mod:`lbrspec.runctl`) if less."""
        own = None if self.seconds is None else self.seconds - (time.perf_counter() - self.start)
        run = runctl.remaining()
        if own is None or (run is not None and run < own):
            return run
        return own

    def exhausted(self) -> bool:
        r = self.remaining()
        return (r is not None and r <= 0) or runctl.poll() is not None


def check(solver: z3.Solver, budget: Budget, *assumptions: z3.ExprRef, limit: float | None = None) -> Answer:
    """``solver.check(*assumptions)`` with the remaining budget (or ``limit`` seconds, if less)
    as Z3's timeout."""
    t0 = time.perf_counter()
    left = budget.remaining()
    if left is not None and left <= 0:
        return Answer("unknown", 0.0, "time budget exhausted")
    if limit is not None:
        left = limit if left is None else min(left, limit)
    # Z3 keeps the last timeout set on a solver, so always set one (0: none).
    solver.set("timeout", 0 if left is None else max(1, int(left * 1000)))
    with runctl.cancel_with(solver.ctx.interrupt):  # a stop request stops Z3 at once
        stop = runctl.poll()  # the command's budgets, SIGINT, SIGTERM
        if stop is not None:
            return Answer("unknown", 0.0, stop)
        r = solver.check(*assumptions)
    dt = time.perf_counter() - t0
    if r == z3.sat:
        return Answer("sat", dt)
    if r == z3.unsat:
        return Answer("unsat", dt)
    reason = solver.reason_unknown()
    stop = runctl.poll()
    if stop is not None:
        reason = stop
    elif budget.exhausted():
        reason = "time budget exhausted"
    elif reason in ("timeout", "canceled") and limit is not None:
        reason = f"no answer within {limit:g} s"
    return Answer("unknown", dt, reason or "solver returned unknown")
