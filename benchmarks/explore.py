"""Explorer benchmark: states, transitions, seconds and states per second per instance.

    python benchmarks/explore.py                  # 2x2 and 3x2 (vCPUs x pCPUs, 1 host user)
    python benchmarks/explore.py 2x2 1x1          # chosen instances (VxP or VxPxH)
    python benchmarks/explore.py --engine python  # the reference explorer instead of the vector one
    python benchmarks/explore.py --engine both    # both, with the vector/python rate ratio
    python benchmarks/explore.py --json           # one JSON object per run

Each instance is explored exhaustively (v8, no symmetry reduction); the figures come from the
same run.  ``ratio`` is the rate as a ratio to the first row's, so a slowdown on large
instances (hash table growth, memory) or between engines shows up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lbrspec.explicit.compile import compile_instance
from lbrspec.explicit.explore import explore
from lbrspec.explicit.vcompile import compile_vector
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.explicit.instance import Instance
from lbrspec_models.guest_lbr import build

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import parse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instances", nargs="*", default=["2x2", "3x2"])
    ap.add_argument("--variant", default="v8")
    ap.add_argument("--engine", choices=["vector", "python", "both"], default="vector")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = build(args.variant)
    base_rate = None
    if not args.json:
        print(f"{'instance':>10} {'engine':>7} {'states':>12} {'transitions':>13} {'compile s':>10} {'explore s':>10} {'states/s':>10} {'ratio':>7}")
    engines = ["vector", "python"] if args.engine == "both" else [args.engine]
    for spec in args.instances:
        sizes = parse(spec)
        inst = Instance(model, sizes)
        for engine in engines:
            t0 = time.perf_counter()
            if engine == "vector":
                comp = compile_vector(inst)
                t_compile = time.perf_counter() - t0
                r = explore_vector(inst, compiled=comp)
            else:
                comp = compile_instance(inst)
                t_compile = time.perf_counter() - t0
                r = explore(inst, compiled=comp)
            rate = r.states / r.seconds if r.seconds else 0.0
            base_rate = base_rate or rate
            row = {
                "instance": spec, "engine": engine, "variant": args.variant, "verdict": r.verdict, "states": r.states,
                "transitions": r.transitions, "compile_seconds": round(t_compile, 3), "seconds": round(r.seconds, 3),
                "states_per_second": round(rate), "rate_ratio_to_first": round(rate / base_rate, 3),
            }
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{spec:>10} {engine:>7} {r.states:>12,} {r.transitions:>13,} {t_compile:>10.2f} {r.seconds:>10.2f} {rate:>10,.0f} {rate / base_rate:>7.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
