"""``lbrspec diagram``: per-machine diagrams, projections of the reachable graph, and traces as
sequence diagrams, in Mermaid, Graphviz DOT or SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from ..analysis.liveness import check_liveness
from ..analysis.stategraph import StateGraph
from ..diagrams import dot, mermaid
from ..diagrams.figure import SequenceDiagram, StateDiagram
from ..diagrams.machines import DEFAULT_LIMIT, choose_view, machine_diagram
from ..diagrams.projection import DEFAULT_MAX_NODES, project
from ..diagrams.sequence import sequence
from ..errors import InputError, Stopped
from ..printable import printable
from ..explicit.explore import explore
from ..explicit.instance import Instance
from ..modelref import ModelModule, load_model
from ..trace import Trace
from .. import runctl
from .common import SizeFlags, check_writable, make_instance, model_option, run_options, size_options, variant_option

FORMATS = ("mermaid", "dot", "svg")
_SUFFIX = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot", ".svg": "svg"}


def full_graph(inst: Instance) -> StateGraph:
    """Every reachable state and edge of ``inst`` (no reduction, not stopped at a violation)."""
    with runctl.phase("exploring every reachable state, keeping every edge"):
        r = explore(inst, keep_graph=True, stop_at_violation=False, check_deadlock=False)
        if not r.complete:
            raise Stopped(runctl.stopped_line())
    with runctl.phase("building the state graph"):
        return StateGraph(r)


def _format(fmt: str | None, out: str | None) -> str:
    if fmt:
        return fmt
    if out:
        return _SUFFIX.get(Path(out).suffix.lower(), "mermaid")
    return "mermaid"


def _emit(figure: StateDiagram | SequenceDiagram, fmt: str, out: str | None) -> None:
    if isinstance(figure, StateDiagram):
        text = mermaid.state_diagram(figure) if fmt == "mermaid" else dot.state_diagram(figure)
    else:
        text = mermaid.sequence_diagram(figure) if fmt == "mermaid" else dot.sequence_diagram(figure)
    text = printable(text, newlines=True)  # the formats escape their labels; this keeps anything else off the terminal
    data: bytes = dot.render(text, "svg") if fmt == "svg" else text.encode()
    if out:
        try:
            Path(out).write_bytes(data)
        except OSError as e:
            raise InputError(f"cannot write {out}: {e.strerror or e}") from None
        click.echo(f"wrote {out} ({fmt})", err=True)
    else:
        click.echo(data.decode(), nl=False)
    if getattr(figure, "caption", ""):
        click.echo(printable(figure.caption, newlines=True), err=True)


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = run_options(output=False)(f)
    f = click.option("-o", "--output", "--out", "out", type=str, default=None, metavar="FILE",
                     help="Write to FILE instead of standard output (the format follows its suffix: .mmd, .dot, .svg).")(f)
    f = click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                     help="mermaid (default; GitHub renders it), dot (Graphviz) or svg (needs Graphviz's dot).")(f)
    return f


@click.group("diagram")
def diagram_cmd() -> None:
    """Draw the model: a machine's control states, a projection of the reachable graph, or a
    trace as a sequence diagram (guest, KVM, perf core, host LBR user, IPI).

    Every figure is computed from the model and its reachable graph; output is Mermaid,
    Graphviz DOT or SVG (through Graphviz's dot).
    """


@diagram_cmd.command("machine")
@click.argument("name")
@click.option("--vars", "control", type=str, default=None, metavar="A,B",
              help="Control variables to show (default: chosen from the machine's enum, union and boolean variables).")
@click.option("--limit", type=int, default=DEFAULT_LIMIT, show_default=True, metavar="N",
              help="Most control states when choosing the variables.")
@model_option
@variant_option
@size_options
@output_options
def machine_cmd(name: str, control: str | None, limit: int, model_ref: str | None, variant: str | None, sizes: SizeFlags,
                fmt: str | None, out: str | None, quiet: bool) -> None:
    """The control states of machine NAME (its first member: v0, p0 or h0) and its transitions,
    labelled with abbreviated guards, as reachable in the product."""
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    check_writable(out, "--output")
    fmt = _format(fmt, out)
    with runctl.phase("loading the model"):
        inst = make_instance(load_model(model_ref), variant, sizes, liveness=True)
    names = [x.strip() for x in control.split(",") if x.strip()] if control else None
    if not any(m.name == name for m in inst.model.machines):
        raise InputError(f"unknown machine {name!r}; machines: {', '.join(m.name for m in inst.model.machines)}")
    graph = full_graph(inst)
    view = choose_view(graph, name, names, limit)
    _emit(machine_diagram(graph, view), fmt, out)


@diagram_cmd.command("project")
@click.argument("terms", nargs=-1, required=True)
@click.option("--max-nodes", type=int, default=DEFAULT_MAX_NODES, show_default=True, metavar="N",
              help="Summarise (drop trailing terms) above N nodes.")
@model_option
@variant_option
@size_options
@output_options
def project_cmd(terms: tuple[str, ...], max_nodes: int, model_ref: str | None, variant: str | None, sizes: SizeFlags,
                fmt: str | None, out: str | None, quiet: bool) -> None:
    """The reachable graph seen through TERMS, e.g. 'ev[v0]' 'passthru[v0]' 'owns(v0, cpu[v0])'.

    A term is a slot (ev[v0]), a slot indexed by a slot (sel[cpu[v0]]) or a definition of the
    model applied to elements and slots (pinned_holds(cpu[v0])).
    """
    if max_nodes < 1:
        raise InputError(f"--max-nodes must be at least 1, got {max_nodes}")
    check_writable(out, "--output")
    fmt = _format(fmt, out)
    with runctl.phase("loading the model"):
        inst = make_instance(load_model(model_ref), variant, sizes, liveness=True)
    from ..diagrams.projection import parse_term

    for t in terms:  # bad terms fail before the exploration
        parse_term(inst, t)
    graph = full_graph(inst)
    with runctl.phase("projecting the reachable graph"):
        p = project(graph, list(terms), max_nodes)
    _emit(p.diagram, fmt, out)


@diagram_cmd.command("trace")
@click.argument("file", required=False)
@click.option("--property", "prop", type=str, default=None, metavar="NAME",
              help="With --variant: draw the lasso of this liveness property instead of the safety counterexample.")
@model_option
@variant_option
@size_options
@output_options
def trace_cmd(file: str | None, prop: str | None, model_ref: str | None, variant: str | None, sizes: SizeFlags,
              fmt: str | None, out: str | None, quiet: bool) -> None:
    """A trace as a sequence diagram: from FILE (ITF JSON, e.g. written by `lbrspec check
    --trace-out`), or the counterexample of --variant, computed now.

    A trace file is replayed against the model first; one that does not replay, one of another
    model than the one selected, and size flags that contradict it are refused.  The trace file
    is data: nothing in it is executed.
    """
    from .replay import replay_file

    check_writable(out, "--output")
    fmt = _format(fmt, out)
    with runctl.phase("loading the model"):
        source = load_model(model_ref)
    if file:
        if prop:
            raise InputError("--property needs --variant, not a trace file")
        inst, trace, res, _origin = replay_file(source, file, variant, sizes)
        if not res.ok:
            raise InputError(f"{file} is not a trace of {inst.model.name} variant {inst.model.variant.name}: {res.reason}")
    else:
        if variant is None:
            raise InputError("give a trace FILE or --variant NAME")
        inst = make_instance(source, variant, sizes, liveness=True)
        with runctl.phase(f"finding the counterexample of {variant}"):
            found = counterexample(source, inst, prop)
        if found is None:
            click.echo(f"variant {variant}: no counterexample on {inst.describe()}, so there is nothing to draw", err=True)
            return
        trace = found
    _emit(sequence(trace, inst.model), fmt, out)


def counterexample(source: ModelModule, inst: Instance, prop: str | None = None) -> Trace | None:
    """The variant's shortest safety counterexample, or the lasso of liveness property ``prop``
    (by default the one a liveness mutant is known to break); ``None`` if there is none."""
    model = inst.model
    if prop is None and model.variant.name not in source.liveness_variants:
        r = explore(inst)
        return r.violation.trace if r.violation is not None else None
    name = prop or model.variant.expected
    props = {p.name: p for p in source.liveness(model)}
    if not props:
        raise InputError(f"model {source.name} declares no liveness properties, so it has no lasso to draw")
    if name not in props:
        raise InputError(f"unknown liveness property {name!r}; known: {', '.join(props)}")
    graph = full_graph(inst)
    for res in check_liveness(graph, props[name]):
        if res.lasso is not None:
            return res.lasso
    return None
