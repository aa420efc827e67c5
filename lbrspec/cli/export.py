"""``lbrspec export promela``: the same model instance as a Promela specification for SPIN."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..export.promela import to_promela
from ..modelref import load_model
from .. import runctl
from .common import SizeFlags, check_writable, make_instance, model_option, run_options, size_options, variant_option


@click.group("export")
def export_group() -> None:
    """Write the model for another model checker."""


@export_group.command("promela")
@model_option
@variant_option
@size_options
@click.option("--invariant", "invariants", multiple=True, metavar="NAME",
              help="Assert only this invariant (repeatable; default: every invariant).")
@click.option("--no-hidden", is_flag=True,
              help="Declare the step temporaries as ordinary variables reset to 0 after every step "
                   "(SPIN's multi-core and breadth-first modes refuse hidden variables).")
@click.option("-o", "--output", type=str, default=None, metavar="FILE", help="Write to FILE instead of standard output.")
@run_options(output=False)
def promela_cmd(model_ref: str | None, variant: str | None, sizes: SizeFlags, invariants: tuple[str, ...], no_hidden: bool,
                output: str | None, quiet: bool) -> None:
    """Export one instance as Promela: one d_step per action and parameter binding, every
    invariant as an assertion.  Check it with SPIN, for example:

    \b
      lbrspec export promela -o lbr.pml
      spin -o2 -a lbr.pml && gcc -O2 -DNOREDUCE -DSAFETY -o pan pan.c && ./pan -m10000000
      lbrspec export promela --no-hidden -o lbr.pml
      spin -search -dfspar -DNOREDUCE -DSAFETY lbr.pml        # multi-core
      spin -search -swarm8,4 -DNOREDUCE -DSAFETY lbr.pml      # swarm (bitstate, incomplete)

    SPIN stores one state more than `lbrspec check --no-symmetry` explores: the state before
    the initial values are chosen.
    """
    with runctl.phase("loading the model"):
        inst = make_instance(load_model(model_ref), variant, sizes)
    known = [i.name for i in inst.model.invariants]
    for name in invariants:
        if name not in known:
            raise InputError(f"unknown invariant {name!r}; known: {', '.join(known)}")
    check_writable(output, "--output")
    with runctl.phase("writing Promela"):
        text = to_promela(inst, invariants=list(invariants) or None, hidden=not no_hidden)
    if output:
        try:
            Path(output).write_text(text)
        except OSError as e:
            raise InputError(f"cannot write {output}: {e.strerror or e}") from None
    else:
        click.echo(text, nl=False)
