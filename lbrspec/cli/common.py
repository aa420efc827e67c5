"""Options, model loading and output helpers shared by the CLI commands."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence

import click

from ..errors import EXIT_HOLDS, EXIT_USAGE, InputError, OutputError
from ..explicit.instance import Instance
from ..lang.spec import Model
from ..modelref import ModelModule
from ..trace import Trace
from ..trace.itf import write_itf

#: The size shorthands: option name -> the sort it sizes (guest_lbr's sorts).
SHORTHANDS = {"vcpus": "vCPU", "pcpus": "pCPU", "hosts": "host_user"}

MODEL_HELP = ("The model: a shipped model's name (default: guest_lbr; `lbrspec list` shows them), a path to a "
              ".py file, or an importable module name. A model file or module is Python and runs like any "
              "import: use only models you trust. Trace files are data and are never executed.")


def model_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--model REF``; the command receives ``model_ref`` and loads it with
    :func:`lbrspec.modelref.load_model`."""
    return click.option("--model", "model_ref", default=None, metavar="REF", help=MODEL_HELP)(f)


def variant_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--variant",
        default=None,
        metavar="NAME",
        help="Variant of the model to check (default: the model's default, v8 for guest_lbr). "
             "`lbrspec list` shows them all.",
    )(f)


@dataclass(frozen=True)
class SizeFlags:
    """Sort sizes asked on the command line (``--size SORT=N`` and the shorthands), checked
    against a model only once it is loaded: ``given`` holds (option as typed, sort, size)."""

    given: tuple[tuple[str, str, int], ...] = ()

    @classmethod
    def parse(cls, size: Sequence[str], shorthands: Mapping[str, int | None]) -> SizeFlags:
        given: list[tuple[str, str, int]] = []
        for opt, n in shorthands.items():
            if n is not None:
                if n < 1:
                    raise InputError(f"--{opt} must be at least 1, got {n}")
                given.append((f"--{opt} {n}", SHORTHANDS[opt], n))
        for text in size:
            sort, eq, num = text.rpartition("=")
            if not eq or not sort.strip() or not num.strip().lstrip("-").isdigit():
                raise InputError(f"--size {text}: expected SORT=N, e.g. --size vCPU=3")
            n = int(num)
            if n < 1:
                raise InputError(f"--size {text}: a size must be at least 1")
            given.append((f"--size {text}", sort.strip(), n))
        seen: dict[str, tuple[str, int]] = {}
        for opt, sort, n in given:
            if sort in seen and seen[sort][1] != n:
                raise InputError(f"{opt} contradicts {seen[sort][0]}")
            seen.setdefault(sort, (opt, n))
        return cls(tuple(given))

    def __bool__(self) -> bool:
        return bool(self.given)

    def for_model(self, model: Model) -> dict[str, int]:
        """The sizes by sort name; a sort the model does not have is refused, naming its sorts."""
        sorts = [s.name for s in model.sorts]
        out: dict[str, int] = {}
        for opt, sort, n in self.given:
            if sort not in sorts:
                flag = opt if opt.startswith("--size") else opt.split(" ", 1)[0]
                raise InputError(f"{flag}: model {model.name} has no sort {sort!r}; its sorts: "
                                 f"{', '.join(sorts) or 'none'} (sizes are given as --size SORT=N)")
            out[sort] = n
        return out

    def over(self, model: Model, recorded: Mapping[str, int], where: str) -> dict[str, int]:
        """The sizes a trace file records (or implies) with the flags' added; a flag that
        contradicts the file is refused, so a file never silently overrides an explicit flag."""
        asked = self.for_model(model)
        for opt, sort, n in self.given:
            if sort in recorded and recorded[sort] != n:
                raise InputError(f"{where}: the trace records {sort}={recorded[sort]}, which {opt} contradicts")
        return {**recorded, **asked}


def size_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--size SORT=N`` (repeatable) and the shorthands ``--vcpus``, ``--pcpus``, ``--hosts``;
    the command receives them as one ``sizes: SizeFlags``."""

    @functools.wraps(f)
    def command(*args: Any, size: tuple[str, ...], vcpus: int | None, pcpus: int | None, hosts: int | None,
                **kwargs: Any) -> Any:
        return f(*args, sizes=SizeFlags.parse(size, {"vcpus": vcpus, "pcpus": pcpus, "hosts": hosts}), **kwargs)

    command = click.option("--hosts", type=int, default=None, metavar="K",
                           help="Shorthand for --size host_user=K (host LBR users; guest_lbr default 1).")(command)
    command = click.option("--pcpus", type=int, default=None, metavar="M",
                           help="Shorthand for --size pCPU=M (guest_lbr default 2).")(command)
    command = click.option("--vcpus", type=int, default=None, metavar="N",
                           help="Shorthand for --size vCPU=N (guest_lbr default 2).")(command)
    command = click.option("--size", "size", multiple=True, metavar="SORT=N",
                           help="Number of elements of the model's index sort SORT (repeatable; the sort name as "
                                "the model declares it, case-sensitive; `lbrspec list` shows the sorts).")(command)
    return command


def make_instance(source: ModelModule, variant: str | None, sizes: SizeFlags, *, liveness: bool = False) -> Instance:
    """The instance of ``variant`` of ``source`` with the sizes asked (the model's defaults
    for the other sorts).  ``liveness``: the liveness variants are accepted too."""
    model = source.build(variant, liveness=liveness)
    return instance_of(source, model, sizes.for_model(model))


def instance_of(source: ModelModule, model: Model, sizes: Mapping[str, int]) -> Instance:
    try:
        return Instance(model, {**source.default_sizes(model), **sizes})
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


class TraceFiles:
    """The trace files a command writes once its run has a verdict (``--trace-out``).

    :func:`check_writable` refuses a bad path before the run; a write that still fails (the
    directory was removed during the run, the disk is full) must not lose the verdict: the
    failure is kept, the command prints its result (without the file), and :meth:`exit` then
    reports the failure as one line with the verdict's exit code.
    """

    def __init__(self) -> None:
        self.failures: list[str] = []

    def write(self, trace: Trace, path: str, description: str) -> bool:
        """Write ``trace`` to ``path``; ``False`` (and the failure kept) if it cannot be written."""
        try:
            write_itf(trace, path, description=description)
        except InputError as e:
            self.failures.append(str(e))
            return False
        return True

    def exit(self, code: int) -> NoReturn:
        """End the command with ``code``, after one line per trace file that could not be written."""
        if self.failures:
            what = "; ".join(self.failures)
            lost = "the trace was" if len(self.failures) == 1 else "these traces were"
            raise OutputError(f"{what} (the result above stands; {lost} not saved)",
                              exit_code=code if code != EXIT_HOLDS else EXIT_USAGE)
        raise SystemExit(code)


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
