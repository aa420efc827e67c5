"""Expanding batches of states for the fast explorer, in this process or in worker processes
(``lbrspec check --workers N``).

:func:`expand` is one batch's share of the search that does not depend on the visited set: the
successors of every state of the batch, ordered by (parent, action), duplicates dropped, put in
canonical form when symmetry is on, duplicates dropped again; which states have no enabled
action; where the open step goals are reached.  What remains (looking the successors up,
numbering the new ones, checking invariants) is done by the explorer, in batch order.

:class:`Workers` runs :func:`expand` in N forked processes: a batch is cut into N contiguous
runs of parents, run ``i`` goes to worker ``i``, and the results are joined in run order.
Since each run is ordered by (parent, action) and the runs follow each other, the joined
successors are in the very order the single-process search produces, and a first occurrence
there is a first occurrence in some run: the explorer then numbers states, finds violations and
rebuilds traces exactly as with one process (same counts, verdicts and counterexamples).  The
explorer hands the next batch to the workers before it looks up the current one's successors,
so lookups overlap with expansion.

Workers are forked once per search (they inherit the compiled model and the symmetry tables,
nothing is pickled but batches of packed words), ignore SIGINT and SIGTERM (the explorer stops
them: the signal is the command's stop request, :mod:`lbrspec.runctl`), die with their parent
(``PR_SET_PDEATHSIG``, and an end of file on their pipe), and their private memory counts in
``--max-memory`` (:func:`lbrspec.runctl.add_workers`).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
import traceback
from dataclasses import dataclass

import numpy as np

from .. import runctl
from .packing import Layout
from .symmetry import Symmetry
from .vcompile import VecCompiled, as_mask

#: the most workers ``--workers`` accepts
MAX_WORKERS = 64
#: successors put in canonical form at a time
CANON_SLICE = 1 << 15


@dataclass
class Expanded:
    """One batch expanded (see :func:`expand`); rows are positions in the batch."""

    words: list[np.ndarray]  # successors, in (parent, action) order (duplicates may remain)
    parent: np.ndarray  # each successor's parent row
    enabled: np.ndarray  # per row: some action is enabled
    transitions: int  # successors before duplicates were dropped
    hits: dict[tuple[int, int], int]  # (action, position in its step goals) -> first row reaching it


def successors(vc: VecCompiled, S: np.ndarray, W: list[np.ndarray]):
    """For every action enabled somewhere in a batch (slot matrix ``S``, packed words ``W``):
    the action, its enabled mask, the enabled columns and their successors' packed words."""
    n = S.shape[1]
    AR = np.arange(n)
    for va in vc.actions:
        if va.never:
            continue
        m = as_mask(va.guard(S, AR), n)
        idx = np.nonzero(m)[0]
        if not idx.size:
            continue
        d = va.delta(S, idx)
        yield va, m, idx, [W[w][idx] + d[w] for w in range(len(W))]


def _first_occurrences(words: list[np.ndarray]) -> np.ndarray:
    """Positions of the first occurrence of each distinct packed state, in order."""
    if len(words) == 1:
        _, first = np.unique(words[0], return_index=True)
        first.sort()
        return first
    # several words: a stable sort on them all (np.unique over rows sorts byte strings, several
    # times slower); the first of each run of equal states is its first occurrence
    order = np.lexsort(words)
    head = np.zeros(order.size, dtype=bool)
    if order.size:
        head[0] = True
        for w in words:
            sw = w[order]
            head[1:] |= sw[1:] != sw[:-1]
    first = order[head]
    first.sort()
    return first


def expand(vc: VecCompiled, lay: Layout, sym: Symmetry | None, W: list[np.ndarray],
           goal_keys: list[tuple[int, int]]) -> Expanded:
    """Expand the batch of packed states ``W``; ``goal_keys``: the open step goals, as (action
    index, position in ``vc.step_goals[action]``)."""
    nw = lay.nwords
    n = W[0].size
    S = lay.unpack_array(W, np.int64)
    enabled = np.zeros(n, dtype=bool)
    parts_w: list[list[np.ndarray]] = [[] for _ in range(nw)]
    parts_p: list[np.ndarray] = []
    parts_a: list[np.ndarray] = []
    goals: dict[int, list[int]] = {}
    for a, pos in goal_keys:
        goals.setdefault(a, []).append(pos)
    hits: dict[tuple[int, int], int] = {}
    for va, m, idx, words in successors(vc, S, W):
        enabled |= m
        for w in range(nw):
            parts_w[w].append(words[w])
        parts_p.append(idx)
        parts_a.append(np.full(idx.size, va.index, dtype=np.int32))
        for pos in goals.get(va.index, ()):
            f = vc.step_goals[va.index][pos][1]
            gm = as_mask(f(S, idx), idx.size)
            if gm.any():
                hits[(va.index, pos)] = int(idx[int(np.argmax(gm))])
    if not parts_p:
        return Expanded([np.empty(0, dtype=np.int64) for _ in range(nw)], np.empty(0, dtype=np.int64), enabled, 0, hits)
    NW = [np.concatenate(parts_w[w]) for w in range(nw)]
    PAR = np.concatenate(parts_p)
    ACT = np.concatenate(parts_a)
    order = np.lexsort((ACT, PAR))
    NW = [x[order] for x in NW]
    P = PAR[order]
    if sym is not None:
        # duplicates first: a state's first occurrence is also the first occurrence of its
        # canonical form, so numbering is as if every successor were canonicalised
        fo = _first_occurrences(NW)
        NW, P = [x[fo] for x in NW], P[fo]
        # a slice at a time: the slot matrices of a whole batch's successors would take
        # hundreds of megabytes on large instances
        step = CANON_SLICE
        out = [np.empty_like(x) for x in NW]
        for lo in range(0, NW[0].size, step):
            part = [x[lo:lo + step] for x in NW]
            canon = sym.canonical_words(lay.unpack_array(part, np.int64), part)
            for w in range(nw):
                out[w][lo:lo + step] = canon[w]
        NW = out
        # distinct renamings of one state may remain: the explorer drops them among the
        # successors it finds new (fewer than all)
        return Expanded(NW, P, enabled, int(PAR.size), hits)
    fo = _first_occurrences(NW)
    return Expanded([x[fo] for x in NW], P[fo], enabled, int(PAR.size), hits)


