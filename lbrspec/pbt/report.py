"""Figures of the Hypothesis engine: ``python -m lbrspec.pbt.report``.

For every broken variant (the design alternatives the v8 changelog fixed, and the mutants): the length
of the first failing walk Hypothesis found, the length after minimization, and the explorer's
shortest counterexample on the same instance; the walks and CPU seconds the search took.  Then
the rule machine's speed on v8 (steps per second, no violation to stop it), and the conformance
check of the KVM example.  Seeds are fixed, so the lengths are reproducible; times are CPU
seconds of this process (``time.process_time``), less sensitive to a busy machine than wall time.
"""

from __future__ import annotations

import argparse
import time

from lbrspec_models import guest_lbr

from ..explicit.explore import explore
from ..explicit.instance import Instance
from .examples.check_kvm_lbr import check as check_kvm
from .examples.kvm_lbr import Kvm
from .examples.kvm_lbr_broken import BROKEN
from .simulate import simulate


def _sizes(n: int, m: int, h: int) -> dict[str, int]:
    return {"vCPU": n, "pCPU": m, "host_user": h}


def variants_table(n: int, m: int, h: int, seeds: int, runs: int, explorer: bool) -> None:
    print(f"broken variants, {n} vCPUs x {m} pCPUs x {h} host users; seeds 0..{seeds - 1}, up to {runs} walks of 50 steps")
    print(f"  {'variant':24} {'property':30} {'explorer':>8}  per seed: found->minimized (walks, CPU s)")
    for v in guest_lbr.VARIANTS.values():
        if v.kind == "design":
            continue
        inst = Instance(guest_lbr.build(v.name), _sizes(n, m, h))
        shortest = "-"
        if explorer:
            r = explore(inst)
            shortest = str(len(r.violation.trace)) if r.violation else "none"
        cells = []
        for seed in range(seeds):
            t0 = time.process_time()
            s = simulate(inst, runs=runs, seed=seed)
            cpu = time.process_time() - t0
            if s.failure is None:
                cells.append(f"none ({s.runs}, {cpu:.1f})")
            else:
                assert s.found is not None
                cells.append(f"{len(s.found.steps)}->{len(s.failure.steps)} ({s.runs}, {cpu:.1f})")
        print(f"  {v.name:24} {str(v.expected):30} {shortest:>8}  {'  '.join(cells)}", flush=True)


def speed(n: int, m: int, h: int, runs: int) -> None:
    inst = Instance(guest_lbr.build("v8"), _sizes(n, m, h))
    t0 = time.process_time()
    s = simulate(inst, runs=runs, seed=0)
    cpu = time.process_time() - t0
    print(
        f"v8 rule machine, {inst.describe()}: {s.runs} walks, {s.steps:,} steps, {cpu:.1f} CPU s "
        f"({s.steps / cpu:,.0f} steps/s; {s.rule_seconds:.2f} s of it in lbrspec's stepping and invariants)",
        flush=True,
    )


def conformance(runs: int) -> None:
    for name, cls in [("faithful", Kvm)] + sorted(BROKEN.items()):
        t0 = time.process_time()
        r = check_kvm(cls, runs=runs)
        cpu = time.process_time() - t0
        if r.failure is None:
            print(f"conformance, {name}: conforms over {r.runs} walks, {r.steps:,} steps, {cpu:.1f} CPU s")
        else:
            assert r.found is not None
            print(f"conformance, {name}: caught, {len(r.found.steps)}->{len(r.failure.steps)} steps, "
                  f"{r.runs} walks, {cpu:.1f} CPU s: {r.failure.headline()}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lbrspec.pbt.report", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--big", type=int, default=4, help="size of the large instance (N vCPUs x N pCPUs)")
    ap.add_argument("--skip-variants", action="store_true")
    args = ap.parse_args(argv)
    speed(2, 2, 1, 1000)
    speed(args.big, args.big, 1, 1000)
    conformance(500)
    if not args.skip_variants:
        variants_table(2, 2, 1, args.seeds, args.runs, explorer=True)
        variants_table(args.big, args.big, 1, args.seeds, args.runs, explorer=False)


if __name__ == "__main__":
    main()
