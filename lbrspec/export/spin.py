"""Running SPIN on an exported instance and reading its figures.

Used by the differential tests (SPIN and lbrspec must agree on reachable-state counts and
verdicts) and by the benchmarks (time to verdict: ``spin -a``, the C compile and ``./pan``).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..explicit.instance import Instance
from .promela import to_promela


@dataclass
class SpinResult:
    states: int  # states stored (lbrspec's count plus the pre-initialisation state)
    transitions: int
    errors: int
    violated: str | None  # the invariant named in the first assertion violation
    depth: int
    generate_seconds: float  # spin -a
    compile_seconds: float  # gcc
    run_seconds: float  # ./pan
    memory_mb: float  # pan's "total actual memory usage"
    state_vector_bytes: int
    output: str

    @property
    def seconds_to_verdict(self) -> float:
        return self.generate_seconds + self.compile_seconds + self.run_seconds


def spin_available() -> bool:
    return shutil.which("spin") is not None and shutil.which("gcc") is not None


def run_spin(
    inst: Instance,
    workdir: str | Path,
    *,
    invariants: list[str] | None = None,
    bfs: bool = False,
    expected_states: int | None = None,
    timeout: float = 1800.0,
) -> SpinResult:
    """Export ``inst``, compile a verifier without partial-order reduction and run it."""
    if not spin_available():
        raise InputError("spin or gcc is not installed (apt-get install spin gcc)")
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "model.pml").write_text(to_promela(inst, invariants=invariants, hidden=not bfs))
    t0 = time.perf_counter()
    subprocess.run(["spin", "-o2", "-a", "model.pml"], cwd=wd, check=True, capture_output=True, timeout=timeout)
    t1 = time.perf_counter()
    flags = ["-O2", "-DNOREDUCE", "-DSAFETY"] + (["-DBFS"] if bfs else [])
    subprocess.run(["gcc", *flags, "-o", "pan", "pan.c"], cwd=wd, check=True, capture_output=True, timeout=timeout)
    t2 = time.perf_counter()
    hashbits = max(18, math.ceil(math.log2(max(2, expected_states or 1 << 20))) + 1)
    depth = min(50_000_000, max(100_000, 4 * expected_states)) if expected_states else 1_000_000
    args = ["./pan", f"-w{hashbits}"] + ([] if bfs else [f"-m{depth}"])
    proc = subprocess.run(args, cwd=wd, capture_output=True, text=True, timeout=timeout)
    t3 = time.perf_counter()
    out = proc.stdout + proc.stderr
    if "max search depth too small" in out:
        raise InputError(f"SPIN's search depth limit {depth} was too small for this instance")

    def num(pattern: str, default: float = 0) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    viol = re.search(r"assertion violated \(inv_([A-Za-z0-9_]+)", out)
    return SpinResult(
        states=int(num(r"(\d+) states, stored")),
        transitions=int(num(r"(\d+) transitions \(= ")),
        errors=int(num(r"errors: (\d+)")),
        violated=viol.group(1) if viol else None,
        depth=int(num(r"depth reached (\d+)")),
        generate_seconds=t1 - t0,
        compile_seconds=t2 - t1,
        run_seconds=t3 - t2,
        memory_mb=num(r"([\d.]+)\s+total actual memory usage"),
        state_vector_bytes=int(num(r"State-vector (\d+) byte")),
        output=out,
    )
