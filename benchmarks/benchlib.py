"""What the benchmark scripts share: instance names and running a command with its memory measured.

``run_measured`` runs a command in its own session and reports its wall time and the peak
memory of its whole process tree: the largest sum, over the samples taken while it runs, of the
proportional set size (PSS: a page shared by k processes counts 1/k to each, so workers that
share frontiers are not counted twice) of the command and every descendant, and at least the
peak resident memory the kernel reports for the command itself when it ends (when that figure is
the command's own: see ``run_measured``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse(spec: str) -> dict[str, int]:
    """``VxP`` or ``VxPxH`` (vCPUs, pCPUs, host users; 1 host user when left out)."""
    try:
        parts = [int(x) for x in spec.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3) or min(parts) < 1:
        raise SystemExit(f"bad instance {spec!r}: write VxP or VxPxH, e.g. 3x2")
    return {"vCPU": parts[0], "pCPU": parts[1], "host_user": parts[2] if len(parts) == 3 else 1}


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
        except FileNotFoundError:  # a kernel without /proc/PID/task/TID/children: scan every process
            return [p for p in _all_pids() if _parent(p) == pid]
        except OSError:
            pass
    return out


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _memory(pid: int) -> int:
    """The process's PSS in bytes (its RSS where smaps_rollup is not available), 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_memory(root: int) -> int:
    """PSS of ``root`` and all its descendants, in bytes."""
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _memory(pid)
        todo += _children(pid)
    return total


@dataclass
class Measured:
    returncode: int | None  # None: killed at the hard timeout
    stdout: str
    stderr: str
    wall_seconds: float
    peak_mib: float  # the process tree's peak memory (see the module's docstring)


def run_measured(cmd: list[str], *, timeout: float, interval: float = 0.1, env: dict | None = None) -> Measured:
    """Run ``cmd``; past ``timeout`` seconds its process group is killed (``returncode`` None)."""
    own_hwm_kib = _own_peak_kib()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True, env=env)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(interval):
                peak = max(peak, tree_memory(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        killed = False
        try:
            try:
                _, status, usage = _wait(proc, timeout)
            except subprocess.TimeoutExpired:
                killed = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
        finally:
            done.set()
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        # The command's descendants may outlive it: end them with the session.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out.seek(0)
        err.seek(0)
        # The kernel charges a child the memory of the process it was forked from, until its own
        # exceeds it: the command's peak resident memory counts only when above this process's.
        if usage.ru_maxrss > own_hwm_kib:
            peak = max(peak, usage.ru_maxrss * 1024)
        return Measured(None if killed else proc.returncode, out.read(), err.read(), wall, peak / 2**20)


def _own_peak_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 1 << 62  # unknown: never trust the child's figure


def _wait(proc: subprocess.Popen, timeout: float):
    """``os.wait4`` on ``proc`` with a timeout (polled: wait4 itself has none)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return pid, status, usage
        if time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(delay)
        delay = min(0.1, delay * 2)