def join(parts: list[tuple[int, Expanded]], n: int, nw: int) -> Expanded:
    """The expansion of a whole batch from those of its runs (``(first row, expansion)``, in
    order): successors in run order, parent rows shifted (duplicates across runs are left to
    the explorer, which drops them among the new states)."""
    if len(parts) == 1 and parts[0][0] == 0:
        return parts[0][1]
    enabled = np.zeros(n, dtype=bool)
    hits: dict[tuple[int, int], int] = {}
    for off, x in parts:
        enabled[off:off + x.enabled.size] = x.enabled
        for k, row in x.hits.items():
            hits.setdefault(k, off + row)
    words = [np.concatenate([x.words[w] for _, x in parts]) for w in range(nw)]
    parent = np.concatenate([x.parent + off for off, x in parts])
    return Expanded(words, parent, enabled, sum(x.transitions for _, x in parts), hits)


class InProcess:
    """Expansion in this process (one worker)."""

    def __init__(self, vc: VecCompiled, lay: Layout, sym: Symmetry | None) -> None:
        self.args = (vc, lay, sym)

    def submit(self, W: list[np.ndarray], goal_keys: list[tuple[int, int]]) -> object:
        return (W, goal_keys)

    def collect(self, ticket: object) -> Expanded:
        W, goal_keys = ticket  # type: ignore[misc]
        return expand(*self.args, W, goal_keys)

    def close(self) -> None:
        pass


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(conn, parent: int, vc: VecCompiled, lay: Layout, sym: Symmetry | None) -> None:
    """A worker's loop: expand the batches it is sent until told to stop (None) or its parent
    is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        return
    # a thread takes batches off the pipe as they come, so the explorer never waits to send
    # one while this worker waits to send it a result
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = None
            inbox.put(msg)
            if msg is None:
                return

    threading.Thread(target=receive, daemon=True).start()
    while True:
        msg = inbox.get()
        if msg is None:
            return
        W, goal_keys = msg
        try:
            out = expand(vc, lay, sym, W, goal_keys)
        except MemoryError:
            conn.send(("memory", ""))
            continue
        except BaseException:
            conn.send(("error", traceback.format_exc()))
            continue
        conn.send(("ok", out))


class WorkerError(RuntimeError):
    """A worker process failed or died."""


class Workers:
    """``n`` forked worker processes expanding batches (see the module docstring)."""

    def __init__(self, n: int, vc: VecCompiled, lay: Layout, sym: Symmetry | None) -> None:
        ctx = mp.get_context("fork")
        self.n = n
        self.nw = lay.nwords
        self.conns = []
        self.procs = []
        try:
            for _ in range(n):
                mine, theirs = ctx.Pipe()
                p = ctx.Process(target=_serve, args=(theirs, os.getpid(), vc, lay, sym), daemon=True,
                                name="lbrspec-worker")
                p.start()
                theirs.close()
                self.conns.append(mine)
                self.procs.append(p)
        finally:
            runctl.add_workers([p.pid for p in self.procs])
        self.queued = 0  # batches sent and not yet collected

    def submit(self, W: list[np.ndarray], goal_keys: list[tuple[int, int]]) -> object:
        n = W[0].size
        cuts = [n * i // self.n for i in range(self.n + 1)]
        sent = []
        for i in range(self.n):
            lo, hi = cuts[i], cuts[i + 1]
            if hi > lo:
                self.conns[i].send(([x[lo:hi] for x in W], goal_keys))
                sent.append((i, lo))
        self.queued += 1
        return (n, sent)

    def collect(self, ticket: object) -> Expanded:
        n, sent = ticket  # type: ignore[misc]
        parts = []
        problem = None
        for i, lo in sent:
            try:
                kind, out = self.conns[i].recv()
            except (EOFError, OSError):
                kind, out = "error", f"worker {i} (pid {self.procs[i].pid}) ended unexpectedly"
            if kind == "ok":
                parts.append((lo, out))
            elif problem is None:
                problem = (kind, out)
        self.queued -= 1
        if problem is not None:
            if problem[0] == "memory":
                raise MemoryError()
            raise WorkerError(f"a worker process failed: {problem[1].strip().splitlines()[-1] if problem[1] else ''}")
        if not parts:
            return Expanded([np.empty(0, dtype=np.int64) for _ in range(self.nw)], np.empty(0, dtype=np.int64),
                            np.zeros(n, dtype=bool), 0, {})
        return join(parts, n, self.nw)

    def close(self) -> None:
        """Stop every worker and wait for it (killing one that does not end in a second, and
        at once every worker when batches are still being expanded: the search has stopped)."""
        if self.queued:
            for p in self.procs:
                p.kill()
        for c in self.conns:
            try:
                c.send(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            p.join(timeout=1.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
        for c in self.conns:
            c.close()
        runctl.remove_workers([p.pid for p in self.procs])


def make_expander(workers: int, vc: VecCompiled, lay: Layout, sym: Symmetry | None):
    return Workers(workers, vc, lay, sym) if workers > 1 else InProcess(vc, lay, sym)
