"""One command's run: its budgets, its stop requests and its progress display, shared by every
phase of the command (loading the model, compiling it, exploring, building the graph, checking
liveness, solving, simulating, writing files).

Why one place: a budget given to a command must bound the whole command, not only the phase
that happens to look at it, and Ctrl-C or SIGTERM must end any phase the same way, keeping what
was already decided.  So:

* **Stop requests.**  A budget running out (time, memory) or a signal (SIGINT, SIGTERM) sets one
  *stop request* with its reason.  Loops that can stop cleanly (the explorers, between batches;
  the solver, between queries) call :func:`poll` and end with the reason as their
  ``stop_reason``: their figures and any counterexample already found are kept.  Code that
  never polls (networkx, Hypothesis, a long compilation) is interrupted: if a request is not
  taken up within :data:`GRACE` seconds, a ``KeyboardInterrupt`` is raised in the main thread.
  Z3 is told to stop at once through :func:`on_stop` callbacks.
* **Budgets from the start.**  ``--max-seconds`` counts from the moment the command starts, and
  ``--max-memory`` is the resident size of the whole process; a watchdog thread checks both
  every :data:`TICK` seconds, whatever the main thread is doing.
* **Progress.**  :func:`phase` names what the command is doing and :func:`status` gives an
  explorer's figures; on a terminal, a step that lasts more than :data:`DELAY` seconds is shown
  as a live line; otherwise (logs, pipes) a step prints one line per :data:`LOG_EVERY` seconds.

The CLI opens one :class:`Run` per command (:func:`lbrspec.cli.common.run_options`); library
code calls the module-level functions, which do nothing when no run is open (for example, when
lbrspec is used as a library or from the tests).
"""

from __future__ import annotations

import _thread
import os
import select
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

