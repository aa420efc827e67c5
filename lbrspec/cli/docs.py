"""``lbrspec docs``: regenerate a model's docs (guest_lbr's are ``docs/``), or check that they are fresh."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..docgen import apply, generated_model, plan
from ..docgen.generate import compute, render
from ..errors import EXIT_VIOLATED, InputError
from ..modelref import ModelModule, load_model
from .. import runctl
from .common import model_option, run_options


def docs_dir(source: ModelModule, model_name: str, directory: str | None) -> Path:
    """The folder to generate into: the one given, else ``docs`` for the project's default model
    and ``out/docs/MODEL`` for any other (so another model's pages never land in ``docs/``).
    A folder holding another model's generated pages is refused."""
    root = Path(directory) if directory else Path("docs" if source.is_project_default else f"out/docs/{model_name}")
    try:
        if root.exists() and not root.is_dir():
            raise InputError(f"--output {root}: not a directory")
        # the nearest existing ancestor must be a directory too, or writing fails after minutes
        parent = root.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if parent.exists() and not parent.is_dir():
            raise InputError(f"--output {root}: {parent} is not a directory")
        holder = generated_model(root)
    except OSError as e:  # a name too long for the file system, say
        raise InputError(f"--output {root}: {e.strerror or e}") from None
    if holder is not None and holder != model_name:
        raise InputError(f"{root} holds the generated docs of model {holder}; give model {model_name} its own --output DIR")
    return root


@click.command("docs")
@model_option
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and name the stale files if the docs differ from what the model generates.")
@click.option("-o", "--output", "--dir", "directory", type=str, default=None, metavar="DIR",
              help="The docs directory (default: docs for guest_lbr, out/docs/MODEL for any other model; "
                   "hand-written files in it are never touched).")
@click.option("--quiet", is_flag=True, help="Print only the result (no progress).")
@run_options(quiet=False, output=False)
def docs_cmd(model_ref: str | None, check_only: bool, directory: str | None, quiet: bool) -> None:
    """Regenerate the docs from the model: an overview of how the machines compose, one page
    per machine with its diagram, the property catalogue, the graph analysis and liveness of
    the default variant with projections, and a gallery of every variant's counterexample.

    Output is deterministic (no dates, no timings). Exit status: 0 written (or fresh with
    --check); 1 stale with --check; 2 bad directory, a hand-written file in the way, or a
    directory that holds another model's generated docs.
    """
    source = load_model(model_ref)
    root = docs_dir(source, source.build().name, directory)
    shown = directory or str(root)
    t0 = time.perf_counter()
    say = (lambda msg: None) if quiet else (lambda msg: click.echo(f"  {msg}", err=True))
    with runctl.phase("generating the docs"):
        files = render(compute(say, source=source))
    p = plan(root, files)
    seconds = time.perf_counter() - t0
    if p.blocked:
        raise InputError(f"hand-written file(s) at generated paths in {shown}: {', '.join(p.blocked)}")
    if check_only:
        if p.stale:
            again = "lbrspec docs" + ("" if source.is_project_default else f" --model {source.ref} -o {shown}")
            click.echo(f"lbrspec docs --check: {shown}/ is stale ({len(p.stale)} file(s)); run `{again}`:")
            for rel in p.write:
                click.echo(f"  {'differs' if (root / rel).exists() else 'missing'}: {shown}/{rel}")
            for rel in p.remove:
                click.echo(f"  no longer generated: {shown}/{rel}")
            raise SystemExit(EXIT_VIOLATED)
        click.echo(f"lbrspec docs --check: {shown}/ is fresh ({len(files)} generated files, {seconds:.1f} s)")
        return
    apply(p)
    click.echo(f"lbrspec docs: {len(p.write)} file(s) written, {len(p.remove)} removed, "
               f"{len(files) - len(p.write)} unchanged in {shown}/ ({seconds:.1f} s)")
