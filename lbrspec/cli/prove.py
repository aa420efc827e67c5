"""``lbrspec prove``: inductive proofs of the safety invariants with Z3, for one instance or
for every number of vCPUs, pCPUs and host LBR users."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_HOLDS, EXIT_UNDETERMINED, EXIT_VIOLATED, InputError
from ..lang.spec import Invariant, Model
from ..modelref import ModelModule, load_model
from ..smt.cti import Cti
from ..smt.fragment import FragmentReport, analyse
from ..smt.induction import CTI_DEPTH, EXPLORE_STATES, ProofResult, PropertyResult, prove
from ..trace.text import fmt_value, render
from .common import (SizeFlags, TraceFiles, check_writable, emit_json, make_instance, model_option, positive, run_options,
                     size_options, variant_option)
from .. import runctl

STATUS_TEXT = {
    "proven": "proven",
    "not initiated": "NOT INITIATED",
    "not inductive": "NOT INDUCTIVE",
    "unproven": "unproven",
    "undetermined": "undetermined",
}


def _state_lines(cti: Cti, which: str) -> list[str]:
    return _group_state(cti.instance.decode(cti.pre if which == "pre" else cti.post))


def cti_json(cti: Cti) -> dict[str, Any]:
    inst = cti.instance
    pre, post = inst.decode(cti.pre), inst.decode(cti.post)
    return {
        "instance": inst.sizes_by_name(),
        "classification": cti.classification,
        "note": cti.note,
        "source": cti.source,
        "action": cti.action.name,
        "params": {k: fmt_value(v) for k, v in inst.decode_params(cti.action, cti.params).items()},
        "pre": {k: fmt_value(v) for k, v in pre.items()},
        "changes": {k: [fmt_value(pre[k]), fmt_value(post[k])] for k in pre if pre[k] != post[k]},
        "trace_length": len(cti.trace) if cti.trace else None,
        "unreachable_core": cti.core_text() if cti.core else None,
        "excluded_before": cti.skipped,
    }


def result_json(r: ProofResult, lemma_groups: dict[str, str], frag: FragmentReport | None, trace_out: str | None) -> dict[str, Any]:
    return {
        "model": r.model.name,
        "variant": r.model.variant.name,
        "sizes": r.sizes if r.sizes is not None else "all",
        "verdict": r.verdict,
        "seconds": round(r.seconds, 3),
        "rounds": r.rounds,
        "lemmas": [{"name": n, "group": g} for n, g in lemma_groups.items()],
        "properties": [
            {
                "name": row.name,
                "kind": row.kind,
                "status": row.status,
                "seconds": round(row.seconds, 3),
                "detail": row.detail,
                "cti": cti_json(row.cti) if row.cti else None,
                "initial_state": {k: fmt_value(v) for k, v in row.initial.items()} if row.initial else None,
            }
            for row in r.rows
        ],
        "fragment": None if frag is None else {"stratified": frag.stratified, "cycle": frag.cycle, "summary": frag.summary()},
        "notes": r.notes,
        "trace_out": trace_out,
    }


def _print_failure(row: PropertyResult, model: Model) -> None:
    echo = click.echo
    echo("")
    echo(f"{STATUS_TEXT[row.status]}: {row.name} ({row.kind})")
    if row.initial is not None:
        echo("  an initial state violates it:")
        for line in _group_state(row.initial):
            echo(f"       {line}")
        return
    cti = row.cti
    if cti is None:
        if row.detail:
            echo(f"  {row.detail}")
        return
    where = cti.instance.describe()
    if cti.classification == "violated":
        echo(f"  VIOLATED in the {cti.instance.describe()} instance: {cti.note}")
        if cti.trace is not None:
            title = f"The explorer's shortest trace to a violation of {row.name} alone ({len(cti.trace)} steps):"
            echo("")
            for line in render(cti.trace, model, title=title).rstrip("\n").splitlines():
                echo(f"  {line}" if line else "")
        return
    label = {"reachable": "REACHABLE: a real violation", "unreachable": "UNREACHABLE: the lemmas need strengthening",
             "unclassified": "not classified"}[cti.classification]
    echo(f"  counterexample to induction in the {where} instance, {label}")
    echo(f"  ({cti.note})")
    if cti.skipped:
        echo(f"  ({cti.skipped} unreachable CTI(s) were excluded before this one)")
    echo("  pre-state (satisfies every invariant and lemma assumed):")
    for line in _state_lines(cti, "pre"):
        echo(f"       {line}")
    doc = cti.action.doc.strip().splitlines()[0] if cti.action.doc.strip() else ""
    echo(f"  transition: {cti.label()}" + (f"   -- {doc}" if doc else ""))
    echo(f"  post-state (what changed; it violates {row.name}):")
    pre, post = cti.instance.decode(cti.pre), cti.instance.decode(cti.post)
    changed = [k for k in pre if pre[k] != post[k]]
    for k in changed:
        echo(f"       {k}: {fmt_value(pre[k])} -> {fmt_value(post[k])}")
    if not changed:
        echo("       (no variable changes)")
    if cti.classification == "unreachable" and cti.core:
        echo(f"  no reachable state of the instance has together: {cti.core_text()}")
        echo("  (its negation holds in every reachable state of the instance: a candidate lemma)")
    if cti.trace is not None:
        title = (f"The explorer's shortest trace to the pre-state, then the CTI's step ({len(cti.trace)} steps):"
                 if cti.trace_from == "explorer"
                 else f"A shortest run to the pre-state (bounded model checking), then the CTI's step ({len(cti.trace)} steps):")
        echo("")
        for line in render(cti.trace, model, title=title).rstrip("\n").splitlines():
            echo(f"  {line}" if line else "")


def _and(words: list[str]) -> str:
    """``a, b and c``."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"


