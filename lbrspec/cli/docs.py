"""``lbrspec docs``: regenerate ``docs/`` from the model, or check that it is fresh."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..docgen import apply, plan
from ..docgen.generate import compute, render
from ..errors import EXIT_VIOLATED, InputError


@click.command("docs")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and name the stale files if docs/ differs from what the model generates.")
@click.option("--dir", "directory", type=str, default="docs", show_default=True, metavar="DIR",
              help="The docs directory (hand-written files in it are never touched).")
@click.option("--quiet", is_flag=True, help="Print only the result.")
def docs_cmd(check_only: bool, directory: str, quiet: bool) -> None:
    """Regenerate the docs from the model: an overview of how the machines compose, one page
    per machine with its diagram, the property catalogue, the graph analysis and liveness of
    v8 with projections, and a gallery of every variant's counterexample.

    Output is deterministic (no dates, no timings). Exit status: 0 written (or fresh with
    --check); 1 stale with --check; 2 bad directory or a hand-written file in the way.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InputError(f"--dir {directory}: not a directory")
    t0 = time.perf_counter()
    say = (lambda msg: None) if quiet else (lambda msg: click.echo(f"  {msg}", err=True))
    files = render(compute(say))
    p = plan(root, files)
    seconds = time.perf_counter() - t0
    if p.blocked:
        raise InputError(f"hand-written file(s) at generated paths in {directory}: {', '.join(p.blocked)}")
    if check_only:
        if p.stale:
            click.echo(f"lbrspec docs --check: {directory}/ is stale ({len(p.stale)} file(s)); run `lbrspec docs`:")
            for rel in p.write:
                click.echo(f"  {'differs' if (root / rel).exists() else 'missing'}: {directory}/{rel}")
            for rel in p.remove:
                click.echo(f"  no longer generated: {directory}/{rel}")
            raise SystemExit(EXIT_VIOLATED)
        click.echo(f"lbrspec docs --check: {directory}/ is fresh ({len(files)} generated files, {seconds:.1f} s)")
        return
    apply(p)
    click.echo(f"lbrspec docs: {len(p.write)} file(s) written, {len(p.remove)} removed, "
               f"{len(files) - len(p.write)} unchanged in {directory}/ ({seconds:.1f} s)")
