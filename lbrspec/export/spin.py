"""Running SPIN on an exported instance and reading its figures.

Used by the differential tests (SPIN and lbrspec must agree on reachable-state counts and
verdicts) and by the benchmarks (time to verdict: ``spin -a``, the C compile and ``./pan``).

SPIN's depth-first search keeps a stack of ``-m`` frames, allocated and zeroed before the
search starts, so ``-m`` is resident memory whether the search needs it or not.  ``run_spin``
therefore starts from a depth limit (a hint, or a modest default), and when ``./pan`` reports
that the limit truncated the search ("max search depth too small") it grows the limit and runs
again, recording every attempt.  With ``fit=True`` a last run has the limit at the depth the
complete search reached (plus a small margin): the search order does not depend on the limit,
so that run is complete too, and its memory figures show SPIN with its stack sized to need.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..explicit.instance import Instance
from .promela import to_promela

#: The depth limit of the first run when neither a hint nor a state count is given.
DEFAULT_DEPTH = 100_000
#: The largest depth limit tried (about 5 GB of DFS stack at 48 bytes a frame).
MAX_DEPTH = 100_000_000
TRUNCATED = "max search depth too small"


@dataclass
class SpinAttempt:
    """One run of ``./pan``: its depth limit and what it reached."""

    depth_limit: int
    depth: int  # "depth reached"
    states: int
    truncated: bool  # the limit cut the search short
    seconds: float
    peak_rss_mb: float


@dataclass
class SpinResult:
    states: int  # states stored (lbrspec's count plus the pre-initialisation state)
    transitions: int
    errors: int
    violated: str | None  # the invariant named in the first assertion violation
    depth: int
    generate_seconds: float  # spin -a
    compile_seconds: float  # gcc
    run_seconds: float  # ./pan, the final run
    memory_mb: float  # pan's "total actual memory usage"
    state_vector_bytes: int
    output: str  # the final run's output
    depth_limit: int = 0  # -m of the final run
    collapse: bool = False  # compiled with -DCOLLAPSE
    states_mb: float = 0.0  # pan's "actual memory usage for states"
    hash_table_mb: float = 0.0  # pan's "memory used for hash table"
    stack_mb: float = 0.0  # pan's "memory used for DFS stack"
    peak_rss_mb: float = 0.0  # the final ./pan's peak resident memory, as the kernel counts it
    attempts: list[SpinAttempt] = field(default_factory=list)  # every run, the final one last

    @property
    def seconds_to_verdict(self) -> float:
        return self.generate_seconds + self.compile_seconds + self.run_seconds

    @property
    def search_seconds(self) -> float:
        """Every ``./pan`` run, the truncated ones included."""
        return sum(a.seconds for a in self.attempts)


def spin_available() -> bool:
    return shutil.which("spin") is not None and shutil.which("gcc") is not None


def needed_depth_limit(depth: int) -> int:
    """The limit for a search known to reach ``depth``: pan stops a path at ``limit - 1``."""
    return depth + max(16, depth // 100) + 2


#: A small launcher for ``./pan`` that prints the peak resident memory of its child.  The
#: kernel's count for a child starts from what the process that forked it had resident, so
#: ``./pan`` started from Python directly would be charged the Python process's memory; started
#: from this launcher it is charged only the launcher's few pages.
_PEAK_C = r"""
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 125;
    pid_t pid = fork();
    if (pid < 0) return 126;
    if (pid == 0) { execv(argv[1], argv + 1); _exit(127); }
    int status; struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) { }
    fflush(stdout);
    fprintf(stderr, "\nlbrspec-peak-rss-kib %ld\n", ru.ru_maxrss);
    if (WIFSIGNALED(status)) { signal(WTERMSIG(status), SIG_DFL); raise(WTERMSIG(status)); }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
