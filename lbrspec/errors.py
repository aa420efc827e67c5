"""Errors and exit codes shared by every part of lbrspec.

Every failure that a user can cause (a malformed model, a bad option, an unreadable file) is an
:class:`LbrspecError` subclass whose ``str()`` is one readable line; the CLI prints it and exits
with the code below, never with a traceback.  An :class:`InternalError` means lbrspec itself is
wrong (for example, two engines disagree about a trace) and is reported loudly.
"""

from __future__ import annotations

#: The check ran to completion and every property holds (every goal reached).
EXIT_HOLDS = 0
#: A property is violated (or a goal unreached): a counterexample was printed.
EXIT_VIOLATED = 1
#: Bad usage or bad input: unknown option or variant, bad sizes, unreadable files, ill-formed model.
EXIT_USAGE = 2
#: A budget (states, time, memory) ran out before a verdict: nothing is claimed.
EXIT_UNDETERMINED = 3
#: lbrspec contradicted itself (an engine disagreed with the reference semantics).
EXIT_INTERNAL = 4


class LbrspecError(Exception):
    """Base class of errors reported to the user as one line."""

    exit_code = EXIT_USAGE


class ModelError(LbrspecError):
    """An ill-formed model, rejected when the model is built.

    The message names the machine, the transition (or invariant, goal, sync) and the variable
    involved, so a model author can find the offending line.
    """

    def __init__(
        self,
        message: str,
        *,
        machine: str | None = None,
        where: str | None = None,
        variable: str | None = None,
    ) -> None:
        self.machine = machine
        self.where = where
        self.variable = variable
        self.detail = message
        parts = []
        if machine is not None:
            parts.append(f"machine '{machine}'")
        if where is not None:
            parts.append(where)
        if variable is not None:
            parts.append(f"variable '{variable}'")
        prefix = ", ".join(parts)
        super().__init__(f"model error: {prefix}: {message}" if prefix else f"model error: {message}")


class InputError(LbrspecError):
    """Bad input from the user: options, instance sizes, trace files, config files."""


class InstanceTooLarge(InputError, ValueError):
    """An instance an engine cannot represent (a variable wider than a packed 64-bit word, a
    symmetry group too large to enumerate), refused before the engine does any work.  Also a
    ``ValueError``, which the callers that fall back to another engine catch."""


class EvaluationError(LbrspecError):
    """A model that is well-formed but computes a value outside a variable's domain."""


class OutputError(LbrspecError):
    """An output file (a trace) could not be written *after* the result was printed.

    The verdict stands: the CLI prints this one line and exits with ``exit_code``, the code of
    the verdict (1 for a violation), so that a full disk or a directory removed during a long
    run loses the file, never the verdict or the counterexample printed above.
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Stopped(LbrspecError):
    """The command was stopped (a budget ran out, SIGINT, SIGTERM) in a phase that had no
    figures to report: undetermined, nothing is claimed."""

    exit_code = EXIT_UNDETERMINED


class InternalError(LbrspecError):
    """lbrspec contradicted itself; always a bug in lbrspec, reported loudly."""

    exit_code = EXIT_INTERNAL
