"""Options, model loading and output helpers shared by the CLI commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import InputError
from ..explicit.instance import Instance
from ..lang.spec import Model

SIZE_OPTIONS = (("vcpus", "vCPU"), ("pcpus", "pCPU"), ("hosts", "host_user"))


def load_model(variant: str) -> Model:
    """Build the guest-LBR model for ``variant`` (the only model lbrspec ships)."""
    from lbrspec_models import guest_lbr

    return guest_lbr.build(variant)


def variants() -> dict[str, Any]:
    from lbrspec_models import guest_lbr

    return guest_lbr.VARIANTS


def default_variant() -> str:
    from lbrspec_models import guest_lbr

    return guest_lbr.DEFAULT_VARIANT


def variant_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--variant",
        default=None,
        metavar="NAME",
        help="Design variant to check (default: v8). `lbrspec list` shows them all.",
    )(f)


def size_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--hosts", type=int, default=None, metavar="K", help="Number of host LBR users (default 1).")(f)
    f = click.option("--pcpus", type=int, default=None, metavar="M", help="Number of pCPUs (default 2).")(f)
    f = click.option("--vcpus", type=int, default=None, metavar="N", help="Number of vCPUs (default 2).")(f)
    return f


def make_instance(variant: str | None, vcpus: int | None, pcpus: int | None, hosts: int | None) -> Instance:
    name = variant or default_variant()
    known = variants()
    if name not in known:
        raise InputError(f"unknown variant {name!r}; known variants: {', '.join(known)}")
    model = load_model(name)
    sizes = {}
    for opt, sort in SIZE_OPTIONS:
        val = {"vcpus": vcpus, "pcpus": pcpus, "hosts": hosts}[opt]
        if val is not None:
            if val < 1:
                raise InputError(f"--{opt} must be at least 1, got {val}")
            sizes[sort] = val
    try:
        return Instance(model, sizes)
    except InputError as e:
        raise InputError(f"bad instance size: {e}") from None


def check_writable(path: str | None, option: str) -> None:
    """Fail before a long run, not after it, if ``path`` cannot be written."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {path}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: directory {parent} does not exist")
    if (p.exists() and not os.access(p, os.W_OK)) or (not p.exists() and not os.access(parent, os.W_OK)):
        raise InputError(f"{option} {path}: not writable")


def positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise InputError(f"{option} must be at least 1, got {value}")


def emit_json(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


class Progress:
    """Progress for long runs: a live line on a terminal, a line every 10 s otherwise.

    Nothing is shown for runs shorter than ``delay`` seconds.  Calling the object with the
    explorer's figures (states, queue, depth, seconds) shows them; :meth:`show` takes any text.
    """

    def __init__(self, enabled: bool, delay: float = 2.0) -> None:
        self.enabled = enabled
        self.delay = delay
        self.tty = sys.stderr.isatty()
        self._status = None
        self._last_line = 0.0

    def __call__(self, states: int, queue: int, depth: int, seconds: float) -> None:
        rate = states / seconds if seconds > 0 else 0.0
        self.show(f"{states:,} states, {queue:,} queued, depth {depth}, {rate:,.0f} states/s, {seconds:.0f} s", seconds)

    def show(self, text: str, seconds: float) -> None:
        if not self.enabled or seconds < self.delay:
            return
        if self.tty:
            if self._status is None:
                from rich.console import Console

                self._status = Console(stderr=True).status(text)
                self._status.start()
            else:
                self._status.update(text)
        elif seconds - self._last_line >= 10.0:
            self._last_line = seconds
            click.echo(f"progress: {text}", err=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
