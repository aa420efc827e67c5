"""``lbrspec compare``: several designs on one table of shared properties."""

from __future__ import annotations

import io
import re
from pathlib import Path

import click

from ..compare import Comparison, Design, check_only, common_sizes, parse_designs, run
from ..errors import EXIT_HOLDS, EXIT_UNDETERMINED, EXIT_USAGE, InputError, OutputError
from ..modelref import load_model
from ..trace.itf import write_itf
from .. import runctl
from .common import Progress, SizeFlags, check_writable, emit_json, positive, run_options, size_options

#: The designs compared without --design: every shipped model that takes part, with the
#: variants each names in COMPARE_DESIGNS.
DEFAULT_DESIGNS = ("guest_lbr", "upstream_lbr")


@click.command("compare")
@click.option("--design", "design_refs", multiple=True, metavar="MODEL[:VARIANT]",
              help="A design to compare: a model and one of its variants, or a model alone for the variants it "
                   "names in COMPARE_DESIGNS (repeatable; default: guest_lbr and upstream_lbr, i.e. v8, v8-posted, "
                   "upstream and the three upstream proposals).")
@size_options
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Check only this observation (repeatable; `lbrspec compare --list` names them).")
@click.option("--list", "list_only", is_flag=True, help="List the shared observations and exit.")
@click.option("--max-states", type=int, default=None, metavar="K",
              help="Per cell: stop as undetermined after K distinct states.")
@click.option("--cell-max-seconds", type=float, default=None, metavar="S",
              help="Per cell: stop that cell as undetermined after S seconds (--max-seconds bounds the whole "
                   "command: the cells not done by then are undetermined).")
@click.option("-o", "--output", "output", default=None, metavar="FILE",
              help="Also write the comparison as a Markdown page (the table, then each differing property's "
                   "counterexamples side by side); deterministic, no timings.")
@click.option("--trace-dir", default=None, metavar="DIR",
              help="Write every counterexample as ITF JSON to DIR/<observation>.<model>.<variant>.itf.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@run_options(output=False)
def compare_cmd(design_refs: tuple[str, ...], sizes: SizeFlags, only: tuple[str, ...], list_only: bool,
                max_states: int | None, cell_max_seconds: float | None, output: str | None,
                trace_dir: str | None, as_json: bool, quiet: bool) -> None:
    """Check several designs on one table of properties that mean the same thing in each.

    The properties (observations) are stated once, in the part the guest LBR models share
    (lbr_common): over ghost flags that each model sets at the steps where the harm happens,
    or as one formula over terms both models give.  Each cell is its own exhaustive check of
    one design with one observation and nothing else, on one instance (by default each sort's
    smallest default size among the models: 1 vCPU, 2 pCPUs, 1 host user): holds, violated
    with the length of the shortest counterexample, undetermined (a budget ran out), or n.a.
    with the reason the model gives.

    Exit status: 0 every cell determined (violations are findings, not failures); 2 bad usage
    or input; 3 a cell undetermined.
    """
    positive(max_states, "--max-states")
    if cell_max_seconds is not None and not cell_max_seconds > 0:
        raise InputError(f"--cell-max-seconds must be positive, got {cell_max_seconds:g}")
    designs = parse_designs(design_refs or DEFAULT_DESIGNS, load_model)
    if list_only:
        from ..compare import observations_of

        for name, o in observations_of(designs).items():
            click.echo(f"{name}  ({o.kind})  {o.title}: {o.doc}")
        raise SystemExit(EXIT_HOLDS)
    asked = {sort: n for _, sort, n in sizes.given}
    inst_sizes = common_sizes(designs, asked)
    check_only(designs, only)  # before anything is printed
    if trace_dir is not None:
        try:
            is_dir = Path(trace_dir).is_dir()
        except OSError as e:  # a name too long for the file system, say
            raise InputError(f"--trace-dir {trace_dir}: {e.strerror or e}") from None
        if not is_dir:
            raise InputError(f"--trace-dir {trace_dir}: not a directory")
    check_writable(output, "-o/--output")
    progress = Progress(enabled=not quiet and not as_json)

    def on_cell(name: str, d: Design, c) -> None:
        if not quiet and not as_json:
            extra = f" ({c.states:,} states, {c.seconds:.1f} s)" if c.status != "n.a." else ""
            click.echo(f"  {d.label:<42} {name:<34} {c.short()}{extra}", err=True)

    if not quiet and not as_json:
        click.echo(f"lbrspec compare: {len(designs)} designs on {_sizes(inst_sizes)}", err=True)
    try:
        with runctl.phase("comparing"):
            cmp = run(designs, inst_sizes, only=only, on_cell=on_cell, max_states=max_states,
                      max_seconds=cell_max_seconds, progress=progress)
    finally:
        progress.close()
    if trace_dir is not None:
        for (name, label), c in cmp.cells.items():
            if c.trace is not None:
                safe = re.sub(r"[^A-Za-z0-9_.-]", ".", label.replace(":", "."))
                write_itf(without_ghosts(c.trace), str(Path(trace_dir) / f"{name}.{safe}.itf.json"),
                          description=f"lbrspec compare: shortest counterexample of {name} in {label} (the "
                                      f"comparison's ghost flags left out, so `lbrspec replay` takes it)")
    code = EXIT_HOLDS if cmp.complete else EXIT_UNDETERMINED
    failed = None
    if output is not None:
        try:
            Path(output).write_text(markdown(cmp))
        except OSError as e:  # checked before the run; a full disk or a removed directory since
            failed = f"-o {output}: cannot write: {e.strerror or e} (the comparison above stands; the page was not saved)"
    if as_json:
        emit_json(cmp.to_json())
    else:
        click.echo(table_text(cmp))
        if output is not None and failed is None:
            click.echo(f"wrote {output}")
    if failed is not None:
        raise OutputError(failed, exit_code=code if code != EXIT_HOLDS else EXIT_USAGE)
    raise SystemExit(code)


def without_ghosts(trace):
    """The trace without the comparison's ghost flags (``seen_<observation>``): the states of the
    model as every other command builds it."""
    import dataclasses

    states = [{k: v for k, v in st.items() if not k.startswith("seen_")} for st in trace.states]
    return dataclasses.replace(trace, states=states)


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sizes.items())


