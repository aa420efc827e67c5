"""``lbrspec replay``: replay an ITF trace file against the model, step by step."""

from __future__ import annotations

import re
from typing import Any

import click

from ..errors import EXIT_HOLDS, EXIT_VIOLATED, InputError
from ..explicit.instance import Instance
from ..explicit.evaluate import evaluate
from ..explicit.evaluate import step as eval_step
from ..explicit.replay import ReplayResult, replay
from ..lang.expr import And
from ..lang.pretty import show
from ..lang.spec import Model
from ..modelref import ModelModule, load_model
from ..trace import Trace
from ..printable import printable
from ..trace.itf import read_itf
from .. import runctl
from .common import SizeFlags, emit_json, instance_of, model_option, run_options, size_options

_SLOT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[(.+)\]$")


def infer_sizes(trace: Trace, model: Model) -> dict[str, int]:
    """Sort sizes from the slot names of the first state, for files without ``#meta.sizes``.

    ``running[v0]``, ``running[v1]`` give 2 vCPUs; a sort no variable is indexed by keeps the
    model's default size.
    """
    sizes: dict[str, int] = {}
    prefixes = {s.prefix: s for s in model.sorts}
    for slot in trace.states[0]:
        m = _SLOT.match(slot)
        if not m:
            continue
        for elem in m.group(2).split(","):
            em = re.match(r"^([A-Za-z_]+)([0-9]{1,6})$", elem)
            if em and em.group(1) in prefixes:
                sort = prefixes[em.group(1)]
                sizes[sort.name] = max(sizes.get(sort.name, 0), int(em.group(2)) + 1)
    return sizes


def load_instance(source: ModelModule, trace: Trace, path: str, variant: str | None,
                  sizes: SizeFlags | None = None) -> tuple[Instance, str]:
    """The instance the trace is of, in the model selected (a trace of another model is
    refused); the second value says where the variant came from.  Sizes come from the file
    (its ``#meta.sizes``, else its slot names) and the flags; a flag that contradicts the file
    is refused."""
    selected = source.build()
    if trace.model and trace.model != selected.name:
        raise InputError(f"{path}: a trace of model {trace.model!r}, not of the model selected ({selected.name}); "
                         "select its model with --model")
    if variant is not None:
        origin, name = "--variant", source.variant_name(variant)
    elif trace.variant:
        origin = "the file"
        if trace.variant not in source.all_variants():
            raise InputError(f"{path}: the file names unknown variant {trace.variant!r}; known variants: "
                             f"{', '.join(source.all_variants())}")
        name = trace.variant
    else:
        origin, name = "default", source.default_variant
    model = selected if name == selected.variant.name else source.build(name)
    recorded = dict(trace.sizes) if trace.sizes else infer_sizes(trace, model)
    wanted = (sizes or SizeFlags()).over(model, recorded, path)
    try:
        inst = instance_of(source, model, wanted)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    return inst, origin


def read_trace(path: str) -> Trace:
    """The trace in ``path``, read by the one reader of trace files (with its limits on size,
    nesting and numbers); a file that is not a readable ITF trace is one InputError line."""
    return read_itf(path)


def replay_file(source: ModelModule, path: str, variant: str | None,
                sizes: SizeFlags | None = None) -> tuple[Instance, Trace, ReplayResult, str]:
    """Read, check and replay ``path``; anything that is not a trace of this model is an InputError."""
    trace = read_trace(path)
    inst, origin = load_instance(source, trace, path, variant, sizes)
    try:
        result = replay(inst, trace)
    except InputError as e:
        raise InputError(f"{path}: not a trace of model {inst.model.name} at {inst.describe()}: {e}") from None
    except (TypeError, ValueError, KeyError) as e:  # values of a shape no lbrspec domain has
        raise InputError(f"{path}: not a readable trace of model {inst.model.name}: {e}") from None
    return inst, trace, result, origin


def false_guard_parts(inst: Instance, trace: Trace, r: ReplayResult) -> list[str]:
    """For a step that is not enabled: the conjuncts of its guard that are false there."""
    if r.ok or not r.diverged_at or r.diverged_at > len(trace.steps) or not r.states or r.loop_closes is False:
        return []
    st = trace.steps[r.diverged_at - 1]
    try:
        action = inst.model.action(st.action)
        params = inst.encode_params(action, st.params)
    except (KeyError, InputError):
        return []
    if eval_step(inst, action, params, r.states[-1]) is not None:
        return []  # enabled, but it leads elsewhere
    env = dict(zip(action.params, params))
    parts = list(action.guard.args) if isinstance(action.guard, And) else [action.guard]
    return [show(c) for c in parts if not evaluate(c, inst, r.states[-1], env)]


def result_json(path: str, inst: Instance, trace: Trace, r: ReplayResult, origin: str) -> dict[str, Any]:
    return {
        "file": path,
        "model": inst.model.name,
        "variant": inst.model.variant.name,
        "variant_from": origin,
        "sizes": inst.sizes_by_name(),
        "steps": len(trace),
        "replays": r.ok,
        "steps_replayed": r.steps_replayed,
        "diverged_at": r.diverged_at,
        "reason": r.reason,
        "loop": trace.loop,
        "loop_closes": r.loop_closes,
        "false_guard_parts": false_guard_parts(inst, trace, r),
        "invariant_failures": [{"state": i, "invariant": n} for i, n in r.invariant_failures],
        "verdict": verdict(r),
    }


def verdict(r: ReplayResult) -> str:
    if not r.ok:
        return "diverges"
    return "violated" if r.invariant_failures else "holds"


