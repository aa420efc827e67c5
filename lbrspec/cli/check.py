"""``lbrspec check``: exhaustive explicit-state check of one variant on one instance."""

from __future__ import annotations

import os
from typing import Any

import click

from ..errors import EXIT_HOLDS, EXIT_UNDETERMINED, EXIT_VIOLATED, InputError
from ..explicit.explore import ExploreResult, explore
from ..explicit.vexplore import explore_vector
from ..explicit.workers import MAX_WORKERS
from ..analysis.report import graph_report, report_json, report_lines
from ..modelref import ModelModule, load_model
from ..trace.text import render
from .. import runctl
from .common import (Progress, SizeFlags, TraceFiles, check_writable, emit_json, make_instance, model_option, positive, run_options,
                     size_options, variant_option)


def exit_code(verdict: str) -> int:
    return {"holds": EXIT_HOLDS, "violated": EXIT_VIOLATED}.get(verdict, EXIT_UNDETERMINED)


def invariant_status(r: ExploreResult, name: str) -> str:
    """``violated`` (a counterexample was found), ``holds`` (a complete run that expanded every
    state), ``not violated`` (a complete run, but states that broke a state invariant were not
    expanded, so a violation that needs one first would go unseen) or ``undetermined`` (the run
    stopped before the end)."""
    if r.violation_of(name) is not None or (r.violation is not None and name in r.violation.names):
        return "violated"
    if not r.complete:
        return "undetermined"
    return "not violated" if r.pruned else "holds"


def counterexamples(r: ExploreResult):
    """Every property's own shortest counterexample: all of them when the run went on after the
    first violation, else the first one."""
    if r.violations:
        return list(r.violations)
    return [r.violation] if r.violation is not None else []


def trace_files(path: str, r: ExploreResult) -> dict[str, str]:
    """Where ``--trace-out PATH`` writes each counterexample: the shortest one to PATH itself and,
    when several properties are violated, each property's to PATH with its name inserted before
    the extension (``cex.itf.json`` -> ``cex.single_owner.itf.json``)."""
    from pathlib import Path

    cexs = counterexamples(r)
    out: dict[str, str] = {}
    if not cexs:
        return out
    first = r.violation.prop if r.violation is not None else cexs[0].prop
    out[first] = path
    if len(cexs) > 1:
        p = Path(path)
        stem, dot, rest = p.name.partition(".")
        for c in cexs:
            name = f"{stem}.{c.prop}{dot}{rest}" if dot else f"{stem}.{c.prop}"
            out.setdefault(c.prop, str(p.with_name(name)))
    return out


def result_json(r: ExploreResult, trace_out: str | None, files: dict[str, str] | None = None) -> dict[str, Any]:
    model = r.instance.model
    viol = r.violation
    inv_status = [{"name": inv.name, "status": invariant_status(r, inv.name)} for inv in model.invariants]
    return {
        "model": model.name,
        "variant": model.variant.name,
        "sizes": r.instance.sizes_by_name(),
        "verdict": r.verdict,
        "complete": r.complete,
        "stop_reason": r.stop_reason,
        "states": r.states,
        "transitions": r.transitions,
        "depth": r.depth,
        "seconds": round(r.seconds, 3),
        "states_per_second": round(r.states / r.seconds) if r.seconds > 0 else None,
        "engine": r.engine,
        "symmetry": r.symmetry,
        "symmetry_notes": r.symmetry_notes,
        "bytes_per_state": round(r.bytes_per_state, 2) if r.bytes_per_state is not None else None,
        "violated": r.violated,
        "violations": [c.prop for c in counterexamples(r)],
        "trace_length": len(viol.trace) if viol else None,
        "trace_out": trace_out if viol and trace_out else None,
        "counterexamples": [
            {"property": c.prop, "kind": c.kind, "trace_length": len(c.trace),
             "violated_by_last_step": c.trace.meta.get("violated_by_last_step") == c.prop,
             "also_violated": [n for n in c.names if n != c.prop],
             "trace_out": (files or {}).get(c.prop)}
            for c in counterexamples(r)
        ],
        "pruned_states": r.pruned,
        "deadlocks": r.deadlocks,
        "invariants": inv_status,
        "goals": [{"name": g.name, "reached": g.reached, "missing": g.missing} for g in r.goals],
        "goals_unreached": r.goals_unreached,
    }