def _group_state(state: dict) -> list[str]:
    rows: dict[str, list[str]] = {}
    for slot, val in state.items():
        if "[" in slot:
            var, idx = slot[:-1].split("[", 1)
            rows.setdefault(var, []).append(f"{idx}={fmt_value(val)}")
        else:
            rows.setdefault(slot, []).append(fmt_value(val))
    return [f"{var}: {' '.join(vals)}" for var, vals in rows.items()]


def print_result(source: ModelModule, r: ProofResult, lemma_groups: list[tuple[str, list[Invariant]]],
                 frag: FragmentReport | None, trace_out: str | None) -> None:
    echo = click.echo
    model, v = r.model, r.model.variant
    if r.sizes is None:
        where = "every size (" + ", ".join(s.name for s in model.sorts) + " are uninterpreted sorts of any size)"
    else:
        where = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in r.sizes.items())
    echo(f"lbrspec prove: model {model.name}, variant {v.name} ({v.description.rstrip('.')}), {where}")
    n_lem = sum(len(g) for _, g in lemma_groups)
    groups = ", ".join(f"{g} ({len(ls)})" for g, ls in lemma_groups if ls)
    echo(f"  {len(model.invariants)} invariants, {n_lem} lemmas" + (f" from {source.lemma_source()}: {groups}" if groups else ""))
    echo("")
    width = max(len(row.name) for row in r.rows)
    marks = [STATUS_TEXT[row.status] + (f", CTI {row.cti.classification}" if row.cti is not None else "") for row in r.rows]
    mw = max(len(m) for m in marks + ["result"])
    echo(f"  {'property'.ljust(width)}  {'kind':9}  {'result'.ljust(mw)}  seconds")
    for row, mark in zip(r.rows, marks):
        echo(f"  {row.name.ljust(width)}  {row.kind:9}  {mark.ljust(mw)}  {row.seconds:7.2f}")
    if frag is not None:
        echo("")
        echo(f"fragment: {frag.summary()}.")
    for row in r.rows:
        if row.status in ("not initiated", "not inductive"):
            _print_failure(row, model)
    for note in r.notes:
        echo(f"note: {note}")
    echo("")
    invs = [row for row in r.rows if row.kind == "invariant"]
    scope = (f"for every number of {_and([source.sort_plural(s.name) for s in model.sorts]) or 'elements'}" if r.sizes is None
             else f"in every reachable state of the {where} instance")
    if r.verdict == "proven":
        echo(f"PROVEN: all {len(invs)} invariants hold {scope}: with the {n_lem} lemmas they form an inductive "
             f"invariant ({r.seconds:.2f} s)")
        false_lemmas = [row.name for row in r.rows if row.kind != "invariant" and not row.proven]
        if false_lemmas:
            echo(f"  (not needed and not proven: {', '.join(false_lemmas)})")
    elif r.verdict == "violated":
        bad = [row.name for row in invs if row.status == "not initiated"
               or (row.cti is not None and row.cti.classification in ("reachable", "violated"))]
        echo(f"VIOLATED: {', '.join(bad)} fail(s) in a reachable state; "
             f"proven all the same: {', '.join(row.name for row in invs if row.proven) or 'none'} ({r.seconds:.2f} s)")
    else:
        proven = [row.name for row in invs if row.proven]
        open_ = [row.name for row in invs if not row.proven]
        what = "UNDETERMINED" if r.verdict == "undetermined" else "NOT PROVEN"
        why = ("the solver gave up" if r.verdict == "undetermined"
               else "no counterexample to induction was shown reachable: the lemmas need strengthening")
        echo(f"{what}: {', '.join(open_)} ({why}); proven {scope}: {', '.join(proven) or 'none'} ({r.seconds:.2f} s)")
    if trace_out:
        echo(f"trace written to {trace_out} (ITF JSON)")