"""
_PEAK_RE = re.compile(r"\nlbrspec-peak-rss-kib (\d+)\n")


def _run_pan(args: list[str], wd: Path, timeout: float) -> tuple[str, float, float]:
    """Run ``./pan`` under the launcher; its output, wall seconds and peak resident MiB."""
    if not (wd / "peak").exists():
        (wd / "peak.c").write_text(_PEAK_C)
        subprocess.run(["gcc", "-O1", "-o", "peak", "peak.c"], cwd=wd, check=True, capture_output=True, timeout=timeout)
    with tempfile.TemporaryFile(mode="w+", dir=wd) as out:
        t0 = time.perf_counter()
        # Its own session, so a timeout or an interrupt ends pan with its launcher.
        proc = subprocess.Popen(["./peak", *args], cwd=wd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    m = _PEAK_RE.search(text)
    return _PEAK_RE.sub("\n", text), seconds, int(m.group(1)) / 1024 if m else float("nan")


def run_spin(
    inst: Instance,
    workdir: str | Path,
    *,
    invariants: list[str] | None = None,
    bfs: bool = False,
    expected_states: int | None = None,
    depth: int | None = None,
    grow: int = 4,
    max_depth: int = MAX_DEPTH,
    fit: bool = False,
    collapse: bool = False,
    timeout: float = 1800.0,
) -> SpinResult:
    """Export ``inst``, compile a verifier without partial-order reduction and run it.

    ``depth`` is the first run's depth limit (``-m``); by default half of ``expected_states``
    (at least 10,000) when that is given, else :data:`DEFAULT_DEPTH`.  A run the limit truncates
    is repeated with the limit ``grow`` times larger, up to ``max_depth``; ``fit`` adds a run at
    the depth needed (see the module's docstring).  ``collapse`` compiles with ``-DCOLLAPSE``
    (SPIN's component-wise state compression: the same states, less memory, more time).
    """
    if not spin_available():
        raise InputError("spin or gcc is not installed (apt-get install spin gcc)")
    if grow < 2:
        raise InputError(f"the depth limit must grow at least twofold after a truncated run, not {grow}")
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "model.pml").write_text(to_promela(inst, invariants=invariants, hidden=not bfs))
    t0 = time.perf_counter()
    subprocess.run(["spin", "-o2", "-a", "model.pml"], cwd=wd, check=True, capture_output=True, timeout=timeout)
    t1 = time.perf_counter()
    flags = ["-O2", "-DNOREDUCE", "-DSAFETY"] + (["-DBFS"] if bfs else []) + (["-DCOLLAPSE"] if collapse else [])
    subprocess.run(["gcc", *flags, "-o", "pan", "pan.c"], cwd=wd, check=True, capture_output=True, timeout=timeout)
    t2 = time.perf_counter()
    hashbits = max(18, math.ceil(math.log2(max(2, expected_states or 1 << 20))) + 1)
    if depth is None:
        depth = max(10_000, expected_states // 2) if expected_states else DEFAULT_DEPTH
    limit = max(2, min(depth, max_depth))

    def num(out: str, pattern: str, default: float = 0) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    attempts: list[SpinAttempt] = []
    fitted = False
    while True:
        out, seconds, rss = _run_pan(["./pan", f"-w{hashbits}", f"-m{limit}"], wd, timeout)
        if not re.search(r"\d+ states, stored", out):
            last = (out.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"SPIN's verifier ended without a state count (-m{limit}): {last}")
        reached = int(num(out, r"depth reached (\d+)"))
        truncated = TRUNCATED in out or reached >= limit - 1
        attempts.append(SpinAttempt(limit, reached, int(num(out, r"(\d+) states, stored")), truncated, seconds, rss))
        if truncated:
            if limit >= max_depth:
                raise InputError(f"SPIN's search depth limit {limit} was too small for this instance "
                                 f"(attempts: {', '.join(str(a.depth_limit) for a in attempts)})")
            limit = min(max_depth, limit * grow)
            continue
        if fit and not fitted and limit > needed_depth_limit(reached):
            fitted = True
            limit = needed_depth_limit(reached)
            continue
        break

    viol = re.search(r"assertion violated \(inv_([A-Za-z0-9_]+)", out)
    return SpinResult(
        states=int(num(out, r"(\d+) states, stored")),
        transitions=int(num(out, r"(\d+) transitions \(= ")),
        errors=int(num(out, r"errors: (\d+)")),
        violated=viol.group(1) if viol else None,
        depth=reached,
        generate_seconds=t1 - t0,
        compile_seconds=t2 - t1,
        run_seconds=seconds,
        memory_mb=num(out, r"([\d.]+)\s+total actual memory usage"),
        state_vector_bytes=int(num(out, r"State-vector (\d+) byte")),
        output=out,
        depth_limit=limit,
        collapse=collapse,
        states_mb=num(out, r"([\d.]+)\s+actual memory usage for states"),
        hash_table_mb=num(out, r"([\d.]+)\s+memory used for hash table"),
        stack_mb=num(out, r"([\d.]+)\s+memory used for DFS stack"),
        peak_rss_mb=rss,
        attempts=attempts,
    )
