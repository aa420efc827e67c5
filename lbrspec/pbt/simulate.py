"""Random walks with invariants: running a generated rule machine under a seed and a budget.

:func:`simulate` is what ``lbrspec simulate`` and the tests call.  It runs Hypothesis on the rule
machine of an instance (up to ``runs`` walks of up to ``steps`` steps each), reproducibly from
``seed``, with no example database, no deadline and no health checks (a walk on a large instance
is legitimately slow), and returns a :class:`SimulateResult`:

* ``found``: the failure as Hypothesis reported it (its run shrunk by Hypothesis when
  ``hypothesis_shrink`` is on, else the first failing walk);
* ``failure``: the same failure minimized step by step (:mod:`lbrspec.pbt.minimize`), whose
  trace has been replayed by the reference semantics (:func:`lbrspec.explicit.replay.replay`):
  a trace that does not replay is an :class:`~lbrspec.errors.InternalError`.

Nothing found is no proof: the result says how much was searched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from hypothesis import HealthCheck, Phase, Verbosity, seed as hypothesis_seed, settings
from hypothesis.stateful import run_state_machine_as_test

from .. import runctl
from ..errors import InternalError
from ..explicit.instance import Instance
from ..explicit.replay import replay
from ..lang.spec import Model
from .failures import Deadlocked, InvariantViolated, ModelFailure, Nonconformance
from .machine import ModelMachine, rule_machine

if TYPE_CHECKING:
    from .conformance import Adapter


@dataclass
class SimulateResult:
    instance: Instance
    seed: int
    runs_requested: int
    max_steps: int
    runs: int  # walks Hypothesis executed (including discarded and shrinking ones)
    steps: int  # steps taken over all walks
    seconds: float  # Hypothesis, search and shrinking
    rule_seconds: float = 0.0  # of which inside the rules: stepping, invariants, conformance
    hypothesis_shrink: bool = False
    found: ModelFailure | None = None
    failure: ModelFailure | None = None  # ``found`` minimized, replayed
    minimize_seconds: float = 0.0
    #: why the walks stopped before the runs requested (a budget, SIGINT, SIGTERM)
    stop_reason: str | None = None

    @property
    def verdict(self) -> str:
        if self.failure is not None:
            return "violated"
        return "undetermined" if self.stop_reason is not None else "nothing found"

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def search_settings(runs: int, steps: int, hypothesis_shrink: bool) -> settings:
    """The Hypothesis settings of a simulation (quiet, no database, reproducible from a seed)."""
    phases = [Phase.generate] + ([Phase.shrink] if hypothesis_shrink else [])
    return settings(
        max_examples=runs,
        stateful_step_count=steps,
        phases=phases,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )


def simulate(
    target: Instance | Model | type[ModelMachine],
    sizes: Mapping[str, int] | None = None,
    *,
    runs: int = 100,
    steps: int = 50,
    seed: int = 0,
    hypothesis_shrink: bool = False,
    minimize: bool = True,
    allow_deadlock: bool = False,
    adapter: "Callable[[], Adapter] | None" = None,
    progress: Callable[[int, int, float], None] | None = None,
    check_invariants: bool = True,
) -> SimulateResult:
    """Search ``target`` (a model at ``sizes``, an instance, or a generated machine) for a failure.

    ``progress(walks, steps, seconds)`` is called as each walk starts.  ``check_invariants=False``
    looks for non-conformance only (see :func:`~lbrspec.pbt.machine.rule_machine`).
    """
    if isinstance(target, type) and issubclass(target, ModelMachine):
        machine = target
    else:
        machine = rule_machine(target, sizes, allow_deadlock=allow_deadlock, adapter=adapter,  # type: ignore[arg-type]
                               check_invariants=check_invariants)
    machine.stats.reset()
    hypothesis_seed(seed)(machine)
    t0 = time.perf_counter()

    def on_run(stats) -> None:
        # between walks: the command's budgets, SIGINT and SIGTERM (lbrspec.runctl) end the
        # search here, keeping the figures; Hypothesis lets a KeyboardInterrupt through
        if runctl.poll() is not None:
            raise KeyboardInterrupt(runctl.reason())
        if progress is not None:
            progress(stats.runs, stats.steps, time.perf_counter() - t0)

    machine.stats.on_run = on_run
    found: ModelFailure | None = None
    stop_reason: str | None = None
    try:
        run_state_machine_as_test(machine, settings=search_settings(runs, steps, hypothesis_shrink))
    except ModelFailure as e:
        found = e
    except KeyboardInterrupt:
        stop_reason = runctl.reason()
    finally:
        machine.stats.on_run = None
    seconds = time.perf_counter() - t0
    result = SimulateResult(
        instance=machine.instance,
        seed=seed,
        runs_requested=runs,
        max_steps=steps,
        runs=machine.stats.runs,
        steps=machine.stats.steps,
        seconds=seconds,
        rule_seconds=machine.stats.seconds,
        hypothesis_shrink=hypothesis_shrink,
        found=found,
        stop_reason=stop_reason,
    )
    if found is not None:
        found.machine = machine
        result.failure = found.minimized() if minimize else found
        result.minimize_seconds = found.minimize_seconds
        check_replays(result.failure, machine.invariants_checked)
        result.failure.trace.meta.update({"seed": seed, "hypothesis_steps": len(found.steps)})
    return result


def check_replays(failure: ModelFailure, invariants_checked: bool = True) -> None:
    """Raise :class:`InternalError` unless the reference semantics replays the failure's trace.

    ``invariants_checked``: the run was stopped at any invariant violation, so a non-conformance
    trace must not break one (without it, the run may have gone through such states)."""
    inst = failure.instance
    r = replay(inst, failure.trace)
    if not r.ok:
        raise InternalError(f"a trace found by Hypothesis does not replay: {r.reason}")
    if isinstance(failure, InvariantViolated) and not set(failure.names) <= set(r.final_violations):
        raise InternalError(
            f"the reference semantics does not confirm the violation of {', '.join(failure.names)} "
            f"(it finds {', '.join(r.final_violations) or 'none'})"
        )
    if isinstance(failure, Deadlocked):
        from ..explicit.evaluate import successors

        if any(True for _ in successors(inst, r.states[-1])):
            raise InternalError("the reference semantics finds an enabled action in the state reported as a deadlock")
    if isinstance(failure, Nonconformance) and r.invariant_failures and invariants_checked:
        raise InternalError("a non-conformance trace violates an invariant of the model")
