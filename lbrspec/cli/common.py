"""Options, model loading and output helpers shared by the CLI commands."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence

import click

from .. import runctl
from ..errors import EXIT_HOLDS, EXIT_USAGE, InputError, ModelError, OutputError, Stopped
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
            digits = num.strip().lstrip("-")
            if not eq or not sort.strip() or not (digits.isascii() and digits.isdigit()):
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


def run_options(*, time_aliases: Sequence[str] = (), quiet: bool = True, output: bool = True
                ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every command that works shares, and the run they open.

    ``--max-seconds S`` (plus ``time_aliases``, e.g. ``--timeout``) and ``--max-memory MB``
    bound the whole command, from its start, whatever phase it is in (:mod:`lbrspec.runctl`);
    ``--quiet`` turns the progress display off (``quiet=False``: the command declares its own);
    ``-o/--output FILE`` writes what the command prints on standard output to FILE instead
    (``output=False``: the command declares its own).  The command receives none of them
    except ``quiet``, ``max_seconds`` and ``max_memory`` when its signature names them.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        import inspect

        wanted = set(inspect.signature(f).parameters)

        @functools.wraps(f)
        def command(*args: Any, max_seconds: float | None, max_memory: int | None, **kwargs: Any) -> Any:
            out_path = kwargs.pop("output", None) if output else None
            if max_seconds is not None and not 0 < max_seconds < float("inf"):
                raise InputError(f"--max-seconds must be positive and finite, got {max_seconds:g}")
            positive(max_memory, "--max-memory")
            check_writable(out_path, "--output")
            quiet_flag = bool(kwargs.get("quiet")) or bool(kwargs.get("as_json"))
            if "quiet" not in wanted:
                kwargs.pop("quiet", None)
            for name, value in (("max_seconds", max_seconds), ("max_memory", max_memory)):
                if name in wanted:
                    kwargs[name] = value
            run = runctl.Run(max_seconds=max_seconds, max_memory=max_memory * 2**20 if max_memory else None,
                             display=not quiet_flag)
            with runctl.running(run), _stdout_to(out_path):
                try:
                    return f(*args, **kwargs)
                except KeyboardInterrupt as e:
                    raise Stopped(runctl.stopped_line(run, str(e.args[0]) if e.args else None)) from None
                except ctypes.ArgumentError as e:
                    # the grace interrupt landed while ctypes converted an argument (Z3's API
                    # while a formula is built): ctypes wraps it; it is the same stop
                    if run.reason is not None and "KeyboardInterrupt" in str(e):
                        raise Stopped(runctl.stopped_line(run)) from None
                    raise
                except (InputError, ModelError) as e:
                    if run.reason is None:
                        raise
                    # a phase that cannot go on without what the stop cut short (a complete
                    # graph, say) says so; the reason is the stop, not the input
                    raise Stopped(f"{runctl.stopped_line(run)} ({e})") from None

        names = ["--max-seconds", *time_aliases]
        command = click.option(*names, "max_seconds", type=float, default=None, metavar="S",
                               help="Stop as undetermined (exit 3) once the command has run S seconds, whatever "
                                    "it is doing; the figures so far are printed.")(command)
        command = click.option("--max-memory", type=int, default=None, metavar="MB",
                               help="Stop as undetermined (exit 3) when the process's resident memory passes MB "
                                    "mebibytes.")(command)
        if quiet:
            command = click.option("--quiet", is_flag=True, help="No progress display.")(command)
        if output:
            command = click.option("-o", "--output", "output", type=str, default=None, metavar="FILE",
                                   help="Write what the command prints (the report, or the JSON with --json) to FILE "
                                        "instead of standard output.")(command)
        return command

    return decorate


class _stdout_to:
    """Standard output goes to ``path`` for the block (nothing changes when ``path`` is None).
    The file is written even when the command ends with a violation, an interrupt or an
    error, so that a report is never lost."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.file = None
        self.saved = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        try:
            self.file = open(self.path, "w", encoding="utf-8")
        except OSError as e:
            raise InputError(f"--output {self.path}: cannot write: {e.strerror or e}") from None
        self.saved = sys.stdout
        sys.stdout = self.file

    def __exit__(self, *exc: object) -> None:
        if self.file is None:
            return
        sys.stdout = self.saved
        try:
            self.file.close()
        except OSError as e:
            raise OutputError(f"--output {self.path}: cannot write: {e.strerror or e}", exit_code=EXIT_USAGE) from None


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
    try:
        _check_writable(Path(path), path, option)
    except OSError as e:  # a name too long for the file system, say
        raise InputError(f"{option} {path}: {e.strerror or e}") from None


def _check_writable(p: Path, path: str, option: str) -> None:
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
    """An explorer's figures (states, queue, depth, seconds) for the progress display of the
    current run (:mod:`lbrspec.runctl`: shown once a step lasts 2 s, a live line on a terminal,
    a line every 10 s otherwise).  ``enabled=False`` shows nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, states: int, queue: int, depth: int, seconds: float) -> None:
        rate = states / seconds if seconds > 0 else 0.0
        self.show(f"{states:,} states, {queue:,} queued, depth {depth}, {rate:,.0f} states/s, {seconds:.0f} s", seconds)

    def show(self, text: str, seconds: float = 0.0) -> None:
        if self.enabled:
            runctl.status(text)

    def close(self) -> None:
        run = runctl.current()
        if run is not None:
            run.clear_display()