def table_text(cmp: Comparison) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Designs compared on {_sizes(cmp.sizes)}", title_justify="left")
    t.add_column("property")
    for d in cmp.designs:
        t.add_column(d.label.replace(":", "\n"))
    for name in cmp.observations:
        t.add_row(name, *(cmp.cell(name, d).short() for d in cmp.designs))
    width = 4 + max(map(len, cmp.observations)) + sum(4 + max(len(d.variant), len(d.source.name), 13)
                                                      for d in cmp.designs)
    console = Console(width=max(80, width), file=io.StringIO(), color_system=None)
    console.print(t)
    lines = [console.file.getvalue().rstrip()]
    na = not_applicable(cmp)
    if na:
        lines.append("")
        lines.append("n.a.:")
        lines += [f"  {name} in {', '.join(labels)}: {reason}" for (name, reason), labels in na.items()]
    und = [(name, d, cmp.cell(name, d)) for name in cmp.observations for d in cmp.designs
           if cmp.cell(name, d).status == "undetermined"]
    if und:
        lines.append("")
        lines += [f"UNDETERMINED: {name} in {d.label} ({c.reason}, {c.states:,} states)" for name, d, c in und]
    return "\n".join(lines)


def not_applicable(cmp: Comparison) -> dict[tuple[str, str], list[str]]:
    """(observation, reason) -> the designs it is n.a. in, in table order."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in cmp.observations:
        for d in cmp.designs:
            c = cmp.cell(name, d)
            if c.status == "n.a.":
                out.setdefault((name, c.reason), []).append(d.label)
    return out


def _md_cell(c) -> str:
    if c.status == "violated":
        return f"**violated** ({c.length} steps)"
    return {"n.a.": "n.a.", "holds": "holds"}.get(c.status, c.status)


def markdown(cmp: Comparison) -> str:
    """The comparison as a Markdown page: deterministic (no timings, no dates)."""
    out: list[str] = []
    out.append("# The designs compared")
    out.append("")
    out.append("<!-- generated by `lbrspec compare -o docs/compare.md`; do not edit -->")
    out.append("")
    out.append("Each row is one property stated once, in the part of the models that both guest LBR designs share "
               "(`models/lbr_common.py`, `OBSERVATIONS`); each cell is an exhaustive check of one design with that "
               f"property alone, on {_sizes(cmp.sizes)}.  A violated cell gives the length of the shortest "
               "counterexample.  *n.a.*: the model has no step or state the property could be about; the reasons "
               "are listed below the table.")
    out.append("")
    out.append("| property | " + " | ".join(f"`{d.label}`" for d in cmp.designs) + " |")
    out.append("|---|" + "---|" * len(cmp.designs))
    for name, o in cmp.observations.items():
        out.append(f"| `{name}`: {o.title} | " + " | ".join(_md_cell(cmp.cell(name, d)) for d in cmp.designs) + " |")
    out.append("")
    out.append("## What each property says")
    out.append("")
    for name, o in cmp.observations.items():
        how = ("a ghost flag the models set at the step where it happens" if o.kind == "event"
               else "one formula over terms both models give")
        out.append(f"- `{name}` ({how}): {o.doc}")
    na = not_applicable(cmp)
    if na:
        out.append("")
        out.append("## Not applicable")
        out.append("")
        for (name, reason), labels in na.items():
            out.append(f"- `{name}` in {', '.join(f'`{x}`' for x in labels)}: {reason}.")
    diff = cmp.differing()
    if diff:
        out.append("")
        out.append("## Where the designs differ")
        out.append("")
        out.append("For each property on which the designs do not agree, the shortest counterexample of every design "
                   "that breaks it, step by step side by side (each step is one atomic action of the model, with its "
                   "parameters).")
        for name in diff:
            o = cmp.observations[name]
            out.append("")
            out.append(f"### `{name}`: {o.title}")
            out.append("")
            verdicts = ", ".join(f"`{d.label}` {_md_cell(cmp.cell(name, d))}" for d in cmp.designs)
            out.append(verdicts + ".")
            bad = [d for d in cmp.designs if cmp.cell(name, d).trace is not None]
            if not bad:
                continue
            out.append("")
            out.append("| step | " + " | ".join(f"`{d.label}`" for d in bad) + " |")
            out.append("|---|" + "---|" * len(bad))
            longest = max(cmp.cell(name, d).length or 0 for d in bad)
            for i in range(longest):
                row = []
                for d in bad:
                    tr = cmp.cell(name, d).trace
                    row.append(f"`{tr.steps[i].label()}`" if i < len(tr.steps) else "")
                out.append(f"| {i + 1} | " + " | ".join(row) + " |")
    out.append("")
    return "\n".join(out)