def print_result(r: ExploreResult, files: dict[str, str] | None) -> None:
    model = r.instance.model
    v = model.variant
    echo = click.echo
    echo(f"lbrspec check: model {model.name}, variant {v.name} ({v.description.rstrip('.')}), "
         f"{r.instance.describe() or 'no index sorts'}")
    rate = f" ({r.states / r.seconds:,.0f} states/s)" if r.seconds > 0 else ""
    kind = "canonical states" if r.symmetry else "distinct states"
    echo(f"  {r.states:,} {kind}, {r.transitions:,} transitions, depth {r.depth}, {r.seconds:.2f} s{rate}")
    if r.symmetry and model.sorts:
        echo(f"  symmetry reduction: one state per renaming of {', '.join(s.name + 's' for s in model.sorts)} "
             f"({r.symmetry_group} renamings); --no-symmetry counts every state")
        for note in r.symmetry_notes:
            echo(f"  symmetry reduced for {note}")
    if r.pruned:
        echo(f"  {r.pruned:,} " + ("state that breaks a state invariant was" if r.pruned == 1 else
                                   "states that break a state invariant were") + " reported and not explored further")
    if not r.complete:
        echo(f"  exploration stopped early: {r.stop_reason}")
    viol = r.violation
    cexs = counterexamples(r)
    lengths = {c.prop: len(c.trace) for c in cexs}
    echo("")
    echo("invariants:")
    width = max((len(i.name) for i in model.invariants), default=0)
    marks = {"holds": "holds", "not violated": "not violated",
             "undetermined": "not determined" if viol is None else "not checked to the end"}
    shown = []
    for inv in model.invariants:
        st = invariant_status(r, inv.name)
        shown.append(f"VIOLATED ({lengths[inv.name]} steps)" if st == "violated" and inv.name in lengths else
                     "VIOLATED" if st == "violated" else marks[st])
    mw = max([10] + [len(x) + 1 for x in shown])
    for inv, mark in zip(model.invariants, shown):
        echo(f"  {inv.name.ljust(width)}  {mark:<{mw}} {inv.summary}")
    echo("goals:")
    width = max((len(g.name) for g in r.goals), default=0)
    for g in r.goals:
        mark = "reached" if g.reached else ("UNREACHED" if r.complete else "not yet reached")
        extra = f" (never for {'; '.join(g.missing)})" if g.missing and r.complete else ""
        echo(f"  {g.name.ljust(width)}  {mark:<10} {g.summary}{extra}")
    if r.deadlocks:
        echo(f"deadlocks: {r.deadlocks} state(s) with no enabled action")
    echo("")
    for c in cexs:
        print_counterexample(c, model, (files or {}).get(c.prop))
    if cexs:
        names = ", ".join(f"{c.prop} ({len(c.trace)} steps)" for c in cexs)
        echo(f"VIOLATED: {len(cexs)} propert{'y' if len(cexs) == 1 else 'ies'}: {names}")
        if r.pruned and r.complete:
            echo("  (the properties not listed are not violated in any state reached without breaking a state "
                 "invariant first)")
    elif r.verdict == "holds":
        echo(f"HOLDS: {_count(len(model.invariants), 'invariant', 'holds', 'hold')} in every reachable state; "
             f"{_count(len(r.goals), 'goal', 'reached', 'reached')}")
    elif r.verdict == "violated":
        echo(f"VIOLATED: goal(s) never reached, so some property may hold vacuously: {', '.join(r.goals_unreached)}")
    else:
        echo(f"UNDETERMINED: {r.stop_reason}; no verdict is claimed for what was not explored")