@click.command("prove")
@model_option
@variant_option
@size_options
@click.option("--all-sizes", is_flag=True,
              help="Prove for every size of every sort of the model (the sorts stay uninterpreted).")
@click.option("--no-lemmas", is_flag=True,
              help="Prove the invariants without the model's lemmas (its LEMMAS; for guest_lbr, those of proofs/).")
@click.option("--cti-depth", type=int, default=CTI_DEPTH, show_default=True, metavar="K",
              help="Look for counterexamples to induction reachable in at most K steps.")
@click.option("--explore-states", type=int, default=EXPLORE_STATES, show_default=True, metavar="N",
              help="State budget of the exploration that classifies counterexamples to induction.")
@click.option("--trace-out", type=str, default=None, metavar="FILE",
              help="Write the first real counterexample (a reachable CTI's trace) as ITF JSON to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options(time_aliases=("--timeout",))
def prove_cmd(
    model_ref: str | None,
    variant: str | None,
    sizes: SizeFlags,
    all_sizes: bool,
    max_seconds: float | None,
    quiet: bool,
    no_lemmas: bool,
    cti_depth: int,
    explore_states: int,
    trace_out: str | None,
    as_json: bool,
) -> None:
    """Prove every safety invariant inductive with Z3, strengthened by the model's lemmas
    (guest_lbr's are in proofs/; a model without lemmas is proved with its invariants alone).

    Each invariant and lemma must hold initially and be kept by every action from every state
    satisfying all of them.  A property that is not kept gets a counterexample to induction
    (pre-state, transition, post-state), classified by the explorer: reachable (a real bug,
    with the shortest trace to it) or unreachable (the lemmas need strengthening).  With
    --all-sizes the proof holds for any number of vCPUs, pCPUs and host LBR users.

    Exit status: 0 every invariant proven; 1 an invariant fails in a reachable state; 2 bad
    usage or input; 3 not proven (lemmas too weak) or undetermined (solver timeout or
    unknown); 4 internal error (the solver contradicts the reference semantics).
    """
    if all_sizes and sizes:
        raise InputError("--all-sizes proves for every size; it takes no --size, --vcpus, --pcpus or --hosts")
    if cti_depth < 0:
        raise InputError(f"--cti-depth must be at least 0, got {cti_depth}")
    positive(explore_states, "--explore-states")
    with runctl.phase("loading the model"):
        source = load_model(model_ref)
        inst = make_instance(source, variant, sizes)
    check_writable(trace_out, "--trace-out")
    model = inst.model
    lemma_groups = [] if no_lemmas else source.lemma_groups(model)
    lemmas = [lem for _, g in lemma_groups for lem in g]
    with runctl.phase("proving (Z3)"):
        r = prove(model, lemmas, None if all_sizes else inst.sizes_by_name(), all_sizes=all_sizes,
                  timeout=max_seconds, cti_depth=cti_depth, explore_states=explore_states)
    frag = analyse(model, list(model.invariants) + lemmas) if all_sizes else None
    written = None
    out = TraceFiles()
    if trace_out:
        for row in r.rows:
            if row.cti is not None and row.cti.trace is not None:
                if out.write(row.cti.trace, trace_out, description=f"lbrspec prove: a reachable counterexample to {row.name}"):
                    written = trace_out
                break
    if as_json:
        emit_json(result_json(r, {lem.name: g for g, ls in lemma_groups for lem in ls}, frag, written))
    else:
        print_result(source, r, lemma_groups, frag, written)
        if trace_out and written is None and not out.failures:
            click.echo(f"no reachable counterexample, so nothing was written to {trace_out}")
    out.exit({"proven": EXIT_HOLDS, "violated": EXIT_VIOLATED}.get(r.verdict, EXIT_UNDETERMINED))
