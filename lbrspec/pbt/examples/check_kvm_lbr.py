"""The conformance check of :mod:`lbrspec.pbt.examples.kvm_lbr` against the v8 guest-LBR model.

``python -m lbrspec.pbt.examples.check_kvm_lbr`` drives the faithful rendering with the model's
own runs (Hypothesis, seeded) and compares it with the model after every step;
``--broken NAME`` checks one of the deliberately broken copies of
:mod:`lbrspec.pbt.examples.kvm_lbr_broken` instead, which must fail with a short trace.
Exit status 0 when it conforms on every run, 1 when it does not.
"""

from __future__ import annotations

import argparse
import sys
from typing import Mapping

from lbrspec_models import guest_lbr

from ...explicit.instance import Instance
from ..simulate import SimulateResult, simulate
from .kvm_lbr import Kvm, KvmAdapter
from .kvm_lbr_broken import BROKEN


def check(
    kvm_class: type[Kvm] = Kvm,
    sizes: Mapping[str, int] | None = None,
    *,
    runs: int = 500,
    steps: int = 50,
    seed: int = 0,
) -> SimulateResult:
    """Run the conformance check; ``result.failure`` is the (minimized) non-conformance, if any."""
    inst = Instance(guest_lbr.build("v8"), sizes)
    return simulate(inst, runs=runs, steps=steps, seed=seed, adapter=lambda: KvmAdapter(kvm_class))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lbrspec.pbt.examples.check_kvm_lbr", description=__doc__.splitlines()[0])
    ap.add_argument("--broken", choices=sorted(BROKEN), help="check a deliberately broken copy instead")
    ap.add_argument("--vcpus", type=int, default=2)
    ap.add_argument("--pcpus", type=int, default=2)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    kvm_class = BROKEN[args.broken] if args.broken else Kvm
    r = check(kvm_class, {"vCPU": args.vcpus, "pCPU": args.pcpus}, runs=args.runs, seed=args.seed)
    print(f"conformance of {kvm_class.__name__} with the v8 model, {r.instance.describe()}, seed {r.seed}:")
    print(f"  {r.runs:,} runs, {r.steps:,} steps in {r.seconds:.2f} s ({r.steps_per_second:,.0f} steps/s)")
    print()
    if r.failure is None:
        print("CONFORMS: the implementation agreed with the model after every step of every run.")
        return 0
    assert r.found is not None
    print(f"DOES NOT CONFORM (the failing run had {len(r.found.steps)} steps; minimized to {len(r.failure.steps)}):")
    print(r.failure.render())
    return 1


if __name__ == "__main__":
    sys.exit(main())
