"""The ``lbrspec`` console script: SIGINT and SIGTERM are taken from the first instant.

Importing the CLI (click, numpy, Z3, networkx, Hypothesis) takes most of a second; a signal in
that time would otherwise end the process with a traceback (SIGINT) or silently (SIGTERM).
Here a signal during start-up is only noted, and the command then ends at once with one line
and exit 3 (undetermined); once the CLI runs, :mod:`lbrspec.runctl` takes over.
"""

from __future__ import annotations

import signal
import sys

_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
_early: list[int] = []


def _note(signum: int, frame: object) -> None:
    _early.append(signum)


def main() -> None:
    previous = {}
    for s in _NAMES:
        if signal.getsignal(s) is not signal.SIG_IGN:  # a signal the parent ignores stays ignored
            previous[s] = signal.signal(s, _note)
    from .cli import main as cli_main  # the slow part

    for s, h in previous.items():
        signal.signal(s, h)
    if _early:
        print(f"lbrspec: stopped: interrupted by {_NAMES[_early[0]]} while starting; no verdict (undetermined)",
              file=sys.stderr)
        sys.exit(3)
    cli_main()