def print_counterexample(c, model, written: str | None) -> None:
    """One violated property: its name and meaning, then its shortest counterexample."""
    echo = click.echo
    if c.kind == "deadlock":
        echo(f"VIOLATED: deadlock, a state with no enabled action, reached in {len(c.trace)} steps")
    else:
        inv = model.invariant(c.prop)
        also = [n for n in c.names if n != c.prop]
        echo(f"VIOLATED: {inv.name}" + (f" (also violated there: {', '.join(also)})" if also else ""))
        for line in inv.doc.strip().splitlines():
            echo(f"  {line}")
        if inv.patch:
            echo(f"  from {inv.patch}")
    echo("")
    echo(render(c.trace, model, title=f"Shortest counterexample of {c.prop}, {len(c.trace)} steps:").rstrip("\n"))
    if written:
        echo("")
        echo(f"trace written to {written} (ITF JSON)")
    echo("")


@click.command("check")
@model_option
@variant_option
@size_options
@click.option("--max-states", type=int, default=None, metavar="K", help="Stop as undetermined after K distinct states.")
@click.option("--trace-out", type=str, default=None, metavar="FILE",
              help="Write the shortest counterexample as ITF JSON to FILE, and, when several properties are violated, "
                   "each one's to FILE with the property's name inserted before the extension.")
@click.option("--first-only", is_flag=True,
              help="Stop at the first violation (faster) instead of reporting every violated property.")
@click.option("--symmetry/--no-symmetry", default=None,
              help="Store one state per renaming of the elements of the model's sorts (vCPUs, pCPUs and host "
                   "users for guest_lbr; exact for safety properties; on by default with the vector engine).")
@click.option("--engine", type=click.Choice(["vector", "python"]), default="vector", show_default=True,
              help="vector: numpy over packed states (fast, compact); python: one state at a time (the reference explorer).")
@click.option("--allow-deadlock/--check-deadlock", default=None,
              help="Whether a state without enabled actions is a violation (default: the model's CHECK_DEADLOCK, normally checked).")
@click.option("--analysis", is_flag=True,
              help="Also analyse the full reachable graph: transitions never enabled, sink SCCs, diameter, goals unreached.")
@click.option("--liveness", is_flag=True,
              help="Also check the liveness properties under their fairness assumptions (on the full, unreduced graph).")
@click.option("--workers", type=int, default=1, show_default=True, metavar="N",
              help=f"Expand states in N worker processes (the vector engine; at most {MAX_WORKERS}): the same "
                   "states, verdicts and counterexamples as with one, faster on several cores. Their memory counts "
                   "in --max-memory.")
