"""``lbrspec simulate``: seeded random walks with invariants, for instances too large to explore."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_HOLDS, EXIT_UNDETERMINED, EXIT_VIOLATED, InputError
from ..pbt.failures import InvariantViolated
from ..pbt.simulate import SimulateResult, simulate
from ..modelref import load_model
from .. import runctl
from .common import (Progress, SizeFlags, TraceFiles, check_writable, emit_json, make_instance, model_option, positive, run_options,
                     size_options, variant_option)

#: Hypothesis keeps a run's choices in a bounded buffer; far longer walks would be cut short.
MAX_STEPS = 2000


class WalkProgress(Progress):
    """Progress of a long simulation: walks, steps and steps per second."""

    def __init__(self, enabled: bool) -> None:
        super().__init__(enabled)
        self._last_update = 0.0

    def __call__(self, walks: int, steps: int, seconds: float) -> None:  # type: ignore[override]
        if seconds - self._last_update < 0.5:
            return
        self._last_update = seconds
        self.show(f"{walks:,} walks, {steps:,} steps, {steps / seconds:,.0f} steps/s, {seconds:.0f} s", seconds)


def result_json(r: SimulateResult, trace_out: str | None) -> dict[str, Any]:
    model = r.instance.model
    f = r.failure
    return {
        "model": model.name,
        "variant": model.variant.name,
        "sizes": r.instance.sizes_by_name(),
        "seed": r.seed,
        "runs_requested": r.runs_requested,
        "max_steps": r.max_steps,
        "verdict": r.verdict,
        "stop_reason": r.stop_reason,
        "runs": r.runs,
        "steps": r.steps,
        "seconds": round(r.seconds, 3),
        "steps_per_second": round(r.steps_per_second),
        "violated": f.violation if f else None,
        "violations": f.names if isinstance(f, InvariantViolated) else ([f.violation] if f else []),
        "found_length": len(r.found.steps) if r.found else None,
        "hypothesis_shrink": r.hypothesis_shrink,
        "trace_length": len(f.steps) if f else None,
        "minimize_seconds": round(r.minimize_seconds, 3) if f else None,
        "trace_out": trace_out if f and trace_out else None,
    }


def print_result(r: SimulateResult, trace_out: str | None) -> None:
    echo = click.echo
    model = r.instance.model
    v = model.variant
    echo(f"lbrspec simulate: model {model.name}, variant {v.name} ({v.description.rstrip('.')}), {r.instance.describe()}")
    echo(f"  seed {r.seed}: {r.runs_requested} walks of up to {r.max_steps} steps requested")
    echo(f"  {r.runs:,} walks, {r.steps:,} steps in {r.seconds:.2f} s ({r.steps_per_second:,.0f} steps/s)")
    echo("")
    f = r.failure
    if f is None and r.stop_reason is not None:
        echo(f"UNDETERMINED: stopped after {r.runs:,} of {r.runs_requested:,} walks ({r.stop_reason}); nothing was "
             "found in them, and nothing is claimed.")
        return
    if f is None:
        echo(f"NOTHING FOUND: every invariant held in every state of {r.runs:,} random walks.")
        echo("  This is a random search, not a proof; `lbrspec check` explores every state of small instances.")
        return
    assert r.found is not None
    if isinstance(f, InvariantViolated):
        inv = model.invariant(f.names[0])
        also = f" (also violated there: {', '.join(f.names[1:])})" if len(f.names) > 1 else ""
        echo(f"VIOLATED: {inv.name}{also}")
        for line in inv.doc.strip().splitlines():
            echo(f"  {line}")
        if inv.patch:
            echo(f"  from {inv.patch}")
    else:
        echo(f"VIOLATED: {f.headline()}")
    echo("")
    first = (f"Hypothesis shrank the failing walk to {len(r.found.steps)} steps" if r.hypothesis_shrink
             else f"The first failing walk had {len(r.found.steps)} steps")
    echo(f"{first}; minimized to {len(f.steps)} in {r.minimize_seconds:.2f} s, and replayed by the reference semantics.")
    echo("")
    from ..trace.text import render

    echo(render(f.trace, model, title=f"Shrunk counterexample, {len(f.steps)} steps:").rstrip("\n"))
    if trace_out:
        echo("")
        echo(f"trace written to {trace_out} (ITF JSON)")


@click.command("simulate")
@model_option
@variant_option
@size_options
@click.option("--steps", type=int, default=50, show_default=True, metavar="S", help="Longest walk, in steps.")
@click.option("--runs", type=int, default=2000, show_default=True, metavar="R", help="Number of walks Hypothesis completes.")
@click.option(
    "--seed", type=int, default=0, show_default=True, metavar="X", help="Seed: the same seed gives the same walks and output."
)
@click.option("--trace-out", type=str, default=None, metavar="FILE", help="Write the shrunk counterexample as ITF JSON to FILE.")
@click.option("--hypothesis-shrink", is_flag=True, help="Also run Hypothesis's own shrinker before minimizing (slower).")
@click.option("--allow-deadlock/--check-deadlock", default=None,
              help="Whether a state without enabled actions is a violation (default: the model's CHECK_DEADLOCK, normally checked).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options()
def simulate_cmd(
    model_ref: str | None,
    variant: str | None,
    sizes: SizeFlags,
    steps: int,
    runs: int,
    seed: int,
    trace_out: str | None,
    hypothesis_shrink: bool,
    allow_deadlock: bool | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Random walks checking every invariant after every step, on any instance size.

    Hypothesis draws the walks from the model (one rule per action, an enabled binding of its
    parameters, one of the initial states); the first violating walk is shrunk to a short
    counterexample, replayed by the reference semantics and printed.  For instances too large
    for `lbrspec check`, e.g. `lbrspec simulate --variant v7-write-path --vcpus 4 --pcpus 4`.

    Exit status: 0 nothing found (no proof: a random search); 1 an invariant is violated or a
    deadlock was reached (the counterexample is printed); 2 bad usage or input.
    """
    positive(steps, "--steps")
    positive(runs, "--runs")
    if steps > MAX_STEPS:
        raise InputError(f"--steps must be at most {MAX_STEPS}, got {steps}")
    if seed < 0:
        raise InputError(f"--seed must be non-negative, got {seed}")
    with runctl.phase("loading the model"):
        source = load_model(model_ref)
        inst = make_instance(source, variant, sizes)
    if allow_deadlock is None:
        allow_deadlock = not source.check_deadlock
    check_writable(trace_out, "--trace-out")
    progress = WalkProgress(enabled=not quiet)
    try:
        with runctl.phase("random walks"):
            r = simulate(
                inst, runs=runs, steps=steps, seed=seed, hypothesis_shrink=hypothesis_shrink,
                allow_deadlock=allow_deadlock, progress=progress,
            )
    finally:
        progress.close()
    written = None
    out = TraceFiles()
    if r.failure is not None and trace_out:
        description = f"lbrspec simulate (seed {seed}): counterexample for {r.failure.violation}"
        if out.write(r.failure.trace, trace_out, description=description):
            written = trace_out
    if as_json:
        emit_json(result_json(r, written))
    else:
        print_result(r, written)
        if trace_out and written is None and not out.failures:
            click.echo(f"no counterexample, so nothing was written to {trace_out}")
    out.exit(EXIT_VIOLATED if r.failure is not None else EXIT_UNDETERMINED if r.stop_reason else EXIT_HOLDS)
