"""``lbrspec bmc``: bounded model checking of one variant on one finite instance with Z3."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_HOLDS, EXIT_UNDETERMINED, EXIT_VIOLATED, InputError
from ..smt.bmc import BmcResult, bmc
from ..trace.text import render
from ..modelref import load_model
from .common import (SizeFlags, TraceFiles, check_writable, emit_json, make_instance, model_option, run_options, size_options,
                     variant_option)
from .. import runctl

DEFAULT_DEPTH = 10


def result_json(r: BmcResult, trace_out: str | None) -> dict[str, Any]:
    return {
        "model": r.model.name,
        "variant": r.model.variant.name,
        "sizes": r.sizes,
        # no violation within the bound is not a proof: say so in the verdict itself
        "verdict": "no violation within bound" if r.verdict == "holds" else r.verdict,
        "depth": r.depth,
        "depth_searched": r.depth_checked,
        "seconds": round(r.seconds, 3),
        "seconds_per_depth": [round(s, 3) for s in r.per_depth],
        "violated": r.violated[0] if r.violated else None,
        "violations": r.violated,
        "trace_length": len(r.trace) if r.trace else None,
        "trace_out": trace_out,
        "reason": r.reason,
    }


def print_result(r: BmcResult, trace_out: str | None) -> None:
    echo = click.echo
    model, v = r.model, r.model.variant
    sizes = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in r.sizes.items())
    echo(f"lbrspec bmc: model {model.name}, variant {v.name} ({v.description.rstrip('.')}), {sizes}, depth <= {r.depth}")
    searched = f"depths 0..{r.depth_checked} searched" if r.depth_checked >= 0 else "no depth searched completely"
    echo(f"  {searched}, {r.seconds:.2f} s")
    echo("")
    if r.verdict == "violated":
        assert r.trace is not None
        inv = model.invariant(r.violated[0])
        also = f" (also violated there: {', '.join(r.violated[1:])})" if len(r.violated) > 1 else ""
        echo(f"VIOLATED: {inv.name}{also}, after {len(r.trace)} steps (a shortest run; it replays in the reference semantics)")
        for line in inv.doc.strip().splitlines():
            echo(f"  {line}")
        if inv.patch:
            echo(f"  from {inv.patch}")
        echo("")
        echo(render(r.trace, model, title=f"Shortest counterexample, {len(r.trace)} steps:").rstrip("\n"))
        if trace_out:
            echo("")
            echo(f"trace written to {trace_out} (ITF JSON)")
    elif r.verdict == "holds":
        echo(f"NO VIOLATION within {r.depth} steps: every invariant holds in every state reachable in at most "
             f"{r.depth} steps (bounded: deeper runs were not searched; `lbrspec prove` covers them)")
    else:
        echo(f"UNDETERMINED: the solver gave up {r.reason}; runs up to depth {r.depth_checked} have no violation, "
             "nothing is claimed beyond")


@click.command("bmc")
@model_option
@variant_option
@size_options
@click.option("--depth", type=int, default=DEFAULT_DEPTH, show_default=True, metavar="K",
              help="Search runs of at most K steps.")
@click.option("--trace-out", type=str, default=None, metavar="FILE", help="Write the counterexample as ITF JSON to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options(time_aliases=("--timeout",))
def bmc_cmd(
    model_ref: str | None,
    variant: str | None,
    sizes: SizeFlags,
    depth: int,
    max_seconds: float | None,
    quiet: bool,
    trace_out: str | None,
    as_json: bool,
) -> None:
    """Bounded model checking with Z3: look for a run of at most K steps that breaks an invariant.

    Depths are searched in increasing order, so a violation found is a shortest one; its trace
    is replayed by the reference semantics before it is printed.

    Exit status: 0 no violation within K steps; 1 an invariant is violated (the trace is
    printed); 2 bad usage or input; 3 undetermined (solver timeout or unknown); 4 internal
    error (the solver's trace does not replay).
    """
    if depth < 0:
        raise InputError(f"--depth must be at least 0, got {depth}")
    with runctl.phase("loading the model"):
        inst = make_instance(load_model(model_ref), variant, sizes)
    check_writable(trace_out, "--trace-out")
    with runctl.phase(f"bounded model checking to depth {depth} (Z3)"):
        r = bmc(inst.model, inst.sizes_by_name(), depth=depth, timeout=max_seconds)
    written = None
    out = TraceFiles()
    if r.trace is not None and trace_out:
        if out.write(r.trace, trace_out, description=f"lbrspec bmc: shortest counterexample for {r.violated[0]}"):
            written = trace_out
    if as_json:
        emit_json(result_json(r, written))
    else:
        print_result(r, written)
    out.exit({"holds": EXIT_HOLDS, "violated": EXIT_VIOLATED}.get(r.verdict, EXIT_UNDETERMINED))