#: how often the watchdog looks at the clock and the resident memory
TICK = 0.05
#: how long a stop request may stay untaken before the main thread is interrupted
GRACE = 1.0
#: a phase is shown once it has lasted this long
DELAY = 2.0
#: without a terminal, one progress line per this many seconds
LOG_EVERY = 10.0

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident memory of this process plus the private memory of its worker processes (see
    :func:`add_workers`; 0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as f:
            own = int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0
    return own + sum(_private_bytes(pid) for pid in list(_workers))


#: worker processes whose memory counts as this process's (--workers)
_workers: set[int] = set()


def add_workers(pids: list[int]) -> None:
    """Count the memory of these child processes in :func:`rss_bytes` (so in ``--max-memory``)
    until :func:`remove_workers`."""
    _workers.update(pids)


def remove_workers(pids: list[int]) -> None:
    _workers.difference_update(pids)


def _private_bytes(pid: int) -> int:
    """Memory a forked worker does not share with this process (its private pages: what it
    allocated and what it changed); what it shares is counted once, in this process's size."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            total = 0
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) * 1024
            return total
    except (OSError, ValueError, IndexError):
        return 0


class Run:
    """The budgets, stop request and progress display of one command.

    ``max_seconds`` (from the start of the command) and ``max_memory`` (bytes of resident
    memory) are optional; ``display`` enables the progress display (off with ``--quiet`` and
    ``--json``).
    """

    def __init__(self, *, max_seconds: float | None = None, max_memory: int | None = None,
                 display: bool = True) -> None:
        self.max_seconds = max_seconds
        self.max_memory = max_memory
        self.display = display
        self.t0 = time.perf_counter()
        self.reason: str | None = None
        self.signal: str | None = None
        self._requested_at: float | None = None
        self._taken = False
        self._interrupted = False
        self._pending_interrupts = 0  # KeyboardInterrupts the main thread is to raise
        self._closed = False
        self._self_interrupts = 0  # interrupt_main() calls whose echo on the wakeup fd to ignore
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._phase: str | None = None
        #: the phase a ``KeyboardInterrupt`` left (for the one line that reports it)
        self.interrupted_in: str | None = None
        self._phase_t0 = self.t0
        self._status: str | None = None
        self._live = None
        self._last_line = 0.0
        self._thread = threading.Thread(target=self._watch, name="lbrspec-watchdog", daemon=True)

    # -- budgets and stop requests --------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float | None:
        """Seconds left of the time budget (``None``: no time budget)."""
        return None if self.max_seconds is None else self.max_seconds - self.elapsed()

    def request_stop(self, reason: str) -> None:
        """Ask every phase to stop; the first reason is kept."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            self._requested_at = time.perf_counter()
            # under the lock: a callback runs only while its block is active (Z3 would
            # otherwise cancel the next operation after the query, not the query)
            for cb in self._callbacks:
                try:
                    cb()
                except Exception:  # a solver already gone: nothing to stop
                    pass

    def poll(self) -> str | None:
        """The reason to stop, if a stop was requested (and the request is then taken up: the
        caller ends its loop itself, so the main thread is not interrupted)."""
        if self.reason is not None:
            self._taken = True
        return self.reason

    @contextmanager
    def cancel_with(self, callback: Callable[[], None]) -> Iterator[None]:
        """Within the block, a stop request also calls ``callback`` (e.g. interrupts Z3)."""
        with self._lock:
            self._callbacks.append(callback)
        try:
            yield
        finally:
            with self._lock:
                self._callbacks.remove(callback)

    def _watch(self) -> None:
        while not self._done.is_set():
            for signum in _wait_for_signals(TICK):
                self._on_signal(signum)
            now = time.perf_counter()
            if self.reason is None:
                if self.max_seconds is not None and now - self.t0 > self.max_seconds:
                    self.request_stop(f"time budget of {self.max_seconds:g} s exhausted")
                elif self.max_memory is not None and rss_bytes() > self.max_memory:
                    self.request_stop(f"memory ceiling of {self.max_memory / 2**20:,.0f} MiB reached")
            elif (not self._taken and not self._interrupted and self._requested_at is not None
                  and now - self._requested_at > GRACE):
                # nobody polls: interrupt whatever the main thread is doing
                self._interrupted = True
                self._interrupt_main()
            self._render(now)

    def _on_signal(self, signum: int) -> None:
        """A signal, seen by the watchdog (through the wakeup fd, even while the main thread is
        inside Z3 or numpy): the first is a stop request, the next ones interrupt at once."""
        if signum == signal.SIGINT and self._self_interrupts > 0:
            self._self_interrupts -= 1  # our own interrupt_main(), echoed on the wakeup fd
            return
        name = _SIGNALS.get(signum, str(signum))
        if self.reason is None:
            self.signal = name
            self.request_stop(f"interrupted by {name}")
        else:
            self._interrupt_main()

    def _interrupt_main(self) -> None:
        with self._lock:
            if self._closed:  # the command has ended: nothing to interrupt
                return
            self._pending_interrupts += 1
            self._self_interrupts += 1
            _asked.append(self)
        _thread.interrupt_main()

    # -- progress -------------------------------------------------------------------------
    def set_phase(self, name: str | None) -> None:
        with self._lock:
            self._phase = name
            self._phase_t0 = time.perf_counter()
            self._status = None
            if name is None:
                self._stop_live()

    def set_status(self, text: str) -> None:
        with self._lock:
            self._status = text

    def clear_display(self) -> None:
        """Take the live line off the terminal (before printing results) and forget the figures."""
        with self._lock:
            self._status = None
            self._stop_live()

    def _text(self, now: float) -> str | None:
        if self._phase is None and self._status is None:
            return None
        if self._status is not None:
            return f"{self._phase}: {self._status}" if self._phase else self._status
        return f"{self._phase}, {now - self._phase_t0:.0f} s"

    def _render(self, now: float) -> None:
        if not self.display:
            return
        with self._lock:
            text = self._text(now)
            if text is None or now - self._phase_t0 < DELAY:
                return
            if sys.stderr.isatty():
                if self._live is None:
                    from rich.console import Console

                    self._live = Console(stderr=True).status(text)
                    self._live.start()
                else:
                    self._live.update(text)
            elif now - max(self._last_line, self._phase_t0) >= LOG_EVERY:
                self._last_line = now
                try:
                    print(f"progress: {text}", file=sys.stderr, flush=True)
                except (OSError, ValueError):
                    pass

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- lifetime -------------------------------------------------------------------------
    def start(self) -> None:
        _wait_for_signals(0)  # signals that arrived before this run are not this run's
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True  # an interrupt asked for and not yet delivered is dropped
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._stop_live()


_current: Run | None = None
#: runs whose watchdog asked for an interrupt of the main thread, in order, not yet delivered
_asked: list[Run] = []


def current() -> Run | None:
    """The run of the command being executed (``None`` outside the CLI)."""
    return _current


@contextmanager
def running(run: Run) -> Iterator[Run]:
    """Make ``run`` the current run (its watchdog started) for the block."""
    global _current
    outer = _current
    _current = run
    run.start()
    try:
        yield run
    finally:
        try:
            run.close()
        finally:
            _current = outer


def stopped_line(run: Run | None = None, signal_name: str | None = None) -> str:
    """What to tell the user when ``run`` (default: the current one) was stopped in a phase
    without figures: why, and in which phase."""
    run = run or _current
    if run is None:
        return f"interrupted by {signal_name or 'SIGINT'}; no verdict (undetermined)"
    why = run.reason or f"interrupted by {signal_name or 'SIGINT'}"
    phase = run.interrupted_in or run._phase
    where = f" while {phase}" if phase else ""
    return f"{why}{where}; no verdict (undetermined)"


def poll() -> str | None:
    """The reason to stop, if the current run was asked to stop (see :meth:`Run.poll`)."""
    return _current.poll() if _current is not None else None


def reason(default: str = "interrupted") -> str:
    """Why the current run stopped (``default`` when it is not known)."""
    return (_current.reason if _current is not None else None) or default


def remaining() -> float | None:
    """Seconds left of the current run's time budget (``None``: none)."""
    return _current.remaining() if _current is not None else None


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Name what the command does for the block (shown if it lasts more than 2 s)."""
    run = _current
    if run is None:
        yield
        return
    outer = run._phase
    run.set_phase(name)
    try:
        yield
    except KeyboardInterrupt:
        run.interrupted_in = run.interrupted_in or name
        raise
    finally:
        run.set_phase(outer)


def status(text: str) -> None:
    """An explorer's figures for the current phase's display."""
    if _current is not None:
        _current.set_status(text)


@contextmanager
def cancel_with(callback: Callable[[], None]) -> Iterator[None]:
    """See :meth:`Run.cancel_with`; nothing when no run is open."""
    if _current is None:
        yield
        return
    with _current.cancel_with(callback):
        yield


# -- signals --------------------------------------------------------------------------------
_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def _on_signal(signum: int, frame: object) -> None:
    """The Python-level handler, in the main thread: the watchdog has seen the signal (through
    the wakeup fd) and decides; this raises only the interrupts the watchdog asked for, or, with
    no run open, every time."""
    if _asked:  # an interrupt a run's watchdog asked for (interrupt_main), not a real signal
        run = _asked.pop(0)
        with run._lock:
            run._pending_interrupts -= 1
            if run._closed or run is not _current:
                return  # the run has ended since: a stale interrupt must not hit what follows
        raise KeyboardInterrupt(run.signal or _SIGNALS.get(signum, str(signum)))
    if _current is None:
        raise KeyboardInterrupt(_SIGNALS.get(signum, str(signum)))
    # a real signal while a run is open: its watchdog has seen it on the wakeup fd and decides


_wakeup_r: int | None = None


def _wait_for_signals(timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds; the signals that arrived meanwhile."""
    fd = _wakeup_r
    if fd is None:
        time.sleep(timeout)
        return []
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return []
    try:
        return list(os.read(fd, 512))
    except (BlockingIOError, InterruptedError):
        return []


def install_signal_handlers() -> Callable[[], None]:
    """Route SIGINT and SIGTERM to the current run (a stop request with the figures kept);
    returns a function that restores the previous handlers.  Only from the main thread.

    The signals reach the watchdog through a wakeup fd, so that a signal is seen at once even
    while the main thread is inside a long call into C (Z3, numpy); Z3's own Ctrl-C handling is
    turned off for the same reason (it would take SIGINT for itself)."""
    global _wakeup_r
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    try:
        old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:
        os.close(r)
        os.close(w)
        return lambda: None
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _on_signal)
    _wakeup_r = r

    def restore() -> None:
        global _wakeup_r
        for s, h in previous.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_fd)
        _wakeup_r = None
        os.close(r)
        os.close(w)

    return restore


def run_script(body: Callable[[], int], name: str) -> int:
    """Run ``body`` (a script outside the CLI, e.g. the conformance checks) under one run, with
    SIGINT and SIGTERM routed to it: an interrupt the script does not take up ends it with one
    line on stderr and exit 3."""
    restore = install_signal_handlers()
    try:
        with running(Run()) as run:
            try:
                return body()
            except KeyboardInterrupt as e:
                print(f"{name}: stopped: {stopped_line(run, str(e.args[0]) if e.args else None)}", file=sys.stderr)
                return 3
    finally:
        restore()