def print_result(path: str, inst: Instance, trace: Trace, r: ReplayResult, origin: str) -> None:
    def echo(line: str = "") -> None:  # names, values and #meta come from the file: escaped
        click.echo(printable(line))

    model = inst.model
    echo(f"lbrspec replay: {path}")
    lasso = "" if trace.loop is None else f", a lasso looping back to state {trace.loop}"
    echo(f"  model {model.name}, variant {model.variant.name} (from {origin}), {inst.describe()}, {len(trace)} steps{lasso}")
    if trace.variant and trace.variant != model.variant.name:
        echo(f"  (the file was written for variant {trace.variant})")
    echo("")
    failures: dict[int, list[str]] = {}
    for i, n in r.invariant_failures:
        failures.setdefault(i, []).append(n)
    if 0 in failures:
        echo(f"  0  initial state   invariant(s) FAIL: {', '.join(failures[0])}")
    else:
        echo("  0  initial state")
    width = len(str(len(trace)))
    for i, st in enumerate(trace.steps[: r.steps_replayed], start=1):
        line = f"  {str(i).rjust(width)}  {st.label() if st.action else '(no action named)'}"
        if i in failures:
            line += f"   invariant(s) FAIL: {', '.join(failures[i])}"
        echo(line)
    echo("")
    if not r.ok and r.loop_closes is False:
        echo(f"DIVERGES at the loop: {r.reason}")
        if r.invariant_failures:
            echo(f"  before that, invariants failed: {_summary(r)}")
    elif not r.ok:
        st_label = ""
        if r.diverged_at and r.diverged_at <= len(trace.steps):
            st = trace.steps[r.diverged_at - 1]
            st_label = f" ({st.label()})" if st.action else ""
        where = "the initial state" if r.diverged_at == 0 else f"step {r.diverged_at}{st_label}"
        reason = re.sub(r"^step \d+: ", "", r.reason or "")
        echo(f"DIVERGES at {where}: {reason}")
        false_parts = false_guard_parts(inst, trace, r)
        if false_parts:
            binding = ", ".join(f"{k}={v}" for k, v in trace.steps[r.diverged_at - 1].params.items())
            with_ = f" (with {binding})" if binding else ""
            echo(f"  false in the model's state {r.diverged_at - 1}{with_}: {'; '.join(false_parts)}")
        if r.invariant_failures:
            echo(f"  before that, invariants failed: {_summary(r)}")
    elif r.invariant_failures:
        echo(f"VIOLATED: the trace replays, and invariants fail: {_summary(r)}")
        for name in dict.fromkeys(n for _, n in r.invariant_failures):
            echo(f"  {name}: {model.invariant(name).summary}")
    elif trace.loop is not None:
        echo(f"REPLAYS: all {len(trace)} steps are enabled and reach the recorded states, {_lasso(trace)}; "
             "every invariant holds in every state")
    else:
        echo(f"REPLAYS: all {len(trace)} steps are enabled and reach the recorded states; every invariant holds in every state")
    if trace.violation and r.ok and trace.violation not in {n for _, n in r.invariant_failures}:
        if trace.loop is not None and trace.violation not in {i.name for i in model.invariants}:
            echo(f"  note: the file says the lasso violates {trace.violation}; replay checks that the lasso is a behaviour "
                 "of the model, not the liveness property (`lbrspec check --liveness` checks that)")
        elif trace.violation in {i.name for i in model.invariants}:
            echo(f"  note: the file says it violates {trace.violation}, which holds in every replayed state")
        else:
            echo(f"  note: the file says it violates {trace.violation}, which model {model.name} does not declare "
                 "(a property of lbrspec compare is built in only there)")


def _lasso(trace: Trace) -> str:
    """What the loop of a lasso that closes means."""
    loop = trace.loop
    if loop == len(trace):
        return f"and the lasso ends in state {loop}, where nothing happens any more"
    steps = f"step {loop + 1}" if loop + 1 == len(trace) else f"steps {loop + 1} to {len(trace)}"
    return f"and the last state is state {loop} again: a lasso, {steps} repeat forever"


def _summary(r: ReplayResult) -> str:
    return "; ".join(f"{n} in state {i}" for i, n in r.invariant_failures)


@click.command("replay")
@click.argument("file", metavar="FILE.itf.json")
@model_option
@click.option("--variant", default=None, metavar="NAME", help="Replay against this variant instead of the one the file names.")
@size_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options()
def replay_cmd(file: str, model_ref: str | None, variant: str | None, sizes: SizeFlags, as_json: bool) -> None:
    """Replay an ITF JSON trace against the model with the reference semantics.

    The variant and the instance sizes come from the file's #meta (as `check --trace-out` and
    `simulate --trace-out` write them); --variant overrides the variant.  A trace of another
    model than the one selected (--model, default guest_lbr) is refused, and so is a size flag
    that contradicts the file.  The trace file is data: nothing in it is executed.  Each step must be
    enabled and reach exactly the next state of the file; a step without an action name is
    matched against every action.  Every invariant is evaluated in every replayed state.  A
    lasso (a file with "loop", as `check --liveness --trace-out` writes) must also close: its last
    state must be the state it loops back to; replay does not check the liveness property itself.

    Exit status: 0 the trace replays and every invariant holds in every state; 1 it diverges
    (the first step that is not enabled or reaches another state is named) or an invariant
    fails; 2 the file is not a readable trace of this model.
    """
    source = load_model(model_ref)
    if variant is not None:
        source.variant_name(variant)  # an unknown variant is refused before the file is read
    with runctl.phase(f"replaying {file}"):
        inst, trace, r, origin = replay_file(source, file, variant, sizes)
    if as_json:
        emit_json(result_json(file, inst, trace, r, origin))
    else:
        print_result(file, inst, trace, r, origin)
    raise SystemExit(EXIT_HOLDS if r.ok and not r.invariant_failures else EXIT_VIOLATED)