@click.option("--spill", type=str, default=None, metavar="DIR",
              help="Keep the stored states in files in DIR and, when the memory in use nears --max-memory (or the "
                   "machine's memory), drop the states of finished layers from memory (read back from DIR when "
                   "needed) instead of stopping. The files are unlinked at once: nothing is left in DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options()
def check_cmd(
    model_ref: str | None,
    variant: str | None,
    sizes: SizeFlags,
    max_states: int | None,
    max_seconds: float | None,
    trace_out: str | None,
    max_memory: int | None,
    symmetry: bool | None,
    engine: str,
    allow_deadlock: bool | None,
    first_only: bool,
    analysis: bool,
    liveness: bool,
    as_json: bool,
    quiet: bool,
    workers: int = 1,
    spill: str | None = None,
) -> None:
    """Explore every reachable state breadth-first and check every invariant and goal.

    Exit status: 0 every invariant holds and every goal is reached; 1 an invariant is
    violated, a deadlock was found or a goal is unreached; 2 bad usage or input; 3
    undetermined (a budget ran out).

    After a violation the search goes on and every violated property is reported with its own
    shortest counterexample; a state that breaks a state invariant is not explored further (so
    each counterexample runs through states that satisfy every state invariant), while a step
    that breaks a step invariant is reported and the search goes past it.  --first-only stops
    at the first violation instead.

    --analysis and --liveness explore the instance again keeping every edge; a liveness
    property that fails prints its lasso (a prefix and a loop) and makes the exit status 1.

    --model selects another model (a shipped one, a .py file or a module); a model file is
    Python and runs like any import.
    """
    positive(max_states, "--max-states")
    positive(workers, "--workers")
    if workers > MAX_WORKERS:
        raise InputError(f"--workers must be at most {MAX_WORKERS}, got {workers}")
    if workers > 1 and engine == "python":
        raise InputError("--workers needs the vector engine: drop --engine python or --workers")
    if spill is not None:
        if engine == "python":
            raise InputError("--spill needs the vector engine: drop --engine python or --spill")
        check_spill_dir(spill)
    if symmetry and engine == "python":
        raise InputError("symmetry reduction needs the vector engine: use --engine vector or --no-symmetry")
    if symmetry is None:
        symmetry = engine == "vector"
    with runctl.phase("loading the model"):
        source = load_model(model_ref)
        inst = make_instance(source, variant, sizes, liveness=True)
    if allow_deadlock is None:
        allow_deadlock = not source.check_deadlock
    if liveness and not source.liveness(inst.model):
        raise InputError(f"model {source.name} declares no liveness properties (no liveness(model) in its module); "
                         "drop --liveness")
    check_writable(trace_out, "--trace-out")
    progress = Progress(enabled=not quiet)
    # --max-seconds and --max-memory bound the whole command (lbrspec.runctl), this phase included
    try:
        with runctl.phase("exploring"):
            if engine == "vector":
                try:
                    r = explore_vector(inst, symmetry=symmetry, max_states=max_states,
                                       check_deadlock=not allow_deadlock, stop_at_violation=first_only,
                                       prune_violations=not first_only, progress=progress, progress_every=0.5,
                                       workers=workers, spill=spill,
                                       batch_size=SPILL_BATCH if spill is not None else 1 << 16,
                                       spill_at=_spill_at(runctl.current()) if spill is not None else None)
                except MemoryError:
                    raise InputError("out of memory before the ceiling was reached; give a lower --max-memory") from None
                except ValueError as e:  # an instance the packing or the symmetry group cannot take
                    raise InputError(f"cannot explore this instance: {e}") from None
            else:
                r = explore(inst, max_states=max_states, check_deadlock=not allow_deadlock,
                            stop_at_violation=first_only, prune_violations=not first_only, progress=progress,
                            progress_every=0.5)
    finally:
        progress.close()
    written = None
    files: dict[str, str] = {}
    out = TraceFiles()
    if r.violation is not None and trace_out:
        by_prop = {c.prop: c for c in counterexamples(r)}
        for prop, path in trace_files(trace_out, r).items():
            c = by_prop.get(prop, r.violation)
            if out.write(c.trace, path, description=f"lbrspec check: shortest counterexample for {prop}"):
                files[prop] = path
        written = trace_out if trace_out in files.values() else None
    extra = graph_checks(source, inst, analysis, liveness, max_states) if (analysis or liveness) else None
    lasso_out = None
    if extra is not None and r.violation is None and trace_out and extra[0].first_lasso is not None:
        if out.write(extra[0].first_lasso, trace_out, description="lbrspec check: lasso of a liveness property"):
            written = lasso_out = trace_out
    if as_json:
        data = result_json(r, written, files)
        data["workers"] = workers
        if spill is not None:
            data["spilled_bytes"] = r.store.set.paged_out if r.store is not None else 0
            data["spill_page_outs"] = r.store.set.page_outs if r.store is not None else 0
        if extra is not None:
            data.update(report_json(extra[0]))
        emit_json(data)
    else:
        print_result(r, None if lasso_out else files)
        if extra is not None:
            print_graph_checks(*extra, model=inst.model, lasso_out=lasso_out)
        if trace_out and written is None and not out.failures:
            click.echo(f"no counterexample, so nothing was written to {trace_out}")
    code = exit_code(r.verdict)
    if extra is not None and code == EXIT_HOLDS:
        if extra[0].liveness_violated or extra[0].liveness_vacuous:
            code = EXIT_VIOLATED
        elif not extra[0].complete:
            code = EXIT_UNDETERMINED
    out.exit(code)


def check_spill_dir(path: str) -> None:
    """``--spill DIR`` must be a directory in which a file can be created (checked by creating
    one, unlinked at once)."""
    import tempfile

    if not path:
        raise InputError("--spill: give a directory")
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise InputError(f"--spill {path}: {what}")
    try:
        with tempfile.TemporaryFile(dir=path, prefix="lbrspec-spill-") as f:
            f.write(b"\0" * 8)
    except OSError as e:
        raise InputError(f"--spill {path}: cannot write there: {e.strerror or e}") from None


#: with --spill, batches of this many states (a batch's temporary arrays, not the stored states,
#: are then what comes near the ceiling: smaller batches leave more room for the states)
SPILL_BATCH = 1 << 14


def _spill_at(run) -> int | None:
    """Resident bytes above which cold layers are paged out: half of --max-memory (the rest is
    room for a batch's temporary arrays)."""
    return int(0.5 * run.max_memory) if run is not None and run.max_memory else None


def graph_checks(source: ModelModule, inst, analysis: bool, liveness: bool, max_states: int | None):
    """Graph analysis and liveness on the full graph (see :mod:`lbrspec.analysis.report`)."""
    props = source.liveness(inst.model) if liveness else None
    # the analyses explore again, in full; a reduction the user asked for explicitly (--symmetry)
    # cannot apply to liveness, and is refused with the reason rather than silently ignored
    asked = click.get_current_context().params.get("symmetry")
    # the command's budgets and signals apply here too (lbrspec.runctl): a stop in this phase
    # leaves the report incomplete, and the safety verdict above stands
    rep = graph_report(inst, analysis=analysis, liveness=props, max_states=max_states,
                       reduction="symmetry" if asked else None)
    return rep, props


def print_graph_checks(rep, props, model, lasso_out: str | None) -> None:
    click.echo("")
    for line in report_lines(rep, props):
        click.echo(line)
    bad = rep.liveness_violated
    if props and rep.complete:
        click.echo("")
        if bad:
            names = sorted({b.name for b in bad}, key=[p.name for p in props].index)
            click.echo(f"LIVENESS VIOLATED: {', '.join(names)}")
            click.echo("")
            first = bad[0]
            click.echo(render(first.lasso, model, title=f"Lasso for {first.label}: {first.prefix_length} steps, "
                              f"then a loop of {first.loop_length} steps repeated forever:").rstrip("\n"))
            if lasso_out:
                click.echo("")
                click.echo(f"lasso written to {lasso_out} (ITF JSON with loop)")
        elif rep.liveness_vacuous:
            click.echo(f"LIVENESS VACUOUS: {', '.join(r.label for r in rep.liveness_vacuous)} hold only because no "
                       "fair behaviour waits for the goal; the assumptions contradict each other")
        else:
            click.echo(f"LIVENESS HOLDS: all {len(props)} liveness properties hold ({len(rep.liveness)} instances) "
                       "under their fairness assumptions")


def _count(n: int, noun: str, verb_one: str, verb_many: str) -> str:
    """``the 1 invariant holds`` / ``all 3 invariants hold``."""
    return f"the {n} {noun} {verb_one}" if n == 1 else f"all {n} {noun}s {verb_many}"
